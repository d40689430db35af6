package initramfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// lddNames runs ldd as an oracle (the resolver itself never does).
func lddNames(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == "=>" {
			names = append(names, f[0])
		}
	}
	sort.Strings(names)
	return names
}

func TestResolveMatchesLdd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: host binaries and ldd")
	}
	for _, bin := range []string{"/usr/bin/ls", "/usr/bin/fio"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%v (run scripts/setup)", err)
		}
		var r Resolver
		deps, err := r.Resolve([]string{bin}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range deps.Libraries {
			names = append(names, l.Name)
			if _, err := os.Stat(l.HostPath); err != nil {
				t.Errorf("%s: %v", l.Name, err)
			}
		}
		want := lddNames(t, bin)
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("%s: resolved %v\nldd says %v", bin, names, want)
		}
		if deps.Interp != "/lib64/ld-linux-x86-64.so.2" {
			t.Errorf("%s: interp %q", bin, deps.Interp)
		}
	}
}

// A fake root with ld.so.conf includes: the resolver searches the
// directories it names, and skip stops the walk at a library.
func TestResolveFakeRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: copies host libraries")
	}
	var host Resolver
	deps, err := host.Resolve([]string{"/usr/bin/ls"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	put := func(dst, src string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, dst)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	put("usr/bin/ls", "/usr/bin/ls")
	for _, l := range deps.Libraries {
		dir := "lib/x86_64-linux-gnu"
		if l.Name == "libc.so.6" {
			dir = "opt/mylibs" // only found through ld.so.conf.d
		}
		put(filepath.Join(dir, l.Name), l.HostPath)
	}
	os.MkdirAll(filepath.Join(root, "etc/ld.so.conf.d"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/ld.so.conf"), []byte("# comment\ninclude /etc/ld.so.conf.d/*.conf\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/ld.so.conf.d/my.conf"), []byte("/opt/mylibs\n"), 0o644)
	// A 32-bit-looking impostor earlier in the path must be skipped: a
	// non-ELF file is.
	os.MkdirAll(filepath.Join(root, "usr/local/lib"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/local/lib/libc.so.6"), []byte("not ELF"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/ld.so.conf.d/0local.conf"), []byte("/usr/local/lib\n"), 0o644)

	r := Resolver{Root: root}
	got, err := r.Resolve([]string{"/usr/bin/ls"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range got.Libraries {
		want := "/lib/x86_64-linux-gnu/" + l.Name
		if l.Name == "libc.so.6" {
			want = "/opt/mylibs/libc.so.6"
		}
		if l.GuestPath != want {
			t.Errorf("%s at %s, want %s", l.Name, l.GuestPath, want)
		}
	}
	// Missing library: a clear error naming it and its user.
	os.Remove(filepath.Join(root, "opt/mylibs/libc.so.6"))
	_, err = r.Resolve([]string{"/usr/bin/ls"}, nil)
	if err == nil || !strings.Contains(err.Error(), "libc.so.6") || !strings.Contains(err.Error(), "needed by") {
		t.Errorf("missing libc: %v", err)
	}
	// skip: libc is recorded but not followed (nor needed to exist).
	got, err = r.Resolve([]string{"/usr/bin/ls"}, map[string]bool{"libselinux.so.1": true})
	if err == nil {
		for _, l := range got.Libraries {
			if l.Name == "libpcre2-8.so.0" {
				t.Errorf("libpcre2 (a dependency of the skipped libselinux) was followed")
			}
		}
	}
}

func TestResolveNotELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	var r Resolver
	if _, err := r.Resolve([]string{p}, nil); !errors.Is(err, ErrNotELF) {
		t.Errorf("Resolve(script) = %v, want ErrNotELF", err)
	}
}
