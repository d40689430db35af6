package toolchain

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/rflkit/rflkit/internal/tmpdir"
)

// Detect's scratch directory ($TMPDIR/rflkit-toolchain-*) holds the
// bindgen probe headers (when there is no tree) and the dynamic loader's
// logs. It is an internal/tmpdir directory: locked for as long as its
// Detect runs, so that one left by a process that died without cleaning up
// (SIGKILL, a crash) is removed by the next Detect.
const (
	scratchPrefix = "rflkit-toolchain-"
	scratchLock   = tmpdir.LockName
	// staleUnlocked is the age after which a scratch directory without
	// a lock file (left by an older rflkit) is removed.
	staleUnlocked = 10 * time.Minute
)

// scratch is a locked scratch directory.
type scratch struct {
	dir string
	d   *tmpdir.Dir
}

// newScratch creates a locked scratch directory in parent.
func newScratch(parent string) (*scratch, error) {
	d, err := tmpdir.New(parent, scratchPrefix)
	if err != nil {
		return nil, fmt.Errorf("toolchain: scratch directory: %w", err)
	}
	return &scratch{dir: d.Path, d: d}, nil
}

// remove deletes the directory, then drops the lock.
func (s *scratch) remove() error {
	if err := s.d.Remove(); err != nil {
		return fmt.Errorf("toolchain: removing scratch directory: %w", err)
	}
	return nil
}

// reapScratch removes the scratch directories in parent that no live
// process holds.
func reapScratch(parent string, now time.Time, log *slog.Logger) {
	tmpdir.Reap(parent, scratchPrefix, tmpdir.ReapOptions{LegacyAge: staleUnlocked, Logger: log, Now: now})
}
