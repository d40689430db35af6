package bench_test

import (
	"bytes"
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

// arm64Kernels are the two real tiny arm64 Rust kernels (helpers on and
// off, cached builds) with their System.maps.
func arm64Kernels(t *testing.T) []bench.KernelArm {
	t.Helper()
	var ks []bench.KernelArm
	for _, helpers := range []bool{true, false} {
		k := testkernel.TinyRustArm64(t, helpers)
		name := "helpers-off"
		if helpers {
			name = "helpers-on"
		}
		sm := filepath.Join(filepath.Dir(k.Vmlinux), "System.map")
		if _, err := os.Stat(sm); err != nil || k.Vmlinux == "" {
			t.Fatalf("%s: System.map beside vmlinux %q: %v", name, k.Vmlinux, err)
		}
		ks = append(ks, bench.KernelArm{Name: name, Helpers: helpers, BzImage: k.BzImage, Config: k.Config, SystemMap: sm})
	}
	return ks
}

// arm64Boot boots real arm64 guests (qemu-system-aarch64 -M virt, TCG,
// fio:arm64 with aarch64 stubs), each console kept and logged on failure.
func arm64Boot(t *testing.T) bench.BootFunc {
	t.Helper()
	testenv.LookPath(t, "qemu-system-aarch64")
	testenv.LookPath(t, "busybox") // lists the applets of busybox-static:arm64
	return consoleBoot(t, bench.QEMUOptions{Arch: "arm64"})
}

// TestIntegrationArm64Quick runs the quick preset end to end on arm64
// guests: both real tiny arm64 Rust kernels, qemu-system-aarch64 -M virt
// under TCG and -icount with -cpu cortex-a57, the instruction-counting
// plugin with the arm64 System.map and ksys_sync as trigger, the I/O check
// (queue_rq entered exactly once more per request in the 2N window), both
// drivers, analysis, and the arch recorded in results.json.
func TestIntegrationArm64Quick(t *testing.T) {
	testenv.Integration(t)
	// Experiment.Run records the arch from the kernels' .configs, and
	// the version of that arch's QEMU.
	_, res := runQuick(t, arm64Kernels(t), arm64Boot(t), 30*time.Minute)
	if res.Arch != "arm64" || !strings.Contains(res.Host.QEMUVersion, "QEMU emulator version 7.2") || !strings.Contains(res.Host.QEMUVersion, "QEMU emulator version") {
		t.Errorf("arch %q, QEMU version %q", res.Architecture(), res.Host.QEMUVersion)
	}
	for _, k := range res.Kernels {
		want := ""
		if k.InlineHelpers {
			want = "y"
		}
		if k.Arch != "arm64" || k.ConfigHelpers != want || !strings.HasPrefix(k.Release, "7.2") {
			t.Errorf("kernel %+v: want arch arm64, RUST_INLINE_HELPERS=%q and a 7.2 release", k, want)
		}
	}
	for _, b := range res.Boots {
		argv := strings.Join(b.QEMUArgv, " ")
		if !strings.HasPrefix(b.QEMUArgv[0], "qemu-system-aarch64") && !strings.HasSuffix(b.QEMUArgv[0], "/qemu-system-aarch64") ||
			!strings.Contains(argv, "-machine virt") || !strings.Contains(argv, "console=ttyAMA0") || strings.Contains(argv, "i8042") {
			t.Errorf("boot %d: argv %q", b.Index, argv)
		}
		if b.Mode != bench.ModeICount || !b.Plugin || b.CPU != bench.DefaultICountCPUArm64 || b.PluginFailures != 0 {
			t.Errorf("boot %d: mode %s, plugin %v, cpu %q, %d failed plugin samples", b.Index, b.Mode, b.Plugin, b.CPU, b.PluginFailures)
		}
		t.Logf("boot %d %s: %.2f s to ready (guest uptime %.2f s), %.1f s in all", b.Index, b.Kernel, b.BootSeconds, b.GuestUptimeSeconds, b.WallSeconds)
		for _, s := range b.Samples {
			pl := s.Plugin
			if pl == nil || pl.Failed != "" || len(pl.Funcs) == 0 || pl.Funcs[pl.QueueRQ].Entries != float64(pl.RequestsPerIO) {
				t.Errorf("boot %d %s %s: plugin sample %+v", b.Index, s.Driver, s.Workload, pl)
				continue
			}
			g := pl.Groups
			t.Logf("boot %d %s %s: driver %.2f, helper calls %.3f, kernel %.2f, user %.2f, path %.2f instructions per I/O; queue_rq %s %d/%d; fio-derived %.1f",
				b.Index, b.Kernel, s.Driver, g.Driver, g.HelperCalls, g.Kernel, g.User, g.Path, pl.QueueRQ, pl.QueueRQCalls, pl.WantQueueRQCalls, s.InstrPerIO)
			if !(g.Driver > 0) || !(g.Kernel > g.Driver) || !(g.Path > g.Kernel) || math.IsNaN(g.HelperCalls) {
				t.Errorf("boot %d %s: groups %+v", b.Index, s.Driver, g)
			}
		}
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != bench.MeasurePathInsns {
		t.Errorf("conclusive measure %s", a.Conclusive)
	}
	checkHelperCalls(t, a)
	checkPluginComparisons(t, a)
	dir := t.TempDir()
	if err := res.WriteFile(filepath.Join(dir, "results.json")); err != nil {
		t.Fatal(err)
	}
	back, err := bench.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil || back.Arch != "arm64" {
		t.Fatalf("results.json round trip: arch %q, %v", back.Arch, err)
	}
	var tbl bytes.Buffer
	if err := report.WriteTable(&tbl, a); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tbl.String())
	if out := os.Getenv("RFLKIT_BENCH_KEEP"); out != "" {
		_ = res.WriteFile(filepath.Join(out, "results-arm64.json"))
	}
}
