package bench_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/report"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// integrationBoot boots real guests for the integration tests, with each
// console kept in a file that is logged when the test fails.
func integrationBoot(t *testing.T) bench.BootFunc {
	t.Helper()
	testenv.LookPath(t, "qemu-system-x86_64")
	fio := testenv.LookPath(t, "fio")
	testenv.LookPath(t, "busybox")
	return consoleBoot(t, bench.QEMUOptions{Fio: fio})
}

// consoleBoot is QEMUBoot with opts in the test's cache, the guests'
// consoles kept and their tail logged when the test fails.
func consoleBoot(t *testing.T, opts bench.QEMUOptions) bench.BootFunc {
	t.Helper()
	console := &bytes.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			s := console.String()
			if len(s) > 4000 {
				s = s[len(s)-4000:]
			}
			t.Logf("guest consoles (tail):\n%s", s)
		}
	})
	opts.CacheDir, opts.Console = testenv.CacheDir(t), &syncWriter{w: console}
	return bench.QEMUBoot(opts)
}

// checkPluginComparisons checks the 8 comparisons of the driver-only and
// whole-path plugin measures of the quick preset: no error, and an
// interval (when there is one) that holds its estimate.
func checkPluginComparisons(t *testing.T, a *bench.Analysis) {
	t.Helper()
	n := 0
	for _, c := range a.Comparisons {
		if c.Measure == bench.MeasurePathInsns || c.Measure == bench.MeasureDriverInsns {
			n++
			if c.Err != "" || math.IsNaN(c.Interval.Ratio) || c.Interval.Lo > c.Interval.Ratio || c.Interval.Hi < c.Interval.Ratio {
				t.Errorf("comparison %s %s/%s: %+v", c.Question, c.B, c.A, c)
			}
		}
	}
	if n != 8 {
		t.Errorf("%d plugin comparisons (driver-only and path), want 8", n)
	}
}

// checkHelperCalls checks that inlining acted: rnull makes ~0
// rust_helper_* calls per I/O with helpers on, and some with them off.
func checkHelperCalls(t *testing.T, a *bench.Analysis) {
	t.Helper()
	helperCalls := map[string]float64{}
	for _, s := range a.Arms {
		if s.Measure == bench.MeasureHelperCalls && s.Key.Driver == bench.RNull {
			helperCalls[s.Key.Kernel] = s.Mean
		}
	}
	t.Logf("rnull rust_helper_* calls per I/O: %v", helperCalls)
	if v, ok := helperCalls["helpers-on"]; !ok || math.IsNaN(v) || v > 0.01 {
		t.Errorf("rnull with helpers on: %v helper calls per I/O (measured %v), want ~0", v, ok)
	}
	if v, ok := helperCalls["helpers-off"]; !ok || !(v > 0) {
		t.Errorf("rnull with helpers off: %v helper calls per I/O (measured %v), want some", v, ok)
	}
}

// runQuick runs the quick preset on kernels with boot, logging each boot,
// and checks that every boot ran.
func runQuick(t *testing.T, kernels []bench.KernelArm, boot bench.BootFunc, timeout time.Duration) (bench.Preset, *bench.Results) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p := bench.QuickPreset()
	e := &bench.Experiment{Kernels: kernels, Preset: p, Seed: 1, Boot: boot,
		Progress: func(pr bench.Progress) {
			if strings.HasPrefix(pr.Message, "booting") {
				t.Logf("boot %d/%d: %s (%s elapsed)", pr.Boot, pr.Boots, pr.Message, pr.Elapsed.Round(time.Second))
			}
		}}
	t0 := time.Now()
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quick preset: %d boots in %s", len(res.Boots), time.Since(t0).Round(time.Second))
	if !res.Complete || len(res.Boots) != 2*(p.WallBoots+p.ICountBoots) {
		t.Fatalf("complete %v, %d boots", res.Complete, len(res.Boots))
	}
	return p, res
}

