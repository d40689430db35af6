package qemu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// FastBootArgs are the kernel parameters CommandLine adds to shorten a boot:
// the i8042 keyboard/mouse probes (~0.1 s under TCG; a guest has no use for
// them) are always skipped, and under plain TCG (no ICount) so is the local
// APIC timer, whose verification fails there anyway after ~0.27 s ("APIC
// timer disabled due to verification failure"). Under -icount the APIC
// timer verifies and is kept. scripts/boot-time measures the effect.
const FastBootArgs = "noapictimer i8042.nokbd i8042.noaux"

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

// Machine describes a QEMU x86_64 virtual machine. Argv maps it to a
// command line without side effects. The zero value of each field is a
// useful default; Kernel is required.
type Machine struct {
	QEMU      string // binary; "" = "qemu-system-x86_64"
	Kernel    string // bzImage, required
	Initramfs string // cpio archive; Start builds the default one (the agent and busybox) when empty
	// Append is added to the kernel command line after the defaults
	// (console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd
	// i8042.noaux, noapictimer under plain TCG, and the agent's transport
	// when not auto), unless NoDefaultAppend is set.
	Append          string
	NoDefaultAppend bool
	CPUs            int    // 0 = 1; > 1 needs BIOS: QBootROM for kernels without ACPI (see doc.go)
	MemoryMiB       int    // 0 = 256
	Accel           string // "", AccelAuto, AccelKVM or AccelTCG; Argv needs a resolved one
	CPU             string // -cpu model; "" = QEMU's default for the accelerator
	Type            string // machine type; "" = "pc" (measured fastest here, see doc.go)
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

// Binary returns the QEMU binary of m.
func (m Machine) Binary() string {
	if m.QEMU != "" {
		return m.QEMU
	}
	return "qemu-system-x86_64"
}

// CommandLine returns the kernel command line Argv passes with -append.
func (m Machine) CommandLine() string {
	var parts []string
	if !m.NoDefaultAppend {
		parts = append(parts, "console=ttyS0", "panic=-1", "oops=panic", "loglevel=5", "i8042.nokbd", "i8042.noaux")
		if m.Accel == AccelTCG && m.ICount == nil {
			parts = append(parts, "noapictimer")
		}
		switch m.Transport {
		case TransportSerial, TransportVirtio:
			parts = append(parts, "rflkit.transport="+m.Transport)
		}
	}
	if s := strings.TrimSpace(m.Append); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// Argv returns QEMU's argument vector (argv[0] is the binary). It checks
// the description but touches no file: the result is data.
func (m Machine) Argv() ([]string, error) {
	if m.Kernel == "" {
		return nil, errors.New("qemu: Machine.Kernel is required")
	}
	cpus, mem := m.CPUs, m.MemoryMiB
	if cpus == 0 {
		cpus = 1
	}
	if mem == 0 {
		mem = 256
	}
	if cpus < 0 || cpus > 255 {
		return nil, fmt.Errorf("qemu: Machine.CPUs = %d, want 1..255", cpus)
	}
	if mem < 0 {
		return nil, fmt.Errorf("qemu: Machine.MemoryMiB = %d", mem)
	}
	switch m.Accel {
	case AccelKVM, AccelTCG:
	case "", AccelAuto:
		return nil, ErrAccelUnresolved
	default:
		return nil, fmt.Errorf("qemu: unknown accelerator %q (want auto, kvm or tcg)", m.Accel)
	}
	if m.ICount != nil {
		if m.Accel != AccelTCG {
			return nil, fmt.Errorf("qemu: -icount needs TCG, not %s", m.Accel)
		}
		if m.ICount.Shift < 0 || m.ICount.Shift > 10 {
			return nil, fmt.Errorf("qemu: ICount.Shift = %d, want 0..10", m.ICount.Shift)
		}
	}
	switch m.Transport {
	case "", TransportAuto, TransportVirtio, TransportSerial:
	default:
		return nil, fmt.Errorf("qemu: unknown transport %q (want virtio or serial)", m.Transport)
	}
	typ := m.Type
	if typ == "" {
		typ = "pc"
	}
	for _, c := range m.Channels {
		if c.Name == "" || c.Socket == "" || strings.ContainsAny(c.Name+c.Socket, ",") {
			return nil, fmt.Errorf("qemu: channel %+v needs a name and a socket without commas", c)
		}
	}
	if strings.Contains(m.AgentSocket+m.AgentSerialSocket, ",") {
		return nil, fmt.Errorf("qemu: agent socket %q/%q contains a comma", m.AgentSocket, m.AgentSerialSocket)
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
	// The console: ttyS0 on QEMU's stdout.
	argv = append(argv, "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con")

	if m.AgentSerialSocket != "" && m.Transport != TransportVirtio {
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
		argv = append(argv, "-device", "virtio-serial-pci,id=vser0")
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
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./=:,+@%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
