package sysroot

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/testenv"
)

func TestKey(t *testing.T) {
	a := Key("arm64", []string{"fio", "busybox-static", "fio"})
	b := Key("arm64", []string{"busybox-static", "fio"})
	if a != b {
		t.Errorf("order or duplicates change the key: %s %s", a, b)
	}
	if Key("amd64", []string{"fio"}) == Key("arm64", []string{"fio"}) {
		t.Error("the architecture is not in the key")
	}
}

func TestEnsureBadInput(t *testing.T) {
	for _, o := range []Options{{}, {Arch: "arm64"}, {Arch: "arm64", Packages: []string{"-o=x"}}, {Arch: "arm64", Packages: []string{"a:amd64"}}, {Arch: "arm64", Packages: []string{":all"}}} {
		if _, err := Ensure(t.Context(), Options{CacheDir: t.TempDir(), Arch: o.Arch, Packages: o.Packages}); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// A failing apt-get is an *Error naming the download, and leaves no sysroot.
func TestEnsureDownloadFails(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "apt-get")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'E: Unable to locate package' >&2\nexit 100\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	_, err := Ensure(t.Context(), Options{CacheDir: cache, Arch: "arm64", Packages: []string{"nope"}, AptGet: fake})
	var se *Error
	if !errors.As(err, &se) || se.Op != "download" {
		t.Fatalf("err = %v, want a download *Error", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "sysroot", Key("arm64", []string{"nope"}), "root")); err == nil {
		t.Error("a failed download left a sysroot")
	}
}

// The real arm64 busybox-static from the distribution (scripts/setup adds
// the arm64 lists): an aarch64 static executable, unpacked once.
func TestIntegrationArm64Busybox(t *testing.T) {
	testenv.Integration(t)
	cache := testenv.CacheDir(t)
	root, err := Ensure(t.Context(), Options{CacheDir: cache, Arch: "arm64", Packages: []string{"busybox-static"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(filepath.Join(root, "bin", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("busybox machine %v, want EM_AARCH64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("busybox-static:arm64 has an interpreter")
		}
	}
	again, err := Ensure(t.Context(), Options{CacheDir: cache, Arch: "arm64", Packages: []string{"busybox-static"}})
	if err != nil || again != root {
		t.Fatalf("second Ensure: %s %v", again, err)
	}
}

func TestPackageNames(t *testing.T) {
	rec := "Package: a\nArchitecture: arm64\n\nPackage: b-common\nArchitecture: all\n"
	if got := packageNames(rec); len(got) != 2 || got[0] != "a" || got[1] != "b-common" {
		t.Errorf("packageNames = %q", got)
	}
}

func TestDepends(t *testing.T) {
	rec := "Package: fio\nPre-Depends: libc6 (>= 2.34)\nDepends: libaio1 (>= 0.3.93), zlib1g:any | libz-alt, libstdc++6\nDescription: x\n"
	got := depends(rec)
	want := []string{"libc6", "libaio1", "zlib1g", "libstdc++6"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("depends = %q, want %q", got, want)
	}
}

// fio:arm64's library closure, from the real package lists.
func TestIntegrationClosureFio(t *testing.T) {
	testenv.Integration(t)
	pkgs, err := Closure(t.Context(), "arm64", []string{"fio"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"fio", "libc6", "libaio1", "zlib1g", "librados2"} {
		if !slices.Contains(pkgs, w) {
			t.Errorf("closure lacks %s: %q", w, pkgs)
		}
	}
	if !slices.Contains(pkgs, "libtirpc-common:all") {
		t.Errorf("closure lacks the Architecture: all libtirpc-common:all: %q", pkgs)
	}
	for _, p := range pkgs {
		if p != "fio" && !strings.HasPrefix(p, "lib") && !strings.HasPrefix(p, "zlib") {
			t.Errorf("closure has a non-library package %s", p)
		}
	}
	t.Logf("%d packages: %q", len(pkgs), pkgs)
}
