package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/cli"
)

// fakeTools is a bin/ directory of fake tools that is the whole PATH, and
// a private TMPDIR; the variables that name tools are unset.
type fakeTools struct {
	t        *testing.T
	dir, bin string
	tmp      string
}

func newFakeTools(t *testing.T) *fakeTools {
	t.Helper()
	d := t.TempDir()
	f := &fakeTools{t: t, dir: d, bin: filepath.Join(d, "bin"), tmp: filepath.Join(d, "tmp")}
	for _, p := range []string{f.bin, f.tmp} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", f.bin)
	t.Setenv("HOME", d)
	t.Setenv("RUSTUP_HOME", d)
	t.Setenv("TMPDIR", f.tmp)
	for _, v := range []string{"RUSTC", "BINDGEN", "CC", "LLVM", "RUST_LIB_SRC", "ARCH", "KRUSTFLAGS", "HOSTRUSTC", "RUSTDOC"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	return f
}

// write writes an executable /bin/sh script bin/name.
func (f *fakeTools) write(name, body string) string {
	f.t.Helper()
	p := filepath.Join(f.bin, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// hangingRustc writes a rustc that records its pid in pidfile and hangs.
func (f *fakeTools) hangingRustc() (path, pidfile string) {
	pidfile = filepath.Join(f.dir, "rustc.pid")
	return f.write("rustc", "echo $$ > '"+pidfile+"'\nexec /bin/sleep 1000\n"), pidfile
}

// bindgen writes a working bindgen (its presence makes Detect use a
// scratch directory).
func (f *fakeTools) bindgen() {
	f.write("bindgen", `case "$*" in
*rust_is_available_bindgen_libclang.h*) echo 'x.h:2:9: warning: clang version 19.1.7 [-W#pragma-messages]' >&2 ;;
*) echo 'bindgen 0.71.1' ;;
esac
`)
}

func (f *fakeTools) scratchDirs() []string {
	f.t.Helper()
	m, err := filepath.Glob(filepath.Join(f.tmp, "rflkit-toolchain-*"))
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// procGone reports whether pid has exited (absent, or a zombie).
func procGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// waitGone waits (generously) for pid to exit.
func waitGone(pid int) bool {
	for i := 0; i < 500 && !procGone(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return procGone(pid)
}

// readPid waits (generously) for a fake to record its pid.
func readPid(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %q", path, b)
			}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the hanging fake never wrote %s", path)
	return 0
}

// -timeout bounds each probe; the hang is a problem naming the tool, the
// command and the timeout; nothing is left running or on disk.
func TestTimeoutFlag(t *testing.T) {
	f := newFakeTools(t)
	rustc, pidfile := f.hangingRustc()
	f.bindgen()
	var out, errb bytes.Buffer
	if code := runCLI([]string{"-timeout", "300ms"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{"rustc did not finish in time", "`" + rustc + " --version`", "killed after 300ms"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if pid := readPid(t, pidfile); !waitGone(pid) {
		t.Errorf("the hanging rustc %d survived doctor", pid)
	}
	if d := f.scratchDirs(); len(d) != 0 {
		t.Errorf("doctor left %v", d)
	}
}

func TestTimeoutFlagInvalid(t *testing.T) {
	for _, v := range []string{"0", "-1s", "soon"} {
		var out, errb bytes.Buffer
		if code := runCLI([]string{"-timeout", v}, &out, &errb); code != 2 {
			t.Errorf("-timeout %s: exit %d, want 2", v, code)
		}
	}
}

// A 5 MB version line is not echoed: the human and JSON outputs stay small.
func TestHugeVersionLine(t *testing.T) {
	f := newFakeTools(t)
	huge := filepath.Join(f.dir, "huge")
	if err := os.WriteFile(huge, []byte(strings.Repeat("7", 5<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	// "rustc 1.85.0-nightly777..." and "garbage777...".
	f.write("rustc", "case \"$*\" in\n*sysroot*) echo /nonexistent ;;\n*) printf 'rustc 1.85.0-nightly'; /bin/cat '"+huge+"'; echo ;;\nesac\n")
	f.write("bindgen", "printf 'garbage'; /bin/cat '"+huge+"'\n")
	for _, args := range [][]string{nil, {"-json"}} {
		var out, errb bytes.Buffer
		if code := runCLI(args, &out, &errb); code != 1 {
			t.Fatalf("%v: exit %d, want 1; stderr %.300q", args, code, errb.String())
		}
		if out.Len() > 64<<10 || errb.Len() > 4<<10 {
			t.Errorf("%v: %d bytes of output, %d of errors; first 500: %.500q", args, out.Len(), errb.Len(), out.String())
		}
		if args == nil && !strings.Contains(out.String(), "bytes in all") {
			t.Errorf("the cut is not marked:\n%.3000s", out.String())
		}
	}
}

// The rustdoc fix has no empty field when rustc's version is unknown.
func TestRustdocMessage(t *testing.T) {
	f := newFakeTools(t)
	rustc := f.write("rustc", "echo 'error: broken' >&2; exit 3\n")
	f.bindgen()
	var out, errb bytes.Buffer
	if code := runCLI(nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errb.String())
	}
	s := out.String()
	if strings.Contains(s, "rustc ;") || !strings.Contains(s, "(the one of the toolchain of "+rustc+", whose version is unknown;") {
		t.Errorf("rustdoc fix:\n%s", s)
	}
}

// TestHelperDoctor is not a test: it is the doctor process that
// TestSignalledDoctor runs (the test binary re-executed) and signals.
func TestHelperDoctor(t *testing.T) {
	if os.Getenv("DOCTOR_TEST_HELPER") != "1" {
		t.Skip("helper process for TestSignalledDoctor")
	}
	// As main does, with the test's own arguments left out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, "doctor", run, nil, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startDoctor runs the doctor in a child process with the fake tools and
// returns it once its hanging rustc runs.
func startDoctor(t *testing.T, f *fakeTools, pidfile string) (*exec.Cmd, *bytes.Buffer, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDoctor$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DOCTOR_TEST_HELPER=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	probe := readPid(t, pidfile)
	if procGone(probe) {
		t.Fatalf("the probe %d is not running", probe)
	}
	if d := f.scratchDirs(); len(d) != 1 {
		t.Fatalf("scratch directories while doctor runs: %v, want one", d)
	}
	return cmd, &out, probe
}

// SIGINT or SIGTERM stops the probes, removes the scratch directory and
// exits 2; SIGKILL leaves no probe either (Pdeathsig), and the scratch
// directory it could not remove goes at the next run.
func TestSignalledDoctor(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFakeTools(t)
			_, pidfile := f.hangingRustc()
			f.bindgen()
			cmd, out, probe := startDoctor(t, f, pidfile)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("doctor after %s: %v", sig, err)
			}
			if !waitGone(probe) {
				t.Fatalf("probe %d outlived doctor (%s)", probe, sig)
			}
			if sig != syscall.SIGKILL {
				if ee.ExitCode() != 2 || !strings.Contains(out.String(), "doctor: interrupted") {
					t.Errorf("exit %d, output %q; want 2 and \"interrupted\"", ee.ExitCode(), out.String())
				}
				if d := f.scratchDirs(); len(d) != 0 {
					t.Errorf("doctor left %v", d)
				}
				return
			}
			if d := f.scratchDirs(); len(d) != 1 {
				t.Fatalf("after SIGKILL: %v, want the scratch directory it could not remove", d)
			}
			f.write("rustc", "exit 1\n")
			var o, e bytes.Buffer
			runCLI(nil, &o, &e)
			if d := f.scratchDirs(); len(d) != 0 {
				t.Errorf("the next run left %v", d)
			}
		})
	}
}

// The JSON output still parses with problems from a hang.
func TestTimeoutJSON(t *testing.T) {
	f := newFakeTools(t)
	_, pidfile := f.hangingRustc()
	var out, errb bytes.Buffer
	if code := runCLI([]string{"-json", "-timeout", "200ms"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d; stderr %q", code, errb.String())
	}
	readPid(t, pidfile)
	var obj struct {
		Problems []struct{ Found string } `json:"problems"`
	}
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	for _, p := range obj.Problems {
		if strings.Contains(p.Found, "killed after 200ms") {
			return
		}
	}
	t.Errorf("no timeout problem in %s", out.String())
}
