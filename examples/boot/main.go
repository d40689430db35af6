// Command boot boots a kernel in QEMU with rflkit's agent, runs one
// command in the guest, prints its output and exits with its exit code.
//
//	go run ./examples/boot -kernel bzImage [-initrd initramfs.cpio] -- CMD ARGS...
//
// Without -initrd the default initramfs (agent + busybox, plus -bin
// binaries) is built. The console goes to stderr with -console.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/qemu"
)

func main() {
	os.Exit(run())
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func run() int {
	kernel := flag.String("kernel", "", "bzImage to boot (required)")
	initrd := flag.String("initrd", "", "initramfs with the rflkit agent as /init (default: built)")
	accel := flag.String("accel", "auto", "accelerator: auto, kvm or tcg")
	machine := flag.String("machine", "", "QEMU machine type (default pc)")
	transport := flag.String("transport", "", "agent channel: virtio (default) or serial")
	bios := flag.String("bios", "", "firmware, e.g. "+qemu.QBootROM)
	mem := flag.Int("m", 0, "memory in MiB (default 256)")
	cpus := flag.Int("smp", 0, "vCPUs (default 1)")
	appendArgs := flag.String("append", "", "extra kernel command line")
	console := flag.Bool("console", false, "copy the guest console to stderr")
	consoleLog := flag.String("console-log", "", "save the console to this file")
	verbose := flag.Bool("v", false, "log the QEMU command line and timings to stderr")
	dryRun := flag.Bool("n", false, "print the QEMU command line and exit (the agent socket is a placeholder)")
	timeout := flag.Duration("timeout", 10*time.Minute, "overall timeout")
	var bins list
	flag.Var(&bins, "bin", "host binary to add to the default initramfs (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: boot -kernel bzImage [flags] -- CMD ARGS...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *kernel == "" || (flag.NArg() == 0 && !*dryRun) {
		flag.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var logger *slog.Logger
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var cons io.Writer
	if *console {
		cons = os.Stderr
	}
	m := qemu.Machine{
		Kernel: *kernel, Initramfs: *initrd, Accel: *accel, Type: *machine, BIOS: *bios,
		MemoryMiB: *mem, CPUs: *cpus, Append: *appendArgs, Transport: *transport,
	}
	if m.Initramfs == "" {
		p, err := qemu.BuildInitramfs(ctx, qemu.InitramfsSpec{Binaries: bins, Logger: logger})
		if err != nil {
			fmt.Fprintln(os.Stderr, "boot:", err)
			return 1
		}
		m.Initramfs = p
	}
	if *dryRun {
		if m.Accel == "" || m.Accel == qemu.AccelAuto {
			c, err := qemu.ChooseAccel(ctx, m, qemu.ProbeOptions{Logger: logger})
			if err != nil {
				fmt.Fprintln(os.Stderr, "boot:", err)
				return 1
			}
			fmt.Fprintf(os.Stderr, "boot: accelerator %s: %s\n", c.Accel, c.Reason)
			m.Accel = c.Accel
		}
		m.AgentSocket, m.AgentSerialSocket = "/tmp/rflkit-agent.sock", "/tmp/rflkit-agent-serial.sock"
		argv, err := m.Argv()
		if err != nil {
			fmt.Fprintln(os.Stderr, "boot:", err)
			return 1
		}
		fmt.Println(qemu.ShellCommand(argv))
		return 0
	}
	vm, err := qemu.Start(ctx, m, qemu.StartOptions{Console: cons, ConsoleLog: *consoleLog, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "boot:", err)
		return 1
	}
	// The output streams as the command runs.
	res, err := vm.Exec(ctx, qemu.Command{Argv: flag.Args(), Stdout: os.Stdout, Stderr: os.Stderr})
	var pe *qemu.PanicError
	if errors.As(err, &pe) {
		fmt.Fprintf(os.Stderr, "boot: %v\n%s\n", pe, pe.Excerpt)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "boot:", err)
		return 1
	}
	if res == nil {
		fmt.Fprintln(os.Stderr, "boot: no result")
		return 1
	}
	if err := vm.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "boot:", err)
	}
	if *verbose {
		fmt.Fprintf(os.Stderr, "boot: accel %s (%s); ready after %v (guest uptime %v); command %v\n",
			vm.Accel().Accel, vm.Accel().Reason, vm.BootTime(), vm.GuestUptime(), res.Wall)
	}
	return res.ExitCode
}
