package bench_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
	"github.com/rflkit/rflkit/kbuild"
)

// TestIntegrationQuickModules runs the quick preset on the two module
// kernels (helpers on and off) in real guests under -icount with the
// plugin: every sample loads the driver's module, creates the device,
// runs the plugin's windows, removes the device and unloads the module.
func TestIntegrationQuickModules(t *testing.T) {
	testenv.Integration(t)
	var ks []bench.KernelArm
	for _, helpers := range []bool{true, false} {
		mk := testkernel.TinyRustModules(t, helpers)
		name := "helpers-off-module"
		if helpers {
			name = "helpers-on-module"
		}
		ic, err := kbuild.InlineCheck(mk.Result)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, bench.KernelArm{Name: name, Helpers: helpers, BzImage: mk.BzImage, Config: mk.Config,
			SystemMap: mk.Result.Artifacts[kbuild.ArtifactSystemMap], InlineCheck: bench.NewInlineCheckMeta(ic),
			Modules: map[string]string{"null_blk": mk.NullBlk, "rnull_mod": mk.RustNull}})
	}
	p := bench.QuickPreset()
	p.ICountBoots = 1
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	t0 := time.Now()
	e := &bench.Experiment{Kernels: ks, Preset: p, Seed: 1, Boot: integrationBoot(t),
		Progress: func(pr bench.Progress) { t.Logf("%s: %s", pr.Elapsed.Round(time.Millisecond), pr.Message) }}
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wall time %s", time.Since(t0).Round(time.Second))
	for _, k := range res.Kernels {
		if k.DriverKind != bench.DriverModule || len(k.Modules) != 2 || k.InlineCheck == nil {
			t.Errorf("kernel %s: kind %q, modules %v, inline check %v", k.Name, k.DriverKind, k.Modules, k.InlineCheck)
			continue
		}
		t.Logf("kernel %s: undefined rust_helper_* %v, vmlinux helpers %d", k.Name, k.InlineCheck.ModuleUndefined, k.InlineCheck.VmlinuxHelpers)
	}
	n := 0
	for _, b := range res.Boots {
		if !b.Plugin {
			t.Errorf("boot %d: no plugin", b.Index)
		}
		for _, arg := range b.QEMUArgv {
			if strings.Contains(arg, "null_blk.nr_devices") {
				t.Errorf("boot %d: module kernel booted with %q", b.Index, arg)
			}
		}
		for _, s := range b.Samples {
			n++
			m, pl := s.Module, s.Plugin
			if m == nil || !m.Loaded || !m.Unloaded || m.Failed != "" || !strings.HasPrefix(m.TextAddr, "0xffffffff") || !(m.LoadSeconds > 0) || !(m.UnloadSeconds > 0) {
				t.Errorf("boot %d %s: module sample %+v", b.Index, s.Driver, m)
				continue
			}
			if pl == nil || pl.Failed != "" {
				t.Errorf("boot %d %s: plugin sample %+v", b.Index, s.Driver, pl)
				continue
			}
			g := pl.Groups
			t.Logf("%s %s: path %.2f, driver %.2f (module code %.2f), helper calls %.2f, kernel %.2f, user %.2f; load %.4fs (wall %.3fs), unload %.4fs, .text %s",
				b.Kernel, s.Driver, g.Path, g.Driver, m.ModuleInsns, g.HelperCalls, g.Kernel, g.User, m.LoadSeconds, m.LoadWallSeconds, m.UnloadSeconds, m.TextAddr)
			if !(g.Driver > 0) || math.IsInf(g.Driver, 0) || !(m.ModuleInsns > 0) || !(g.Path > g.Driver) {
				t.Errorf("%s %s: driver %v, module code %v, path %v", b.Kernel, s.Driver, g.Driver, m.ModuleInsns, g.Path)
			}
		}
	}
	if want := 2 * 2 * p.Instances; n != want {
		t.Errorf("%d samples, want %d", n, want)
	}
	if _, err := bench.Analyze(res, bench.AnalyzeOptions{}); err != nil {
		t.Error(err)
	}
}
