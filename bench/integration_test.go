package bench

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

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// integrationBoot boots real guests for the integration tests, with each
// console kept in a file that is logged when the test fails.
func integrationBoot(t *testing.T) BootFunc {
	t.Helper()
	testenv.LookPath(t, "qemu-system-x86_64")
	fio := testenv.LookPath(t, "fio")
	testenv.LookPath(t, "busybox")
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
	return QEMUBoot(QEMUOptions{Fio: fio, CacheDir: testenv.CacheDir(t), Console: &syncWriter{w: console}})
}

// TestIntegrationQuick runs the quick preset end to end: both real tiny
// Rust kernels (helpers on and off), real QEMU guests under TCG and
// -icount, both drivers through configfs, fio, analysis and every output.
func TestIntegrationQuick(t *testing.T) {
	testenv.Integration(t)
	on := testkernel.TinyRust(t, true)
	off := testkernel.TinyRust(t, false)
	kernels := []KernelArm{
		{Name: "helpers-on", Helpers: true, BzImage: on.BzImage, Config: on.Config},
		{Name: "helpers-off", Helpers: false, BzImage: off.BzImage, Config: off.Config},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	p := QuickPreset()
	e := &Experiment{Kernels: kernels, Preset: p, Seed: 1, Boot: integrationBoot(t),
		Progress: func(pr Progress) {
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
		if icount != (b.Mode == ModeICount) || b.Accel != "tcg" {
			t.Errorf("boot %d (%s): accel %s, argv %q", b.Index, b.Mode, b.Accel, b.QEMUArgv)
		}
		runs := p.Runs
		if b.Mode == ModeICount {
			runs = p.ICountRuns
		}
		if len(b.Samples) != len(p.Workloads)*2*(runs+p.Warmup) {
			t.Errorf("boot %d: %d samples", b.Index, len(b.Samples))
		}
	}
	a, err := Analyze(res, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != MeasureInstr {
		t.Errorf("conclusive measure %s", a.Conclusive)
	}
	for _, s := range a.Arms {
		if s.Measure != MeasureInstr {
			continue
		}
		// A few thousand instructions per 4k read, repeatable to far
		// better than 0.5% within an arm.
		if s.Median < 1000 || s.Median > 100000 || (s.Max-s.Min)/s.Median > 0.005 {
			t.Errorf("icount arm %s: median %.1f, min %.1f, max %.1f", s.Key, s.Median, s.Min, s.Max)
		}
	}
	n := 0
	for _, c := range a.Comparisons {
		if c.Measure == MeasureInstr {
			n++
			if c.Err != "" || math.IsNaN(c.Interval.Ratio) || c.Interval.Lo > c.Interval.Ratio || c.Interval.Hi < c.Interval.Ratio {
				t.Errorf("comparison %s %s/%s: %+v", c.Question, c.B, c.A, c)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d icount comparisons, want 4", n)
	}
	dir := t.TempDir()
	if err := res.WriteFile(filepath.Join(dir, "results.json")); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := Analyze(back, AnalyzeOptions{})
	if err != nil || len(a2.Comparisons) != len(a.Comparisons) || a2.Comparisons[0].Interval != a.Comparisons[0].Interval {
		t.Errorf("re-analysis differs: %v", err)
	}
	var tbl, md, bf bytes.Buffer
	if err := WriteTable(&tbl, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, res, a, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteBenchfmt(&bf, res); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Plot(a); err != nil {
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
	b, err := integrationBoot(t)(ctx, BootRequest{Kernel: KernelArm{Name: "helpers-on", Helpers: true, BzImage: k.BzImage}, Mode: ModeWall})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.WithoutCancel(ctx))
	g := b.Guest
	for _, d := range Drivers() {
		dev := DefaultDevice(d)
		if err := dev.Setup(ctx, g); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		var de *DeviceError
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
	w := QuickPreset().Workloads[0]
	w.Runtime, w.Ramp = time.Second, 0
	r, err = g.Exec(ctx, append([]string{"fio"}, w.FioArgs("/dev/nonexistent")...)...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = checkFioRun(w.Name(), r.ExitCode, r.Stdout, r.Stderr)
	var fe *FioError
	if !errors.As(err, &fe) || fe.ExitCode == 0 {
		t.Errorf("fio on a missing device: %v (stdout %q)", err, tail(r.Stdout, 200))
	}
	// And a good run parses.
	r, err = g.Exec(ctx, append([]string{"fio"}, w.FioArgs("/dev/rn0")...)...)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := checkFioRun(w.Name(), r.ExitCode, r.Stdout, r.Stderr)
	if err != nil || fr.IOPS <= 0 || !fr.Read {
		t.Errorf("fio on rn0: %+v, %v", fr, err)
	}
	for _, d := range Drivers() {
		dev := DefaultDevice(d)
		if err := dev.Teardown(ctx, g); err != nil {
			t.Errorf("%s teardown: %v", d, err)
		}
		if err := dev.Check(ctx, g); err == nil {
			t.Errorf("%s: check passes after teardown", d)
		}
	}
}
