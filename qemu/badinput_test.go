package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/flock"
)

// When QEMU exits early, its own message comes first, the host's view of
// the broken agent connection after it.
func TestFakeQEMUErrorFirst(t *testing.T) {
	for _, mode := range []string{"exit-after-connect", "garbage"} {
		t.Run(mode, func(t *testing.T) {
			m, opts := fakeMachine(t, mode)
			t.Setenv("TMPDIR", t.TempDir())
			_, err := Start(context.Background(), m, opts)
			var ge *GuestError
			if !errors.As(err, &ge) || !ge.Exited {
				t.Fatalf("Start = %v, want a *GuestError with Exited", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "qemu: boot: QEMU exited (exit status 1): qemu-system-x86_64: fake: ") {
				t.Errorf("the error does not start with QEMU's message:\n%s", msg)
			}
			if i := strings.Index(msg, "(the host saw: "); i < 0 || i < strings.Index(msg, "qemu-system-x86_64: fake") {
				t.Errorf("the host's view is missing or comes first:\n%s", msg)
			}
			assertNoRunDirs(t)
		})
	}
}

func TestGuestErrorFormat(t *testing.T) {
	e := &GuestError{Op: "boot", Err: errors.New("agent: read frame header: connection reset by peer"),
		Stderr: "qemu-system-x86_64: a\nqemu-system-x86_64: b\n", Exited: true, ExitErr: errors.New("exit status 1"), Console: "Linux version"}
	want := "qemu: boot: QEMU exited (exit status 1):\nqemu-system-x86_64: a\nqemu-system-x86_64: b\n" +
		"(the host saw: agent: read frame header: connection reset by peer)\nconsole (last lines):\nLinux version"
	if e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
	// Killed by rflkit (a timeout): the host's error first.
	e = &GuestError{Op: "boot", Err: context.DeadlineExceeded, Stderr: "warning: x"}
	if want := "qemu: boot: context deadline exceeded\nqemu stderr:\nwarning: x"; e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
	// A long stderr is cut to its tail.
	e = &GuestError{Op: "wait", Err: errors.New("exit status 1"), Exited: true, Stderr: strings.Repeat("line\n", 100) + "last"}
	e.ExitErr = e.Err
	if got := e.Error(); strings.Count(got, "\n") > stderrLines+2 || !strings.HasSuffix(got, "last") {
		t.Errorf("long stderr:\n%s", got)
	}
}

// A Machine that names a missing file fails before anything is built:
// Start would otherwise build the agent and the initramfs first.
func TestStartChecksMachineFirst(t *testing.T) {
	exe, _ := os.Executable()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	missing := filepath.Join(dir, "no-such-bzImage")
	_, err := Start(context.Background(), Machine{QEMU: exe, Kernel: missing}, StartOptions{CacheDir: cache})
	var me *MachineError
	if !errors.As(err, &me) || me.Field != "Kernel" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Start with a missing kernel: %v, want a *MachineError for Kernel", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("the error does not name the file: %v", err)
	}
	if _, err := os.Stat(cache); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start touched the cache (%v): it built something before checking the kernel", err)
	}
	// ChooseAccel checks too.
	if _, err := ChooseAccel(context.Background(), Machine{QEMU: exe, Kernel: missing}, ProbeOptions{CacheDir: cache, KVMDevice: exe}); !errors.As(err, &me) {
		t.Errorf("ChooseAccel with a missing kernel: %v", err)
	}
}

func TestMachineCheck(t *testing.T) {
	exe, _ := os.Executable()
	dir := t.TempDir()
	kernel := filepath.Join(dir, "bzImage")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(kernel, []byte("k"), 0o644)
	os.WriteFile(empty, nil, 0o644)
	ok := Machine{QEMU: exe, Kernel: kernel}
	if err := ok.Check(); err != nil {
		t.Fatalf("Check of a good machine: %v", err)
	}
	for name, tc := range map[string]struct {
		m     Machine
		field string
	}{
		"missing kernel":    {Machine{QEMU: exe, Kernel: filepath.Join(dir, "nope")}, "Kernel"},
		"kernel is a dir":   {Machine{QEMU: exe, Kernel: dir}, "Kernel"},
		"empty kernel":      {Machine{QEMU: exe, Kernel: empty}, "Kernel"},
		"missing initramfs": {Machine{QEMU: exe, Kernel: kernel, Initramfs: filepath.Join(dir, "nope.cpio")}, "Initramfs"},
		"missing bios":      {Machine{QEMU: exe, Kernel: kernel, BIOS: filepath.Join(dir, "nope.rom")}, "BIOS"},
		"missing qemu":      {Machine{QEMU: filepath.Join(dir, "qemu-nope"), Kernel: kernel}, "QEMU"},
		"qemu not on PATH":  {Machine{QEMU: "rflkit-no-such-qemu", Kernel: kernel}, "QEMU"},
	} {
		var me *MachineError
		if err := tc.m.Check(); !errors.As(err, &me) || me.Field != tc.field {
			t.Errorf("%s: %v, want a *MachineError for %s", name, err, tc.field)
		}
	}
	// A bare firmware name is QEMU's to find.
	if err := (Machine{QEMU: exe, Kernel: kernel, BIOS: "qboot.rom"}).Check(); err != nil {
		t.Errorf("bare BIOS name: %v", err)
	}
	// Description errors come from Check as from Argv.
	if err := (Machine{QEMU: exe, Kernel: kernel, CPUs: -1}).Check(); err == nil {
		t.Error("CPUs -1 passed Check")
	}
	if err := (Machine{QEMU: exe, Kernel: kernel, Accel: AccelAuto}).Check(); err != nil {
		t.Errorf("Check refuses the automatic accelerator: %v", err)
	}
}

