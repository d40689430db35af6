package qemu

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/initramfs"
	"github.com/rflkit/rflkit/internal/testenv"
)

// fioStubs are the libraries of Debian's fio that the tests stub (the
// benchmark's list, bench.FioStubs, which qemu's tests cannot import: bench
// imports qemu).
func fioStubs() []string {
	return []string{
		"libgfapi.so.0", "libnbd.so.0", "libibverbs.so.1", "librdmacm.so.1",
		"librados.so.2", "librbd.so.1", "libpmemblk.so.1", "libpmem.so.1",
	}
}

func readInitramfs(t *testing.T, p string) map[string]initramfs.Entry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := initramfs.ReadArchive(f)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]initramfs.Entry{}
	for _, e := range entries {
		m[e.Path] = e
	}
	return m
}

func TestBuildInitramfsUnit(t *testing.T) {
	dir := t.TempDir()
	fakeAgent := filepath.Join(dir, "agent")
	os.WriteFile(fakeAgent, []byte("\x7fELF fake agent"), 0o755)
	mod := filepath.Join(dir, "rnull_mod.ko")
	os.WriteFile(mod, []byte("module"), 0o644)
	spec := InitramfsSpec{
		CacheDir: filepath.Join(dir, "cache"), Agent: fakeAgent, NoBusybox: true,
		Modules: []string{mod},
		Files:   []File{{Path: "/etc/job.fio", Data: []byte("[job]\n")}, {Path: "/usr/bin/tool", Source: fakeAgent}},
	}
	ctx := context.Background()
	p1, err := BuildInitramfs(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p1, filepath.Join(dir, "cache", "initramfs")+"/") || !strings.HasSuffix(p1, ".cpio") {
		t.Errorf("path %s", p1)
	}
	p2, err := BuildInitramfs(ctx, spec)
	if err != nil || p2 != p1 {
		t.Fatalf("same spec gave %s (%v), want %s", p2, err, p1)
	}
	m := readInitramfs(t, p1)
	if e := m["init"]; e.Kind != initramfs.File || string(e.Data) != "\x7fELF fake agent" || e.Perm != 0o755 {
		t.Errorf("init: %+v", e)
	}
	if e := m["dev/console"]; e.Kind != initramfs.CharDevice || e.Major != 5 || e.Minor != 1 {
		t.Errorf("dev/console: %+v", e)
	}
	if e := m["lib/modules/rnull_mod.ko"]; string(e.Data) != "module" {
		t.Errorf("module: %+v", e)
	}
	if e := m["etc/job.fio"]; string(e.Data) != "[job]\n" || e.Perm != 0o644 {
		t.Errorf("file: %+v", e)
	}
	if e := m["usr/bin/tool"]; e.Perm != 0o755 {
		t.Errorf("executable source file: %+v", e)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "root"} {
		if m[d].Kind != initramfs.Dir {
			t.Errorf("no /%s directory", d)
		}
	}
	// Another spec, another archive.
	spec.Files = nil
	p3, err := BuildInitramfs(ctx, spec)
	if err != nil || p3 == p1 {
		t.Errorf("different spec gave %s (%v)", p3, err)
	}
	// Errors name the culprit.
	spec.Files = []File{{Path: "/x", Source: "/nonexistent/source"}}
	if _, err := BuildInitramfs(ctx, spec); err == nil || !strings.Contains(err.Error(), "/nonexistent/source") {
		t.Errorf("missing source: %v", err)
	}
}

func TestIntegrationBuildInitramfsFio(t *testing.T) {
	testenv.Integration(t)
	fio := testenv.LookPath(t, "fio")
	testenv.LookPath(t, "busybox")
	ctx := context.Background()
	cache := t.TempDir()
	p, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: cache, Binaries: []string{fio}, Stubs: fioStubs()})
	if err != nil {
		t.Fatal(err)
	}
	m := readInitramfs(t, p)
	if m["bin/sh"].Kind != initramfs.Symlink || m["bin/sh"].Target != "/bin/busybox" {
		t.Errorf("bin/sh: %+v", m["bin/sh"])
	}
	if e := m["init"]; len(e.Data) < 1<<20 || !bytes.HasPrefix(e.Data, []byte("\x7fELF")) {
		t.Errorf("init is not the agent: %d bytes", len(e.Data))
	}
	if _, ok := m[strings.TrimPrefix(fio, "/")]; !ok {
		t.Errorf("%s missing", fio)
	}
	if _, ok := m["lib64/ld-linux-x86-64.so.2"]; !ok {
		t.Error("loader missing")
	}
	var stubs, real int
	for path, e := range m {
		if !strings.Contains(path, ".so") || e.Kind != initramfs.File {
			continue
		}
		if bytes.Contains(e.Data, []byte("is a stub in this initramfs")) {
			stubs++
			if len(e.Data) > 64<<10 {
				t.Errorf("stub %s is %d bytes", path, len(e.Data))
			}
		} else {
			real++
		}
	}
	if stubs != len(fioStubs()) {
		t.Errorf("%d stub libraries, want %d", stubs, len(fioStubs()))
	}
	if _, ok := m["usr/lib/x86_64-linux-gnu/libceph-common.so.2"]; ok {
		t.Error("a dependency of a stubbed library was included")
	}
	small, _ := os.Stat(p)
	full, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: cache, Binaries: []string{fio}, FullLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	big, _ := os.Stat(full)
	// No Stubs: every real library, the same archive as FullLibraries.
	none, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: cache, Binaries: []string{fio}})
	if err != nil {
		t.Fatal(err)
	}
	if none != full {
		t.Errorf("nil Stubs gave %s, want the archive with every library %s", none, full)
	}
	t.Logf("initramfs with fio: %.1f MB with %d stubs and %d real libraries; %.1f MB with every library", float64(small.Size())/1e6, stubs, real, float64(big.Size())/1e6)
	if small.Size()*3 > big.Size() {
		t.Errorf("stubs saved too little: %d vs %d bytes", small.Size(), big.Size())
	}
}
