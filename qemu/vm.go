package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/agent"
	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/tmpdir"
)

// StartOptions configures Start. The zero value is ready to use.
type StartOptions struct {
	// Console receives the guest's serial console as it arrives; nil = discard.
	Console io.Writer
	// ConsoleLog is a file that receives a copy of the console; "" = none.
	ConsoleLog string
	// Logger receives the reproducing command line, the accelerator
	// choice and lifecycle events; nil = discard.
	Logger *slog.Logger
	// CacheDir is rflkit's cache root (initramfs, agent, accelerator
	// verdicts); "" = $RFLKIT_CACHE_DIR, else os.UserCacheDir()/rflkit.
	CacheDir string
	// BootTimeout bounds the time until the agent is ready; 0 = 3 minutes.
	BootTimeout time.Duration
	// Probe configures the accelerator probe for Accel "" or "auto".
	Probe ProbeOptions
}

// AccelChoice says which accelerator a VM uses and why.
type AccelChoice struct {
	Accel  string // AccelKVM or AccelTCG
	Reason string
	Cached bool // the verdict came from the per-host cache
}

// VM is a running QEMU guest with the rflkit agent as /init.
type VM struct {
	m       Machine
	argv    []string
	accel   AccelChoice
	log     *slog.Logger
	cmd     *exec.Cmd
	tmp     string
	runLock *os.File // the run directory's lock, held while the VM lives
	watch   *watcher
	client  *agent.Client
	ready   *agent.Message
	started time.Time
	booted  time.Duration

	consoleDone chan struct{}
	exited      chan struct{} // closed when QEMU has exited and the console is drained
	exitErr     error         // cmd.Wait's result; valid after exited
	stderr      *tailBuffer
	logFile     *os.File

	stopMu   sync.Mutex
	stopping bool
	killed   bool // we killed QEMU (boot failure, Stop timeout)
}

// Result is what a command returned in the guest.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int           // 128+N when killed by signal N; 127 when it could not start
	TimedOut       bool          // killed at Command.Timeout
	Duration       time.Duration // measured by the guest
	Wall           time.Duration // measured on the host, round trip included
}

// Command is a command for VM.Exec.
type Command struct {
	Argv []string
	Env  []string // added to the agent's environment (PATH=/usr/sbin:/usr/bin:/sbin:/bin, HOME=/root)
	Dir  string
	// Stdin is streamed to the command until it returns io.EOF (or
	// another error), which closes the command's input; nil = an empty
	// input. A Read still blocked when the command exits is not waited
	// for (its goroutine ends when the Read returns), so os.Stdin works.
	Stdin   io.Reader
	Timeout time.Duration // enforced in the guest; 0 = none
	// Stdout and Stderr receive the output as it streams; the Result
	// holds a copy as well.
	Stdout, Stderr io.Writer
}

// GuestError is a failure of the guest or of QEMU that is not a kernel
// problem report: QEMU exited, the agent went away, the boot timed out.
type GuestError struct {
	Op      string // "boot", "run", "wait"
	Err     error
	Console string // the last console lines
	Stderr  string // QEMU's stderr (its last 64 KiB)
	// Exited is set when QEMU ended by itself (rflkit did not kill it)
	// before or during Op; ExitErr is then its exit status (nil = 0).
	Exited  bool
	ExitErr error
}

// stderrLines is how much of QEMU's stderr Error shows.
const stderrLines = 30

// Error puts QEMU's own message first when QEMU exited by itself (that
// is what explains an early exit; the host side's view, such as a reset
// agent connection, follows), then the last console lines.
func (e *GuestError) Error() string {
	var b strings.Builder
	stderr := lastLines(strings.TrimSpace(e.Stderr), stderrLines)
	if e.Exited {
		fmt.Fprintf(&b, "qemu: %s: QEMU exited", e.Op)
		if e.ExitErr != nil {
			fmt.Fprintf(&b, " (%v)", e.ExitErr)
		}
		switch {
		case stderr == "":
		case !strings.Contains(stderr, "\n"):
			fmt.Fprintf(&b, ": %s", stderr)
		default:
			fmt.Fprintf(&b, ":\n%s", stderr)
		}
		if e.Err != nil && e.Err != e.ExitErr {
			fmt.Fprintf(&b, "\n(the host saw: %v)", e.Err)
		}
	} else {
		fmt.Fprintf(&b, "qemu: %s: %v", e.Op, e.Err)
		if stderr != "" {
			fmt.Fprintf(&b, "\nqemu stderr:\n%s", stderr)
		}
	}
	if s := strings.TrimSpace(e.Console); s != "" {
		fmt.Fprintf(&b, "\nconsole (last lines):\n%s", s)
	}
	return b.String()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return "...\n" + strings.Join(lines[len(lines)-n:], "\n")
}

