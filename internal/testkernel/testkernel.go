// Package testkernel builds (or finds in the kbuild cache) the tiny x86_64
// Rust kernel that qemu/ and bench/ integration tests boot.
//
// The kernel is built through kbuild from the Linux 7.2 tarball
// (testenv.DefaultTarball, or the tree in $RFLKIT_KERNEL_SRC) into the
// shared cache (testenv.CacheDir), so the first test on a machine builds it
// (~12 minutes on 2 cores; the helpers-off variant then starts from the
// helpers-on objects, ~2 minutes) and every later one, in any process, gets
// a cache hit. Concurrent test processes wait on the cache's lock instead
// of building twice.
package testkernel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

// Kernel is a built tiny Rust kernel.
type Kernel struct {
	BzImage string // the boot image: arch/x86/boot/bzImage (arch/arm64/boot/Image for arm64)
	Vmlinux string // vmlinux, when built
	Config  string // the final .config
}

// Report is the toolchain doctor's report for the kernel tree (here the
// Debian rustc 1.85 / LLVM 19 set, not the rustup rustc first on PATH). A
// machine on which Rust cannot be built for the tree fails the test with
// the doctor's problems.
func Report(t testing.TB) *toolchain.Report {
	t.Helper()
	return ReportFor(t, "x86_64")
}

// ReportFor is Report for a kernel ARCH ("x86_64", "arm64").
func ReportFor(t testing.TB, arch string) *toolchain.Report {
	t.Helper()
	rep, err := toolchain.Detect(context.Background(), toolchain.Options{SrcDir: testenv.KernelSource(t), Arch: arch})
	if err != nil {
		t.Fatalf("testkernel: %v", err)
	}
	if !rep.RustAvailable || !rep.InlineHelpers {
		t.Fatalf("testkernel: the toolchain cannot build the tiny Rust kernel (run scripts/setup): %+v", rep.Problems)
	}
	return rep
}

// MakeVars are the make variables of the machine's Rust-capable toolchain
// as the toolchain doctor chooses them for the kernel tree.
func MakeVars(t testing.TB) map[string]string {
	t.Helper()
	return Report(t).MakeVars
}

// Builder returns the kbuild.Builder the tiny kernels are built with.
func Builder(t testing.TB) *kbuild.Builder {
	t.Helper()
	return BuilderFor(t, "x86_64")
}

// BuilderFor is Builder for a kernel ARCH ("x86_64", "arm64").
func BuilderFor(t testing.TB, arch string) *kbuild.Builder {
	t.Helper()
	testenv.Integration(t)
	src := os.Getenv("RFLKIT_KERNEL_SRC")
	if src == "" {
		src = testenv.DefaultTarball
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("testkernel: %v: run scripts/setup (it installs linux-source-7.2)", err)
		}
	}
	b := &kbuild.Builder{Src: src, Arch: arch, CacheDir: testenv.CacheDir(t)}
	return b.UseToolchain(ReportFor(t, arch))
}

// TinyRust returns the tiny Rust kernel (kbuild.TinyRust, internal/fragment) with
// RUST_INLINE_HELPERS on or off, building it through kbuild (cached).
func TinyRust(t testing.TB, helpers bool) Kernel {
	t.Helper()
	res := build(t, "tiny Rust kernel", helpers, kbuild.BuildSpec{
		Config:  kbuild.TinyRust(helpers),
		Targets: []string{"bzImage"},
	})
	return kernelOf(t, res)
}

// TinyRustArm64 returns the tiny arm64 Rust kernel (kbuild.TinyRustFor
// "arm64": QEMU virt, PL011 console, virtio-mmio, both null-block drivers
// built in) with RUST_INLINE_HELPERS on or off, built with the target
// Image through kbuild's cache. Kernel.BzImage is then arch/arm64/boot/Image.
// The helpers-off variant starts from the helpers-on objects.
func TinyRustArm64(t testing.TB, helpers bool) Kernel {
	t.Helper()
	spec, err := kbuild.TinyRustFor("arm64", helpers)
	if err != nil {
		t.Fatal(err)
	}
	res := buildWith(t, BuilderFor(t, "arm64"), "tiny arm64 Rust kernel", helpers, kbuild.BuildSpec{
		Config:  spec,
		Targets: []string{"Image"},
	})
	if res.SeededFrom != "" || !res.CacheHit {
		t.Logf("testkernel: arm64 kernel (helpers=%v) seeded from %q, make %s", helpers, res.SeededFrom, res.BuildTime.Round(time.Second))
	}
	return kernelOf(t, res)
}

// ModuleKernel is a built tiny Rust kernel with loadable modules
// (kbuild.TinyRustModules).
type ModuleKernel struct {
	Kernel
	// NullBlk and RustNull are the paths of null_blk.ko and rnull_mod.ko.
	NullBlk, RustNull string
	// Modules maps every module's name (the .ko file's base name without
	// .ko: "null_blk", "rnull_mod") to its path.
	Modules map[string]string
	// Result is kbuild's result: SeededFrom says which cached build the
	// objects came from, BuildTime how long make ran (zero on a hit).
	Result *kbuild.Result
}

