// Command guest is rflkit's /init: it mounts the pseudo file systems, opens
// the agent port (a virtio-serial port named rflkit.agent, or /dev/ttyS1
// with rflkit.transport=serial on the kernel command line), serves the
// host's commands and powers the guest off when asked.
//
// It is built by agent.Build (static, CGO_ENABLED=0) and is not meant to be
// run on a host: as a non-PID-1 process it refuses to start.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/rflkit/rflkit/internal/agent"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "rflkit-init: not PID 1; this program is the guest's /init")
		os.Exit(2)
	}
	if err := run(); !errors.Is(err, agent.ErrPoweroff) {
		logf("%v", err)
	}
	poweroff()
}

func logf(format string, args ...any) {
	// The console is /dev/console (the kernel opened it for us).
	fmt.Fprintf(os.Stderr, "rflkit-init: "+format+"\n", args...)
}

func run() error {
	var warnings []string
	mounts := []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"configfs", "/sys/kernel/config", "configfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	}
	for _, m := range mounts {
		_ = os.MkdirAll(m.dir, 0o755)
		if err := syscall.Mount(m.src, m.dir, m.typ, 0, ""); err != nil && !errors.Is(err, syscall.EBUSY) {
			warnings = append(warnings, fmt.Sprintf("mount %s on %s: %v", m.typ, m.dir, err))
		}
	}
	go reapOrphans()
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	os.Setenv("HOME", "/root")
	os.Setenv("TERM", "dumb")
	_ = os.MkdirAll("/root", 0o700)

	cmdline, _ := os.ReadFile("/proc/cmdline")
	transport := "auto"
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "rflkit.transport="); ok {
			transport = v
		}
	}
	port, err := openPort(transport)
	if err != nil {
		return err
	}
	defer port.Close()

	ready := &agent.Message{Warnings: warnings, CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		fmt.Sscan(string(b), &ready.Uptime)
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		ready.Kernel = cstr(u.Release[:]) + " " + cstr(u.Version[:])
	}
	for _, w := range warnings {
		logf("%s", w)
	}
	return agent.Serve(context.Background(), port, agent.ServeOptions{Ready: ready})
}

func cstr(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

// reapOrphans waits for zombies that were reparented to PID 1 (children of
// commands that exited before them). The agent's own commands run in
// process groups of their own (pid == pgid) and are waited for by os/exec;
// they are never touched here, so no exit status is stolen.
func reapOrphans() {
	sig := make(chan os.Signal, 16)
	signal.Notify(sig, syscall.SIGCHLD)
	for range sig {
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range stats {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 {
				continue
			}
			var pid, ppid, pgrp int
			var state string
			fmt.Sscan(s[:strings.IndexByte(s, ' ')], &pid)
			if n, _ := fmt.Sscan(s[i+1:], &state, &ppid, &pgrp); n != 3 {
				continue
			}
			if state == "Z" && ppid == 1 && pid != pgrp {
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			}
		}
	}
}

// openPort finds the agent's channel.
func openPort(transport string) (*os.File, error) {
	switch transport {
	case "serial":
		f, err := os.OpenFile("/dev/ttyS1", os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			return nil, err
		}
		if err := makeRaw(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("ttyS1 raw mode: %w", err)
		}
		return f, nil
	case "virtio", "auto":
		// virtio ports are probed before /init runs (built-in driver),
		// but give the driver a moment in case probing is asynchronous.
		// Without virtio-serial support at all, "auto" takes ttyS1.
		// The ports of a bound virtio-serial device appear shortly after
		// its driver asks the host for them; without any bound virtio
		// device (no VIRTIO_CONSOLE, or a device without an IRQ under
		// qboot) "auto" takes ttyS1 at once.
		wait := 5 * time.Second
		if transport == "auto" {
			wait = time.Second
			if _, err := os.Stat("/sys/class/virtio-ports"); err != nil || !usableVirtio() {
				wait = 0
			}
		}
		deadline := time.Now().Add(wait)
		for {
			names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
			for _, n := range names {
				b, err := os.ReadFile(n)
				if err != nil || strings.TrimSpace(string(b)) != "rflkit.agent" {
					continue
				}
				dev := "/dev/" + filepath.Base(filepath.Dir(n))
				return os.OpenFile(dev, os.O_RDWR, 0)
			}
			if !time.Now().Before(deadline) {
				if transport == "auto" {
					logf("no virtio-serial port named rflkit.agent; using ttyS1")
					return openPort("serial")
				}
				return nil, errors.New("no virtio-serial port named rflkit.agent (is CONFIG_VIRTIO_CONSOLE set?)")
			}
			time.Sleep(20 * time.Millisecond)
		}
	default:
		return nil, fmt.Errorf("unknown rflkit.transport=%q", transport)
	}
}

// usableVirtio reports whether a virtio device has taken an interrupt:
// the virtio-serial device announces its ports by interrupt while it is
// probed, before /init runs. A virtio-pci device whose interrupt is not
// routed (qboot gives no PCI routing to a kernel without ACPI or MSI:
// "can't find IRQ for PCI INT A") never gets its ports, and "auto" should
// not wait for them. Used only to skip the wait; ttyS1 works either way.
func usableVirtio() bool {
	b, err := os.ReadFile("/proc/interrupts")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "virtio") {
			continue
		}
		f := strings.Fields(line)
		for _, c := range f[1:] {
			n, err := strconv.ParseUint(c, 10, 64)
			if err != nil {
				break // past the per-CPU counts
			}
			if n > 0 {
				return true
			}
		}
	}
	return false
}

// makeRaw puts a tty into raw mode at 115200 baud (cfmakeraw).
func makeRaw(f *os.File) error {
	var t syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t))); e != 0 {
		return e
	}
	t.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
	t.Oflag &^= syscall.OPOST
	t.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
	t.Cflag &^= syscall.CSIZE | syscall.PARENB | 0o10017 // CBAUD
	t.Cflag |= syscall.CS8 | syscall.B115200
	t.Cc[syscall.VMIN] = 1
	t.Cc[syscall.VTIME] = 0
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&t))); e != 0 {
		return e
	}
	return nil
}

// poweroff ends the guest. Tiny kernels have no ACPI, so a power-off
// request would halt forever; QEMU runs with -no-reboot, so a reboot ends
// the VM instead.
func poweroff() {
	syscall.Sync()
	_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_RESTART)
	// Not reached unless reboot(2) failed; PID 1 must not exit (that
	// panics the kernel), so wait.
	for {
		time.Sleep(time.Hour)
	}
}