// Unwrap returns the underlying error (context.DeadlineExceeded for a boot timeout).
func (e *GuestError) Unwrap() error { return e.Err }

// Start boots m and waits until the agent in the guest is ready. The VM
// lives until Stop, until the guest ends (a panic, a power-off) or until
// ctx is done: cancelling ctx kills QEMU's whole process group. QEMU also
// dies with the calling process (PR_SET_PDEATHSIG).
//
// Start checks m first (Machine.Check: a missing kernel is reported before
// anything is built). With Accel "" or "auto" it then decides the
// accelerator (ChooseAccel; when the KVM probe fails, the boot under TCG
// that follows is the check that decides whether the failure was KVM's).
// Without Initramfs it builds the default one (BuildInitramfs with the
// zero spec). A kernel problem during boot is returned as *PanicError,
// other failures as *GuestError.
//
// QEMU's sockets live in a directory $TMPDIR/rflkit-qemu-*, removed when
// QEMU exits; it holds a lock for as long as the VM's process or QEMU
// lives, and Start removes the directories left by processes that were
// killed (SIGKILL) before they could clean up.
func Start(ctx context.Context, m Machine, opts StartOptions) (*VM, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t0 := time.Now()
	if err := m.Check(); err != nil {
		return nil, err
	}
	reapRunDirs(os.TempDir(), log)
	if m.Initramfs == "" {
		p, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: opts.CacheDir, Logger: log, Arch: m.Arch})
		if err != nil {
			return nil, err
		}
		m.Initramfs = p
	}
	choice := AccelChoice{Accel: m.Accel, Reason: "requested"}
	var pending *pendingVerdict
	switch {
	case (m.Accel == "" || m.Accel == AccelAuto) && m.ICount != nil:
		choice = AccelChoice{Accel: AccelTCG, Reason: "ICount needs TCG"}
	case m.Accel == "" || m.Accel == AccelAuto:
		po := opts.Probe
		if po.CacheDir == "" {
			po.CacheDir = opts.CacheDir
		}
		if po.Logger == nil {
			po.Logger = log
		}
		var err error
		choice, pending, err = decideAccel(ctx, m, po)
		if err != nil {
			return nil, err
		}
	}
	m.Accel = choice.Accel
	log.Info("qemu: accelerator", "accel", choice.Accel, "reason", choice.Reason, "cached", choice.Cached)
	vm, err := startVM(ctx, m, opts, choice, log)
	if pending != nil {
		// This boot under TCG tells a KVM problem (TCG works: cache
		// it) from a broken kernel (TCG fails too: cache nothing).
		c := pending.resolve(err)
		if vm != nil {
			vm.accel = c
		}
	}
	if err != nil {
		return nil, err
	}
	log.Info("qemu: guest ready", "after", vm.booted, "start_call", time.Since(t0), "guest_uptime", vm.ready.Uptime, "kernel", vm.ready.Kernel)
	return vm, nil
}

