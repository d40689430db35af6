package dotconfig

import (
	"fmt"

	"github.com/rflkit/rflkit/internal/atomicfile"
)

// WriteFile writes the file's contents to path atomically: to a temporary
// file in the same directory, synced, then renamed over path (and the
// directory synced). A failure leaves the old file as it was. A symbolic
// link is followed, a dangling one included: the link stays and its target
// is written (created if need be). An existing file keeps its permissions,
// owner and group (new files get 0644); a path that is not a regular file
// (a directory, a device) is refused. This is the project's one rule for
// files the user owns (package internal/atomicfile).
func (c *Config) WriteFile(path string) error {
	return writeFileAtomic(path, c.Bytes())
}

// writeFileAtomic writes data to path by internal/atomicfile's rule, with
// the package's error message.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Update(path, data, 0o644); err != nil {
		return fmt.Errorf("kconfig: writing %s: %w", path, err)
	}
	return nil
}
