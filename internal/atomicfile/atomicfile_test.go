package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "new" {
		t.Fatalf("content %q, %v", got, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestWriteFileFailureKeepsOriginal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should go: the rename fails.
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("new"), 0o644); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("original changed: %q", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestUpdateKeepsPermissions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := Update(p, []byte("a"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Update(p, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after Update: %v, %v; want 0600 kept", fi.Mode().Perm(), err)
	}
}

// readT returns the contents of p, failing the test when it cannot.
func readT(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// linkT creates the symbolic link name -> target and checks it is one.
func linkT(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func assertLink(t *testing.T, name, target string) {
	t.Helper()
	got, err := os.Readlink(name)
	if err != nil || got != target {
		t.Errorf("%s: link to %q, %v; want a link to %q kept", name, got, err, target)
	}
}

func TestUpdateDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "out")
	linkT(t, "sub/target", link) // relative, and the target does not exist
	if err := Update(link, []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	assertLink(t, link, "sub/target")
	target := filepath.Join(dir, "sub", "target")
	if got := readT(t, target); got != "data" {
		t.Errorf("target holds %q", got)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 || !fi.Mode().IsRegular() {
		t.Errorf("target: %v, %v; want a regular 0640 file", fi.Mode(), err)
	}
	// A second write goes to the same target and keeps its mode.
	if err := os.Chmod(target, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Update(link, []byte("again"), 0o644); err != nil {
		t.Fatal(err)
	}
	assertLink(t, link, "sub/target")
	if fi, _ := os.Stat(target); readT(t, target) != "again" || fi.Mode().Perm() != 0o600 {
		t.Errorf("second write: %q, mode %v", readT(t, target), fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "sub")); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestWriteFileSymlinkChain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	linkT(t, file, filepath.Join(dir, "l2")) // absolute
	linkT(t, "l2", filepath.Join(dir, "l1")) // relative
	if err := WriteFile(filepath.Join(dir, "l1"), []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	assertLink(t, filepath.Join(dir, "l1"), "l2")
	assertLink(t, filepath.Join(dir, "l2"), file)
	if fi, _ := os.Stat(file); readT(t, file) != "new" || fi.Mode().Perm() != 0o640 {
		t.Errorf("file: %q, mode %v", readT(t, file), fi.Mode().Perm())
	}
}

// A relative link is read from the directory that holds it, even when that
// directory was reached through a link: "../x" is not cleaned lexically.
func TestResolveRelativeLinkInLinkedDir(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	linkT(t, deep, filepath.Join(dir, "ldir"))
	linkT(t, "../x", filepath.Join(deep, "link"))
	got, err := Resolve(filepath.Join(dir, "ldir", "link"))
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if want := filepath.Join(real, "a", "x"); got != want {
		t.Errorf("Resolve = %q, want %q", got, want)
	}
	if err := Update(filepath.Join(dir, "ldir", "link"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if readT(t, filepath.Join(dir, "a", "x")) != "x" {
		t.Error("the write did not reach a/x")
	}
	if _, err := os.Lstat(filepath.Join(dir, "x")); err == nil {
		t.Error("the write went to the lexically cleaned path")
	}
}

func TestWriteFileSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	a, b, self := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "self")
	linkT(t, "b", a)
	linkT(t, "a", b)
	linkT(t, "self", self)
	for _, p := range []string{a, self} {
		err := Update(p, []byte("x"), 0o644)
		var pe *fs.PathError
		if !errors.Is(err, syscall.ELOOP) || !errors.As(err, &pe) || pe.Path != p {
			t.Errorf("%s: err = %v, want a *fs.PathError for it wrapping ELOOP", p, err)
		}
		if err != nil && !strings.Contains(err.Error(), "too many levels of symbolic links") {
			t.Errorf("message %q does not say what is wrong", err)
		}
	}
	assertLink(t, a, "b")
	assertLink(t, b, "a")
	assertLink(t, self, "self")
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("files written despite the loop: %v", ents)
	}
}

// A chain of exactly MaxSymlinks links is followed; one more is a loop.
func TestResolveBound(t *testing.T) {
	dir := t.TempDir()
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("l%d", i)) }
	for i := 0; i < MaxSymlinks; i++ {
		linkT(t, fmt.Sprintf("l%d", i+1), name(i))
	}
	if got, err := Resolve(name(0)); err != nil || filepath.Base(got) != fmt.Sprintf("l%d", MaxSymlinks) {
		t.Errorf("Resolve over %d links = %q, %v", MaxSymlinks, got, err)
	}
	linkT(t, "l0", filepath.Join(dir, "l-1"))
	if _, err := Resolve(filepath.Join(dir, "l-1")); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Resolve over %d links: %v, want ELOOP", MaxSymlinks+1, err)
	}
}

func TestWriteFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	linkT(t, "sub", filepath.Join(dir, "tosub"))
	for _, p := range []string{fifo, sub, filepath.Join(dir, "tosub")} {
		err := Update(p, []byte("x"), 0o644)
		var nr *NotRegularError
		if !errors.As(err, &nr) {
			t.Errorf("%s: err = %v, want a *NotRegularError", p, err)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	assertLink(t, filepath.Join(dir, "tosub"), "sub")
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// TestUpdateKeepsOwnerAndMode rewrites a 0640 file owned by another user,
// as root does when running "kconfig set" on a user's .config.
func TestUpdateKeepsOwnerAndMode(t *testing.T) {
	const uid, gid = 12345, 12345
	for _, tc := range []struct {
		name  string
		write func(string, []byte, fs.FileMode) error
	}{{"Update", Update}, {"WriteFile", WriteFile}} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o640); err != nil { // whatever the umask
				t.Fatal(err)
			}
			root := os.Geteuid() == 0
			if root {
				if err := os.Chown(p, uid, gid); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.write(p, []byte("new"), 0o640); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if readT(t, p) != "new" || fi.Mode().Perm() != 0o640 {
				t.Errorf("after %s: %q, mode %v; want \"new\", 0640", tc.name, readT(t, p), fi.Mode().Perm())
			}
			// Only root can make a file someone else's: without root the
			// file above is the test's own and there is no owner to keep.
			// The mode check above runs either way.
			if !root {
				t.Skip("not root: cannot create a file owned by another user")
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != uid || st.Gid != gid {
				t.Errorf("owner %d:%d after %s, want %d:%d kept", st.Uid, st.Gid, tc.name, uid, gid)
			}
		})
	}
}

// TestUpdateOwnerThroughLink: the owner kept is the target's, not the
// link's.
func TestUpdateOwnerThroughLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot create a file owned by another user")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(target, 12345, 23456); err != nil {
		t.Fatal(err)
	}
	linkT(t, "target", filepath.Join(dir, "link"))
	if err := Update(filepath.Join(dir, "link"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(target)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 12345 || st.Gid != 23456 || fi.Mode().Perm() != 0o600 {
		t.Errorf("target %d:%d %v, want 12345:23456 0600", st.Uid, st.Gid, fi.Mode().Perm())
	}
	assertLink(t, filepath.Join(dir, "link"), "target")
}

// TestUpdateNotRootCannotChown checks rule 4 for a writer other than
// root: chown fails with EPERM, which is not an error; the file becomes
// the writer's and keeps its mode. It needs root to set the scene (a file
// of another user, a writer of a third uid), so it re-runs this test
// binary as uid/gid 65534 on a file owned by 12345.
func TestUpdateNotRootCannotChown(t *testing.T) {
	if p := os.Getenv("ATOMICFILE_TEST_CHILD"); p != "" {
		if err := Update(p, []byte("child"), 0o644); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot run a writer as another user")
	}
	dir := t.TempDir()
	// The writer must reach the directory and run the binary.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "child.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o646); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestUpdateNotRootCannotChown$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_TEST_CHILD="+p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writer as 65534: %v\n%s", err, out)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if readT(t, p) != "child" || fi.Mode().Perm() != 0o646 || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("after a write by 65534: %q, mode %v, owner %d:%d; want \"child\", 0646, 65534:65534",
			readT(t, p), fi.Mode().Perm(), st.Uid, st.Gid)
	}
}
