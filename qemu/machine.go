package qemu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/osutil"
)

// Accelerators.
const (
	AccelAuto = "auto" // probe KVM, fall back to TCG (the zero value "" means the same)
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// Transports for the agent channel.
const (
	// TransportAuto (or "") offers both channels; the agent takes the
	// virtio-serial port when its kernel has one, else ttyS1.
	TransportAuto   = "auto"
	TransportVirtio = "virtio" // a virtio-serial port (needs VIRTIO_PCI + VIRTIO_CONSOLE)
	TransportSerial = "serial" // the second 8250 UART, ttyS1 (any x86 kernel)
)

// QBootROM is Debian's qboot firmware: a minimal BIOS replacement that
// boots a Linux kernel faster than SeaBIOS.
const QBootROM = "/usr/share/qemu/qboot.rom"

// Kernel parameters that shorten a boot; FastBootArgsFor says which ones
// CommandLine adds under which accelerator.
//
// Measured with the tiny 7.2 Rust kernel, TCG, 1 vCPU, 3 boots each, wall
// time from Start to the first command's result, all with no_timer_check:
//
//	                        without noapictimer     with noapictimer
//	-icount shift=0         24.7, 29.2, 25.2 s      2.3, 4.8, 1.7 s
//	  (guest uptime at the first command: 0.26 s / 0.05 s)
//	plain TCG               2.1, 2.0, 3.3 s         2.0, 3.5, 1.5 s
//
// Under -icount the kernel calibrates the local APIC timer in a polling
// loop whose every iteration costs guest instructions, that is guest time:
// ~25 s of wall time per boot. Under plain TCG the boots end without the
// APIC timer either way ("Disabling APIC timer" in both: without the
// parameter its verification fails), so skipping it changes nothing there
// but, at most, the time. Under TCG the IO-APIC timer check also fails at
// random on a loaded host, and the kernel panics ("IO-APIC + timer doesn't
// work!", seen here): no_timer_check skips the check. Every TCG guest thus
// runs on the PIT tick, with and without -icount. Under KVM the guest's
// timers work, and neither is added.
const (
	// argsNoI8042 skip the i8042 keyboard and mouse probes (~0.1 s under
	// TCG; a guest has no use for them). Always added.
	argsNoI8042 = "i8042.nokbd i8042.noaux"
	// argsTCGTimers skip the local APIC timer's calibration and the
	// IO-APIC timer check. Added under TCG, with or without ICount.
	argsTCGTimers = "noapictimer no_timer_check"
)

// fastBoot are the boot-shortening parameters of one architecture: the
// words always added, and those added under TCG.
type fastBoot struct{ always, tcg string }

// fastBootArgs is keyed by SRCARCH (internal/karch). x86's are the PC's
// (i8042 probes, local APIC timer calibration, IO-APIC timer check). arm64
// virt has no i8042 and no APIC: its architected timer needs no
// calibration under TCG, so it gets none.
var fastBootArgs = map[string]fastBoot{
	"x86":   {always: argsNoI8042, tcg: argsTCGTimers},
	"arm64": {},
}

// FastBootArgsFor returns the kernel parameters CommandLine adds to an
// x86_64 machine, after console=, panic=, oops= and loglevel=, for a
// machine running under accel: i8042.nokbd i8042.noaux always, and
// noapictimer no_timer_check under AccelTCG (with or without -icount). For
// an unresolved accelerator ("" or AccelAuto) it gives the i8042 ones
// only: Start resolves the accelerator before it builds the command line.
// It is FastBootArgsArch("x86_64", accel).
func FastBootArgsFor(accel string) []string {
	return FastBootArgsArch(defaultArch, accel)
}

// FastBootArgsArch returns the kernel parameters CommandLine adds for a
// machine of a kernel ARCH ("" = x86_64) under accel: x86's as
// FastBootArgsFor says, none on arm64 (virt has neither the i8042 nor the
// APIC those skip), none for an architecture rflkit does not boot.
func FastBootArgsArch(arch, accel string) []string {
	if arch == "" {
		arch = defaultArch
	}
	fb := fastBootArgs[karch.SrcArch(arch)]
	args := strings.Fields(fb.always)
	if accel == AccelTCG {
		args = append(args, strings.Fields(fb.tcg)...)
	}
	return args
}

// FastBootArgs are the kernel parameters CommandLine adds to shorten a
// boot under TCG.
//
// Deprecated: which parameters CommandLine adds depends on the
// accelerator: use FastBootArgsFor.
const FastBootArgs = argsNoI8042 + " " + argsTCGTimers

// AgentChannel is the name of the agent's virtio-serial port.
const AgentChannel = "rflkit.agent"

// ICount makes the guest clock count instructions: -icount shift=N,sleep=off.
// With Shift 0, one instruction is one nanosecond of guest time. TCG only.
type ICount struct {
	Shift int  // 0..10: a guest instruction takes 2^Shift ns
	Sleep bool // let the guest clock advance while the vCPU idles (QEMU's sleep=on)
}

// Channel is a virtio-serial port backed by a Unix socket that QEMU
// listens on (server=on,wait=off); the host connects to it.
type Channel struct {
	Name   string // port name in the guest (/sys/class/virtio-ports/*/name)
	Socket string // Unix socket path
}

// Machine describes a QEMU virtual machine (x86_64 unless Arch says
// otherwise). Argv maps it to a command line without side effects. The
// zero value of each field is a useful default; Kernel is required.
type Machine struct {
	// Arch is the guest kernel's architecture, an ARCH or SRCARCH that
	// internal/karch knows a QEMU machine for ("x86_64", "arm64"); "" =
	// x86_64. It gives the default QEMU binary, machine type and console
	// device.
	Arch      string
	QEMU      string // binary; "" = the architecture's ("qemu-system-x86_64")
	Kernel    string // bzImage, required
	Initramfs string // cpio archive; Start builds the default one (the agent and busybox) when empty
	// Append is added to the kernel command line after the defaults
	// (console=ttyS0 panic=-1 oops=panic loglevel=5, FastBootArgsArch of
	// the architecture and accelerator, and the agent's transport when not
	// auto), unless
	// NoDefaultAppend is set.
	Append          string
	NoDefaultAppend bool
	CPUs            int    // 0 = 1; > 1 needs BIOS: QBootROM for kernels without ACPI (see doc.go)
	MemoryMiB       int    // 0 = 256
	Accel           string // "", AccelAuto, AccelKVM or AccelTCG; Argv needs a resolved one
	CPU             string // -cpu model; "" = QEMU's default for the accelerator
	Type            string // machine type; "" = the architecture's ("pc" on x86_64, measured fastest here, see doc.go)
	// BIOS is the firmware (-bios); "" = QEMU's default (SeaBIOS).
	// QBootROM boots faster where available.
	BIOS   string
	ICount *ICount // nil = real time clock
	// Transport carries the agent's channel: TransportAuto (default),
	// TransportVirtio or TransportSerial.
	Transport string
	// AgentSocket is where QEMU listens for the agent's virtio-serial
	// port, AgentSerialSocket for its UART (ttyS1); Start fills in those
	// the transport needs. Empty = no such channel.
	AgentSocket       string
	AgentSerialSocket string
	// Channels are extra virtio-serial ports.
	Channels []Channel
	// Devices are extra -device values ("virtio-rng-pci").
	Devices []string
	// ExtraArgs are appended to the command line verbatim.
	ExtraArgs []string
}

// ErrAccelUnresolved is returned by Argv for the automatic accelerator:
// Start (or ChooseAccel) decides it by probing.
var ErrAccelUnresolved = errors.New(`qemu: accelerator "auto" must be resolved (Start or ChooseAccel do that)`)

// defaultArch is the architecture of a Machine whose Arch is "".
const defaultArch = "x86_64"

// archInfo returns the table's facts about m's architecture, or an error
// when rflkit knows no QEMU machine for it.
func (m Machine) archInfo() (karch.Info, error) {
	arch := m.Arch
	if arch == "" {
		arch = defaultArch
	}
	in, ok := karch.Lookup(arch)
	switch {
	case !ok:
		return in, fmt.Errorf("qemu: Machine.Arch %q: unknown architecture", m.Arch)
	case in.QEMU == "" || in.QEMUMachine == "" || in.Console == "":
		return in, fmt.Errorf("qemu: Machine.Arch %q: rflkit knows no QEMU machine for %s", m.Arch, in.SrcArch)
	}
	return in, nil
}

// Binary returns the QEMU binary of m: Machine.QEMU, else the
// architecture's qemu-system binary; "" for an architecture rflkit cannot
// boot (Argv and Check say why).
func (m Machine) Binary() string {
	if m.QEMU != "" {
		return m.QEMU
	}
	in, err := m.archInfo()
	if err != nil {
		return ""
	}
	return in.QEMU
}

// CommandLine returns the kernel command line Argv passes with -append:
// console= (the architecture's console device) panic=-1 oops=panic
// loglevel=5, FastBootArgsArch(m.Arch, m.Accel) and the agent's transport when it
// is not automatic, then Append. NoDefaultAppend leaves Append alone.
func (m Machine) CommandLine() string {
	var parts []string
	if !m.NoDefaultAppend {
		if in, err := m.archInfo(); err == nil {
			parts = append(parts, "console="+in.Console)
		}
		parts = append(parts, "panic=-1", "oops=panic", "loglevel=5")
		parts = append(parts, FastBootArgsArch(m.Arch, m.Accel)...)
		switch m.Transport {
		case TransportSerial, TransportVirtio:
			parts = append(parts, "rflkit.transport="+m.Transport)
		default:
			// Without a second UART (arm64 virt) the agent's only
			// channel is virtio-serial: the guest must not fall
			// back to a ttyS1 that does not exist.
			if in, err := m.archInfo(); err == nil && in.AgentUART == "" {
				parts = append(parts, "rflkit.transport="+TransportVirtio)
			}
		}
	}
	if s := strings.TrimSpace(m.Append); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// MachineError reports a Machine that cannot be booted as described: a
// file that is missing or unreadable, a QEMU binary that is not found.
type MachineError struct {
	Field string // the Machine field: "Kernel", "Initramfs", "BIOS" or "QEMU"
	Err   error  // the underlying error (fs.ErrNotExist, fs.ErrPermission, exec.ErrNotFound, ...)
}

// Error is "qemu: Machine.<Field>: <Err>".
func (e *MachineError) Error() string { return fmt.Sprintf("qemu: Machine.%s: %v", e.Field, e.Err) }

// Unwrap returns the underlying error.
func (e *MachineError) Unwrap() error { return e.Err }

// Check validates m before anything is built or started: the description
// (as Argv does, except that the accelerator may still be automatic), the
// kernel, initramfs and firmware files (they exist, are regular, non-empty
// and readable) and the QEMU binary (found on PATH). Start calls it
// first; a file problem is a *MachineError.
func (m Machine) Check() error {
	if err := m.validate(); err != nil {
		return err
	}
	if err := checkFile("Kernel", m.Kernel); err != nil {
		return err
	}
	if m.Initramfs != "" {
		if err := checkFile("Initramfs", m.Initramfs); err != nil {
			return err
		}
	}
	// QEMU looks a bare firmware name up in its data directory.
	if strings.Contains(m.BIOS, "/") {
		if err := checkFile("BIOS", m.BIOS); err != nil {
			return err
		}
	}
	if _, err := exec.LookPath(m.Binary()); err != nil {
		return &MachineError{Field: "QEMU", Err: err}
	}
	return nil
}

// checkFile checks that path is a readable, non-empty regular file.
func checkFile(field, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &MachineError{Field: field, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &MachineError{Field: field, Err: err}
	}
	switch {
	case !fi.Mode().IsRegular():
		return &MachineError{Field: field, Err: fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())}
	case fi.Size() == 0:
		return &MachineError{Field: field, Err: fmt.Errorf("%s is empty", path)}
	}
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil {
		return &MachineError{Field: field, Err: fmt.Errorf("read %s: %w", path, err)}
	}
	return nil
}

// validate checks the description, touching no file; the accelerator may
// be unresolved.
func (m Machine) validate() error {
	if m.Kernel == "" {
		return errors.New("qemu: Machine.Kernel is required")
	}
	if _, err := m.archInfo(); err != nil {
		return err
	}
	if m.CPUs < 0 || m.CPUs > 255 {
		return fmt.Errorf("qemu: Machine.CPUs = %d, want 1..255", m.CPUs)
	}
	if m.MemoryMiB < 0 {
		return fmt.Errorf("qemu: Machine.MemoryMiB = %d", m.MemoryMiB)
	}
	switch m.Accel {
	case AccelKVM, AccelTCG, "", AccelAuto:
	default:
		return fmt.Errorf("qemu: unknown accelerator %q (want auto, kvm or tcg)", m.Accel)
	}
	if m.ICount != nil {
		if m.Accel == AccelKVM {
			return fmt.Errorf("qemu: -icount needs TCG, not %s", m.Accel)
		}
		if m.ICount.Shift < 0 || m.ICount.Shift > 10 {
			return fmt.Errorf("qemu: ICount.Shift = %d, want 0..10", m.ICount.Shift)
		}
	}
	switch m.Transport {
	case "", TransportAuto, TransportVirtio, TransportSerial:
	default:
		return fmt.Errorf("qemu: unknown transport %q (want virtio or serial)", m.Transport)
	}
	if in, _ := m.archInfo(); m.Transport == TransportSerial && in.AgentUART == "" {
		return fmt.Errorf("qemu: transport serial: the %s machine has no second UART (use virtio)", in.QEMUMachine)
	}
	for _, c := range m.Channels {
		if c.Name == "" || c.Socket == "" || strings.ContainsAny(c.Name+c.Socket, ",") {
			return fmt.Errorf("qemu: channel %+v needs a name and a socket without commas", c)
		}
	}
	if strings.Contains(m.AgentSocket+m.AgentSerialSocket, ",") {
		return fmt.Errorf("qemu: agent socket %q/%q contains a comma", m.AgentSocket, m.AgentSerialSocket)
	}
	return nil
}

// Argv returns QEMU's argument vector (argv[0] is the binary). It checks
// the description but touches no file: the result is data (Check looks at
// the files).
func (m Machine) Argv() ([]string, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	if m.Accel == "" || m.Accel == AccelAuto {
		return nil, ErrAccelUnresolved
	}
	cpus, mem := max(m.CPUs, 1), m.MemoryMiB
	if mem == 0 {
		mem = 256
	}
	typ := m.Type
	if typ == "" {
		in, _ := m.archInfo() // validate checked it
		typ = in.QEMUMachine
	}

	argv := []string{m.Binary(),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", typ,
		"-accel", m.Accel,
	}
	if m.CPU != "" {
		argv = append(argv, "-cpu", m.CPU)
	}
	argv = append(argv,
		"-smp", strconv.Itoa(cpus),
		"-m", strconv.Itoa(mem),
	)
	if m.BIOS != "" {
		argv = append(argv, "-bios", m.BIOS)
	}
	if m.ICount != nil {
		sleep := "off"
		if m.ICount.Sleep {
			sleep = "on"
		}
		argv = append(argv, "-icount", fmt.Sprintf("shift=%d,sleep=%s", m.ICount.Shift, sleep))
	}
	argv = append(argv, "-kernel", m.Kernel)
	if m.Initramfs != "" {
		argv = append(argv, "-initrd", m.Initramfs)
	}
	argv = append(argv, "-append", m.CommandLine())
	// The console (ttyS0 on x86_64) on QEMU's stdout.
	argv = append(argv, "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con")

	in, _ := m.archInfo() // validate checked it
	if m.AgentSerialSocket != "" && m.Transport != TransportVirtio && in.AgentUART != "" {
		argv = append(argv,
			"-chardev", "socket,id=agent,path="+m.AgentSerialSocket+",server=on,wait=off",
			"-serial", "chardev:agent")
	}
	var ports []Channel
	if m.AgentSocket != "" && m.Transport != TransportSerial {
		ports = append(ports, Channel{Name: AgentChannel, Socket: m.AgentSocket})
	}
	ports = append(ports, m.Channels...)
	if len(ports) > 0 {
		argv = append(argv, "-device", in.VirtioSerial+",id=vser0")
		for i, c := range ports {
			id := "ch" + strconv.Itoa(i)
			argv = append(argv,
				"-chardev", "socket,id="+id+",path="+c.Socket+",server=on,wait=off",
				"-device", "virtserialport,bus=vser0.0,chardev="+id+",name="+c.Name)
		}
	}
	for _, d := range m.Devices {
		argv = append(argv, "-device", d)
	}
	argv = append(argv, m.ExtraArgs...)
	return argv, nil
}

// ShellCommand returns argv as a command line for a POSIX shell, to
// reproduce a boot by hand.
func ShellCommand(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(osutil.ShellQuote(a))
	}
	return b.String()
}