// TestIntegrationQuick runs the quick preset end to end: both real tiny
// Rust kernels (helpers on and off), real QEMU guests under TCG and
// -icount, both drivers through configfs, fio, analysis and every output.
func TestIntegrationQuick(t *testing.T) {
	testenv.Integration(t)
	p, res := runQuick(t, pluginKernels(t), integrationBoot(t), 20*time.Minute)
	// The kernels really differ in RUST_INLINE_HELPERS.
	for _, k := range res.Kernels {
		want := ""
		if k.InlineHelpers {
			want = "y"
		}
		if k.ConfigHelpers != want || k.ConfigSHA256 == "" || !strings.HasPrefix(k.Release, "7.2") {
			t.Errorf("kernel %+v: want RUST_INLINE_HELPERS=%q, a config hash and a 7.2 release", k, want)
		}
	}
	ids := map[string]bool{}
	for _, b := range res.Boots {
		if len(b.BootID) != 36 || ids[b.BootID] {
			t.Errorf("boot %d: boot id %q missing or repeated", b.Index, b.BootID)
		}
		ids[b.BootID] = true
		icount := strings.Contains(strings.Join(b.QEMUArgv, " "), "-icount shift=0,sleep=off")
		if icount != (b.Mode == bench.ModeICount) || b.Accel != "tcg" {
			t.Errorf("boot %d (%s): accel %s, argv %q", b.Index, b.Mode, b.Accel, b.QEMUArgv)
		}
		runs, warmup := p.Runs, p.Warmup
		if b.Mode == bench.ModeICount {
			runs = p.ICountRuns
			if p.ICountNoWarmup {
				warmup = 0
			}
			if !b.Plugin || b.CPU != bench.DefaultICountCPU || b.PluginFailures != 0 {
				t.Errorf("boot %d: plugin %v, cpu %q, %d failed plugin samples", b.Index, b.Plugin, b.CPU, b.PluginFailures)
			}
		}
		if len(b.Samples) != max(p.Instances, 1)*len(p.Workloads)*2*(runs+warmup) {
			t.Errorf("boot %d: %d samples", b.Index, len(b.Samples))
		}
		if len(b.Instances) != max(p.Instances, 1) {
			t.Errorf("boot %d: %d device instances, want %d", b.Index, len(b.Instances), p.Instances)
		}
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != bench.MeasurePathInsns {
		t.Errorf("conclusive measure %s", a.Conclusive)
	}
	// Per-function counts for both drivers and both kernels, and with
	// helpers off, rnull's rust_helper_* calls per I/O.
	for _, b := range res.Boots {
		for _, s := range b.Samples {
			pl := s.Plugin
			if pl == nil || pl.Failed != "" || len(pl.Funcs) == 0 || pl.Funcs[pl.QueueRQ].Entries != float64(pl.RequestsPerIO) {
				t.Errorf("boot %d %s %s: plugin sample %+v", b.Index, s.Driver, s.Workload, pl)
				continue
			}
			g := pl.Groups
			t.Logf("boot %d %s %s %s: driver %.2f, helper calls %.3f, blk-mq %.2f, io_uring %.2f, kernel %.2f, user %.2f, path %.2f instructions per I/O; fio-derived %.1f",
				b.Index, b.Kernel, s.Driver, s.Workload, g.Driver, g.HelperCalls, g.BlkMQ, g.IOUring, g.Kernel, g.User, g.Path, s.InstrPerIO)
			if !(g.Driver > 0) || !(g.Kernel > g.Driver) || !(g.Path > g.Kernel) || math.IsNaN(g.HelperCalls) || math.IsInf(g.HelperCalls, 0) {
				t.Errorf("boot %d %s: groups %+v", b.Index, s.Driver, g)
			}
		}
	}
	checkHelperCalls(t, a)
	for _, s := range a.Arms {
		if !s.Measure.CountsInstructions() || s.Measure == bench.MeasureHelperCalls {
			continue
		}
		// A few thousand instructions per 4k read (tens in the driver's
		// own code), repeatable within an arm.
		lo, hi := 1000.0, 100000.0
		if s.Measure == bench.MeasureDriverInsns {
			lo, hi = 10, 1000
		}
		// Per-boot modes (sbitmap_find_bit's allocation hint, page and
		// slab state) move the kernel count by up to ~20 instructions per
		// I/O between boots (0.55% seen for rnull with helpers on): 1.5%.
		if s.Median < lo || s.Median > hi || (s.Max-s.Min)/s.Median > 0.015 {
			t.Errorf("icount arm %s %s: median %.1f, min %.1f, max %.1f", s.Key, s.Measure, s.Median, s.Min, s.Max)
		}
	}
	// Two device instances per boot: the instance level is separate.
	for _, s := range a.Arms {
		if s.Measure != bench.MeasurePathInsns {
			continue
		}
		if vc := s.Components; vc.Instances != 2*s.Boots || vc.InstanceInBoot || math.IsNaN(vc.Instance) {
			t.Errorf("arm %s: variance components %+v", s.Key, vc)
		}
	}
	if a.Design == nil || a.Design.Current.Instances != 2 || !(a.Design.Costs.Boot > 0) || !(a.Design.Costs.Run > 0) {
		t.Errorf("design advice %+v", a.Design)
	}
	checkPluginComparisons(t, a)
	dir := t.TempDir()
	if err := res.WriteFile(filepath.Join(dir, "results.json")); err != nil {
		t.Fatal(err)
	}
	back, err := bench.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := bench.Analyze(back, bench.AnalyzeOptions{})
	if err != nil || len(a2.Comparisons) != len(a.Comparisons) || a2.Comparisons[0].Interval != a.Comparisons[0].Interval {
		t.Errorf("re-analysis differs: %v", err)
	}
	var tbl, md, bf bytes.Buffer
	if err := report.WriteTable(&tbl, a); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, res, a, report.MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteBenchfmt(&bf, res); err != nil {
		t.Fatal(err)
	}
	if _, _, err := report.Plot(a); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tbl.String())
	if out := os.Getenv("RFLKIT_BENCH_KEEP"); out != "" {
		_ = res.WriteFile(filepath.Join(out, "results.json"))
	}
}

