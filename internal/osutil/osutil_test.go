package osutil

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunOutput(t *testing.T) {
	res, err := Run(context.Background(), Options{Env: []string{"X=42"}}, "sh", "-c", `echo "out $X"; echo err >&2`)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "out 42\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("got %q / %q", res.Stdout, res.Stderr)
	}
}

func TestRunExitCode(t *testing.T) {
	_, err := Run(context.Background(), Options{}, "sh", "-c", "echo broken >&2; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Output != "broken" {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "exit code 3") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("message %q", err)
	}
}

func TestRunMissing(t *testing.T) {
	_, err := Run(context.Background(), Options{}, "/no/such/tool")
	var ee *ExitError
	if !errors.As(err, &ee) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/no/such/tool") {
		t.Fatalf("err = %v", err)
	}
}

// A timeout kills the whole group, grandchildren included, and says so.
func TestRunTimeoutKillsGroup(t *testing.T) {
	pidFile := t.TempDir() + "/pid"
	start := time.Now()
	_, err := Run(context.Background(), Options{Timeout: 300 * time.Millisecond},
		"sh", "-c", "sleep 1000 & echo $! > "+pidFile+"; wait")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > WaitDelay+5*time.Second {
		t.Fatalf("took %v", d)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The grandchild was killed with the group; give the kernel a moment to reap it.
	for i := 0; i < 50; i++ {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("grandchild %d survived the timeout", pid)
}

func TestRunBoundsCapture(t *testing.T) {
	res, err := Run(context.Background(), Options{}, "sh", "-c", "head -c 20000000 /dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != MaxCapture {
		t.Fatalf("kept %d bytes, want %d", len(res.Stdout), MaxCapture)
	}
}

func TestExcerpt(t *testing.T) {
	if got := Excerpt("short", 10); got != "short" {
		t.Fatal(got)
	}
	got := Excerpt(strings.Repeat("é", 100), 11)
	if !strings.HasPrefix(got, strings.Repeat("é", 5)+"...") || !strings.HasSuffix(got, "(200 bytes)") {
		t.Fatalf("got %q", got)
	}
}

// alive reports whether pid is a live process (a zombie is dead: an
// init that does not reap may keep it listed).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":             "''",
		"plain-word_1": "plain-word_1",
		"a b":          "'a b'",
		"it's":         `'it'\''s'`,
		"x=/p,q:r+s@%": "x=/p,q:r+s@%",
		"$HOME":        "'$HOME'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := ShellJoin([]string{"make", "-C", "/a b", ""}); got != "make -C '/a b' ''" {
		t.Errorf("ShellJoin = %s", got)
	}
}

func TestLookPath(t *testing.T) {
	d := t.TempDir()
	os.WriteFile(d+"/tool", []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(d+"/data", []byte("x"), 0o644)
	if p, err := LookPath("tool", []string{"PATH=/nonexistent", "PATH=" + d}); err != nil || p != d+"/tool" {
		t.Errorf("LookPath(tool) = %q, %v", p, err)
	}
	if _, err := LookPath("data", []string{"PATH=" + d}); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("a non-executable was found: %v", err)
	}
	if _, err := LookPath("tool", []string{"PATH=/nonexistent"}); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("env's PATH was not used: %v", err)
	}
}
