package kbuild

import (
	"bytes"
	"fmt"

	"github.com/rflkit/rflkit/kconfig"
	"github.com/rflkit/rflkit/kconfig/dotconfig"
)

// parseDotConfig reads a .config written by conf. name is used in errors.
func parseDotConfig(name string, data []byte) (*kconfig.Config, error) {
	c, err := kconfig.Parse(bytes.NewReader(data), name, kconfig.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	return c, nil
}

// Mismatch is an alias of dotconfig.Mismatch: a requested configuration
// value that is not in the final .config after olddefconfig (Symbol,
// Requested, Final, which prints as n when Absent, and the line of the
// request).
type Mismatch = dotconfig.Mismatch

// diffCount is the number of symbols whose values differ between a and b,
// a symbol that is "not set" in one and absent from the other counting as
// the same (both are n).
func diffCount(a, b *kconfig.Config) int {
	n := 0
	d := kconfig.Diff(a, b)
	n += len(d.Changed)
	for _, e := range d.Removed {
		if e.Old.Kind() != kconfig.KindNotSet {
			n++
		}
	}
	for _, e := range d.Added {
		if e.New.Kind() != kconfig.KindNotSet {
			n++
		}
	}
	return n
}
