package kconfig

import (
	"io"

	"github.com/rflkit/rflkit/kconfig/dotconfig"
)

// The .config file layer lives in package dotconfig. The names below keep
// it reachable from package kconfig, where it used to be and where the
// language layer's API (Tree.OldDefconfig(*Config), TargetResult.Config, ...)
// uses it: each is an alias of (or a one-line call to) its dotconfig
// namesake, so values pass between the two packages unchanged. Code that
// needs only files can import dotconfig instead.

// Config is an alias of dotconfig.Config: a .config file or fragment, line
// by line.
type Config = dotconfig.Config

// ParseOptions is an alias of dotconfig.ParseOptions.
type ParseOptions = dotconfig.ParseOptions

// ParseError is an alias of dotconfig.ParseError.
type ParseError = dotconfig.ParseError

// Entry is an alias of dotconfig.Entry.
type Entry = dotconfig.Entry

// Value is an alias of dotconfig.Value.
type Value = dotconfig.Value

// ValueKind is an alias of dotconfig.ValueKind.
type ValueKind = dotconfig.ValueKind

// ValueError is an alias of dotconfig.ValueError.
type ValueError = dotconfig.ValueError

// Tristate is an alias of dotconfig.Tristate: n, m or y.
type Tristate = dotconfig.Tristate

// MergeOptions is an alias of dotconfig.MergeOptions.
type MergeOptions = dotconfig.MergeOptions

// MergeLogOptions is an alias of dotconfig.MergeLogOptions.
type MergeLogOptions = dotconfig.MergeLogOptions

// MergeWarning is an alias of dotconfig.MergeWarning.
type MergeWarning = dotconfig.MergeWarning

// MergeWarningKind is an alias of dotconfig.MergeWarningKind.
type MergeWarningKind = dotconfig.MergeWarningKind

// DiffResult is an alias of dotconfig.DiffResult.
type DiffResult = dotconfig.DiffResult

// DiffEntry is an alias of dotconfig.DiffEntry.
type DiffEntry = dotconfig.DiffEntry

// Mismatch is an alias of dotconfig.Mismatch: a requested value that did
// not survive (see Verify).
type Mismatch = dotconfig.Mismatch

// DefaultPrefix is dotconfig.DefaultPrefix, "CONFIG_".
const DefaultPrefix = dotconfig.DefaultPrefix

// ExcerptLen is dotconfig.ExcerptLen.
const ExcerptLen = dotconfig.ExcerptLen

// The tristate values, dotconfig's.
const (
	No  = dotconfig.No
	Mod = dotconfig.Mod
	Yes = dotconfig.Yes
)

// The kinds of Value, dotconfig's.
const (
	KindNotSet   = dotconfig.KindNotSet
	KindTristate = dotconfig.KindTristate
	KindString   = dotconfig.KindString
	KindNumber   = dotconfig.KindNumber
)

// The kinds of merge warning, dotconfig's.
const (
	MergeRedefined     = dotconfig.MergeRedefined
	MergeRedundant     = dotconfig.MergeRedundant
	MergeBuiltinKept   = dotconfig.MergeBuiltinKept
	MergeDuplicateFile = dotconfig.MergeDuplicateFile
)

// NewConfig calls dotconfig.NewConfig.
func NewConfig(name string, opts ParseOptions) *Config { return dotconfig.NewConfig(name, opts) }

// Parse calls dotconfig.Parse.
func Parse(r io.Reader, name string, opts ParseOptions) (*Config, error) {
	return dotconfig.Parse(r, name, opts)
}

// ReadFile calls dotconfig.ReadFile.
func ReadFile(path string, opts ParseOptions) (*Config, error) {
	return dotconfig.ReadFile(path, opts)
}

// ParseValue calls dotconfig.ParseValue.
func ParseValue(rhs string) (Value, error) { return dotconfig.ParseValue(rhs) }

// ParseTristate calls dotconfig.ParseTristate.
func ParseTristate(s string) (Tristate, bool) { return dotconfig.ParseTristate(s) }

// TristateValue calls dotconfig.TristateValue.
func TristateValue(t Tristate) Value { return dotconfig.TristateValue(t) }

// StringValue calls dotconfig.StringValue.
func StringValue(s string) Value { return dotconfig.StringValue(s) }

// IntValue calls dotconfig.IntValue.
func IntValue(n int64) Value { return dotconfig.IntValue(n) }

// HexValue calls dotconfig.HexValue.
func HexValue(n uint64) Value { return dotconfig.HexValue(n) }

// Excerpt calls dotconfig.Excerpt.
func Excerpt(s string) string { return dotconfig.Excerpt(s) }

// Merge calls dotconfig.Merge (merge_config.sh -m).
func Merge(base *Config, fragments ...*Config) (*Config, []MergeWarning) {
	return dotconfig.Merge(base, fragments...)
}

// WriteMergeLog calls dotconfig.WriteMergeLog.
func WriteMergeLog(w io.Writer, base *Config, fragments []*Config, warnings []MergeWarning, opts MergeLogOptions) error {
	return dotconfig.WriteMergeLog(w, base, fragments, warnings, opts)
}

// Diff calls dotconfig.Diff (scripts/diffconfig).
func Diff(a, b *Config) DiffResult { return dotconfig.Diff(a, b) }

// Verify calls dotconfig.Verify (kunit's is_subset_of).
func Verify(requested, final *Config) []Mismatch { return dotconfig.Verify(requested, final) }
