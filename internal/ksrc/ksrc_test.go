package ksrc

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTarGz writes a .tar.gz with the given entries (name -> content; a
// name ending in / is a directory, "->target" content a symlink).
func writeTarGz(t *testing.T, path string, entries [][2]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}
		switch {
		case strings.HasSuffix(e[0], "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(e[1], "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e[1][2:], 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e[1])); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnpackOnce(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, "linux-1.0.tar.gz")
	writeTarGz(t, tb, [][2]string{
		{"linux-1.0/", ""},
		{"linux-1.0/Makefile", "VERSION = 1\n"},
		{"linux-1.0/Kconfig", "mainmenu \"x\"\n"},
		{"linux-1.0/arch/x86/Kconfig", "config X86\n\tdef_bool y\n"},
		{"linux-1.0/link", "->Makefile"},
	})
	cache := filepath.Join(dir, "cache")
	tree, err := Unpack(context.Background(), tb, cache)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(tree.Dir, "arch/x86/Kconfig")); err != nil || !strings.Contains(string(got), "X86") {
		t.Fatalf("unpacked file: %q, %v", got, err)
	}
	if l, err := os.Readlink(filepath.Join(tree.Dir, "link")); err != nil || l != "Makefile" {
		t.Errorf("symlink: %q, %v", l, err)
	}
	if len(tree.SHA256) != 64 || filepath.Base(tree.Dir) != "linux-1.0" {
		t.Errorf("tree = %+v", tree)
	}
	// The second call finds the tree: a marker written into it survives.
	marker := filepath.Join(tree.Dir, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Unpack(context.Background(), tb, cache)
	if err != nil || again.Dir != tree.Dir {
		t.Fatalf("second Unpack = %+v, %v", again, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("second Unpack unpacked again: %v", err)
	}
}

func TestUnpackRejects(t *testing.T) {
	dir := t.TempDir()
	for name, entries := range map[string][][2]string{
		"escape.tar.gz":    {{"../evil", "x"}},
		"notkernel.tar.gz": {{"a/README", "hello"}},
	} {
		tb := filepath.Join(dir, name)
		writeTarGz(t, tb, entries)
		cache := filepath.Join(dir, "cache-"+name)
		if _, err := Unpack(context.Background(), tb, cache); err == nil || !strings.Contains(err.Error(), tb) {
			t.Errorf("%s: error %v, want one naming the tarball", name, err)
		}
		// Nothing half-unpacked is left looking like a tree.
		ents, _ := os.ReadDir(filepath.Join(cache, "src"))
		for _, e := range ents {
			if e.IsDir() && e.Name() != "sums" {
				t.Errorf("%s: left %s behind", name, e.Name())
			}
		}
	}
	if _, err := Unpack(context.Background(), filepath.Join(dir, "missing.tar.xz"), dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing tarball: %v", err)
	}
}

func TestUnpackCancelled(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, "k.tar.gz")
	writeTarGz(t, tb, [][2]string{{"k/Makefile", ""}, {"k/Kconfig", ""}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Unpack(ctx, tb, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Unpack: %v", err)
	}
}

func TestIsTarball(t *testing.T) {
	for p, want := range map[string]bool{"a.tar.xz": true, "a.tgz": true, "a.tar": true, "a/linux": false, "a.zip": false} {
		if IsTarball(p) != want {
			t.Errorf("IsTarball(%q) = %v", p, !want)
		}
	}
}
