package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

// buildModuleKernels builds (or finds cached) the two module kernels
// (kbuild.TinyRustModulesFor o.arch, targets the boot image and modules)
// and returns their
// arms, "helpers-on-module" and "helpers-off-module", with the modules and
// kbuild.InlineCheck's summary.
func buildModuleKernels(ctx context.Context, o options, src string, rep *toolchain.Report, ui *ui, stderr io.Writer, cacheHits map[string]bool) ([]bench.KernelArm, error) {
	var out []bench.KernelArm
	for _, helpers := range []bool{true, false} {
		name := "helpers-off-module"
		if helpers {
			name = "helpers-on-module"
		}
		cfg, err := kbuild.TinyRustModulesFor(o.arch, helpers)
		if err != nil {
			return nil, err
		}
		r, err := buildKernel(ctx, o, src, rep, ui, stderr, name, kbuild.BuildSpec{Config: cfg, Targets: []string{kbuild.BootTarget(o.arch), "modules"}})
		if err != nil {
			return nil, err
		}
		img, nb, rn := r.Artifacts[kbuild.ArtifactKernel], r.Artifacts[kbuild.ModuleNullBlk], r.Artifacts[kbuild.ModuleRustNull]
		if nb == "" || rn == "" {
			return nil, fmt.Errorf("build %s: null_blk.ko or rnull_mod.ko missing among %v", name, r.Artifacts)
		}
		ic, err := kbuild.InlineCheck(r)
		if err != nil {
			return nil, fmt.Errorf("inline check %s: %w", name, err)
		}
		meta := bench.NewInlineCheckMeta(ic)
		ui.done("build %s: %s (cache hit %v); undefined rust_helper_* in rnull_mod.ko: %d", name, img, r.CacheHit, meta.ModuleUndefined[bench.ModuleName(bench.RNull)])
		cacheHits[name] = r.CacheHit
		out = append(out, bench.KernelArm{Name: name, Helpers: helpers, BzImage: img, Config: r.Artifacts[kbuild.ArtifactConfig],
			SystemMap: r.Artifacts[kbuild.ArtifactSystemMap], InlineCheck: meta,
			Modules: map[string]string{bench.ModuleName(bench.NullBlk): nb, bench.ModuleName(bench.RNull): rn}})
	}
	return out, nil
}

// buildKernel builds spec (or finds it in the cache) as the kernel arm
// name, with the doctor's toolchain handed on as internal/testkernel and
// examples/build hand it (UseToolchain), so that kernels the tests built
// are cache hits here and the other way round. A build without a boot
// image is an error.
func buildKernel(ctx context.Context, o options, src string, rep *toolchain.Report, ui *ui, stderr io.Writer, name string, spec kbuild.BuildSpec) (*kbuild.Result, error) {
	b := &kbuild.Builder{Src: src, Arch: o.arch, CacheDir: o.cache,
		Progress: func(e kbuild.Event) { ui.build(name, e) }}
	b.UseToolchain(rep)
	if o.verbose {
		b.MakeOutput = stderr
	}
	r, err := b.Build(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	if r.Artifacts[kbuild.ArtifactKernel] == "" {
		return nil, fmt.Errorf("build %s: no %s among %v", name, kbuild.BootTarget(o.arch), r.Artifacts)
	}
	return r, nil
}
