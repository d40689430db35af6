package kconfig

import (
	"fmt"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes the file's contents to path atomically: to a temporary
// file in the same directory, synced, then renamed over path. A failure
// leaves the old file as it was. An existing file keeps its permissions
// (new files get 0644), and a symbolic link is followed, so the link stays
// and its target is replaced.
func (c *Config) WriteFile(path string) error {
	return cfgWriteFileAtomic(path, c.Bytes())
}

func cfgWriteFileAtomic(path string, data []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("kconfig: %s: not a regular file", path)
		}
		perm = fi.Mode().Perm()
	}
	if err := atomicfile.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("kconfig: writing %s: %w", path, err)
	}
	return nil
}
