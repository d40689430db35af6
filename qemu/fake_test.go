package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/agent"
)

// The test binary doubles as a fake QEMU (RFLKIT_FAKE_QEMU=mode): it
// listens on the agent sockets of its command line, prints a console on
// stdout and serves the agent protocol with host commands, so that Start,
// Run, Stop, Wait and the console watcher are tested without a kernel.
//
// A kernel file that starts with "fake-mode:" overrides the mode, so that
// one test can boot kernels that behave differently. Modes: "ok"; "hang"
// (never ready); "boot-panic"; "deaf" (ignores power-off); "garbage"
// (QEMU refuses the kernel: a message on stderr, exit 1, under any
// accelerator); "kvm-hang" (hangs under -accel kvm, like a stock kernel
// on a PVM host, works under TCG); "exit-after-connect" (QEMU accepts the
// agent connection, then fails with a message on stderr). Each run is
// logged to $RFLKIT_FAKE_QEMU_LOG ("accel=kvm mode=ok") when set.
//
// RFLKIT_TEST_HELPER=start-and-wait makes the test binary a process that
// boots a fake VM, prints its run directory and QEMU's pid, and waits to
// be killed.
func TestMain(m *testing.M) {
	if mode := os.Getenv("RFLKIT_FAKE_QEMU"); mode != "" {
		os.Exit(fakeQEMU(mode, os.Args[1:]))
	}
	if os.Getenv("RFLKIT_TEST_HELPER") == "start-and-wait" {
		os.Exit(startAndWait())
	}
	os.Exit(m.Run())
}

// startAndWait is the RFLKIT_TEST_HELPER=start-and-wait process.
func startAndWait() int {
	exe, _ := os.Executable()
	os.Setenv("RFLKIT_FAKE_QEMU", "ok") // for QEMU, which inherits it
	kernel := os.Getenv("RFLKIT_TEST_KERNEL")
	vm, err := Start(context.Background(), Machine{QEMU: exe, Kernel: kernel, Initramfs: kernel, Accel: AccelTCG},
		StartOptions{BootTimeout: 20 * time.Second})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(filepath.Dir(vm.Machine().AgentSocket), vm.Pid())
	time.Sleep(time.Hour)
	return 0
}

func fakeQEMU(mode string, args []string) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Println("QEMU emulator version 7.2.99 (fake)")
		return 0
	}
	var socks []string
	accel := ""
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-chardev":
			if strings.HasPrefix(args[i+1], "socket,") {
				for _, kv := range strings.Split(args[i+1], ",") {
					if p, ok := strings.CutPrefix(kv, "path="); ok {
						socks = append(socks, p)
					}
				}
			}
		case "-accel":
			accel = args[i+1]
		case "-kernel":
			if b, err := os.ReadFile(args[i+1]); err == nil {
				if m, ok := strings.CutPrefix(string(b), "fake-mode:"); ok {
					mode, _, _ = strings.Cut(m, "\n")
				}
			}
		}
	}
	if log := os.Getenv("RFLKIT_FAKE_QEMU_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "accel=%s mode=%s\n", accel, mode)
			f.Close()
		}
	}
	if mode == "garbage" {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: fake: the kernel is garbage")
		return 1
	}
	fmt.Println("Linux version 7.2.12-fake\r")
	if mode == "hang" || mode == "kvm-hang" && accel == AccelKVM {
		time.Sleep(time.Hour)
		return 0
	}
	if mode == "boot-panic" {
		fmt.Println("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r")
		return 0
	}
	var lns []net.Listener
	for _, s := range socks {
		ln, err := net.Listen("unix", s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake qemu:", err)
			return 1
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		fmt.Fprintln(os.Stderr, "fake qemu: no agent socket")
		return 1
	}
	conn, err := lns[0].Accept() // the virtio port comes first
	if err != nil {
		return 1
	}
	if mode == "exit-after-connect" {
		// The guest side is connected (the host waits for ready),
		// then QEMU fails.
		time.Sleep(100 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: fake: virtio-serial: device failed")
		return 1
	}
	// Commands "fake-panic" and "fake-warn" print kernel reports.
	dir, _ := os.MkdirTemp("", "fakeqemu")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "fake-panic"), []byte("#!/bin/sh\necho 'Kernel panic - not syncing: sysrq triggered crash\r' > /proc/$PPID/fd/1\nsleep 30\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "fake-warn"), []byte("#!/bin/sh\nprintf 'WARNING: drivers/x.c:1 at f+0x1/0x2, CPU#0: sh/1\\r\\n---[ end trace 0000000000000000 ]---\\r\\n' > /proc/$PPID/fd/1\nsleep 0.3\necho done\n"), 0o755)
	env := append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	done := make(chan error, 1)
	go func() {
		done <- agent.Serve(context.Background(), conn, agent.ServeOptions{Env: env, Ready: &agent.Message{Kernel: "fake", Uptime: 0.5}})
	}()
	// fake-panic writes its report on this process's stdout and sleeps;
	// the test then kills the fake through its process group.
	if err := <-done; errors.Is(err, agent.ErrPoweroff) {
		if mode == "deaf" { // a guest that does not power off
			time.Sleep(time.Hour)
		}
		fmt.Println("reboot: Restarting system\r")
		return 0
	}
	return 3
}

func fakeMachine(t *testing.T, mode string) (Machine, StartOptions) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RFLKIT_FAKE_QEMU", mode)
	kernel := filepath.Join(t.TempDir(), "bzImage")
	os.WriteFile(kernel, []byte("not a kernel"), 0o644)
	return Machine{QEMU: exe, Kernel: kernel, Initramfs: kernel, Accel: AccelTCG},
		StartOptions{CacheDir: t.TempDir(), BootTimeout: 20 * time.Second}
}

