package kbuild

import (
	"maps"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/toolchain"
)

// UseToolchain hands the toolchain the doctor chose for the tree to the
// builder: MakeVars become the report's whole set (LLVM, RUSTC, HOSTRUSTC,
// RUSTDOC, BINDGEN and RUST_LIB_SRC when set), so that make runs the same
// tools whoever calls. An LLVM already set on the builder wins over the
// report's, and so do ExtraVars of the same name. The report's fingerprint
// is recorded (Builder.Fingerprint, metadata.json) but is not part of the
// cache key: the key comes from what decides the output (source identity,
// final .config, make variables, and the identities of the tools those
// variables name, which kbuild probes itself), so two callers with the same
// tools share one cache entry. It returns b.
func (b *Builder) UseToolchain(rep *toolchain.Report) *Builder {
	if rep == nil {
		return b
	}
	vars := maps.Clone(rep.MakeVars)
	if vars == nil {
		vars = map[string]string{}
	}
	if b.LLVM != "" {
		delete(vars, "LLVM")
	}
	for k := range b.ExtraVars {
		delete(vars, k)
	}
	b.MakeVars = vars
	b.Fingerprint = rep.Fingerprint
	return b
}

// BootTarget returns the make target of the boot image QEMU boots for a
// kernel ARCH (internal/karch): "bzImage" for x86_64, "Image" for arm64
// (ArtifactKernel is then arch/arm64/boot/Image); "" for an architecture
// rflkit does not boot.
func BootTarget(arch string) string {
	in, _ := karch.Lookup(arch)
	return in.BootTarget
}

// Names of Result.Artifacts entries.
const (
	// ArtifactKernel is the boot image (bzImage, Image.gz, Image, ...).
	ArtifactKernel = "kernel"
	// ArtifactVmlinux is the uncompressed ELF kernel with symbols.
	ArtifactVmlinux = "vmlinux"
	// ArtifactSystemMap is System.map, the kernel's symbol table.
	ArtifactSystemMap = "System.map"
	// ArtifactConfig is the final .config.
	ArtifactConfig = "config"
	// ArtifactMetadata is metadata.json (cached builds).
	ArtifactMetadata = "metadata.json"
	// ArtifactBuildLog is build.log (cached builds).
	ArtifactBuildLog = "build.log"
	// ArtifactModulePrefix prefixes each module's entry: "modules/" plus
	// its path in the build tree ("modules/drivers/block/null_blk/null_blk.ko").
	ArtifactModulePrefix = "modules/"
)

// Result.Artifacts keys of the null-block modules of TinyRustModules.
const (
	// ModuleNullBlk is null_blk.ko, the C null-block driver (module null_blk).
	ModuleNullBlk = ArtifactModulePrefix + "drivers/block/null_blk/null_blk.ko"
	// ModuleRustNull is rnull_mod.ko, the Rust null-block driver (module
	// rnull_mod).
	ModuleRustNull = ArtifactModulePrefix + "drivers/block/rnull/rnull_mod.ko"
)