// startVM starts QEMU for m (accelerator resolved, initramfs set) and waits
// for the agent.
func startVM(ctx context.Context, m Machine, opts StartOptions, choice AccelChoice, log *slog.Logger) (*VM, error) {
	tmp, lockFile, err := newRunDir(os.TempDir())
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	if m.Transport != TransportSerial {
		m.AgentSocket = filepath.Join(tmp, "agent.sock")
	}
	if in, _ := m.archInfo(); m.Transport != TransportVirtio && in.AgentUART != "" {
		m.AgentSerialSocket = filepath.Join(tmp, "agent-serial.sock")
	}
	vm := &VM{
		m: m, accel: choice, log: log, tmp: tmp, runLock: lockFile,
		consoleDone: make(chan struct{}), exited: make(chan struct{}),
		stderr: &tailBuffer{max: 64 << 10},
	}
	argv, err := m.Argv()
	if err != nil {
		vm.cleanup()
		return nil, err
	}
	vm.argv = argv
	log.Info("qemu: boot", "command", ShellCommand(argv))

	var consoleOut io.Writer = opts.Console
	if opts.ConsoleLog != "" {
		f, err := os.Create(opts.ConsoleLog)
		if err != nil {
			vm.cleanup()
			return nil, fmt.Errorf("qemu: console log: %w", err)
		}
		vm.logFile = f
		if consoleOut != nil {
			consoleOut = io.MultiWriter(consoleOut, f)
		} else {
			consoleOut = f
		}
	}
	vm.watch = newWatcher(consoleOut)

	// osutil.Command: its own process group (killed as a whole when ctx
	// ends), SIGKILL when this process dies, osutil.WaitDelay. QEMU also
	// inherits the run directory's lock (fd 3), so that the directory
	// counts as in use for as long as QEMU lives, and a cancellation is
	// recorded as rflkit's doing before the group is killed.
	cmd := osutil.Command(ctx, argv[0], argv[1:]...)
	cmd.ExtraFiles = []*os.File{lockFile}
	cmd.Cancel = func() error {
		vm.markKilled()
		return osutil.KillGroup(cmd)
	}
	cmd.Stderr = vm.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		vm.cleanup()
		return nil, fmt.Errorf("qemu: %w", err)
	}
	vm.cmd = cmd
	vm.started = time.Now()
	if err := cmd.Start(); err != nil {
		vm.cleanup()
		return nil, fmt.Errorf("qemu: start %s: %w", argv[0], err)
	}
	go consoleReader(stdout, vm.watch, vm.consoleDone)
	go func() {
		err := cmd.Wait()
		// The group may hold helpers; make sure none survives.
		_ = osutil.KillGroup(cmd)
		<-vm.consoleDone
		vm.exitErr = err
		vm.cleanup()
		close(vm.exited)
	}()

	bootTimeout := opts.BootTimeout
	if bootTimeout == 0 {
		bootTimeout = 3 * time.Minute
	}
	bctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	if err := vm.connect(bctx); err != nil {
		if bctx.Err() == nil {
			// The guest went away by itself: let QEMU finish its
			// exit so that its status, stderr and the console are
			// complete.
			select {
			case <-vm.exited:
			case <-time.After(2 * time.Second):
			}
		}
		vm.kill()
		return nil, vm.failure("boot", err, 0)
	}
	if want := max(m.CPUs, 1); vm.ready.CPUs > 0 && vm.ready.CPUs < want {
		vm.kill()
		<-vm.exited
		return nil, &GuestError{Op: "boot", Err: fmt.Errorf("the guest sees %d of %d vCPUs: SeaBIOS lists only the boot CPU to a kernel without ACPI; use Machine.BIOS = QBootROM (its MP table has every CPU) or a kernel with CONFIG_ACPI", vm.ready.CPUs, want),
			Console: vm.watch.Tail(), Stderr: vm.stderr.String()}
	}
	vm.booted = time.Since(vm.started)
	for _, w := range vm.ready.Warnings {
		log.Warn("qemu: guest agent", "warning", w)
	}
	return vm, nil
}

