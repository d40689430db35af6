package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/agent"
	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// The test binary is also boot itself (RFLKIT_BOOT_MAIN=1) and a fake
// QEMU (RFLKIT_BOOT_FAKE_QEMU=mode, when called with QEMU's arguments):
// the fake serves the agent protocol on its sockets, running the commands
// on the host, so that boot's handling of input, errors and signals is
// tested without a kernel. Mode "garbage" refuses the kernel.
func TestMain(m *testing.M) {
	args := os.Args[1:]
	if mode := os.Getenv("RFLKIT_BOOT_FAKE_QEMU"); mode != "" && len(args) > 0 && (args[0] == "--version" || args[0] == "-nodefaults") {
		os.Exit(fakeQEMU(mode, args))
	}
	if os.Getenv("RFLKIT_BOOT_MAIN") == "1" {
		// What cli.Main does, through cli.Run: a context that SIGINT and
		// SIGTERM cancel, the process's streams, the exit code.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, "boot", run, args, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func fakeQEMU(mode string, args []string) int {
	if args[0] == "--version" {
		fmt.Println("QEMU emulator version 7.2.99 (fake)")
		return 0
	}
	if mode == "garbage" {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: fake: the kernel is garbage")
		return 1
	}
	var lns []net.Listener
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-chardev" || !strings.HasPrefix(args[i+1], "socket,") {
			continue
		}
		for _, kv := range strings.Split(args[i+1], ",") {
			if p, ok := strings.CutPrefix(kv, "path="); ok {
				ln, err := net.Listen("unix", p)
				if err != nil {
					fmt.Fprintln(os.Stderr, "fake qemu:", err)
					return 1
				}
				lns = append(lns, ln)
			}
		}
	}
	if len(lns) == 0 {
		fmt.Fprintln(os.Stderr, "fake qemu: no agent socket")
		return 1
	}
	fmt.Println("Linux version 7.2.12-fake\r")
	conn, err := lns[0].Accept()
	if err != nil {
		return 1
	}
	err = agent.Serve(context.Background(), conn, agent.ServeOptions{Ready: &agent.Message{Kernel: "fake"}})
	if errors.Is(err, agent.ErrPoweroff) {
		fmt.Println("reboot: Restarting system\r")
		return 0
	}
	return 3
}

// fixture holds what one boot run needs: a fake kernel, a private TMPDIR
// and cache, and a token that marks the guest commands of this test.
type fixture struct {
	t                 *testing.T
	exe, kernel       string
	tmp, cache, token string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &fixture{t: t, exe: exe, kernel: filepath.Join(dir, "bzImage"), tmp: filepath.Join(dir, "tmp"),
		cache: filepath.Join(dir, "cache"), token: fmt.Sprintf("rflkit-boot-test-%d-%s", os.Getpid(), t.Name())}
	os.WriteFile(f.kernel, []byte("not a kernel"), 0o644)
	os.Mkdir(f.tmp, 0o700)
	t.Cleanup(func() { f.killGuestCommands() })
	return f
}

// cmd returns boot with the fake QEMU, TCG and the fake kernel as kernel
// and initramfs, then args.
func (f *fixture) cmd(mode string, args ...string) *exec.Cmd {
	all := append([]string{"-qemu", f.exe, "-accel", "tcg", "-kernel", f.kernel, "-initrd", f.kernel}, args...)
	c := exec.Command(f.exe, all...)
	c.Env = append(os.Environ(), "RFLKIT_BOOT_MAIN=1", "RFLKIT_BOOT_FAKE_QEMU="+mode, "TMPDIR="+f.tmp, "RFLKIT_CACHE_DIR="+f.cache)
	return c
}

// result runs c and returns its exit code, stdout and stderr.
func result(t *testing.T, c *exec.Cmd) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if c.Stdout == nil {
		c.Stdout = &stdout
	}
	c.Stderr = &stderr
	err := c.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("boot: %v", err)
	}
	return c.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// assertClean checks that no run directory and no fake QEMU of this
// fixture are left.
func (f *fixture) assertClean() {
	f.t.Helper()
	if left, _ := filepath.Glob(filepath.Join(f.tmp, "rflkit-qemu-*")); len(left) > 0 {
		f.t.Errorf("temporary directories left behind: %q", left)
	}
	if pids := f.pidsMentioning(f.tmp + "/"); len(pids) > 0 {
		f.t.Errorf("QEMU processes left behind: %v", pids)
	}
}

// pidsMentioning returns the live processes whose command line contains s.
func (f *fixture) pidsMentioning(s string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		dir := filepath.Dir(p)
		if stat, _ := os.ReadFile(filepath.Join(dir, "stat")); bytes.Contains(stat, []byte(") Z ")) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(dir)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killGuestCommands kills the guest commands of this test that outlived
// a fake QEMU killed by boot (in a real guest they die with QEMU): each
// runs in a process group of its own, led by the shell that has the
// token. It returns the groups killed.
func (f *fixture) killGuestCommands() []int {
	pgids := f.pidsMentioning(f.token)
	for _, pgid := range pgids {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return pgids
}

// groupAlive reports whether process group pgid has a member that is
// not a zombie.
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 {
			continue
		}
		var state string
		var ppid, pgrp int
		if n, _ := fmt.Sscan(string(b[i+1:]), &state, &ppid, &pgrp); n == 3 && pgrp == pgid && state != "Z" {
			return true
		}
	}
	return false
}

