package tcgplugin_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/qemu"
	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// BenchmarkBoot measures what the plugin costs a boot: the wall time from
// qemu.Start to the first command's result (`true`) and to QEMU's exit
// after Stop, for the tiny Rust kernel under TCG with -icount shift=0,
// without and with the plugin (triggered by ksys_sync, which the agent's
// power-off runs once). Metrics: ms/first-result, ms/stopped.
func BenchmarkBoot(b *testing.B) {
	testenv.Integration(b)
	ctx := context.Background()
	cache := testenv.CacheDir(b)
	k, tab := kernelTable(b)
	so, err := tcgplugin.Build(ctx, tcgplugin.BuildOptions{CacheDir: cache})
	if err != nil {
		b.Fatal(err)
	}
	initrd, err := qemu.BuildInitramfs(ctx, qemu.InitramfsSpec{CacheDir: cache})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	trigger, _ := tab.Addr("ksys_sync")
	p := tcgplugin.Plugin{Path: so, Map: filepath.Join(dir, "kernel.map"), Out: filepath.Join(dir, "out"), Trigger: trigger}
	if err := tab.WriteMapFile(p.Map); err != nil {
		b.Fatal(err)
	}
	base := qemu.Machine{Kernel: k.BzImage, Initramfs: initrd, Accel: qemu.AccelTCG, ICount: &qemu.ICount{Shift: 0}, CPU: "qemu64"}
	withPlugin := base
	withPlugin.ExtraArgs = p.QEMUArgs()
	for _, c := range []struct {
		name string
		m    qemu.Machine
	}{{"icount", base}, {"icount-plugin", withPlugin}, {"icount-again", base}} {
		b.Run(c.name, func(b *testing.B) {
			var first, stopped time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				vm, err := qemu.Start(ctx, c.m, qemu.StartOptions{CacheDir: cache})
				if err != nil {
					b.Fatal(err)
				}
				if res, err := vm.Run(ctx, "true"); err != nil || res.ExitCode != 0 {
					b.Fatalf("true: %+v %v", res, err)
				}
				first += time.Since(t0)
				if err := vm.Stop(ctx); err != nil {
					b.Fatal(err)
				}
				stopped += time.Since(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(first.Milliseconds())/n, "ms/first-result")
			b.ReportMetric(float64(stopped.Milliseconds())/n, "ms/stopped")
		})
	}
}
