package tmpdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestNewRemove(t *testing.T) {
	parent := t.TempDir()
	d, err := New(parent, "x-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Path, LockName)); err != nil {
		t.Fatal(err)
	}
	Reap(parent, "x-", ReapOptions{})
	if _, err := os.Stat(d.Path); err != nil {
		t.Fatalf("a live directory was reaped: %v", err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Fatalf("still there: %v", err)
	}
}

// A directory whose owner was SIGKILLed is reaped by the next call.
func TestReapKilledOwner(t *testing.T) {
	if os.Getenv("TMPDIR_TEST_OWNER") != "" {
		d, err := New(os.Getenv("TMPDIR_TEST_OWNER"), "x-")
		if err != nil {
			os.Exit(3)
		}
		os.WriteFile(filepath.Join(os.Getenv("TMPDIR_TEST_OWNER"), "path"), []byte(d.Path), 0o644)
		time.Sleep(time.Hour)
	}
	parent := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReapKilledOwner$")
	cmd.Env = append(os.Environ(), "TMPDIR_TEST_OWNER="+parent)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dir []byte
	for i := 0; i < 500 && len(dir) == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		dir, _ = os.ReadFile(filepath.Join(parent, "path"))
	}
	if len(dir) == 0 {
		cmd.Process.Kill()
		t.Fatal("the owner never made its directory")
	}
	Reap(parent, "x-", ReapOptions{})
	if _, err := os.Stat(string(dir)); err != nil {
		t.Fatalf("reaped while its owner lives: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	Reap(parent, "x-", ReapOptions{})
	if _, err := os.Stat(string(dir)); !os.IsNotExist(err) {
		t.Fatalf("not reaped after SIGKILL: %v", err)
	}
}

func TestReapLegacy(t *testing.T) {
	parent := t.TempDir()
	old := filepath.Join(parent, "x-old")
	young := filepath.Join(parent, "x-young")
	busy := filepath.Join(parent, "x-busy")
	other := filepath.Join(parent, "y-old")
	for _, d := range []string{old, young, busy, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	for _, d := range []string{old, busy, other} {
		os.Chtimes(d, past, past)
	}
	link := filepath.Join(parent, "x-link")
	os.Symlink(old, link)
	Reap(parent, "x-", ReapOptions{LegacyAge: time.Hour, InUse: func(d string) bool { return d == busy }})
	for d, want := range map[string]bool{old: false, young: true, busy: true, other: true} {
		_, err := os.Stat(d)
		if got := err == nil; got != want {
			t.Errorf("%s exists %v, want %v", filepath.Base(d), got, want)
		}
	}
	// Without LegacyAge nothing lock-less goes.
	Reap(parent, "x-", ReapOptions{})
	if _, err := os.Stat(young); err != nil {
		t.Error(err)
	}
}