// Stdin streams to the guest command; a command that cannot start says
// why on the streamed stderr.
func TestFakeStdinAndStartFailure(t *testing.T) {
	m, opts := fakeMachine(t, "ok")
	t.Setenv("TMPDIR", t.TempDir())
	ctx := context.Background()
	vm, err := Start(ctx, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		vm.Stop(ctx)
		assertGone(t, vm)
	}()
	in := bytes.Repeat([]byte("stdin round trip\x00\xff\n"), 20000)
	var streamed bytes.Buffer
	res, err := vm.Exec(ctx, Command{Argv: []string{"cat"}, Stdin: bytes.NewReader(in), Stdout: &streamed})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !bytes.Equal(res.Stdout, in) || !bytes.Equal(streamed.Bytes(), in) {
		t.Errorf("cat: exit %d, %d/%d bytes back (streamed %d)", res.ExitCode, len(res.Stdout), len(in), streamed.Len())
	}
	// No Stdin: an empty input, at once.
	res, err = vm.Run(ctx, "cat")
	if err != nil || res.ExitCode != 0 || len(res.Stdout) != 0 {
		t.Errorf("cat without stdin: %+v %v", res, err)
	}

	var stderr bytes.Buffer
	res, err = vm.Exec(ctx, Command{Argv: []string{"/no/such/cmd"}, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	want := "rflkit-agent: /no/such/cmd: no such file or directory\n"
	if res.ExitCode != 127 || stderr.String() != want || string(res.Stderr) != want {
		t.Errorf("missing command: exit %d, streamed %q, result %q; want %q", res.ExitCode, stderr.String(), res.Stderr, want)
	}
}

// assertNoRunDirs checks that $TMPDIR holds no run directory.
func assertNoRunDirs(t *testing.T) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*"))
	if len(left) > 0 {
		t.Errorf("run directories left behind: %q", left)
	}
}

func TestReapRunDirs(t *testing.T) {
	root := t.TempDir()
	// Live: its lock is held.
	live, liveLock, err := newRunDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer liveLock.Close()
	// Stale: its owner died (the lock is free).
	stale, staleLock, err := newRunDir(root)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stale, "agent.sock"), nil, 0o600)
	staleLock.Close()
	// Lock-less (an older rflkit): old and unused, old and in use, new.
	mk := func(name string, age time.Duration) string {
		d := filepath.Join(root, runDirPrefix+name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		then := time.Now().Add(-age)
		os.Chtimes(d, then, then)
		return d
	}
	oldUnused := mk("old-unused", 2*legacyRunDirAge)
	oldUsed := mk("old-used", 2*legacyRunDirAge)
	fresh := mk("fresh", 0)
	user := exec.Command("sh", "-c", "sleep 60; :", "sh", oldUsed+"/agent.sock")
	user.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := user.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-user.Process.Pid, syscall.SIGKILL); user.Wait() }()
	other := filepath.Join(root, "not-ours")
	os.Mkdir(other, 0o700)

	reapRunDirs(root, nil)
	for d, want := range map[string]bool{live: true, stale: false, oldUnused: false, oldUsed: true, fresh: true, other: true} {
		_, err := os.Stat(d)
		if got := err == nil; got != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), got, want)
		}
	}
}

// A process killed with SIGKILL cannot clean up: its QEMU dies with it
// (PR_SET_PDEATHSIG) and the next Start removes its run directory.
func TestFakeSIGKILLedOwnerReaped(t *testing.T) {
	exe, _ := os.Executable()
	tmp := t.TempDir()
	kernel := filepath.Join(t.TempDir(), "bzImage")
	os.WriteFile(kernel, []byte("not a kernel"), 0o644)
	helper := exec.Command(exe)
	helper.Env = append(os.Environ(), "RFLKIT_TEST_HELPER=start-and-wait", "RFLKIT_TEST_KERNEL="+kernel, "TMPDIR="+tmp)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { helper.Process.Kill(); helper.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 {
		t.Fatalf("helper said %q (%v)", line, err)
	}
	dir := f[0]
	qemuPid, _ := strconv.Atoi(f[1])
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("run directory: %v", err)
	}
	// In use: not reaped.
	reapRunDirs(tmp, nil)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a live VM's run directory was reaped: %v", err)
	}

	helper.Process.Signal(syscall.SIGKILL)
	helper.Wait()
	// QEMU gets SIGKILL from the kernel when its parent dies; wait for
	// it to be gone (it is reaped by init, or it is a zombie).
	deadline := time.Now().Add(30 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(qemuPid) + "/stat")
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("QEMU %d survived its parent's SIGKILL", qemuPid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the run directory is already gone (%v): the test proves nothing", err)
	}
	// The kernel drops the lock with the last descriptor of the lock file,
	// which can lag the processes' deaths on a loaded host: wait (bounded)
	// until it is free, and name whoever still holds it otherwise.
	lockPath := filepath.Join(dir, runDirLock)
	for deadline := time.Now().Add(30 * time.Second); ; {
		l, err := flock.TryAcquire(lockPath, false)
		if err != nil {
			t.Fatal(err)
		}
		if l != nil {
			l.Unlock()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock %s is still held 30 s after its owners died; holders: %v", lockPath, lockHolders(lockPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The next Start (here its first step) removes it.
	t.Setenv("TMPDIR", tmp)
	m, opts := fakeMachine(t, "ok")
	vm, err := Start(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dead process's run directory is still there (%v)", err)
	}
	vm.Stop(context.Background())
	assertGone(t, vm)
	assertNoRunDirs(t)
}

// lockHolders lists the processes with a descriptor open on path.
func lockHolders(path string) []string {
	var out []string
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == path {
			pid := strings.Split(fd, "/")[2]
			cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			out = append(out, pid+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}
