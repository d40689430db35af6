package kconfig

import (
	"fmt"
	"slices"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func sortStrings(s []string) { slices.Sort(s) }