// TinyRustModules returns the tiny Rust kernel with CONFIG_MODULES=y and
// both null-block drivers as modules (kbuild.TinyRustModules), built with
// the targets bzImage and modules through kbuild's cache: the first build
// starts from the objects of the nearest cached build (the built-in kernel
// of the same helpers setting, which TinyRust builds), so it costs minutes.
func TinyRustModules(t testing.TB, helpers bool) ModuleKernel {
	t.Helper()
	res := build(t, "tiny Rust module kernel", helpers, kbuild.BuildSpec{
		Config:  kbuild.TinyRustModules(helpers),
		Targets: []string{"bzImage", "modules"},
	})
	return moduleKernelOf(t, res, helpers)
}

// TinyRustModulesArm64 is TinyRustModules for arm64
// (kbuild.TinyRustModulesFor "arm64"), built with the targets Image and
// modules; the first build starts from the objects of the nearest cached
// build (the built-in arm64 kernel of the same helpers setting, which
// TinyRustArm64 builds).
func TinyRustModulesArm64(t testing.TB, helpers bool) ModuleKernel {
	t.Helper()
	spec, err := kbuild.TinyRustModulesFor("arm64", helpers)
	if err != nil {
		t.Fatal(err)
	}
	res := buildWith(t, BuilderFor(t, "arm64"), "tiny arm64 Rust module kernel", helpers, kbuild.BuildSpec{
		Config:  spec,
		Targets: []string{"Image", "modules"},
	})
	return moduleKernelOf(t, res, helpers)
}

// moduleKernelOf is the ModuleKernel of a module build.
func moduleKernelOf(t testing.TB, res *kbuild.Result, helpers bool) ModuleKernel {
	t.Helper()
	mk := ModuleKernel{Kernel: kernelOf(t, res), NullBlk: res.Artifacts[kbuild.ModuleNullBlk], RustNull: res.Artifacts[kbuild.ModuleRustNull], Modules: map[string]string{}, Result: res}
	for name, p := range res.Artifacts {
		if strings.HasPrefix(name, kbuild.ArtifactModulePrefix) {
			mk.Modules[strings.TrimSuffix(filepath.Base(p), ".ko")] = p
		}
	}
	if mk.NullBlk == "" || mk.RustNull == "" {
		t.Fatalf("testkernel: build %s lacks null_blk.ko or rnull_mod.ko: %v", res.Key, res.Artifacts)
	}
	if res.SeededFrom != "" || !res.CacheHit {
		t.Logf("testkernel: module kernel (helpers=%v) seeded from %q, make %s", helpers, res.SeededFrom, res.BuildTime.Round(time.Second))
	}
	return mk
}

func kernelOf(t testing.TB, res *kbuild.Result) Kernel {
	t.Helper()
	k := Kernel{BzImage: res.Artifacts[kbuild.ArtifactKernel], Vmlinux: res.Artifacts[kbuild.ArtifactVmlinux], Config: res.Artifacts[kbuild.ArtifactConfig]}
	if k.BzImage == "" || k.Config == "" {
		t.Fatalf("testkernel: build %s has no bzImage or .config: %v", res.Key, res.Artifacts)
	}
	return k
}

// build builds spec through the cache, logging progress.
func build(t testing.TB, what string, helpers bool, spec kbuild.BuildSpec) *kbuild.Result {
	t.Helper()
	return buildWith(t, Builder(t), what, helpers, spec)
}

// buildWith builds spec with b through the cache, logging progress.
func buildWith(t testing.TB, b *kbuild.Builder, what string, helpers bool, spec kbuild.BuildSpec) *kbuild.Result {
	t.Helper()
	last := -1
	b.Progress = func(e kbuild.Event) {
		switch {
		case e.Phase == kbuild.PhaseBuild && e.Percent >= 0:
			if p := int(e.Percent) / 10 * 10; p > last {
				last = p
				t.Logf("testkernel: building %s (helpers=%v): %d%% (%s)", what, helpers, p, e.Elapsed.Round(1e9))
			}
		case e.Phase == kbuild.PhaseBuild && e.Lines > 0 && e.Lines%500 == 0:
			t.Logf("testkernel: building %s (helpers=%v): %d lines (%s)", what, helpers, e.Lines, e.Elapsed.Round(1e9))
		case e.Phase != kbuild.PhaseBuild && e.Message != "":
			t.Logf("testkernel: %s: %s", e.Phase, e.Message)
		}
	}
	ctx, cancel := Context(t)
	defer cancel()
	res, err := b.Build(ctx, spec)
	if err != nil {
		var ke *kbuild.KernelError
		var ie *kbuild.InfraError
		switch {
		case errors.As(err, &ke):
			t.Fatalf("testkernel: %v\nlog: %s\n%s", err, ke.Log, tail(ke.Tail))
		case errors.As(err, &ie):
			t.Fatalf("testkernel: %v\nlog: %s\n%s", err, ie.Log, tail(ie.Tail))
		}
		t.Fatalf("testkernel: %v", err)
	}
	t.Logf("testkernel: %s (helpers=%v): %s (cache hit %v, %s)", what, helpers, res.Artifacts[kbuild.ArtifactKernel], res.CacheHit, res.Duration.Round(1e6))
	return res
}

// Context returns a context that ends a minute before the test's deadline
// (go test -timeout), so that a build still running then is cancelled and
// its processes killed, rather than orphaned by the test binary's timeout
// panic.
func Context(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), dl.Add(-time.Minute))
		}
	}
	return context.WithCancel(context.Background())
}

func tail(lines []string) string {
	s := ""
	for _, l := range lines {
		s += l + "\n"
	}
	return s
}
