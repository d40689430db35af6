package ksrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestUnpackReplacedTarball replays "a replaced tarball returns the old
// tree": the tarball is rewritten in place with other content of the same
// size and its modification time set back; Unpack must see the new content.
func TestUnpackReplacedTarball(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, "linux.tar")
	cache := filepath.Join(dir, "cache")
	mk := func(version string) []byte {
		return tarBytes(t, []ent{reg("linux/Makefile", "VERSION = "+version+"\n"), reg("linux/Kconfig", "")})
	}
	old, repl := mk("6"), mk("7")
	if len(old) != len(repl) {
		t.Fatal("the two tarballs differ in size")
	}
	if err := os.WriteFile(tb, old, 0o644); err != nil {
		t.Fatal(err)
	}
	// Hash as if the tarball were old (a fresh file is not remembered).
	later := time.Now().Add(time.Hour)
	if _, _, err := fileSHA256(tb, cache, later); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "src", "sums")); len(ents) != 1 {
		t.Fatalf("sums holds %d memos, want 1", len(ents))
	}
	first, err := unpack(context.Background(), tb, cache, UnpackOptions{}.withDefaults(), later)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(tb)
	if err != nil {
		t.Fatal(err)
	}
	// Same inode, same size, same modification time: only the inode change
	// time tells. (It ticks coarsely on some kernels: in real use the
	// racyWindow sees to it that it has moved on; here, rewrite until it has.)
	before, _ := statID("", fi)
	for i := 0; ; i++ {
		if err := os.WriteFile(tb, repl, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tb, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		now, err := os.Stat(tb)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := statID("", now)
		if after.ctim != before.ctim {
			if after.ino != before.ino || after.size != before.size || after.mtime != before.mtime {
				t.Fatalf("the rewrite changed more than the inode change time: %+v, then %+v", before, after)
			}
			break
		}
		if i == 100 {
			t.Fatal("the inode change time does not change")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second, err := unpack(context.Background(), tb, cache, UnpackOptions{}.withDefaults(), later)
	if err != nil {
		t.Fatal(err)
	}
	if second.SHA256 == first.SHA256 || second.Dir == first.Dir {
		t.Errorf("replaced tarball: got the old tree %+v", second)
	}
	if b, err := os.ReadFile(filepath.Join(second.Dir, "Makefile")); err != nil || string(b) != "VERSION = 7\n" {
		t.Errorf("replaced tarball: Makefile %q, %v", b, err)
	}
}

func TestFileSHA256Memo(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.tar")
	cache := filepath.Join(dir, "cache")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	// A file changed within racyWindow is hashed, not remembered.
	if sum, err := FileSHA256(p, cache); err != nil || sum != want {
		t.Fatalf("FileSHA256 = %s, %v", sum, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "src", "sums")); len(ents) != 0 {
		t.Errorf("a fresh file's hash was remembered")
	}
	later := time.Now().Add(time.Hour)
	_, memo, err := fileSHA256(p, cache, later)
	if err != nil || memo == "" {
		t.Fatalf("fileSHA256: memo %q, %v", memo, err)
	}
	if b, err := os.ReadFile(memo); err != nil || string(b) != want {
		t.Fatalf("memo holds %q, %v", b, err)
	}
	// The memo is used: plant another sum in it.
	fake := strings.Repeat("ab", 32)
	if err := os.WriteFile(memo, []byte(fake), 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, _, err := fileSHA256(p, cache, later); err != nil || sum != fake {
		t.Errorf("memo not used: %s, %v", sum, err)
	}
	// A garbled memo is not.
	if err := os.WriteFile(memo, []byte("nonsense"), 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, _, err := fileSHA256(p, cache, later); err != nil || sum != want {
		t.Errorf("garbled memo: %s, %v", sum, err)
	}
	// Replacing the file (a new inode), even with the old times, is seen.
	fi, _ := os.Stat(p)
	if err := os.WriteFile(p+".new", []byte("world"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p+".new", fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	if sum, _, err := fileSHA256(p, cache, later); err != nil || sum == want || sum == fake {
		t.Errorf("replaced file: %s, %v", sum, err)
	}
	if _, err := FileSHA256(dir, ""); err == nil || !strings.HasPrefix(err.Error(), "ksrc: ") {
		t.Errorf("FileSHA256(directory) = %v", err)
	}
}

// A wrong memo (or a tarball changed between hashing and unpacking) is
// caught by hashing what is unpacked: no tree is cached under a wrong id.
func TestUnpackVerifiesMemo(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, "linux.tar")
	cache := filepath.Join(dir, "cache")
	if err := os.WriteFile(tb, tarBytes(t, kernel("linux")), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	_, memo, err := fileSHA256(tb, cache, later)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(memo, []byte(strings.Repeat("ab", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = unpack(context.Background(), tb, cache, UnpackOptions{}.withDefaults(), later)
	if err == nil || !strings.Contains(err.Error(), "the tarball changed while it was unpacked") {
		t.Fatalf("Unpack with a wrong memo: %v", err)
	}
	if _, err := os.Stat(memo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrong memo kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "src", strings.Repeat("ab", 16))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a tree was cached under the wrong id: %v", err)
	}
	if _, err := unpack(context.Background(), tb, cache, UnpackOptions{}.withDefaults(), later); err != nil {
		t.Errorf("Unpack after the wrong memo went: %v", err)
	}
}

// staleTemp makes a temporary unpack directory with a file in it, and its
// lock file unless lock is false.
func staleTemp(t *testing.T, base, name string, lock bool) string {
	t.Helper()
	d := filepath.Join(base, tempPrefix+name)
	if err := os.MkdirAll(filepath.Join(d, "linux"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "linux", "big"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if lock {
		if err := os.WriteFile(d+lockSuffix, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestUnpackReapsStale checks which temporary directories Unpack removes:
// those whose lock nobody holds, and old ones without a lock file (left by
// the version before locks); not those held, nor new ones without a lock.
func TestUnpackReapsStale(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	base := filepath.Join(cache, "src")
	dead := staleTemp(t, base, "dead", true)
	live := staleTemp(t, base, "live", true)
	oldUnlocked := staleTemp(t, base, "old", false)
	newUnlocked := staleTemp(t, base, "new", false)
	hours := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(oldUnlocked, hours, hours); err != nil {
		t.Fatal(err)
	}
	orphanLock := filepath.Join(base, tempPrefix+"orphan"+lockSuffix)
	if err := os.WriteFile(orphanLock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(orphanLock, hours, hours); err != nil {
		t.Fatal(err)
	}
	// A live owner holds its lock (another open file description).
	held, err := lockFile(context.Background(), live+lockSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()

	tb := filepath.Join(dir, "linux.tar")
	if err := os.WriteFile(tb, tarBytes(t, kernel("linux")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Unpack(context.Background(), tb, cache); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		dead: false, dead + lockSuffix: false,
		live: true, live + lockSuffix: true,
		oldUnlocked: false, newUnlocked: true,
		orphanLock: false,
	} {
		if exists(p) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(p), !want, want)
		}
	}
	// And Unpack's own temporary directory is gone.
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, tempPrefix) && !strings.Contains(n, "live") && !strings.Contains(n, "new") {
			t.Errorf("left %s", n)
		}
	}
}

// TestUnpackReapsKilledOwner kills (-9) a process that holds a temporary
// directory; the next Unpack removes it.
func TestUnpackReapsKilledOwner(t *testing.T) {
	if base := os.Getenv("KSRC_TEST_TEMPDIR_IN"); base != "" {
		// The child: make a temporary directory, say where, wait to die.
		td, err := newTempDir(base)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(td.dir, "half-unpacked"), []byte("x"), 0o644); err != nil {
			os.Exit(1)
		}
		fmt.Println(td.dir)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	base := filepath.Join(cache, "src")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnpackReapsKilledOwner$")
	cmd.Env = append(os.Environ(), "KSRC_TEST_TEMPDIR_IN="+base)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	tmp := strings.TrimSpace(line)
	if !exists(tmp) || !strings.HasPrefix(filepath.Base(tmp), tempPrefix) {
		t.Fatalf("child made %q", tmp)
	}
	// While the owner lives, its directory stays.
	reapStale(base, time.Now())
	if !exists(tmp) {
		t.Fatal("a live owner's directory was removed")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	tb := filepath.Join(dir, "linux.tar")
	if err := os.WriteFile(tb, tarBytes(t, kernel("linux")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Unpack(context.Background(), tb, cache); err != nil {
		t.Fatal(err)
	}
	if exists(tmp) || exists(tmp+lockSuffix) {
		t.Errorf("the killed owner's %s is still there", filepath.Base(tmp))
	}
}

// slowZeros yields zeros slowly, forever, and closes started once it has
// yielded some.
type slowZeros struct {
	n       int64
	once    sync.Once
	started chan struct{}
}

func (z *slowZeros) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	p = p[:min(len(p), 16<<10)]
	clear(p)
	if z.n += int64(len(p)); z.n > 1<<20 {
		z.once.Do(func() { close(z.started) })
	}
	return len(p), nil
}

// TestUnpackCancelInsideEntry cancels while one large entry (4 GiB at
// about 16 MB/s) is being written: the unpack stops at once, not after the
// entry.
func TestUnpackCancelInsideEntry(t *testing.T) {
	var hdr bytes.Buffer
	tw := newTarWriter(&hdr)
	for _, e := range kernel("linux") {
		writeEnt(t, tw, e)
	}
	if err := tw.WriteHeader(hugeHeader("linux/huge", 4<<30)); err != nil {
		t.Fatal(err)
	}
	z := &slowZeros{started: make(chan struct{})}
	raw := bufio.NewReader(io.MultiReader(&hdr, z))
	dst := t.TempDir()
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- extractStream(ctx, "", raw, root, UnpackOptions{}) }()
	select {
	case <-z.started:
	case err := <-done:
		t.Fatalf("extractStream returned before it was cancelled: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}
	case <-time.After(30 * time.Second): // generous: a missed cancel takes minutes
		t.Fatal("cancel not seen inside the entry")
	}
	if fi, err := os.Stat(filepath.Join(dst, "linux", "huge")); err != nil || fi.Size() >= 4<<30 {
		t.Errorf("huge entry: %v, %v", fi, err)
	}
}
