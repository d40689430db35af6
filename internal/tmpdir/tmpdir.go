// Package tmpdir makes temporary directories that clean up after a killed
// owner. Each directory holds a lock file that its owner keeps locked
// (flock) for as long as it lives; the kernel drops the lock when the owner
// dies, even by SIGKILL, so the next Reap of the same parent removes every
// directory whose lock is free. A child process that inherits the lock
// file's descriptor (QEMU does) keeps the directory alive too.
//
// internal/ksrc does not use it: its unpack directory is renamed into the
// cache when complete, so its lock must live beside the directory, not in
// it.
package tmpdir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockName is the name of the lock file inside each directory.
const LockName = "lock"

// Dir is a locked temporary directory.
type Dir struct {
	// Path is the directory.
	Path string
	lock *os.File
}

// New creates a directory parent/prefix<random> and locks it. The lock
// file is created and locked under another name, then renamed to LockName,
// so that no reaper ever sees it unlocked.
func New(parent, prefix string) (*Dir, error) {
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "."+LockName+".new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err == nil {
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			err = os.Rename(tmp, filepath.Join(dir, LockName))
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &Dir{Path: dir, lock: f}, nil
}

// LockFile is the open, locked lock file: pass it to a child process
// (exec.Cmd.ExtraFiles) that must keep the directory alive.
func (d *Dir) LockFile() *os.File { return d.lock }

// Remove deletes the directory, then drops the lock.
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	return err
}

// ReapOptions tune Reap; the zero value removes only directories whose lock
// is free.
type ReapOptions struct {
	// LegacyAge, when positive, also removes directories without a lock
	// file (made by an older version, or by a process killed between
	// creating the directory and locking it) once older than this.
	LegacyAge time.Duration
	// InUse, when set, is asked before a lock-less directory is removed;
	// true keeps it.
	InUse func(dir string) bool
	// Logger receives what was removed (Debug) and what could not be
	// (Warn); nil discards.
	Logger *slog.Logger
	// Now is the time ages are measured from; zero means time.Now().
	Now time.Time
}

// Reap removes the directories parent/prefix* of the current user that no
// live process holds. Symbolic links are never followed. It is best effort:
// what it cannot remove stays for the next call.
func Reap(parent, prefix string, opts ReapOptions) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	uid := os.Getuid()
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue // a symlink is not a directory here
		}
		dir := filepath.Join(parent, e.Name())
		st, err := os.Lstat(dir)
		if err != nil || !st.IsDir() {
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != uid {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|syscall.O_NOFOLLOW, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if opts.LegacyAge <= 0 || now.Sub(st.ModTime()) < opts.LegacyAge || (opts.InUse != nil && opts.InUse(dir)) {
				continue
			}
		case err != nil:
			continue
		default:
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				f.Close() // its owner is alive
				continue
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("cannot remove a stale temporary directory", "dir", dir, "err", err)
		} else {
			log.Debug("removed a stale temporary directory", "dir", dir)
		}
		if f != nil {
			f.Close()
		}
	}
}