func TestFakeLifecycle(t *testing.T) {
	m, opts := fakeMachine(t, "ok")
	console := &syncBuffer{b: new(bytes.Buffer)}
	opts.Console = console
	opts.ConsoleLog = filepath.Join(t.TempDir(), "console.log")
	ctx := context.Background()
	vm, err := Start(ctx, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if vm.GuestUptime() != 500*time.Millisecond || vm.Accel().Accel != AccelTCG {
		t.Errorf("uptime %v accel %+v", vm.GuestUptime(), vm.Accel())
	}
	res, err := vm.Run(ctx, "sh", "-c", "echo out; echo err >&2; exit 5")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 5 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Errorf("result %+v", res)
	}
	// A WARN during a command comes back with the result.
	res, err = vm.Run(ctx, "fake-warn")
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Kind != KindWARN || pe.Fatal || res == nil || string(res.Stdout) != "done\n" {
		t.Errorf("fake-warn: %+v, %v", res, err)
	}
	// ... and only with the command it happened in.
	if _, err := vm.Run(ctx, "true"); err != nil {
		t.Errorf("true after a WARN: %v", err)
	}
	if err := vm.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("Wait: %v", err)
	}
	assertGone(t, vm)
	log, _ := os.ReadFile(opts.ConsoleLog)
	if !strings.Contains(string(log), "reboot: Restarting system") || !strings.Contains(console.String(), "Linux version") {
		t.Errorf("console log %q, console %q", log, console.String())
	}
}

func TestFakePanic(t *testing.T) {
	m, opts := fakeMachine(t, "ok")
	ctx := context.Background()
	vm, err := Start(ctx, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop(ctx)
	// The fake prints the panic but, unlike a kernel with panic=-1,
	// keeps running: Run must return the panic anyway, at once.
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t0 := time.Now()
	_, err = vm.Run(rctx, "fake-panic")
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Kind != KindPanic || !pe.Fatal {
		t.Fatalf("Run = %v, want the panic", err)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("Run took %v to see the panic", d)
	}
	vm.kill()
	if err := vm.Wait(ctx); !errors.As(err, &pe) {
		t.Errorf("Wait = %v, want *PanicError", err)
	}
}

func TestFakeBootPanic(t *testing.T) {
	m, opts := fakeMachine(t, "boot-panic")
	_, err := Start(context.Background(), m, opts)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Kind != KindPanic || !strings.Contains(pe.Title, "Unable to mount root fs") {
		t.Fatalf("Start = %v, want the boot panic", err)
	}
}

func TestFakeBootTimeout(t *testing.T) {
	m, opts := fakeMachine(t, "hang")
	opts.BootTimeout = 500 * time.Millisecond
	t0 := time.Now()
	_, err := Start(context.Background(), m, opts)
	var ge *GuestError
	if !errors.As(err, &ge) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(ge.Console, "Linux version") {
		t.Fatalf("Start = %v, want a boot timeout *GuestError with the console", err)
	}
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("boot timeout took %v", d)
	}
	assertNoFake(t)
}

func TestFakeCancel(t *testing.T) {
	m, opts := fakeMachine(t, "ok")
	ctx, cancel := context.WithCancel(context.Background())
	vm, err := Start(ctx, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := vm.Run(context.Background(), "sleep", "300")
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("Run survived")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	assertGone(t, vm)
	// The guest's command (a child of the fake QEMU, in its own process
	// group) is not QEMU's business; but QEMU itself must be gone.
	if err := syscall.Kill(vm.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("fake QEMU still exists: %v", err)
	}
}

// assertNoFake checks that no fake QEMU of this test binary is running.
func assertNoFake(t *testing.T) {
	t.Helper()
	exe, _ := os.Executable()
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if dst, err := os.Readlink(p); err == nil && dst == exe && !strings.HasPrefix(p, fmt.Sprintf("/proc/%d/", os.Getpid())) {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			if !bytes.Contains(stat, []byte(") Z ")) {
				t.Errorf("fake QEMU %s still running", p)
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer goroutine and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A guest that ignores the power-off request is killed when Stop's context
// ends, and nothing is left behind.
func TestFakeStopKills(t *testing.T) {
	m, opts := fakeMachine(t, "deaf")
	vm, err := Start(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := vm.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("Stop took %v", d)
	}
	assertGone(t, vm)
}
