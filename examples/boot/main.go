// Command boot boots a kernel in QEMU with rflkit's agent, runs one
// command in the guest, prints its output and exits with its exit code.
//
//	go run ./examples/boot -kernel bzImage [-initrd initramfs.cpio] -- CMD ARGS...
//
// Without -initrd the default initramfs (agent + busybox, plus -bin
// binaries) is built. The console goes to stderr with -console.
//
// Standard input is passed to the command when it is a pipe or a file
// (echo hi | boot -kernel bzImage -- cat); a terminal is passed only with
// -i, else the command reads an empty input.
//
// The exit code is the command's, 127 when it could not be started (the
// reason is on stderr), 2 for a usage error and 1 when the boot failed.
// boot stops the VM and removes its temporary files however it ends: at
// -timeout (exit 124), on SIGINT (130) or SIGTERM (143), and when its
// standard output is closed (141, as if killed by SIGPIPE).
//
// The initramfs built for -bin binaries stubs the libraries of bench.FioStubs
// (fio's unused ioengines), so that -bin /usr/bin/fio stays small.
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

	"golang.org/x/term"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/qemu"
)

func main() { cli.Main("boot", run) }

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// signalError is the cause of a cancellation by a signal.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string {
	switch e.sig {
	case syscall.SIGINT:
		return "interrupted (SIGINT)"
	case syscall.SIGTERM:
		return "terminated (SIGTERM)"
	}
	return "stopped by signal " + e.sig.String()
}

var (
	errTimeout    = errors.New("timed out")
	errBrokenPipe = errors.New("output closed")
)

// exitCode maps why ctx ended to boot's exit code; ok is false while ctx
// is live.
func exitCode(ctx context.Context) (code int, ok bool) {
	cause := context.Cause(ctx)
	var se *signalError
	switch {
	case cause == nil:
		return 0, false
	case errors.As(cause, &se):
		return 128 + int(se.sig), true
	case errors.Is(cause, errTimeout), errors.Is(cause, context.DeadlineExceeded):
		return 124, true
	case errors.Is(cause, errBrokenPipe):
		return 128 + int(syscall.SIGPIPE), true
	case errors.Is(cause, context.Canceled):
		return 130, true // the caller cancelled run's context (cli.Code's rule)
	default:
		return 1, true
	}
}

// pipeGuard passes writes to w; a broken pipe (the reader went away)
// cancels the run instead of killing the process, so that the VM is
// stopped and its files removed.
type pipeGuard struct {
	w      io.Writer
	cancel context.CancelCauseFunc
}

func (p *pipeGuard) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.cancel(errBrokenPipe)
	}
	return n, err
}

// signalGrace bounds how long boot waits, once its caller's context was
// cancelled by a signal (cli.Main cancels it on SIGINT and SIGTERM alike),
// for that signal to reach boot's own channel, which tells the two apart.
const signalGrace = 100 * time.Millisecond

// callerCause is why the caller's ctx ended. A plain cancellation or
// deadline is its own cause; any other cause (signal.NotifyContext's, on
// SIGINT or SIGTERM) is replaced by the signal that reaches sigs within
// signalGrace (signal.Notify delivers a signal to every channel).
func callerCause(ctx context.Context, sigs <-chan os.Signal) error {
	cause := context.Cause(ctx)
	if cause == context.Canceled || cause == context.DeadlineExceeded {
		return cause
	}
	t := time.NewTimer(signalGrace)
	defer t.Stop()
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGPIPE {
				continue
			}
			return &signalError{s.(syscall.Signal)}
		case <-t.C:
			return cause
		}
	}
}

