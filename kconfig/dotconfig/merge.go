package dotconfig

import (
	"fmt"
	"io"
	"strings"
)

// MergeWarningKind says what a MergeWarning reports.
type MergeWarningKind uint8

// The kinds of merge warning, in merge_config.sh's terms.
const (
	// MergeRedefined: a fragment changes a value set before it ("Value of
	// X is redefined by fragment F"). merge_config.sh -s fails on these.
	MergeRedefined MergeWarningKind = iota + 1
	// MergeRedundant: a fragment repeats a line already in effect ("Value
	// of X is redundant by fragment F"; printed by merge_config.sh -r).
	MergeRedundant
	// MergeBuiltinKept: with MergeOptions.Builtin (-y), a fragment's m did
	// not demote a y ("X: -y passed, will not demote y to m").
	MergeBuiltinKept
	// MergeDuplicateFile: the same fragment name was given twice
	// ("WARNING: Input file provided multiple times: F").
	MergeDuplicateFile
)

// String returns "redefined", "redundant", "builtin kept" or
// "duplicate file".
func (k MergeWarningKind) String() string {
	switch k {
	case MergeRedefined:
		return "redefined"
	case MergeRedundant:
		return "redundant"
	case MergeBuiltinKept:
		return "builtin kept"
	case MergeDuplicateFile:
		return "duplicate file"
	}
	return fmt.Sprintf("MergeWarningKind(%d)", uint8(k))
}

// MergeWarning is something Merge noticed, in the structure of
// merge_config.sh's messages.
type MergeWarning struct {
	Kind   MergeWarningKind
	Symbol string // without prefix; "" for MergeDuplicateFile
	// Old and New are the whole lines as in the files ("CONFIG_X=y",
	// "# CONFIG_X is not set"), exactly as merge_config.sh prints them
	// (so with the \r of a CRLF line): Old from the configuration so far,
	// New from the fragment.
	Old, New string
	File     string // the fragment's name (Config.Name)
	Line     int    // line of New in the fragment (0 for MergeDuplicateFile)
	Fragment int    // index of the fragment in Merge's arguments

	prefix string
}

// String returns merge_config.sh's message for w, without the blank line
// the script prints after a redefinition.
func (w MergeWarning) String() string {
	cfg := prefixOr(w.prefix) + w.Symbol
	switch w.Kind {
	case MergeRedefined:
		return "Value of " + cfg + " is redefined by fragment " + w.File + ":\nPrevious value: " + w.Old + "\nNew value: " + w.New
	case MergeRedundant:
		return "Value of " + cfg + " is redundant by fragment " + w.File + ":"
	case MergeBuiltinKept:
		return cfg + ": -y passed, will not demote y to m\nPrevious value: " + w.Old + "\nNew value: " + w.New
	case MergeDuplicateFile:
		return "WARNING: Input file provided multiple times: " + w.File
	}
	return fmt.Sprintf("%v %s in %s:%d", w.Kind, cfg, w.File, w.Line)
}

// MergeOptions are merge_config.sh's flags that change the result. The
// zero value is the script's default.
type MergeOptions struct {
	// Builtin is -y: a fragment's m does not demote a y.
	Builtin bool
}

// Merge merges fragments into base the way scripts/kconfig/merge_config.sh
// -m does, and returns the merged file (the script's .config, byte for
// byte) with the script's warnings. base and the fragments are not
// changed. See MergeOptions.Merge.
func Merge(base *Config, fragments ...*Config) (*Config, []MergeWarning) {
	return MergeOptions{}.Merge(base, fragments...)
}