// connect dials the agent sockets (QEMU creates them) and waits for the
// ready message on one of them; the other is closed.
func (vm *VM) connect(ctx context.Context) error {
	type res struct {
		cl  *agent.Client
		m   *agent.Message
		err error
	}
	var socks []string
	for _, s := range []string{vm.m.AgentSocket, vm.m.AgentSerialSocket} {
		if s != "" {
			socks = append(socks, s)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan res, len(socks))
	for _, sock := range socks {
		go func() {
			var conn net.Conn
			for {
				c, err := net.Dial("unix", sock)
				if err == nil {
					conn = c
					break
				}
				select {
				case <-vm.exited:
					ch <- res{err: errors.New("QEMU exited before the agent connected")}
					return
				case <-ctx.Done():
					ch <- res{err: fmt.Errorf("connecting to the agent socket: %w", ctx.Err())}
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			cl := agent.NewClient(conn)
			m, err := cl.WaitReady(ctx)
			if err != nil {
				cl.Close()
			}
			ch <- res{cl, m, err}
		}()
	}
	var firstErr error
	for range socks {
		var r res
		select {
		case r = <-ch:
		case <-vm.exited:
			return errors.New("QEMU exited before the agent was ready")
		}
		if r.err != nil {
			if firstErr == nil || errors.Is(firstErr, context.Canceled) {
				firstErr = r.err
			}
			continue
		}
		if vm.client != nil {
			r.cl.Close() // a second ready: keep the first
			continue
		}
		vm.client, vm.ready = r.cl, r.m
		cancel() // stop waiting on the other channel
	}
	if vm.client != nil {
		return nil
	}
	return firstErr
}

// failure turns an error into a *PanicError when the console shows a
// problem after line since, else into a *GuestError. It waits briefly for
// QEMU to end so that the console is complete.
func (vm *VM) failure(op string, err error, since int) error {
	select {
	case <-vm.exited:
	case <-time.After(10 * time.Second):
	}
	if p := firstProblem(vm.watch.Events(), since); p != nil {
		return p
	}
	vm.stopMu.Lock()
	killed := vm.killed
	vm.stopMu.Unlock()
	ge := &GuestError{Op: op, Err: err, Console: vm.watch.Tail(), Stderr: vm.stderr.String()}
	if vm.isExited() && !killed {
		ge.Exited, ge.ExitErr = true, vm.exitErr
	}
	return ge
}

func (vm *VM) isExited() bool {
	select {
	case <-vm.exited:
		return true
	default:
		return false
	}
}

func (vm *VM) cleanup() {
	if vm.logFile != nil {
		vm.logFile.Close()
	}
	if vm.tmp != "" {
		os.RemoveAll(vm.tmp)
	}
	// After the removal: a lock free to take means "nothing left here".
	if vm.runLock != nil {
		vm.runLock.Close()
	}
}

// markKilled records that rflkit, not the guest, ends QEMU.
func (vm *VM) markKilled() {
	vm.stopMu.Lock()
	vm.killed = true
	vm.stopMu.Unlock()
}

// kill kills QEMU's process group unless QEMU has already exited.
func (vm *VM) kill() {
	if vm.isExited() {
		return
	}
	vm.markKilled()
	_ = osutil.KillGroup(vm.cmd)
}

// Accel returns the accelerator the VM runs with and why it was chosen.
func (vm *VM) Accel() AccelChoice { return vm.accel }

// Machine returns the machine as started (accelerator, initramfs and agent
// socket resolved).
func (vm *VM) Machine() Machine { return vm.m }

// Argv returns QEMU's command line.
func (vm *VM) Argv() []string { return append([]string(nil), vm.argv...) }

// BootTime is the wall time from QEMU's start to the agent's ready message
// (the accelerator probe and the initramfs build are not included).
func (vm *VM) BootTime() time.Duration { return vm.booted }

// GuestUptime is the guest's /proc/uptime when the agent became ready.
func (vm *VM) GuestUptime() time.Duration {
	return time.Duration(vm.ready.Uptime * float64(time.Second))
}

// GuestCPUs is the number of CPUs online in the guest when the agent
// became ready.
func (vm *VM) GuestCPUs() int { return vm.ready.CPUs }

// Pid is QEMU's process id (also its process group id).
func (vm *VM) Pid() int { return vm.cmd.Process.Pid }

// Problems returns every kernel problem report seen on the console so far.
func (vm *VM) Problems() []*PanicError { return vm.watch.Events() }

// Run runs argv in the guest and returns its output and exit code. A
// non-zero exit code is not an error. If the guest dies during the command
// (a panic) the error is a *PanicError; if the kernel reported a non-fatal
// problem (WARN, hung task) during the command, Run returns the Result
// together with that *PanicError.
func (vm *VM) Run(ctx context.Context, argv ...string) (*Result, error) {
	return vm.Exec(ctx, Command{Argv: argv})
}

// Exec is Run with the full set of options.
func (vm *VM) Exec(ctx context.Context, c Command) (*Result, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("qemu: empty command")
	}
	since := vm.watch.lines()
	var out, errb bytes.Buffer
	var stdout, stderr io.Writer = &out, &errb
	if c.Stdout != nil {
		stdout = io.MultiWriter(&out, c.Stdout)
	}
	if c.Stderr != nil {
		stderr = io.MultiWriter(&errb, c.Stderr)
	}
	t0 := time.Now()
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		exit *agent.Exit
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		exit, err := vm.client.Exec(ectx, agent.Command{
			Argv: c.Argv, Env: c.Env, Dir: c.Dir, Stdin: c.Stdin, Timeout: c.Timeout,
			Stdout: stdout, Stderr: stderr,
		})
		done <- outcome{exit, err}
	}()
	fatal := make(chan *PanicError, 1)
	go func() {
		if p := vm.watch.waitFatal(ectx, since); p != nil {
			fatal <- p
		}
	}()
	var exit *agent.Exit
	var err error
	select {
	case o := <-done:
		exit, err = o.exit, o.err
	case <-fatal:
		// The kernel died under the command; with panic=-1 QEMU is
		// on its way out. Let the console finish the report.
		select {
		case <-vm.exited:
		case <-time.After(2 * time.Second):
		}
		return nil, firstProblem(vm.watch.Events(), since)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("qemu: run %q: %w", c.Argv[0], err)
		}
		return nil, vm.failure("run "+c.Argv[0], err, since)
	}
	res := &Result{
		Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: exit.Code, TimedOut: exit.TimedOut,
		Duration: exit.Duration, Wall: time.Since(t0),
	}
	if exit.Error != "" && (exit.Code == 126 || exit.Code == 127) && errb.Len() == 0 {
		// The agent writes why a command could not start on its
		// stderr; should it not have, say it here, on the stream too.
		msg := fmt.Sprintf("rflkit-agent: %s: %s\n", c.Argv[0], exit.Error)
		_, _ = stderr.Write([]byte(msg))
		res.Stderr = errb.Bytes()
	}
	if p := firstProblem(vm.watch.Events(), since); p != nil {
		return res, p
	}
	return res, nil
}

