// Package testenv gives rflkit's integration tests what they need from the
// machine: the real kernel tree and the cache directory.
//
// Integration tests call Integration first. Under `go test -short` they are
// skipped (unit tests only); otherwise every prerequisite is required, and
// one that is missing fails the test with the command that installs it
// (scripts/setup). Nothing is skipped silently: the README's test command
// runs without -short, so CI runs every integration test.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/rflkit/rflkit/internal/cachedir"

	"github.com/rflkit/rflkit/internal/ksrc"
)

// DefaultTarball is where Debian's linux-source-7.2 package puts the tree.
const DefaultTarball = "/usr/src/linux-source-7.2.tar.xz"

// Integration skips t under -short and otherwise marks it as an
// integration test (it may take minutes and needs the real machine).
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs without -short (the README's test command)")
	}
}

// CacheDir is rflkit's cache for tests: $RFLKIT_CACHE_DIR, or
// $XDG_CACHE_HOME/rflkit (~/.cache/rflkit). It is shared with the example
// binaries, so a kernel built by a test is a cache hit for the main job.
func CacheDir(t testing.TB) string {
	t.Helper()
	d, err := cachedir.Resolve("")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return d
}

// KernelSource returns the unpacked Linux 7.2 tree: $RFLKIT_KERNEL_SRC when
// set, else DefaultTarball unpacked (once) into CacheDir. A missing tarball
// fails the test.
func KernelSource(t testing.TB) string {
	t.Helper()
	Integration(t)
	if d := os.Getenv("RFLKIT_KERNEL_SRC"); d != "" {
		return d
	}
	if _, err := os.Stat(DefaultTarball); err != nil {
		t.Fatalf("testenv: %v: run scripts/setup (it installs linux-source-7.2)", err)
	}
	tree, err := ksrc.Unpack(context.Background(), DefaultTarball, CacheDir(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return tree.Dir
}

// LookPath returns the path of a tool an integration test needs, failing
// the test (never skipping it) when the tool is missing.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("testenv: %s not found: run scripts/setup", name)
	}
	return p
}
