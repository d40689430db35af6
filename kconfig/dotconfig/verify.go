package dotconfig

import "strings"

// Mismatch is a requested value that the final configuration does not
// have, or a requested line that could not be read (Unparsed).
type Mismatch struct {
	Symbol    string // without prefix ("" for an unparsed line naming none)
	Requested Value  // what was asked for (String gives "y", "\"text\"", "0x10", ...)
	// Final is the value in the final configuration: the zero Value,
	// which prints as n, when Absent.
	Final  Value
	Absent bool // the final configuration does not mention Symbol
	Line   int  // line of the request in the requested file

	// Unparsed is set when the requested line could not be read, such as
	// "CONFIG_FOO= y" or `CONFIG_BAR="x` (unterminated): conf ignores it
	// with a warning, so whatever it asked for is not in the final
	// .config, and merge_config.sh reports it as not there. Requested is
	// then the zero Value; Symbol is the name the line starts with as
	// merge_config.sh reads it (PREFIX followed by a name and '=' or a
	// space), and Final and Absent describe that symbol in the final
	// configuration.
	Unparsed *ParseError

	// Actual is the old name of Final, set to the same value.
	//
	// Deprecated: use Final.
	Actual Value
	// Missing is the old name of Absent, set to the same value.
	//
	// Deprecated: use Absent.
	Missing bool

	prefix string
}

// String describes m in merge_config.sh's words ("Value requested for X
// not in final .config" or "X differs"), with the requested and actual
// lines. For an Unparsed line it says why the line cannot be read and
// quotes it with Excerpt.
func (m Mismatch) String() string {
	prefix := prefixOr(m.prefix)
	cfg := prefix + m.Symbol
	act := ""
	if !m.Absent && m.Symbol != "" {
		act = formatLine(prefix, m.Symbol, m.Final)
	}
	if m.Unparsed != nil {
		head := "Requested line cannot be read: " + m.Unparsed.Msg
		if m.Symbol != "" {
			head = "Value requested for " + cfg + " not in final .config: the line cannot be read: " + m.Unparsed.Msg
		}
		s := head + "\nRequested value: " + Excerpt(m.Unparsed.Text)
		if m.Symbol != "" {
			s += "\nActual value:    " + act
		}
		return s
	}
	req := formatLine(prefix, m.Symbol, m.Requested)
	head := cfg + " differs:"
	if m.Absent {
		head = "Value requested for " + cfg + " not in final .config"
	}
	return head + "\nRequested value: " + req + "\nActual value:    " + act
}

// Verify reports the values in requested (a fragment, or a merged
// configuration) that final (the .config after make olddefconfig) does not
// have, in requested's order. It is kunit's is_subset_of: values compare as
// text, n and "is not set" are the same, and a requested n is satisfied
// when final does not mention the symbol at all (conf leaves out symbols
// whose dependencies are off). When a symbol is requested more than once,
// the last request counts, as in conf (merge_config.sh's own check also
// warns about the earlier, overridden lines).
//
// A line of requested that could not be read (Config.Unparsed: only a
// lenient parse keeps such lines) is a Mismatch too, with Unparsed set: it
// asks for something conf ignores. As in merge_config.sh, which compares
// the lines as text, it is satisfied only by the very same line in final,
// which conf never writes (so a configuration still verifies against
// itself). An empty result means every requested value survived.
func Verify(requested, final *Config) []Mismatch {
	var out []Mismatch
	prefix := requested.Prefix()
	var finalText map[string]bool // final's lines, built for the first unparsed one
	for i, ln := range requested.lines {
		if ln.skipped {
			if finalText == nil {
				finalText = make(map[string]bool, len(final.lines))
				for _, fl := range final.lines {
					finalText[fl.text] = true
				}
			}
			if finalText[ln.text] {
				continue
			}
			pe := requested.unparsed(i)
			m := Mismatch{Symbol: unparsedSymbol(ln.text, prefix), Line: i + 1, Unparsed: &pe, prefix: prefix}
			if m.Symbol != "" {
				act, ok := final.Get(m.Symbol)
				m.Final, m.Absent = act, !ok
			}
			m.Actual, m.Missing = m.Final, m.Absent
			out = append(out, m)
			continue
		}
		if ln.sym == "" || requested.index[ln.sym] != i {
			continue // not an assignment, or overridden later in the file
		}
		m := Mismatch{Symbol: ln.sym, Requested: ln.val, Line: i + 1, prefix: prefix}
		act, ok := final.Get(ln.sym)
		switch {
		case !ok && ln.val.String() == "n":
			continue
		case !ok:
			m.Absent = true
		case act.String() == ln.val.String():
			continue
		default:
			m.Final = act
		}
		m.Actual, m.Missing = m.Final, m.Absent
		out = append(out, m)
	}
	return out
}

// unparsedSymbol is the symbol an unreadable line is about, the way
// merge_config.sh's check finds it ("^(# )?PREFIX[a-zA-Z0-9_]*[= ]"), or
// "" when it names none.
func unparsedSymbol(text, prefix string) string {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(text, "# "), prefix)
	if !ok {
		return ""
	}
	n := nameLen(rest)
	if n == 0 || n == len(rest) || rest[n] != '=' && rest[n] != ' ' {
		return ""
	}
	return rest[:n]
}
