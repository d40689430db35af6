package dotconfig

import (
	"slices"
	"strings"
)

// DiffEntry is one symbol that differs between two configurations.
type DiffEntry struct {
	Symbol string // without prefix
	Old    Value  // the zero Value for an added symbol
	New    Value  // the zero Value for a removed symbol
}

// DiffResult is what scripts/diffconfig reports: symbols only in the first
// configuration, symbols whose value changed, and symbols only in the
// second, each sorted by name.
type DiffResult struct {
	Removed []DiffEntry
	Changed []DiffEntry
	Added   []DiffEntry

	prefix string
}

// Empty reports whether the two configurations set the same values.
func (d DiffResult) Empty() bool {
	return len(d.Removed) == 0 && len(d.Changed) == 0 && len(d.Added) == 0
}

// Diff compares a and b as scripts/diffconfig does. Each file is reduced
// to its symbols' last values, with "# CONFIG_X is not set" read as n;
// values are compared as text (so CONFIG_X=n equals "is not set", and 0x10
// differs from 0x010). A symbol missing from one file is removed or added,
// even when the other says n.
//
// The output differs from the script's only on files the kernel would not
// read the same way either: the script reads any line ending in
// " is not set" as an assignment, crashes on a CONFIG_ line without '=',
// and cuts the last character of a final line that lacks its newline.
func Diff(a, b *Config) DiffResult {
	av, bv := diffValues(a), diffValues(b)
	d := DiffResult{prefix: b.Prefix()}
	for sym, old := range av {
		nw, ok := bv[sym]
		switch {
		case !ok:
			d.Removed = append(d.Removed, DiffEntry{Symbol: sym, Old: old})
		case old.String() != nw.String():
			d.Changed = append(d.Changed, DiffEntry{Symbol: sym, Old: old, New: nw})
		}
	}
	for sym, nw := range bv {
		if _, ok := av[sym]; !ok {
			d.Added = append(d.Added, DiffEntry{Symbol: sym, New: nw})
		}
	}
	bySym := func(x, y DiffEntry) int { return strings.Compare(x.Symbol, y.Symbol) }
	slices.SortFunc(d.Removed, bySym)
	slices.SortFunc(d.Changed, bySym)
	slices.SortFunc(d.Added, bySym)
	return d
}

func diffValues(c *Config) map[string]Value {
	m := make(map[string]Value, len(c.index))
	for sym, i := range c.index {
		m[sym] = c.lines[i].val
	}
	return m
}

// String returns what `scripts/diffconfig A B` prints: "-SYM old" for each
// removed symbol, " SYM old -> new" for each changed one, "+SYM new" for
// each added one, one per line.
func (d DiffResult) String() string {
	var b strings.Builder
	for _, e := range d.Removed {
		b.WriteString("-" + e.Symbol + " " + e.Old.String() + "\n")
	}
	for _, e := range d.Changed {
		b.WriteString(" " + e.Symbol + " " + e.Old.String() + " -> " + e.New.String() + "\n")
	}
	for _, e := range d.Added {
		b.WriteString("+" + e.Symbol + " " + e.New.String() + "\n")
	}
	return b.String()
}

// MergeStyle returns what `scripts/diffconfig -m A B` prints: the changed
// and added values as a fragment that turns A into B (removed symbols are
// left out, as the script does), "# CONFIG_X is not set" for n.
func (d DiffResult) MergeStyle() string {
	prefix := prefixOr(d.prefix)
	var b strings.Builder
	line := func(e DiffEntry) {
		if e.New.String() == "n" {
			b.WriteString("# " + prefix + e.Symbol + " is not set\n")
		} else {
			b.WriteString(prefix + e.Symbol + "=" + e.New.String() + "\n")
		}
	}
	for _, e := range d.Changed {
		line(e)
	}
	for _, e := range d.Added {
		line(e)
	}
	return b.String()
}
