package kbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
)

func writeTree(t *testing.T, dir string) {
	t.Helper()
	for name, content := range map[string]string{"Makefile": "all:\n", "Kconfig": "", "init/main.c": "int x;\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSourceIdentityFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir)
	ctx := context.Background()
	s1, err := ResolveSource(ctx, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s1.ID, "files:") || s1.Dir != dir {
		t.Fatalf("source %+v", s1)
	}
	s2, _ := ResolveSource(ctx, dir, t.TempDir())
	if s2.ID != s1.ID {
		t.Error("identity not stable")
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "init/main.c"), later, later); err != nil {
		t.Fatal(err)
	}
	s3, _ := ResolveSource(ctx, dir, t.TempDir())
	if s3.ID == s1.ID {
		t.Error("touching a file did not change the identity")
	}
	if _, err := ResolveSource(ctx, filepath.Join(dir, "init"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a kernel tree") {
		t.Errorf("a non-kernel directory: %v", err)
	}
	if _, err := ResolveSource(ctx, filepath.Join(dir, "Makefile"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither a directory nor") {
		t.Errorf("a plain file: %v", err)
	}
}

func TestSourceIdentityGit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git: %v", err)
	}
	dir := t.TempDir()
	writeTree(t, dir)
	run := func(args ...string) {
		cmd := exec.Command(git, append([]string{"-C", dir, "-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	run("add", ".")
	run("commit", "-q", "-m", "x")
	ctx := context.Background()
	clean, err := ResolveSource(ctx, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(clean.ID, "git:") || strings.Contains(clean.ID, "dirty") {
		t.Fatalf("clean tree: %s", clean.ID)
	}
	if err := os.WriteFile(filepath.Join(dir, "init/main.c"), []byte("int y;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dirty, _ := ResolveSource(ctx, dir, t.TempDir())
	if !strings.Contains(dirty.ID, "+dirty:") {
		t.Fatalf("modified tree: %s", dirty.ID)
	}
	later := time.Now().Add(time.Minute)
	if err := os.WriteFile(filepath.Join(dir, "init/main.c"), []byte("int z;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(filepath.Join(dir, "init/main.c"), later, later)
	dirty2, _ := ResolveSource(ctx, dir, t.TempDir())
	if dirty2.ID == dirty.ID {
		t.Error("editing a dirty file again did not change the identity")
	}
}

// BenchmarkSourceIdentityWalk measures identifying the real 7.2 tree (an
// unpacked tarball, not a git tree) by walking it.
func BenchmarkSourceIdentityWalk(b *testing.B) {
	dir := testenv.KernelSource(b)
	for b.Loop() {
		if _, err := walkIdentity(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSourceIdentityTarball measures identifying the tarball (its
// SHA-256 is remembered by internal/ksrc, the tree is unpacked already).
func BenchmarkSourceIdentityTarball(b *testing.B) {
	testenv.KernelSource(b)
	cache := testenv.CacheDir(b)
	for b.Loop() {
		if _, err := ResolveSource(context.Background(), testenv.DefaultTarball, cache); err != nil {
			b.Fatal(err)
		}
	}
}
