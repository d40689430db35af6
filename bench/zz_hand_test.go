package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
	"bytes"

	"github.com/rflkit/rflkit/qemu"
)

type tsWriter struct{ t0 time.Time; buf bytes.Buffer }

func (w *tsWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			fmt.Fprintf(os.Stderr, "%7.2f %s\n", time.Since(w.t0).Seconds(), w.buf.String())
			w.buf.Reset()
		} else {
			w.buf.WriteByte(c)
		}
	}
	return len(p), nil
}

func TestZZBoot(t *testing.T) {
	k := "/tmp/dev/out-on/arch/x86/boot/bzImage"
	for _, ic := range []bool{true} {
		m := qemu.Machine{Kernel: k, Append: "null_blk.nr_devices=0 no_timer_check loglevel=8 printk.time=1", MemoryMiB: 512, Accel: qemu.AccelTCG}
		if ic {
			m.ICount = &qemu.ICount{}
		}
		t0 := time.Now()
		vm, err := qemu.Start(context.Background(), m, qemu.StartOptions{Console: &tsWriter{t0: t0}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("icount=%v boot %s uptime %s total %s", ic, vm.BootTime(), vm.GuestUptime(), time.Since(t0))
		vm.Stop(context.Background())
	}
}
