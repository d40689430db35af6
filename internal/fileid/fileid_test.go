package fileid

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIdentityChangesWithTheFile(t *testing.T) {
	d := t.TempDir()
	p := filepath.Join(d, "tool")
	if err := os.WriteFile(p, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, ok := Identity(p)
	if !ok {
		t.Fatal("no identity")
	}
	link := filepath.Join(d, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if b, _ := Identity(link); b != a {
		t.Errorf("through a link: %s, want %s", b, a)
	}
	// Replaced by a file of the same size and mtime, as a package upgrade
	// may do: the inode and change time differ.
	mt := time.Unix(1700000000, 0)
	os.Chtimes(p, mt, mt)
	a, _ = Identity(p)
	tmp := filepath.Join(d, "new")
	os.WriteFile(tmp, []byte("v2"), 0o755)
	os.Chtimes(tmp, mt, mt)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if b, _ := Identity(p); b == a {
		t.Error("a replaced file kept its identity")
	}
	if _, ok := Identity(d); ok {
		t.Error("a directory has an identity")
	}
	if _, ok := Identity(filepath.Join(d, "missing")); ok {
		t.Error("a missing file has an identity")
	}
}

func TestIsRustupProxy(t *testing.T) {
	d := t.TempDir()
	rustup := filepath.Join(d, "rustup")
	os.WriteFile(rustup, []byte("#!/bin/sh\n"), 0o755)
	if err := os.Link(rustup, filepath.Join(d, "rustc")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("rustup", filepath.Join(d, "cargo"))
	os.WriteFile(filepath.Join(d, "clang"), []byte("#!/bin/sh\n"), 0o755)
	for name, want := range map[string]bool{"rustc": true, "cargo": true, "clang": false, "missing": false} {
		if got := IsRustupProxy(filepath.Join(d, name)); got != want {
			t.Errorf("IsRustupProxy(%s) = %v, want %v", name, got, want)
		}
	}
}