// run is boot. Its standard input is the process's (os.Stdin). Every exit
// code other than 0, 1 and 2 comes back as cli.Exit(code, nil) after the
// reason was printed to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kernel := fs.String("kernel", "", "bzImage to boot (required)")
	initrd := fs.String("initrd", "", "initramfs with the rflkit agent as /init (default: built)")
	qemuBin := fs.String("qemu", "", "QEMU binary (default qemu-system-x86_64)")
	accel := fs.String("accel", "auto", "accelerator: auto, kvm or tcg")
	machine := fs.String("machine", "", "QEMU machine type (default pc)")
	transport := fs.String("transport", "", "agent channel: virtio (default) or serial")
	bios := fs.String("bios", "", "firmware, e.g. "+qemu.QBootROM)
	mem := fs.Int("m", 0, "memory in MiB (default 256)")
	cpus := fs.Int("smp", 0, "vCPUs (default 1)")
	appendArgs := fs.String("append", "", "extra kernel command line")
	console := fs.Bool("console", false, "copy the guest console to stderr")
	consoleLog := fs.String("console-log", "", "save the console to this file")
	interactive := fs.Bool("i", false, "pass standard input to the command even when it is a terminal")
	verbose := fs.Bool("v", false, "log the QEMU command line and timings to stderr")
	dryRun := fs.Bool("n", false, "print the QEMU command line and exit (the agent socket is a placeholder)")
	timeout := fs.Duration("timeout", 10*time.Minute, "overall timeout")
	var bins list
	fs.Var(&bins, "bin", "host binary to add to the default initramfs (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: boot -kernel bzImage [flags] -- CMD ARGS...\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *kernel == "" || (fs.NArg() == 0 && !*dryRun) {
		fs.Usage()
		return cli.Exit(2, nil)
	}

	// SIGINT and SIGTERM cancel the run; so does -timeout, and a closed
	// standard output (SIGPIPE is caught so that the write fails with
	// EPIPE instead of killing boot: pipeGuard sees it). Every path below
	// then stops the VM, which removes its files. boot watches the signals
	// itself, because the exit code tells SIGINT (130) from SIGTERM (143);
	// when the caller's ctx ends (cli.Main cancels it on either signal),
	// the signal boot saw is the cause.
	base, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	if ctx.Err() != nil {
		cancel(callerCause(ctx, sigs))
	}
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGPIPE {
					continue // reported as EPIPE by the write that caused it
				}
				cancel(&signalError{s.(syscall.Signal)})
			case <-ctx.Done():
				cancel(callerCause(ctx, sigs))
				return
			case <-base.Done():
				return
			}
		}
	}()
	ctx, cancelTimeout := context.WithTimeoutCause(base, *timeout, fmt.Errorf("%w after %v", errTimeout, *timeout))
	defer cancelTimeout()
	stdout = &pipeGuard{w: stdout, cancel: cancel}
	stderr = &pipeGuard{w: stderr, cancel: cancel}
	// fail reports err; when the run was cancelled, the cause is the
	// message and decides the exit code.
	fail := func(err error) error {
		if code, ok := exitCode(ctx); ok {
			if !errors.Is(context.Cause(ctx), errBrokenPipe) {
				fmt.Fprintln(stderr, "boot:", context.Cause(ctx))
			}
			return cli.Exit(code, nil)
		}
		fmt.Fprintln(stderr, "boot:", err)
		return cli.Exit(1, nil)
	}

	var logger *slog.Logger
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var cons io.Writer
	if *console {
		cons = stderr
	}
	m := qemu.Machine{
		QEMU: *qemuBin, Kernel: *kernel, Initramfs: *initrd, Accel: *accel, Type: *machine, BIOS: *bios,
		MemoryMiB: *mem, CPUs: *cpus, Append: *appendArgs, Transport: *transport,
	}
	// Check the files before building anything.
	if err := m.Check(); err != nil {
		return fail(err)
	}
	if m.Initramfs == "" {
		// fio's unused libraries are stubbed (names a binary does not
		// need are ignored), so that -bin /usr/bin/fio stays ~10 MB.
		p, err := qemu.BuildInitramfs(ctx, qemu.InitramfsSpec{Binaries: bins, Stubs: bench.FioStubs(), Logger: logger})
		if err != nil {
			return fail(err)
		}
		m.Initramfs = p
	}
	if *dryRun {
		if m.Accel == "" || m.Accel == qemu.AccelAuto {
			c, err := qemu.ChooseAccel(ctx, m, qemu.ProbeOptions{Logger: logger})
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(stderr, "boot: accelerator %s: %s\n", c.Accel, c.Reason)
			m.Accel = c.Accel
		}
		m.AgentSocket, m.AgentSerialSocket = "/tmp/rflkit-agent.sock", "/tmp/rflkit-agent-serial.sock"
		argv, err := m.Argv()
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, qemu.ShellCommand(argv))
		return nil
	}
	vm, err := qemu.Start(ctx, m, qemu.StartOptions{Console: cons, ConsoleLog: *consoleLog, Logger: logger})
	if err != nil {
		return fail(err)
	}
	defer func() {
		// However the run ends: power off (or kill) the guest; Stop
		// returns once QEMU is gone and its files removed.
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := vm.Stop(sctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(stderr, "boot:", err)
		}
	}()

	var stdin io.Reader
	if *interactive || !term.IsTerminal(int(os.Stdin.Fd())) {
		stdin = os.Stdin
	}
	// The output streams as the command runs.
	res, err := vm.Exec(ctx, qemu.Command{Argv: fs.Args(), Stdin: stdin, Stdout: stdout, Stderr: stderr})
	var pe *qemu.PanicError
	if errors.As(err, &pe) {
		fmt.Fprintf(stderr, "boot: %v\n%s\n", pe, pe.Excerpt)
		return cli.Exit(1, nil)
	}
	if err != nil {
		return fail(err)
	}
	if _, ok := exitCode(ctx); ok {
		// The command ended, but the run was cancelled meanwhile
		// (its output was closed, say).
		return fail(context.Cause(ctx))
	}
	if *verbose {
		fmt.Fprintf(stderr, "boot: accel %s (%s); ready after %v (guest uptime %v); command %v\n",
			vm.Accel().Accel, vm.Accel().Reason, vm.BootTime(), vm.GuestUptime(), res.Wall)
	}
	if res.ExitCode != 0 {
		return cli.Exit(res.ExitCode, nil)
	}
	return nil
}
