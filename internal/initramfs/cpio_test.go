package initramfs

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func sample(t *testing.T) *Archive {
	t.Helper()
	dir := t.TempDir()
	host := filepath.Join(dir, "host.txt")
	if err := os.WriteFile(host, []byte("from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := new(Archive)
	for _, err := range []error{
		a.AddFile("/usr/bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755),
		a.AddHostFile("etc/host.txt", host, 0o644),
		a.AddDir("tmp", 0o777|fs.ModeSticky),
		a.AddSymlink("bin/sh", "/bin/busybox"),
		a.AddDevice("dev/console", CharDevice, 0o600, 5, 1),
		a.AddDevice("dev/nullb0", BlockDevice, 0o660, 250, 0),
		a.AddFile("empty", nil, 0o644),
		a.AddFile("odd", []byte("abc"), 0o4755), // setuid, 3 bytes: padding
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestWriteReadBack(t *testing.T) {
	a := sample(t)
	var buf bytes.Buffer
	n, err := a.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || n%4 != 0 {
		t.Errorf("WriteTo returned %d for %d bytes", n, buf.Len())
	}
	got, err := ReadArchive(&buf)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Entry{}
	var paths []string
	for _, e := range got {
		byPath[e.Path] = e
		paths = append(paths, e.Path)
	}
	wantPaths := []string{"bin", "bin/sh", "dev", "dev/console", "dev/nullb0", "empty", "etc", "etc/host.txt", "odd", "tmp", "usr", "usr/bin", "usr/bin/tool"}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Errorf("paths %q\nwant  %q", paths, wantPaths)
	}
	check := func(p string, kind Kind, perm fs.FileMode, data, target string) {
		t.Helper()
		e, ok := byPath[p]
		if !ok {
			t.Errorf("%s missing", p)
			return
		}
		if e.Kind != kind || e.Perm != perm || string(e.Data) != data || e.Target != target {
			t.Errorf("%s: got %v %v %q %q, want %v %v %q %q", p, e.Kind, e.Perm, e.Data, e.Target, kind, perm, data, target)
		}
	}
	check("usr/bin/tool", File, 0o755, "#!/bin/sh\necho hi\n", "")
	check("etc/host.txt", File, 0o644, "from the host\n", "")
	check("tmp", Dir, 0o777|fs.ModeSticky, "", "")
	check("usr", Dir, 0o755, "", "")
	check("bin/sh", Symlink, 0o777, "", "/bin/busybox")
	check("empty", File, 0o644, "", "")
	check("odd", File, 0o755|fs.ModeSetuid, "abc", "")
	if e := byPath["dev/nullb0"]; e.Kind != BlockDevice || e.Major != 250 || e.Minor != 0 {
		t.Errorf("dev/nullb0: %+v", e)
	}
	if e := byPath["dev/console"]; e.Kind != CharDevice || e.Major != 5 || e.Minor != 1 {
		t.Errorf("dev/console: %+v", e)
	}
}

// The system's cpio, when installed, must read what we write.
func TestSystemCpioReads(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs cpio(1)")
	}
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Fatalf("cpio(1) not found: run scripts/setup")
	}
	var buf bytes.Buffer
	if _, err := sample(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cpio, "-t", "--quiet")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "usr/bin/tool") {
		t.Errorf("cpio -t:\n%s", out)
	}
}

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if _, err := sample(t).WriteTo(&a); err != nil {
		t.Fatal(err)
	}
	// Same entries added in another order.
	dir := t.TempDir()
	host := filepath.Join(dir, "other-name.txt")
	os.WriteFile(host, []byte("from the host\n"), 0o644)
	c := new(Archive)
	c.AddFile("odd", []byte("abc"), 0o4755)
	c.AddFile("empty", nil, 0o644)
	c.AddDevice("dev/nullb0", BlockDevice, 0o660, 250, 0)
	c.AddDevice("dev/console", CharDevice, 0o600, 5, 1)
	c.AddSymlink("bin/sh", "/bin/busybox")
	c.AddDir("tmp", 0o777|fs.ModeSticky)
	c.AddHostFile("etc/host.txt", host, 0o644)
	c.AddFile("usr/bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755)
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same entries gave different archives")
	}
}

func TestAddErrors(t *testing.T) {
	a := new(Archive)
	if err := a.AddFile("f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"below a file": a.AddFile("f/g", nil, 0o644),
		"empty path":   a.AddFile("/", nil, 0o644),
		"no target":    a.AddSymlink("l", ""),
		"device kind":  a.AddDevice("d", File, 0o600, 1, 1),
		"both sources": a.Add(Entry{Path: "x", Kind: File, Data: []byte("a"), Source: "/etc/passwd"}),
		"unknown kind": a.Add(Entry{Path: "y", Kind: Kind(42)}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	a.AddFile("d/x", nil, 0o644)
	if err := a.AddFile("d", nil, 0o644); err == nil {
		t.Error("replacing a non-empty directory by a file: no error")
	}
	// ".." cannot escape the root.
	a.AddFile("../../etc/evil", nil, 0o644)
	if _, ok := a.Lookup("etc/evil"); !ok {
		t.Error("../../etc/evil was not confined to etc/evil")
	}
	var missing Archive
	missing.AddHostFile("m", "/nonexistent/file", 0o644)
	if _, err := missing.WriteTo(new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "/nonexistent/file") {
		t.Errorf("missing host file: %v", err)
	}
}

func TestReadArchiveBad(t *testing.T) {
	var buf bytes.Buffer
	sample(t).WriteTo(&buf)
	good := buf.Bytes()
	for name, b := range map[string][]byte{
		"empty":      nil,
		"magic":      append([]byte("070707"), good[6:]...),
		"truncated":  good[:len(good)/2],
		"no trailer": good[:len(good)-124],
	} {
		if _, err := ReadArchive(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzReadArchive(f *testing.F) {
	a := new(Archive)
	a.AddFile("a/b", []byte("data"), 0o644)
	a.AddSymlink("l", "a/b")
	var buf bytes.Buffer
	a.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ReadArchive(bytes.NewReader(b))
		if err != nil {
			return
		}
		// What we read, we can write and read again identically.
		var c Archive
		for _, e := range entries {
			if c.Add(e) != nil {
				return
			}
		}
		var out bytes.Buffer
		if _, err := c.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ReadArchive(&out)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(again, func(i, j int) bool { return again[i].Path < again[j].Path })
		if len(again) < len(c.Entries()) {
			t.Fatalf("lost entries: %d < %d", len(again), len(c.Entries()))
		}
	})
}
