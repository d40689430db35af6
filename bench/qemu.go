package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/rflkit/rflkit/qemu"
	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// QEMUOptions configures QEMUBoot. The zero value boots a 1-vCPU, 512 MiB
// TCG guest with an initramfs holding the agent, busybox and /usr/bin/fio.
type QEMUOptions struct {
	// Initramfs is a prebuilt initramfs with fio; "" = BuildInitramfs
	// with Fio and FioStubs (once, on the first boot).
	Initramfs string
	Fio       string // host fio binary; "" = fio on PATH
	CacheDir  string // rflkit's cache root; "" = the default
	CPUs      int    // 0 = 1
	MemoryMiB int    // 0 = 512
	// WallAccel is the accelerator of wall-clock boots; "" = TCG (icount
	// boots are always TCG).
	WallAccel string
	// CPU is QEMU's -cpu model of -icount boots, pinned because it
	// decides which code alternatives the kernel patches in (and so the
	// instruction counts); "" = "qemu64". Wall-clock boots keep QEMU's
	// default for their accelerator.
	CPU string
	// NoPlugin boots -icount guests without the instruction-counting
	// plugin: only the fio-derived instructions per I/O are measured.
	NoPlugin bool
	// CommandTimeout bounds each command in the guest; 0 = 15 minutes.
	CommandTimeout time.Duration
	// Console receives the guests' serial consoles; nil = discard.
	Console io.Writer
	Logger  *slog.Logger // nil = discard
}

// BootArgs is what QEMUBoot adds to the kernel command line: null_blk is
// built in, so its module parameter goes there, and devices come only from
// configfs. The timer parameters are qemu's to decide (qemu.FastBootArgsFor):
// under TCG, with or without -icount, qemu adds noapictimer (the local
// APIC timer's calibration costs ~25 s of wall time per boot under -icount:
// 24.7-29.2 s boots without it, 1.7-4.8 s with it, measured on the tiny
// kernel) and no_timer_check (the IO-APIC timer check fails at random under
// TCG on a loaded host and panics the kernel: "IO-APIC + timer doesn't
// work!"). So every TCG boot runs on the PIT tick, and icount boots get
// the same words as when bench added them itself. There is no "quiet": it
// would lower the console log level below KERN_WARNING and hide WARN()
// splats from the console watcher; qemu's default loglevel=5 already keeps
// the boot log short.
const BootArgs = "null_blk.nr_devices=0"

// FioStubs are the shared libraries that Debian's fio links for ioengines
// the benchmark does not use (GlusterFS, NBD, RDMA, Ceph RADOS/RBD, PMDK).
// Together with their own dependencies they weigh ~80 MB; QEMUBoot passes
// them as qemu.InitramfsSpec.Stubs, so that qemu.BuildInitramfs replaces
// them with generated stubs of ~5 KB each that define the symbols fio
// imports (every call prints an error and exits 127). Names fio does not
// need are ignored.
func FioStubs() []string {
	return []string{
		"libgfapi.so.0", "libnbd.so.0", "libibverbs.so.1", "librdmacm.so.1",
		"librados.so.2", "librbd.so.1", "libpmemblk.so.1", "libpmem.so.1",
	}
}

// DefaultICountCPU is QEMUOptions.CPU's default.
const DefaultICountCPU = "qemu64"

// QEMUBoot returns a BootFunc that boots each request with qemu.Start:
// TCG, and -icount shift=0,sleep=off for ModeICount boots. ModeICount
// boots also load the instruction-counting plugin (qemu/tcgplugin, built
// once into the cache) with the kernel's System.map
// (KernelArm.SystemMap) and ksys_sync as the trigger, and pin -cpu; the
// map and the plugin's output live in a per-boot temporary directory
// removed at Stop.
func QEMUBoot(opts QEMUOptions) BootFunc {
	initrd := opts.Initramfs
	var pluginSO string
	var modInitrd moduleInitramfs
	return func(ctx context.Context, req BootRequest) (*Booted, error) {
		img := initrd
		if req.Kernel.Modular() {
			p, err := modInitrd.get(ctx, opts, req.Kernel)
			if err != nil {
				return nil, err
			}
			img = p
		} else if initrd == "" {
			fio := opts.Fio
			if fio == "" {
				p, err := exec.LookPath("fio")
				if err != nil {
					return nil, fmt.Errorf("bench: fio not found on the host (run scripts/setup): %w", err)
				}
				fio = p
			}
			p, err := qemu.BuildInitramfs(ctx, opts.initramfsSpec(fio))
			if err != nil {
				return nil, fmt.Errorf("bench: initramfs: %w", err)
			}
			initrd, img = p, p
		}
		m := opts.machine(req, img)
		var pl *bootPlugin
		if req.Mode == ModeICount && !opts.NoPlugin {
			if pluginSO == "" {
				so, err := tcgplugin.Build(ctx, tcgplugin.BuildOptions{CacheDir: opts.CacheDir, Logger: opts.Logger})
				if err != nil {
					return nil, fmt.Errorf("bench: instruction-counting plugin: %w", err)
				}
				pluginSO = so
			}
			var err error
			if pl, err = newBootPlugin(req.Kernel, pluginSO); err != nil {
				return nil, err
			}
			m.ExtraArgs = append(m.ExtraArgs, pl.plugin.QEMUArgs()...)
		}
		vm, err := qemu.Start(ctx, m, qemu.StartOptions{Console: opts.Console, Logger: opts.Logger, CacheDir: opts.CacheDir})
		if err != nil {
			pl.remove()
			return nil, fmt.Errorf("bench: boot %s: %w", req.Kernel.Name, err)
		}
		timeout := opts.CommandTimeout
		if timeout == 0 {
			timeout = 15 * time.Minute
		}
		b := &Booted{
			Guest:       &qemuGuest{vm: vm, timeout: timeout},
			Stop:        vm.Stop,
			QEMUArgv:    vm.Argv(),
			Accel:       vm.Accel().Accel,
			BootTime:    vm.BootTime(),
			GuestUptime: vm.GuestUptime(),
			CPU:         m.CPU,
		}
		if pl != nil {
			b.Plugin = &PluginCounters{Symbols: pl.tab, Snapshots: pl.snapshots, CPU: m.CPU}
			b.Stop = func(ctx context.Context) error {
				err := vm.Stop(ctx)
				pl.remove()
				return err
			}
		}
		return b, nil
	}
}

// initramfsSpec is the initramfs of the guests: the agent, busybox and
// the host's fio, with the libraries of FioStubs stubbed.
func (o QEMUOptions) initramfsSpec(fio string) qemu.InitramfsSpec {
	return qemu.InitramfsSpec{CacheDir: o.CacheDir, Binaries: []string{fio}, Stubs: FioStubs(), Logger: o.Logger}
}

// machine is the QEMU machine for a request.
func (o QEMUOptions) machine(req BootRequest, initrd string) qemu.Machine {
	m := qemu.Machine{Kernel: req.Kernel.BzImage, Initramfs: initrd, Append: BootArgs,
		CPUs: o.CPUs, MemoryMiB: o.MemoryMiB, Accel: qemu.AccelTCG}
	if m.MemoryMiB == 0 {
		m.MemoryMiB = 512
	}
	if req.Kernel.Modular() {
		// null_blk's nr_devices=0 is a load parameter (ModuleParams).
		m.Append = ""
	}
	if req.Mode == ModeICount {
		m.ICount = &qemu.ICount{Shift: 0, Sleep: false}
		m.CPU = o.CPU
		if m.CPU == "" {
			m.CPU = DefaultICountCPU
		}
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