// ModuleDir is where InitramfsSpec.Modules puts each .ko file in the
// guest (by base name), and where LoadModule looks for NAME.ko.
const ModuleDir = "/lib/modules"

// ModuleError is a kernel module that the guest's kernel refused to load
// or unload (or whose file the agent could not open).
type ModuleError struct {
	// Op is "load" or "unload".
	Op string
	// Module is the module's name (null_blk, rnull_mod).
	Module string
	// Errno is the kernel's error (EEXIST, EINVAL, EAGAIN, ENOENT, ...);
	// 0 when the failure was not a system call's.
	Errno syscall.Errno
	// Reason is the agent's description of the failure.
	Reason string
	// Dmesg is what the kernel logged during the operation.
	Dmesg string
}

// Error names the operation, the module and the kernel's reason, with the
// kernel log lines of the operation.
func (e *ModuleError) Error() string {
	msg := fmt.Sprintf("qemu: %s module %s: %s", e.Op, e.Module, e.Reason)
	if d := strings.TrimSpace(e.Dmesg); d != "" {
		msg += "\ndmesg:\n" + lastLines(d, 20)
	}
	return msg
}

// Unwrap returns the errno (nil when there is none), for errors.Is(err,
// syscall.EEXIST).
func (e *ModuleError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// ModuleResult is a module operation that succeeded.
type ModuleResult struct {
	// Dmesg is what the kernel logged during the operation.
	Dmesg string
	// Duration is the operation's time measured in the guest, Wall the
	// round trip measured on the host.
	Duration, Wall time.Duration
}

// LoadModule loads the module NAME from ModuleDir/NAME.ko in the guest
// (put there by InitramfsSpec.Modules) with params ("nr_devices=0"),
// through finit_module(2). See LoadModuleFile.
func (vm *VM) LoadModule(ctx context.Context, name, params string) (*ModuleResult, error) {
	return vm.module(ctx, agent.ModuleRequest{Op: agent.ModuleLoad, Name: name, Path: ModuleDir + "/" + name + ".ko", Params: params})
}

// LoadModuleFile loads the module in the guest file path with params. A
// refusal of the kernel is a *ModuleError with the errno and the kernel's
// log lines; a kernel problem during the load (an oops in the module's
// init) is a *PanicError, as for Exec.
func (vm *VM) LoadModuleFile(ctx context.Context, path, params string) (*ModuleResult, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".ko")
	return vm.module(ctx, agent.ModuleRequest{Op: agent.ModuleLoad, Name: name, Path: path, Params: params})
}

// UnloadModule removes the loaded module name (delete_module(2) with
// O_NONBLOCK, as rmmod). A refusal is a *ModuleError: EAGAIN while the
// module is held (a configfs device of null_blk or rnull still exists),
// EBUSY while other modules use it, ENOENT when it is not loaded.
func (vm *VM) UnloadModule(ctx context.Context, name string) (*ModuleResult, error) {
	return vm.module(ctx, agent.ModuleRequest{Op: agent.ModuleUnload, Name: name})
}