// TestIntegrationDevices checks the configfs devices and fio's errors in a
// real guest: parameters as set, checks that catch a wrong device, a real
// fio failure surfaced as *FioError, teardown that removes the device.
func TestIntegrationDevices(t *testing.T) {
	testenv.Integration(t)
	k := testkernel.TinyRust(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := integrationBoot(t)(ctx, bench.BootRequest{Kernel: bench.KernelArm{Name: "helpers-on", Helpers: true, BzImage: k.BzImage}, Mode: bench.ModeWall})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.WithoutCancel(ctx))
	g := b.Guest
	for _, d := range bench.Drivers() {
		dev := bench.DefaultDevice(d)
		if err := dev.Setup(ctx, g); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		var de *bench.DeviceError
		if err := dev.Setup(ctx, g); !errors.As(err, &de) {
			t.Errorf("%s: second setup: %v, want a *DeviceError", d, err)
		}
		wrong := dev
		wrong.SizeMiB = 1024
		if err := wrong.Check(ctx, g); !errors.As(err, &de) || !strings.Contains(err.Error(), "size") {
			t.Errorf("%s: check with the wrong size: %v", d, err)
		}
	}
	// null_blk really got the attributes rnull has fixed.
	r, err := g.Exec(ctx, "sh", "-c", "cd /sys/kernel/config/nullb/nb0 && for a in hw_queue_depth irqmode completion_nsec memory_backed blocksize size; do read v < $a; echo $a=$v; done")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(string(r.Stdout)), " "); got != "hw_queue_depth=256 irqmode=0 completion_nsec=0 memory_backed=0 blocksize=4096 size=4096" {
		t.Errorf("null_blk attributes: %s", got)
	}
	// A real fio failure is an error, not zero IOPS.
	w := bench.QuickPreset().Workloads[0]
	w.Runtime, w.Ramp = time.Second, 0
	r, err = g.Exec(ctx, append([]string{"fio"}, w.FioArgs("/dev/nonexistent")...)...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bench.CheckFioRun(w.Name(), r.ExitCode, r.Stdout, r.Stderr)
	var fe *bench.FioError
	if !errors.As(err, &fe) || fe.ExitCode == 0 {
		t.Errorf("fio on a missing device: %v (stdout %q)", err, bench.Tail(r.Stdout, 200))
	}
	// And a good run parses.
	r, err = g.Exec(ctx, append([]string{"fio"}, w.FioArgs("/dev/rn0")...)...)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := bench.CheckFioRun(w.Name(), r.ExitCode, r.Stdout, r.Stderr)
	if err != nil || fr.IOPS <= 0 || !fr.Read {
		t.Errorf("fio on rn0: %+v, %v", fr, err)
	}
	for _, d := range bench.Drivers() {
		dev := bench.DefaultDevice(d)
		if err := dev.Teardown(ctx, g); err != nil {
			t.Errorf("%s teardown: %v", d, err)
		}
		if err := dev.Check(ctx, g); err == nil {
			t.Errorf("%s: check passes after teardown", d)
		}
	}
}
