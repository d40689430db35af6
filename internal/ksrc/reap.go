package ksrc

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Temporary unpack directories are base/.unpack-<random>, each held by the
// flock of base/.unpack-<random>.lock, which its owner creates and locks
// before the directory and removes after it. A directory whose lock can be
// taken has no live owner (the kernel drops a flock when its process dies,
// even by kill -9) and is removed by the next Unpack.
const (
	tempPrefix = ".unpack-"
	lockSuffix = ".lock"
	// unlockedAge is how old a temporary directory without a lock file (left
	// by a version of ksrc that did not lock them), or a lock file without
	// its directory, must be before it is removed: far longer than any
	// unpack takes.
	unlockedAge = time.Hour
)

// tempDir is a temporary unpack directory, live while lock is held.
type tempDir struct {
	dir  string
	lock *os.File
}

// newTempDir makes a locked temporary directory in base.
func newTempDir(base string) (*tempDir, error) {
	for {
		lf, err := os.CreateTemp(base, tempPrefix+"*"+lockSuffix)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lf.Close()
			os.Remove(lf.Name())
			return nil, err
		}
		dir := strings.TrimSuffix(lf.Name(), lockSuffix)
		err = os.Mkdir(dir, 0o755)
		if err == nil {
			return &tempDir{dir: dir, lock: lf}, nil
		}
		os.Remove(lf.Name())
		lf.Close()
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// A directory of that name without a lock: try another name.
	}
}

// remove removes the directory (if it was not renamed away), then its lock.
func (t *tempDir) remove() {
	_ = os.RemoveAll(t.dir)
	_ = os.Remove(t.lock.Name())
	t.lock.Close()
}

// reapStale removes the temporary directories in base whose owner is gone.
// It is best effort: a directory it cannot remove stays for the next call.
func reapStale(base string, now time.Time) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	present := make(map[string]bool, len(ents))
	for _, e := range ents {
		present[e.Name()] = true
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, tempPrefix) {
			continue
		}
		p := filepath.Join(base, name)
		if strings.HasSuffix(name, lockSuffix) {
			if !present[strings.TrimSuffix(name, lockSuffix)] {
				// An owner died between making its lock and its directory,
				// or between removing them; or it is about to make its
				// directory. Only old ones are surely dead.
				if fi, err := os.Lstat(p); err == nil && now.Sub(fi.ModTime()) > unlockedAge {
					reapLocked(p, "")
				}
			}
			continue
		}
		if !e.IsDir() {
			continue
		}
		if present[name+lockSuffix] {
			reapLocked(p+lockSuffix, p)
			continue
		}
		if fi, err := os.Lstat(p); err == nil && now.Sub(fi.ModTime()) > unlockedAge {
			_ = os.RemoveAll(p)
		}
	}
}

// reapLocked removes dir (if not empty) and the lock file lock if the lock
// can be taken, that is if no live process holds it.
func reapLocked(lock, dir string) {
	f, err := os.OpenFile(lock, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // its owner is alive
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return
		}
	}
	_ = os.Remove(lock)
}
