package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/sysroot"
	"github.com/rflkit/rflkit/qemu"
	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// QEMUOptions configures QEMUBoot. The zero value boots a 1-vCPU, 512 MiB
// x86_64 TCG guest with an initramfs holding the agent, busybox and
// /usr/bin/fio.
type QEMUOptions struct {
	// Arch is the guests' kernel ARCH, as internal/karch names it
	// ("x86_64", "arm64"); "" = x86_64. It gives the QEMU binary and
	// machine (qemu-system-aarch64 -M virt for arm64), the -cpu default
	// (DefaultICountCPUFor) and, for an architecture other than the
	// host's, the guest programs: the agent cross-compiled, and busybox
	// and fio from the distribution's packages of that architecture
	// (busybox-static:arm64, fio:arm64 and its libraries, unpacked into a
	// sysroot in the cache by internal/sysroot, never installed), with
	// FioStubs stubbed for that architecture. No host binary of the
	// wrong architecture goes into the guest.
	Arch string
	// Initramfs is a prebuilt initramfs with fio; "" = BuildInitramfs
	// with Fio and FioStubs (once, on the first boot).
	Initramfs string
	// Fio is the host fio binary; "" = fio on PATH. For a foreign Arch it
	// is the path of fio inside the architecture's sysroot; "" =
	// /usr/bin/fio of the distribution's fio package.
	Fio       string
	CacheDir  string // rflkit's cache root; "" = the default
	CPUs      int    // 0 = 1
	MemoryMiB int    // 0 = 512
	// WallAccel is the accelerator of wall-clock boots; "" = TCG (icount
	// boots are always TCG).
	WallAccel string
	// CPU is QEMU's -cpu model of -icount boots, pinned because it
	// decides which code alternatives the kernel patches in (and so the
	// instruction counts); "" = DefaultICountCPUFor(Arch) ("qemu64" on
	// x86_64, "cortex-a57" on arm64). Wall-clock boots keep QEMU's
	// default for their accelerator on x86_64; on arm64 they get the
	// same default too, since virt's own (cortex-a15) is a 32-bit core.
	CPU string
	// NoPlugin boots -icount guests without the instruction-counting
	// plugin: only the fio-derived instructions per I/O are measured.
	NoPlugin bool
	// CommandTimeout bounds each command in the guest; 0 = 15 minutes.
	CommandTimeout time.Duration
	// Console receives the guests' serial consoles; nil = discard.
	Console io.Writer
	Logger  *slog.Logger // nil = discard

	// sysroot is the foreign architecture's sysroot with fio, found by
	// QEMUBoot before the first initramfs is built.
	sysroot string
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

// DefaultICountCPU is QEMUOptions.CPU's default on x86_64.
const DefaultICountCPU = "qemu64"

// DefaultICountCPUArm64 is QEMUOptions.CPU's default on arm64: a fixed,
// plain ARMv8.0 core (the -cpu the qemu arm64 integration tests pin).
const DefaultICountCPUArm64 = "cortex-a57"

// DefaultICountCPUFor returns QEMUOptions.CPU's default for a kernel ARCH
// ("" = x86_64): DefaultICountCPU on x86, DefaultICountCPUArm64 on arm64,
// "" (QEMU's default) elsewhere.
func DefaultICountCPUFor(arch string) string {
	switch archOrDefault(arch) {
	case "x86":
		return DefaultICountCPU
	case "arm64":
		return DefaultICountCPUArm64
	}
	return ""
}

// archOrDefault is the SRCARCH of a QEMUOptions.Arch ("" = x86_64).
func archOrDefault(arch string) string {
	if arch == "" {
		arch = "x86_64"
	}
	return karch.SrcArch(arch)
}

// foreign reports whether the guests' architecture differs from the
// host's: their programs come from the distribution's packages of that
// architecture, unpacked into a sysroot.
func (o QEMUOptions) foreign() bool {
	return archOrDefault(o.Arch) != karch.SrcArch(karch.Host())
}

// withSysroot returns o with the sysroot of a foreign architecture's fio
// (fio and its library packages, internal/sysroot.Closure, unpacked into
// the cache); o itself for the host's architecture.
func (o QEMUOptions) withSysroot(ctx context.Context) (QEMUOptions, error) {
	if !o.foreign() || o.sysroot != "" {
		return o, nil
	}
	in, ok := karch.Lookup(archOrDefault(o.Arch))
	if !ok || in.DebArch == "" {
		return o, fmt.Errorf("bench: QEMUOptions.Arch %q: no Debian architecture for its guest programs", o.Arch)
	}
	pkgs, err := sysroot.CachedClosure(ctx, in.DebArch, []string{"fio"}, sysroot.ClosureOptions{CacheDir: o.CacheDir})
	if err != nil {
		return o, fmt.Errorf("bench: fio for %s: %w", in.SrcArch, err)
	}
	root, err := sysroot.Ensure(ctx, sysroot.Options{CacheDir: o.CacheDir, Arch: in.DebArch, Packages: pkgs})
	if err != nil {
		return o, fmt.Errorf("bench: fio for %s: %w", in.SrcArch, err)
	}
	o.sysroot = root
	return o, nil
}

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
		if initrd == "" || req.Kernel.Modular() {
			o, err := opts.withSysroot(ctx)
			if err != nil {
				return nil, err
			}
			opts = o
		}
		if req.Kernel.Modular() {
			p, err := modInitrd.get(ctx, opts, req.Kernel)
			if err != nil {
				return nil, err
			}
			img = p
		} else if initrd == "" {
			p, err := BuildFioInitramfs(ctx, opts)
			if err != nil {
				return nil, err
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
// the host's fio, with the libraries of FioStubs stubbed. For a foreign
// Arch (withSysroot has run) fio is the sysroot's (o.Fio, else
// /usr/bin/fio) and the host path fio is not used.
func (o QEMUOptions) initramfsSpec(fio string) qemu.InitramfsSpec {
	spec := qemu.InitramfsSpec{CacheDir: o.CacheDir, Binaries: []string{fio}, Stubs: FioStubs(), Logger: o.Logger}
	if o.Arch != "" && archOrDefault(o.Arch) != "x86" {
		spec.Arch = o.Arch
	}
	if o.foreign() {
		guestFio := o.Fio
		if guestFio == "" {
			guestFio = "/usr/bin/fio"
		}
		spec.Sysroot, spec.Binaries = o.sysroot, []string{guestFio}
	}
	return spec
}

// machine is the QEMU machine for a request.
func (o QEMUOptions) machine(req BootRequest, initrd string) qemu.Machine {
	m := qemu.Machine{Arch: o.Arch, Kernel: req.Kernel.BzImage, Initramfs: initrd, Append: BootArgs,
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
			m.CPU = DefaultICountCPUFor(o.Arch)
		}
	} else {
		if o.WallAccel != "" {
			m.Accel = o.WallAccel
		}
		if archOrDefault(o.Arch) == "arm64" {
			// virt's default CPU (cortex-a15) cannot run an arm64 kernel.
			m.CPU = o.CPU
			if m.CPU == "" {
				m.CPU = DefaultICountCPUArm64
			}
		}
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
