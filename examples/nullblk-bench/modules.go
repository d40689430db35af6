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
// (kbuild.TinyRustModules, targets bzImage and modules) and returns their
// arms, "helpers-on-module" and "helpers-off-module", with the modules and
// kbuild.InlineCheck's summary.
func buildModuleKernels(ctx context.Context, o options, src string, rep *toolchain.Report, ui *ui, stderr io.Writer, cacheHits map[string]bool) ([]bench.KernelArm, error) {
	var out []bench.KernelArm
	for _, helpers := range []bool{true, false} {
		name := "helpers-off-module"
		if helpers {
			name = "helpers-on-module"
		}
		b := &kbuild.Builder{Src: src, Arch: "x86_64", CacheDir: o.cache,
			Progress: func(e kbuild.Event) { ui.build(name, e) }}
		b.UseToolchain(rep)
		if o.verbose {
			b.MakeOutput = stderr
		}
		r, err := b.Build(ctx, kbuild.BuildSpec{Config: kbuild.TinyRustModules(helpers), Targets: []string{"bzImage", "modules"}})
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", name, err)
		}
		img, nb, rn := r.Artifacts[kbuild.ArtifactKernel], r.Artifacts[kbuild.ModuleNullBlk], r.Artifacts[kbuild.ModuleRustNull]
		if img == "" || nb == "" || rn == "" {
			return nil, fmt.Errorf("build %s: bzImage, null_blk.ko or rnull_mod.ko missing among %v", name, r.Artifacts)
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
