package kconfig

import (
	"fmt"
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
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("kconfig: writing %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("kconfig: syncing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("kconfig: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	// Make the rename durable; a failure here does not undo the write.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