// waitLine reads r until a line equal to want.
func waitLine(t *testing.T, r io.Reader, want string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == want {
			return
		}
	}
	t.Fatalf("no line %q (%v)", want, sc.Err())
}

// Command-line mistakes exit 2 with the usage, -h exits 0, in process.
func TestBootUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: boot -kernel bzImage"},
		{[]string{"-kernel", "bz"}, 2, "usage: boot -kernel bzImage"},
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"-h"}, 0, "usage: boot -kernel bzImage"},
	} {
		var stdout, stderr bytes.Buffer
		code := cli.Run(context.Background(), "boot", run, tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("boot %q: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.want)
		}
	}
}

// -n prints QEMU's command line (run in process, through cli.Run).
func TestBootDryRun(t *testing.T) {
	f := newFixture(t)
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), "boot", run, []string{"-n", "-qemu", f.exe, "-accel", "tcg", "-kernel", f.kernel, "-initrd", f.kernel}, &stdout, &stderr)
	want := f.exe + " -nodefaults -no-user-config -display none -no-reboot -machine pc -accel tcg -smp 1 -m 256 -kernel " + f.kernel + " -initrd " + f.kernel +
		" -append 'console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd i8042.noaux noapictimer no_timer_check'"
	if code != 0 || !strings.HasPrefix(stdout.String(), want+" ") || stderr.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q...", code, stdout.String(), stderr.String(), want)
	}
}

// A caller that cancels run's context (not a signal) gets cli's code for
// a cancellation, 130, and the reason on stderr.
func TestBootCallerCancelled(t *testing.T) {
	f := newFixture(t)
	t.Setenv("RFLKIT_BOOT_FAKE_QEMU", "ok")
	t.Setenv("TMPDIR", f.tmp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, "boot", run, []string{"-qemu", f.exe, "-accel", "tcg", "-kernel", f.kernel, "-initrd", f.kernel, "--", "true"}, &stdout, &stderr)
	if code != 130 || stderr.String() != "boot: context canceled\n" {
		t.Errorf("exit %d, stderr %q; want 130 and the cancellation", code, stderr.String())
	}
	f.assertClean()
}

// echo hi | boot -- cat prints hi: standard input reaches the command.
func TestBootStdin(t *testing.T) {
	f := newFixture(t)
	c := f.cmd("ok", "--", "cat")
	c.Stdin = strings.NewReader("hi\nthere\n")
	code, stdout, stderr := result(t, c)
	if code != 0 || stdout != "hi\nthere\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	f.assertClean()
}

func TestBootMissingCommand(t *testing.T) {
	f := newFixture(t)
	code, stdout, stderr := result(t, f.cmd("ok", "--", "/no/such/cmd"))
	if want := "rflkit-agent: /no/such/cmd: no such file or directory\n"; code != 127 || stderr != want || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 127 and %q", code, stdout, stderr, want)
	}
	f.assertClean()
}

// A missing kernel is reported before anything is built (without -initrd
// boot would build the agent and the initramfs into the cache first).
func TestBootMissingKernel(t *testing.T) {
	f := newFixture(t)
	missing := filepath.Join(t.TempDir(), "no-such-bzImage")
	c := exec.Command(f.exe, "-qemu", f.exe, "-kernel", missing, "--", "true")
	c.Env = append(os.Environ(), "RFLKIT_BOOT_MAIN=1", "RFLKIT_BOOT_FAKE_QEMU=ok", "TMPDIR="+f.tmp, "RFLKIT_CACHE_DIR="+f.cache)
	code, _, stderr := result(t, c)
	if want := "boot: qemu: Machine.Kernel: open " + missing + ": no such file or directory\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if _, err := os.Stat(f.cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("boot wrote to the cache before checking the kernel (%v)", err)
	}
}

// QEMU's own message leads when QEMU exits early.
func TestBootQEMUErrorFirst(t *testing.T) {
	f := newFixture(t)
	code, _, stderr := result(t, f.cmd("garbage", "--", "true"))
	if want := "boot: qemu: boot: QEMU exited (exit status 1): qemu-system-x86_64: fake: the kernel is garbage\n"; code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant it to start with\n%s", code, stderr, want)
	}
	f.assertClean()
}

// SIGINT and SIGTERM stop the VM and remove its files.
func TestBootSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFixture(t)
			c := f.cmd("ok", "--", "sh", "-c", "echo started; sleep 60; : "+f.token)
			out, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			c.Stderr = &stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitLine(t, out, "started")
			c.Process.Signal(sig)
			go io.Copy(io.Discard, out)
			_ = c.Wait()
			if code := c.ProcessState.ExitCode(); code != 128+int(sig) {
				t.Errorf("exit %d (%v), want %d; stderr %q", code, c.ProcessState, 128+int(sig), stderr.String())
			}
			if !strings.Contains(stderr.String(), "boot: ") {
				t.Errorf("no message on stderr: %q", stderr.String())
			}
			f.assertClean()
		})
	}
}

