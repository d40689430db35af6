// Package flock is rflkit's one way to take a file lock between processes:
// an flock(2) on a lock file, waited for in a way that a context can end
// (polling with LOCK_NB, since a blocking flock cannot be interrupted).
// The kernel drops the lock when the holder's process dies, however it
// dies, so a lock never outlives its owner.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Options tune Acquire; the zero value takes an exclusive lock and polls
// every 100 ms.
type Options struct {
	// Shared takes a shared (read) lock instead of an exclusive one.
	Shared bool
	// OnWait, when set, is called once if the lock is held elsewhere and
	// Acquire has to wait for it.
	OnWait func()
	// Poll is how often a held lock is tried again; zero means 100 ms.
	Poll time.Duration
}

// Acquire takes a lock on path, creating the file and its directory, and
// waits for it until ctx is done. Errors name the file; a wait ended by ctx
// wraps ctx.Err().
func Acquire(ctx context.Context, path string, opts Options) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if opts.Shared {
		how = syscall.LOCK_SH
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !waited && opts.OnWait != nil {
			opts.OnWait()
		}
		waited = true
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// TryAcquire takes a lock on path without waiting. It returns nil and no
// error when another process holds it.
func TryAcquire(path string, shared bool) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// File is the open lock file (to hand its descriptor to a child that must
// hold the lock too).
func (l *Lock) File() *os.File { return l.f }

// Unlock releases the lock. It is safe on a nil Lock and to call twice.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
