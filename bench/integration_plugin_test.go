package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// pluginKernels are the two real tiny Rust kernels with their System.maps.
func pluginKernels(t *testing.T) []bench.KernelArm {
	t.Helper()
	var ks []bench.KernelArm
	for _, helpers := range []bool{true, false} {
		k := testkernel.TinyRust(t, helpers)
		name := "helpers-off"
		if helpers {
			name = "helpers-on"
		}
		sm := filepath.Join(filepath.Dir(k.Vmlinux), "System.map")
		if k.Vmlinux == "" {
			sm = filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(k.BzImage)))), "System.map")
		}
		if _, err := os.Stat(sm); err != nil {
			t.Fatalf("%s: System.map: %v", name, err)
		}
		ks = append(ks, bench.KernelArm{Name: name, Helpers: helpers, BzImage: k.BzImage, Config: k.Config, SystemMap: sm})
	}
	return ks
}

// TestIntegrationPluginCost boots one -icount guest with the plugin and
// runs one plugin step per driver for the workloads named in
// $RFLKIT_PLUGIN_WORKLOADS (default: the default preset's), logging each
// step's wall time and counts: the per-step cost the presets are tuned
// with. $RFLKIT_PLUGIN_KERNEL picks the kernel (helpers-on).
func TestIntegrationPluginCost(t *testing.T) {
	testenv.Integration(t)
	ks := pluginKernels(t)
	k := ks[0]
	if os.Getenv("RFLKIT_PLUGIN_KERNEL") == "helpers-off" {
		k = ks[1]
	}
	p := bench.DefaultPreset()
	if names := os.Getenv("RFLKIT_PLUGIN_WORKLOADS"); names != "" {
		var wls []bench.Workload
		for _, w := range p.Workloads {
			if strings.Contains(","+names+",", ","+w.Name()+",") {
				wls = append(wls, w)
			}
		}
		p.Workloads = wls
	}
	if n, _ := strconv.Atoi(os.Getenv("RFLKIT_PLUGIN_N")); n > 0 {
		for i := range p.Workloads {
			p.Workloads[i].ICountIOs = n
		}
	}
	p.ICountBoots = 1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	boot := integrationBoot(t)
	var once bool
	e := &bench.Experiment{Kernels: []bench.KernelArm{k}, Preset: p, Seed: 1, Boot: func(ctx context.Context, req bench.BootRequest) (*bench.Booted, error) {
		if once {
			t.Fatal("second boot")
		}
		once = true
		return boot(ctx, req)
	}, Progress: func(pr bench.Progress) { t.Logf("%s elapsed: %s", pr.Elapsed.Round(time.Millisecond), pr.Message) }}
	t0 := time.Now()
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := res.Boots[0]
	t.Logf("boot: %.1f s to ready, %.1f s in all, cpu %q", b.BootSeconds, time.Since(t0).Seconds(), b.CPU)
	for _, s := range b.Samples {
		pl := s.Plugin
		if pl == nil {
			t.Fatalf("%s %s: no plugin sample", s.Driver, s.Workload)
		}
		t.Logf("%s %s: %.1f s wall, N=%d, failed %q, driver %.2f, helpers calls %.2f, blk-mq %.2f, io_uring %.2f, kernel %.2f, user %.2f, path %.2f; fio-derived %.1f; queue_rq %d/%d",
			s.Driver, s.Workload, s.WallSeconds, pl.N, pl.Failed, pl.Groups.Driver, pl.Groups.HelperCalls, pl.Groups.BlkMQ, pl.Groups.IOUring,
			pl.Groups.Kernel, pl.Groups.User, pl.Groups.Path, s.InstrPerIO, pl.QueueRQCalls, pl.WantQueueRQCalls)
		if pl.Failed != "" {
			t.Errorf("%s %s: failed: %s", s.Driver, s.Workload, pl.Failed)
		}
	}
}
