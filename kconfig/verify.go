package kconfig

// Mismatch is a requested value that the final configuration does not
// have.
type Mismatch struct {
	Symbol    string // without prefix
	Requested Value
	Actual    Value // the zero Value when Missing
	Missing   bool  // the final configuration does not mention Symbol
	Line      int   // line of the request in the requested file

	prefix string
}

// String describes m in merge_config.sh's words ("Value requested for X
// not in final .config" or "X differs"), with the requested and actual
// lines.
func (m Mismatch) String() string {
	prefix := cfgPrefixOr(m.prefix)
	cfg := prefix + m.Symbol
	req := cfgFormat(prefix, m.Symbol, m.Requested)
	act := ""
	if !m.Missing {
		act = cfgFormat(prefix, m.Symbol, m.Actual)
	}
	head := cfg + " differs:"
	if m.Missing {
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
// warns about the earlier, overridden lines). An empty result means every
// requested value survived.
func Verify(requested, final *Config) []Mismatch {
	var out []Mismatch
	for i, ln := range requested.lines {
		if ln.sym == "" || requested.index[ln.sym] != i {
			continue // not an assignment, or overridden later in the file
		}
		m := Mismatch{Symbol: ln.sym, Requested: ln.val, Line: i + 1, prefix: requested.Prefix()}
		act, ok := final.Get(ln.sym)
		switch {
		case !ok && ln.val.String() == "n":
			continue
		case !ok:
			m.Missing = true
		case act.String() == ln.val.String():
			continue
		default:
			m.Actual = act
		}
		out = append(out, m)
	}
	return out
}
