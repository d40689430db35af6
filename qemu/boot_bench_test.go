package qemu

import (
	"context"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
)

// BenchmarkBoot measures the wall time from Start to the first command's
// result (`true` in the guest) for the tiny Rust kernel under TCG, for
// several machine setups. scripts/boot-time runs it and prints ratios.
// Metrics: ms/first-result (the goal), ms/ready (Start alone),
// ms/guest-uptime (the guest's clock when the agent was ready) and
// initrd-MB.
func BenchmarkBoot(b *testing.B) {
	testenv.Integration(b)
	ctx := context.Background()
	kernel := tinyKernel(b)
	cache := testenv.CacheDir(b)
	fio := testenv.LookPath(b, "fio")
	initrd := func(spec InitramfsSpec) string {
		spec.CacheDir = cache
		p, err := BuildInitramfs(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	small := initrd(InitramfsSpec{})
	withFio := initrd(InitramfsSpec{Binaries: []string{fio}, Stubs: fioStubs()})
	fullFio := initrd(InitramfsSpec{Binaries: []string{fio}, FullLibraries: true})
	// Building the 93 MB archive leaves garbage behind; collect it now so
	// that the GC does not compete with the first boots for the CPUs.
	debug.FreeOSMemory()
	base := Machine{Kernel: kernel, Initramfs: small, Accel: AccelTCG}
	with := func(f func(*Machine)) Machine { m := base; f(&m); return m }
	cases := []struct {
		name string
		m    Machine
	}{
		{"default", base},
		{"q35", with(func(m *Machine) { m.Type = "q35" })},
		{"serial-transport", with(func(m *Machine) { m.Transport = TransportSerial })},
		{"qboot", with(func(m *Machine) { m.BIOS = QBootROM })}, // the agent takes ttyS1 (no PCI IRQ)
		{"quiet", with(func(m *Machine) { m.Append = "quiet" })},
		{"no-fast-args", with(func(m *Machine) {
			m.NoDefaultAppend = true
			m.Append = "console=ttyS0 panic=-1 oops=panic loglevel=5"
		})},
		{"fio-stubbed", with(func(m *Machine) { m.Initramfs = withFio })},
		{"fio-full-libs", with(func(m *Machine) { m.Initramfs = fullFio })},
		{"default-again", base}, // the same as default: shows any position effect
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var first, ready, uptime time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				vm, err := Start(ctx, c.m, StartOptions{CacheDir: cache})
				if err != nil {
					b.Fatal(err)
				}
				res, err := vm.Run(ctx, "true")
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("true: %v %v", res, err)
				}
				first += time.Since(t0)
				ready += vm.BootTime()
				uptime += vm.GuestUptime()
				b.StopTimer()
				if err := vm.Stop(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(first.Milliseconds())/n, "ms/first-result")
			b.ReportMetric(float64(ready.Milliseconds())/n, "ms/ready")
			b.ReportMetric(float64(uptime.Milliseconds())/n, "ms/guest-uptime")
			if fi, err := os.Stat(c.m.Initramfs); err == nil {
				b.ReportMetric(float64(fi.Size())/1e6, "initrd-MB")
			}
		})
	}
}
