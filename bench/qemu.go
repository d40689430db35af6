package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/rflkit/rflkit/qemu"
)

// QEMUOptions configures QEMUBoot. The zero value boots a 1-vCPU, 512 MiB
// TCG guest with an initramfs holding the agent, busybox and /usr/bin/fio.
type QEMUOptions struct {
	// Initramfs is a prebuilt initramfs with fio; "" = BuildInitramfs
	// with Fio (once, on the first boot).
	Initramfs string
	Fio       string // host fio binary; "" = fio on PATH
	CacheDir  string // rflkit's cache root; "" = the default
	CPUs      int    // 0 = 1
	MemoryMiB int    // 0 = 512
	// WallAccel is the accelerator of wall-clock boots; "" = TCG (icount
	// boots are always TCG).
	WallAccel string
	// CommandTimeout bounds each command in the guest; 0 = 15 minutes.
	CommandTimeout time.Duration
	// Console receives the guests' serial consoles; nil = discard.
	Console io.Writer
	Logger  *slog.Logger // nil = discard
}

// BootArgs is what QEMUBoot adds to the kernel command line: null_blk is
// built in, so its module parameter goes there, and devices come only from
// configfs. no_timer_check skips the IO-APIC timer check, which fails at
// random under TCG on a loaded host ("IO-APIC + timer doesn't work!",
// seen here) and is meaningless in a VM. noapictimer keeps the kernel
// from calibrating the local APIC timer, a polling loop that costs 40-90 s
// of wall time per boot under -icount (measured here: 13 s boots with it);
// TCG often disables that timer anyway ("APIC timer disabled due to
// verification failure"), so every boot uses the PIT tick the same way.
// There is no "quiet": it would lower the console log level below
// KERN_WARNING and hide WARN() splats from the console watcher; qemu's
// default loglevel=5 already keeps the boot log short.
const BootArgs = "null_blk.nr_devices=0 no_timer_check noapictimer"

// QEMUBoot returns a BootFunc that boots each request with qemu.Start:
// TCG, and -icount shift=0,sleep=off for ModeICount boots.
func QEMUBoot(opts QEMUOptions) BootFunc {
	initrd := opts.Initramfs
	return func(ctx context.Context, req BootRequest) (*Booted, error) {
		if initrd == "" {
			fio := opts.Fio
			if fio == "" {
				p, err := exec.LookPath("fio")
				if err != nil {
					return nil, fmt.Errorf("bench: fio not found on the host (run scripts/setup): %w", err)
				}
				fio = p
			}
			p, err := qemu.BuildInitramfs(ctx, qemu.InitramfsSpec{CacheDir: opts.CacheDir, Binaries: []string{fio}, Logger: opts.Logger})
			if err != nil {
				return nil, fmt.Errorf("bench: initramfs: %w", err)
			}
			initrd = p
		}
		m := opts.machine(req, initrd)
		vm, err := qemu.Start(ctx, m, qemu.StartOptions{Console: opts.Console, Logger: opts.Logger, CacheDir: opts.CacheDir})
		if err != nil {
			return nil, fmt.Errorf("bench: boot %s: %w", req.Kernel.Name, err)
		}
		timeout := opts.CommandTimeout
		if timeout == 0 {
			timeout = 15 * time.Minute
		}
		return &Booted{
			Guest:       &qemuGuest{vm: vm, timeout: timeout},
			Stop:        vm.Stop,
			QEMUArgv:    vm.Argv(),
			Accel:       vm.Accel().Accel,
			BootTime:    vm.BootTime(),
			GuestUptime: vm.GuestUptime(),
		}, nil
	}
}

// machine is the QEMU machine for a request.
func (o QEMUOptions) machine(req BootRequest, initrd string) qemu.Machine {
	m := qemu.Machine{Kernel: req.Kernel.BzImage, Initramfs: initrd, Append: BootArgs,
		CPUs: o.CPUs, MemoryMiB: o.MemoryMiB, Accel: qemu.AccelTCG}
	if m.MemoryMiB == 0 {
		m.MemoryMiB = 512
	}
	if req.Mode == ModeICount {
		m.ICount = &qemu.ICount{Shift: 0, Sleep: false}
	} else if o.WallAccel != "" {
		m.Accel = o.WallAccel
	}
	return m
}

// qemuGuest adapts *qemu.VM to Guest. A kernel problem report (WARN,
// Oops, ...) during a command is an error: a run during which the kernel
// complained is not a measurement.
type qemuGuest struct {
	vm      *qemu.VM
	timeout time.Duration
}

// Exec runs argv in the guest with the command timeout.
func (g *qemuGuest) Exec(ctx context.Context, argv ...string) (*GuestResult, error) {
	r, err := g.vm.Exec(ctx, qemu.Command{Argv: argv, Timeout: g.timeout})
	if err != nil {
		return nil, err
	}
	if r.TimedOut {
		return nil, fmt.Errorf("bench: %s timed out after %v in the guest", argv[0], g.timeout)
	}
	return &GuestResult{Stdout: r.Stdout, Stderr: r.Stderr, ExitCode: r.ExitCode}, nil
}
