package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// The example boots the tiny kernel, prints the command's output and exits
// with its exit code.
func TestIntegrationBootExample(t *testing.T) {
	testenv.Integration(t)
	k := testkernel.TinyRust(t, true)
	bin := filepath.Join(t.TempDir(), "boot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