// Merge merges fragments into base, one after the other, as
// merge_config.sh does: for each fragment, the lines of the configuration
// so far that set a symbol the fragment sets are dropped (a redefinition
// when the line differs, redundant when it is identical), an empty line is
// added, then the whole fragment, comments included. Later fragments win.
// Two exceptions keep the old line: "CONFIG_X=n" followed by
// "# CONFIG_X is not set" (the same value), and with Builtin, y followed
// by m.
//
// Lines are matched as the script matches them (PREFIX followed by a name,
// or "# PREFIXNAME is not set"), with base's prefix, on the text of every
// line: lines skipped by a lenient parse take part as they do in the
// script. Whether the requested values survive olddefconfig is Verify's
// job.
func (o MergeOptions) Merge(base *Config, fragments ...*Config) (*Config, []MergeWarning) {
	prefix := base.Prefix()
	cur := append([]fileLine(nil), base.lines...)
	var warns []MergeWarning
	seen := map[string]bool{}
	for fi, frag := range fragments {
		if seen[frag.name] {
			warns = append(warns, MergeWarning{Kind: MergeDuplicateFile, File: frag.name, Fragment: fi, prefix: prefix})
		}
		seen[frag.name] = true

		// First pass: the fragment's symbols, the last line of each.
		type fragCfg struct {
			line string
			idx  int
		}
		fcfg := make(map[string]fragCfg)
		for i, ln := range frag.lines {
			if name := getCfg(ln.awkText(), prefix); name != "" {
				fcfg[name] = fragCfg{ln.awkText(), i}
			}
		}
		skip := map[int]bool{}

		// Second pass: the configuration so far.
		next := make([]fileLine, 0, len(cur)+len(frag.lines)+1)
		for _, ln := range cur {
			prev := ln.awkText()
			name := getCfg(prev, prefix)
			nw, ok := fcfg[name]
			if name == "" || !ok {
				next = append(next, ln.terminated())
				continue
			}
			sym := strings.TrimPrefix(name, prefix)
			w := MergeWarning{Symbol: sym, Old: prev, New: nw.line,
				File: frag.name, Line: nw.idx + 1, Fragment: fi, prefix: prefix}
			switch {
			case o.Builtin && strings.HasSuffix(nw.line, "=m") && strings.HasSuffix(prev, "=y"):
				w.Kind = MergeBuiltinKept
				warns = append(warns, w)
				next = append(next, ln.terminated())
				skip[nw.idx] = true
			case prev == nw.line:
				w.Kind = MergeRedundant
				warns = append(warns, w)
			case strings.HasSuffix(prev, "=n") && strings.HasSuffix(nw.line, " is not set"):
				next = append(next, ln.terminated())
			default:
				w.Kind = MergeRedefined
				warns = append(warns, w)
			}
		}
		next = append(next, fileLine{eol: eolLF})
		for i, ln := range frag.lines {
			if skip[i] {
				continue
			}
			if frag.Prefix() != prefix {
				var ok bool
				ln.sym, ln.val, ok = reparse(ln.text, prefix)
				ln.skipped = !ok
			}
			next = append(next, ln.terminated())
		}
		cur = next
	}
	out := &Config{name: base.name, prefix: prefix, lines: cur}
	out.reindex()
	return out, warns
}

// reparse reads a line leniently with another prefix.
func reparse(text, prefix string) (string, Value, bool) {
	sym, v, e := parseLine(text, prefix, true)
	if e != nil && !e.warnOnly {
		return "", Value{}, false
	}
	return sym, v, true
}

// awkText is the line as awk sees it: with the \r of a \r\n terminator.
func (ln fileLine) awkText() string {
	if ln.eol == eolCRLF {
		return ln.text + "\r"
	}
	return ln.text
}

// terminated returns ln with a line terminator: awk's print adds "\n" to
// a last line that had none.
func (ln fileLine) terminated() fileLine {
	if ln.eol == eolNone {
		ln.eol = eolLF
	}
	return ln
}

// getCfg is merge_config.sh's get_cfg: "^PREFIX[a-zA-Z0-9_]+" or
// "^# PREFIX[a-zA-Z0-9_]+ is not set$", returning PREFIX+NAME or "".
func getCfg(line, prefix string) string {
	if rest, ok := strings.CutPrefix(line, prefix); ok {
		n := nameLen(rest)
		if n > 0 {
			return line[:len(prefix)+n]
		}
	}
	if rest, ok := strings.CutPrefix(line, "# "+prefix); ok {
		n := nameLen(rest)
		if n > 0 && rest[n:] == " is not set" {
			return prefix + rest[:n]
		}
	}
	return ""
}

func nameLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return i
		}
	}
	return len(s)
}

// MergeLogOptions choose which of merge_config.sh's messages
// WriteMergeLog prints.
type MergeLogOptions struct {
	Redundant bool   // -r: print redundant values
	Quiet     bool   // -Q: no override warnings
	Output    string // if set, end with the "merged configuration written to OUTPUT" trailer of -m
}

// WriteMergeLog writes what merge_config.sh -m prints on standard output
// for this merge: "Using BASE as base", "Merging F" for each fragment, and
// the warnings in the script's words and order.
func WriteMergeLog(w io.Writer, base *Config, fragments []*Config, warnings []MergeWarning, opts MergeLogOptions) error {
	var b strings.Builder
	b.WriteString("Using " + base.name + " as base\n")
	wi := 0
	for fi, frag := range fragments {
		b.WriteString("Merging " + frag.name + "\n")
		for ; wi < len(warnings) && warnings[wi].Fragment <= fi; wi++ {
			mw := warnings[wi]
			switch {
			case opts.Quiet:
			case mw.Kind == MergeRedundant:
				if opts.Redundant {
					b.WriteString(mw.String() + "\n")
				}
			case mw.Kind == MergeRedefined || mw.Kind == MergeBuiltinKept:
				b.WriteString(mw.String() + "\n\n")
			default:
				b.WriteString(mw.String() + "\n")
			}
		}
	}
	if opts.Output != "" {
		b.WriteString("#\n# merged configuration written to " + opts.Output + " (needs make)\n#\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("kconfig: writing merge log: %w", err)
	}
	return nil
}