func (vm *VM) module(ctx context.Context, req agent.ModuleRequest) (*ModuleResult, error) {
	since := vm.watch.lines()
	t0 := time.Now()
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		res *agent.ModuleResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := vm.client.Module(mctx, req)
		done <- outcome{r, err}
	}()
	fatal := make(chan *PanicError, 1)
	go func() {
		if p := vm.watch.waitFatal(mctx, since); p != nil {
			fatal <- p
		}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-fatal:
		select {
		case <-vm.exited:
		case <-time.After(2 * time.Second):
		}
		return nil, firstProblem(vm.watch.Events(), since)
	}
	if o.err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("qemu: %s module %s: %w", req.Op, req.Name, o.err)
		}
		return nil, vm.failure(req.Op+" module "+req.Name, o.err, since)
	}
	if o.res.Error != "" {
		return nil, &ModuleError{Op: req.Op, Module: req.Name, Errno: syscall.Errno(o.res.Errno), Reason: o.res.Error, Dmesg: o.res.Dmesg}
	}
	res := &ModuleResult{Dmesg: o.res.Dmesg, Duration: o.res.Duration, Wall: time.Since(t0)}
	if p := firstProblem(vm.watch.Events(), since); p != nil {
		return res, p
	}
	return res, nil
}

// Wait waits until QEMU exits (the guest powered off or panicked, or ctx
// of Start was cancelled) or ctx is done. It returns the first fatal
// kernel problem as *PanicError, nil after a clean power-off, or a
// *GuestError.
func (vm *VM) Wait(ctx context.Context) error {
	select {
	case <-vm.exited:
	case <-ctx.Done():
		return fmt.Errorf("qemu: wait: %w", ctx.Err())
	}
	if p := firstProblem(vm.watch.Events(), 0); p != nil && p.Fatal {
		return p
	}
	vm.stopMu.Lock()
	stopping, killed := vm.stopping, vm.killed
	vm.stopMu.Unlock()
	if vm.exitErr != nil && !stopping {
		return &GuestError{Op: "wait", Err: vm.exitErr, Console: vm.watch.Tail(), Stderr: vm.stderr.String(),
			Exited: !killed, ExitErr: vm.exitErr}
	}
	return nil
}

// Done is closed when QEMU has exited.
func (vm *VM) Done() <-chan struct{} { return vm.exited }

// Stop asks the guest to power off and waits for QEMU to exit; if it has
// not within ctx (or 10 seconds when ctx has no deadline), QEMU is killed.
// It returns the first fatal kernel problem if the guest had panicked.
func (vm *VM) Stop(ctx context.Context) error {
	vm.stopMu.Lock()
	vm.stopping = true
	vm.stopMu.Unlock()
	if !vm.isExited() {
		_ = vm.client.Poweroff()
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
		}
		select {
		case <-vm.exited:
		case <-ctx.Done():
			vm.log.Warn("qemu: guest did not power off; killing QEMU", "pid", vm.Pid())
			vm.kill()
			<-vm.exited
		}
	}
	vm.client.Close()
	if p := firstProblem(vm.watch.Events(), 0); p != nil && p.Fatal {
		return p
	}
	return nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// Run directories hold QEMU's sockets: $TMPDIR/rflkit-qemu-*, each with a
// lock file that is locked (flock) for as long as the process that made
// it, or the QEMU it started, lives.
const (
	runDirPrefix = "rflkit-qemu-"
	runDirLock   = tmpdir.LockName
	// legacyRunDirAge: a run directory without a lock file (made by an
	// older rflkit) is removed only when it is older than this and no
	// process's command line mentions it.
	legacyRunDirAge = time.Hour
)

// newRunDir creates a run directory under root (an internal/tmpdir
// directory) and returns it with its lock file, locked; QEMU inherits the
// lock file, so the directory lives as long as either process does.
func newRunDir(root string) (string, *os.File, error) {
	d, err := tmpdir.New(root, runDirPrefix)
	if err != nil {
		return "", nil, err
	}
	return d.Path, d.LockFile(), nil
}

// reapRunDirs removes the run directories under root that nobody uses
// any more: those whose lock is free (their process was killed before it
// could remove them; QEMU died with it), and old lock-less ones that no
// process's command line mentions. log may be nil.
func reapRunDirs(root string, log *slog.Logger) {
	var cmdlines [][]byte // read once, only if a lock-less directory is old enough
	inUse := func(dir string) bool {
		if cmdlines == nil {
			cmdlines = [][]byte{}
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range procs {
				if b, err := os.ReadFile(p); err == nil {
					cmdlines = append(cmdlines, b)
				}
			}
		}
		for _, b := range cmdlines {
			if bytes.Contains(b, []byte(dir+"/")) {
				return true
			}
		}
		return false
	}
	tmpdir.Reap(root, runDirPrefix, tmpdir.ReapOptions{LegacyAge: legacyRunDirAge, InUse: inUse, Logger: log})
}