// boot -- producer | head -1: the closed output ends boot (exit 141,
// like SIGPIPE) after stopping the VM and removing its files.
func TestBootBrokenPipe(t *testing.T) {
	f := newFixture(t)
	c := f.cmd("ok", "--", "sh", "-c", "i=0; while [ $i -lt 1000000 ]; do echo y; i=$((i+1)); done; : "+f.token)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdout = w
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitLine(t, r, "y")
	r.Close()
	_ = c.Wait()
	if code := c.ProcessState.ExitCode(); code != 141 {
		t.Errorf("exit %d (%v), want 141; stderr %q", code, c.ProcessState, stderr.String())
	}
	f.assertClean()
}

func TestBootTimeout(t *testing.T) {
	f := newFixture(t)
	code, _, stderr := result(t, f.cmd("ok", "-timeout", "1s", "--", "sh", "-c", "sleep 60; : "+f.token))
	if code != 124 || !strings.Contains(stderr, "boot: timed out after 1s") {
		t.Errorf("exit %d, stderr %q; want 124 and the timeout", code, stderr)
	}
	f.assertClean()
}

// A boot killed with SIGKILL cannot clean up: QEMU dies with it and the
// next boot removes its temporary directory.
func TestBootSIGKILLReaped(t *testing.T) {
	f := newFixture(t)
	c := f.cmd("ok", "--", "sh", "-c", "echo started; sleep 60; : "+f.token)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitLine(t, out, "started")
	c.Process.Signal(syscall.SIGKILL)
	go io.Copy(io.Discard, out)
	_ = c.Wait()
	// QEMU gets SIGKILL from the kernel when boot dies.
	deadline := time.Now().Add(30 * time.Second)
	for len(f.pidsMentioning(f.tmp+"/")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU survived boot's SIGKILL: %v", f.pidsMentioning(f.tmp+"/"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The fake's guest command outlives it (a real guest's dies with
	// QEMU) and holds the run directory's lock, inherited from QEMU.
	for _, pgid := range f.killGuestCommands() {
		for groupAlive(pgid) {
			if time.Now().After(deadline) {
				t.Fatalf("guest command group %d survives SIGKILL", pgid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(f.tmp, "rflkit-qemu-*")); len(left) != 1 {
		t.Fatalf("after SIGKILL: run directories %q, want the one left behind", left)
	}
	if code, _, stderr := result(t, f.cmd("ok", "--", "true")); code != 0 {
		t.Fatalf("next boot: exit %d, %s", code, stderr)
	}
	f.assertClean()
}

// buildBoot builds the example for the integration tests.
func buildBoot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "boot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The example boots the tiny kernel, prints the command's output and exits
// with its exit code.
func TestIntegrationBootExample(t *testing.T) {
	testenv.Integration(t)
	k := testkernel.TinyRust(t, true)
	bin := buildBoot(t)
	cmd := exec.Command(bin, "-accel", "tcg", "-kernel", k.BzImage, "--", "sh", "-c", "echo hello from $(uname -r); echo oops >&2; exit 3")
	var stdout, stderr []byte
	out, err := cmd.Output()
	stdout = out
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("boot: %v", err)
	}
	stderr = ee.Stderr
	if ee.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3 (stderr %s)", ee.ExitCode(), stderr)
	}
	if !strings.HasPrefix(string(stdout), "hello from 7.2") || !strings.HasSuffix(string(stdout), "\n") || string(stderr) != "oops\n" {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
}

// In a real guest: standard input reaches cat (binary-safe, beyond the
// flow-control window), and a missing command says why on stderr.
func TestIntegrationBootStdinAndMissingCommand(t *testing.T) {
	testenv.Integration(t)
	k := testkernel.TinyRust(t, true)
	bin := buildBoot(t)

	in := bytes.Repeat([]byte("hello guest \x00\x01\xff\n"), 40000) // 640 KB
	cmd := exec.Command(bin, "-accel", "tcg", "-kernel", k.BzImage, "--", "cat")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("boot -- cat: %v\n%s", err, stderr.String())
	}
	if !bytes.Equal(out, in) {
		t.Errorf("cat returned %d bytes of %d (equal %v)", len(out), len(in), bytes.Equal(out, in))
	}

	cmd = exec.Command(bin, "-accel", "tcg", "-kernel", k.BzImage, "--", "/no/such/cmd")
	stderr.Reset()
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 127 {
		t.Fatalf("boot -- /no/such/cmd: %v, want exit 127", err)
	}
	if want := "rflkit-agent: /no/such/cmd: no such file or directory\n"; stderr.String() != want || len(out) != 0 {
		t.Errorf("stdout %q, stderr %q; want stderr %q", out, stderr.String(), want)
	}
}
