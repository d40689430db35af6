package dotconfig

import (
	"bytes"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
)

// DefaultPrefix is the prefix of symbol names in .config files.
const DefaultPrefix = "CONFIG_"

// ParseOptions control how a .config file is read. The zero value reads
// CONFIG_-prefixed files strictly.
type ParseOptions struct {
	// Prefix of symbol names in the file; "" means DefaultPrefix. The
	// kernel's tools take it from the CONFIG_ environment variable: pass
	// os.Getenv("CONFIG_") to do the same.
	Prefix string

	// Lenient parses the way the kernel's conf_read does: a line it cannot
	// use is skipped (kept as text, so the file still round-trips) and
	// reported by Warnings and Unparsed instead of failing the parse; Verify
	// reports it as a request conf ignores. The zero value is strict: the
	// first such line is a *ParseError.
	Lenient bool
}

func (o ParseOptions) prefix() string { return prefixOr(o.Prefix) }

// prefixOr is p, or DefaultPrefix when p is empty (zero values).
func prefixOr(p string) string {
	if p == "" {
		return DefaultPrefix
	}
	return p
}

// ParseError is a malformed line in a .config file: an error in strict
// mode, a warning (see Config.Warnings) in lenient mode and for lines the
// kernel itself warns about (a symbol assigned twice).
type ParseError struct {
	File string // the name given to Parse, or the path given to ReadFile
	Line int    // 1-based line number
	Col  int    // 1-based byte column
	Msg  string // what is wrong
	Text string // the line, without its line terminator
}

// Error returns "kconfig: FILE:LINE:COL: MSG: LINE-TEXT", with the line
// quoted by Excerpt (so at most ExcerptLen bytes of it).
func (e *ParseError) Error() string {
	return fmt.Sprintf("kconfig: %s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Msg, Excerpt(e.Text))
}

// Config is a .config file or a fragment: its lines in file order, with the
// symbol assignments parsed. Lines that are not assignments (comments,
// blank lines, lines skipped in lenient mode) are kept as text, so Bytes
// returns the input byte for byte until something is changed, and edits
// keep the order and the comments.
//
// A symbol may be assigned more than once. Like conf_read (which warns
// "override: reassigning to symbol X"), Get returns the last assignment;
// All and Entries list every one.
//
// Symbol names carry no prefix: "RUST", not "CONFIG_RUST". A Config is not
// safe for concurrent mutation.
type Config struct {
	name     string
	prefix   string
	lines    []fileLine
	index    map[string]int // symbol -> index in lines of its last assignment
	warnings []ParseError
}

// fileLine is one line of the file.
type fileLine struct {
	text string  // without the terminator (and without the \r of \r\n)
	eol  lineEnd // line terminator
	sym  string  // symbol assigned on this line, "" for other lines
	val  Value
	// skipped marks a line a lenient parse could not read (kept as text;
	// see Config.Unparsed).
	skipped bool
}

// Entry is one assignment in a Config.
type Entry struct {
	Symbol string // without prefix
	Value  Value
	Line   int // 1-based line number in the current contents
}

// NewConfig returns an empty Config called name (used in messages and in
// merge warnings), with opts.Prefix as its prefix.
func NewConfig(name string, opts ParseOptions) *Config {
	return &Config{name: name, prefix: opts.prefix(), index: map[string]int{}}
}

// Parse reads a .config file or fragment from r. name identifies it in
// errors and warnings. Lines end in "\n" or "\r\n" (both kept as they are);
// the last line may lack its terminator.
//
// Lines are read as the kernel's conf_read_simple reads them: blank lines
// and lines starting with '#' are comments, except "# PREFIXX is not set";
// any other line must be PREFIXX=VALUE. In strict mode a bad line is a
// *ParseError; in lenient mode it is kept as text, ignored, and reported by
// Warnings.
func Parse(r io.Reader, name string, opts ParseOptions) (*Config, error) {
	// A strings.Builder holds the text without the copy string(bytes)
	// would make; readers that know their length fill it in one go.
	var sb strings.Builder
	if l, ok := r.(interface{ Len() int }); ok {
		sb.Grow(l.Len())
	}
	if _, err := io.Copy(&sb, r); err != nil {
		return nil, fmt.Errorf("kconfig: reading %s: %w", name, err)
	}
	return parse(sb.String(), name, opts)
}

// ReadFile parses the .config file at path (see Parse).
func ReadFile(path string, opts ParseOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kconfig: %w", err)
	}
	return parse(string(data), path, opts)
}

func parse(data, name string, opts ParseOptions) (*Config, error) {
	c := NewConfig(name, opts)
	n := strings.Count(data, "\n") + 1
	c.lines = make([]fileLine, 0, n)
	c.index = make(map[string]int, n)
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var ln fileLine
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			ln.text, ln.eol, data = data[:i], eolLF, data[i+1:]
			if strings.HasSuffix(ln.text, "\r") {
				ln.text, ln.eol = ln.text[:len(ln.text)-1], eolCRLF
			}
		} else {
			ln.text, data = data, ""
		}
		sym, val, perr := parseLine(ln.text, c.prefix, opts.Lenient)
		if perr != nil {
			perr.File, perr.Line, perr.Text = name, lineNo, ln.text
			if !opts.Lenient && !perr.warnOnly {
				return nil, &perr.ParseError
			}
			c.warnings = append(c.warnings, perr.ParseError)
			if !perr.warnOnly {
				sym, ln.skipped = "", true // kept as text
			}
		}
		if sym != "" {
			ln.sym, ln.val = sym, val
			if _, dup := c.index[sym]; dup {
				c.warnings = append(c.warnings, ParseError{
					File: name, Line: lineNo, Col: 1, Text: ln.text,
					Msg: "override: reassigning to symbol " + sym,
				})
			}
			c.index[sym] = len(c.lines)
		}
		c.lines = append(c.lines, ln)
	}
	return c, nil
}

type lineError struct {
	ParseError
	warnOnly bool // the line is used anyway (lenient acceptance)
}

// parseLine parses one line (without terminator). It returns the symbol
// ("" for comments and blank lines) and its value, or a problem.
func parseLine(text, prefix string, lenient bool) (string, Value, *lineError) {
	if text == "" {
		return "", Value{}, nil
	}
	if text[0] == '#' {
		// "# CONFIG_X is not set"; anything else is a comment, as in conf.
		rest, ok := strings.CutPrefix(text, "# "+prefix)
		if !ok {
			return "", Value{}, nil
		}
		sym, tail, ok := strings.Cut(rest, " ")
		if !ok || tail != "is not set" {
			return "", Value{}, nil
		}
		if bad := badNameIndex(sym); bad >= 0 {
			return "", Value{}, &lineError{ParseError: ParseError{
				Col: 2 + len(prefix) + bad + 1,
				Msg: "invalid symbol name " + Excerpt(sym)}}
		}
		return sym, Value{}, nil
	}
	rest, ok := strings.CutPrefix(text, prefix)
	if !ok {
		msg := "unexpected data: want " + prefix + "NAME=VALUE, \"# " + prefix + "NAME is not set\" or a comment"
		if strings.TrimLeft(text, " \t") == "" {
			msg = "line of only white space"
		} else if t := strings.TrimLeft(text, " \t"); strings.HasPrefix(t, prefix) || t[0] == '#' {
			msg = "unexpected white space at start of line"
		}
		return "", Value{}, &lineError{ParseError: ParseError{Col: 1, Msg: msg}}
	}
	sym, rhs, ok := strings.Cut(rest, "=")
	if !ok {
		return "", Value{}, &lineError{ParseError: ParseError{
			Col: len(text) + 1, Msg: "unexpected data: missing '='"}}
	}
	if bad := badNameIndex(sym); bad >= 0 {
		return "", Value{}, &lineError{ParseError: ParseError{
			Col: len(prefix) + bad + 1, Msg: "invalid symbol name " + Excerpt(sym)}}
	}
	valCol := len(prefix) + len(sym) + 1 // 0-based index of the value
	v, col, msg := scanValue(rhs, false)
	if msg == "" {
		return sym, v, nil
	}
	e := &lineError{ParseError: ParseError{Col: valCol + col, Msg: msg}}
	if lenient {
		if lv, _, lmsg := scanValue(rhs, true); lmsg == "" {
			e.warnOnly = true
			e.Msg += " (read as " + lv.kind.String() + ", as conf does)"
			return sym, lv, e
		}
	}
	return "", Value{}, e
}

// Name returns the name given to Parse or NewConfig (the path for ReadFile).
func (c *Config) Name() string { return c.name }

// Prefix returns the symbol prefix, "CONFIG_" unless ParseOptions said
// otherwise.
func (c *Config) Prefix() string { return prefixOr(c.prefix) }

// Warnings returns the problems found while parsing that did not stop it:
// symbols assigned more than once and, in lenient mode, skipped lines.
func (c *Config) Warnings() []ParseError {
	return append([]ParseError(nil), c.warnings...)
}

// Unparsed returns the lines a lenient parse could not read and kept as
// text (so that Bytes still returns the input): "CONFIG_FOO= y",
// `CONFIG_BAR="x` (unterminated), "oops". conf ignores such a line with a
// warning, so the value it meant is not in the resulting .config; Verify
// reports them. Line numbers are those of the current contents; Text is
// the whole line. Comments, blank lines and lines read with a lenient
// reading of their value ("CONFIG_A=yes" as y) are not unparsed.
func (c *Config) Unparsed() []ParseError {
	var out []ParseError
	for i, ln := range c.lines {
		if ln.skipped {
			out = append(out, c.unparsed(i))
		}
	}
	return out
}

// unparsed describes the skipped line i.
func (c *Config) unparsed(i int) ParseError {
	ln := c.lines[i]
	pe := ParseError{Col: 1, Msg: "line could not be read"}
	if _, _, e := parseLine(ln.text, c.Prefix(), true); e != nil {
		pe = e.ParseError
	}
	pe.File, pe.Line, pe.Text = c.name, i+1, ln.text
	return pe
}

// Len returns the number of distinct symbols assigned.
func (c *Config) Len() int { return len(c.index) }

// Get returns the value of sym (the last assignment if there are several).
// ok is false when the file does not mention sym; a symbol written as
// "# CONFIG_X is not set" is present, with a Value of kind KindNotSet.
func (c *Config) Get(sym string) (v Value, ok bool) {
	i, ok := c.index[sym]
	if !ok {
		return Value{}, false
	}
	return c.lines[i].val, true
}

// Has reports whether the file assigns sym (including "is not set").
func (c *Config) Has(sym string) bool {
	_, ok := c.index[sym]
	return ok
}

// Set assigns v to sym. An existing assignment (the last, the one Get
// returns) is rewritten in place; earlier duplicates are left alone, as
// conf would ignore them. A new symbol is appended at the end of the file,
// where conf puts a user's addition. The zero Value writes
// "# CONFIG_X is not set".
func (c *Config) Set(sym string, v Value) error {
	if bad := badNameIndex(sym); bad >= 0 {
		return fmt.Errorf("kconfig: %s: invalid symbol name %s", c.name, Excerpt(sym))
	}
	if v.kind > KindNumber {
		return fmt.Errorf("kconfig: %s: %s: invalid value kind %v", c.name, sym, v.kind)
	}
	if strings.ContainsAny(v.text, "\r\n") {
		return fmt.Errorf("kconfig: %s: %s: value %s contains a line break", c.name, sym, Excerpt(v.text))
	}
	ln := fileLine{text: formatLine(c.Prefix(), sym, v), sym: sym, val: v}
	if i, ok := c.index[sym]; ok {
		ln.eol = c.lines[i].eol
		if ln.eol == eolNone && i != len(c.lines)-1 {
			ln.eol = eolLF
		}
		c.lines[i] = ln
		return nil
	}
	ln.eol = c.newlineStyle()
	if n := len(c.lines); n > 0 && c.lines[n-1].eol == eolNone {
		c.lines[n-1].eol = ln.eol
	}
	if c.index == nil {
		c.index = map[string]int{}
	}
	c.index[sym] = len(c.lines)
	c.lines = append(c.lines, ln)
	return nil
}

// SetString parses rhs as the right-hand side of an assignment ("y", "m",
// "n", `"text"`, "0x10", "12"; see ParseValue) and sets sym to it.
func (c *Config) SetString(sym, rhs string) error {
	v, err := strictValue(rhs)
	if err != nil {
		return fmt.Errorf("kconfig: %s: %s: %w", c.name, sym, err)
	}
	return c.Set(sym, v)
}

// Unset marks sym as not set: "# CONFIG_X is not set".
func (c *Config) Unset(sym string) error { return c.Set(sym, Value{}) }

// Delete removes every line assigning sym and reports whether there was
// one. Unlike Unset, the symbol is then absent: conf gives it its default.
func (c *Config) Delete(sym string) bool {
	if _, ok := c.index[sym]; !ok {
		return false
	}
	out := c.lines[:0]
	for _, ln := range c.lines {
		if ln.sym != sym {
			out = append(out, ln)
		}
	}
	clear(c.lines[len(out):])
	c.lines = out
	c.reindex()
	return true
}

func (c *Config) reindex() {
	c.index = make(map[string]int, len(c.index))
	for i, ln := range c.lines {
		if ln.sym != "" {
			c.index[ln.sym] = i
		}
	}
}

// newlineStyle is the terminator of the last terminated line ("\n" when
// none is): new lines follow the file's own style.
func (c *Config) newlineStyle() lineEnd {
	for i := len(c.lines) - 1; i >= 0; i-- {
		if c.lines[i].eol != eolNone {
			return c.lines[i].eol
		}
	}
	return eolLF
}

// lineEnd is a line terminator.
type lineEnd uint8

const (
	eolNone lineEnd = iota // last line without newline
	eolLF                  // "\n"
	eolCRLF                // "\r\n"
)

func (e lineEnd) String() string {
	switch e {
	case eolLF:
		return "\n"
	case eolCRLF:
		return "\r\n"
	}
	return ""
}

// All iterates over the assignments in file order, including "is not set"
// lines and every assignment of a symbol assigned more than once.
func (c *Config) All() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		for _, ln := range c.lines {
			if ln.sym != "" && !yield(ln.sym, ln.val) {
				return
			}
		}
	}
}

// Entries returns the assignments in file order, with their line numbers.
func (c *Config) Entries() []Entry {
	out := make([]Entry, 0, len(c.index))
	for i, ln := range c.lines {
		if ln.sym != "" {
			out = append(out, Entry{Symbol: ln.sym, Value: ln.val, Line: i + 1})
		}
	}
	return out
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	d := *c
	d.lines = append([]fileLine(nil), c.lines...)
	d.warnings = append([]ParseError(nil), c.warnings...)
	d.index = make(map[string]int, len(c.index))
	for k, v := range c.index {
		d.index[k] = v
	}
	return &d
}

// size returns the length of the file in bytes.
func (c *Config) size() int {
	n := 0
	for _, ln := range c.lines {
		n += len(ln.text) + len(ln.eol.String())
	}
	return n
}

// Bytes returns the file's contents: the bytes that were parsed, with the
// edits applied.
func (c *Config) Bytes() []byte {
	b := make([]byte, 0, c.size())
	for _, ln := range c.lines {
		b = append(b, ln.text...)
		b = append(b, ln.eol.String()...)
	}
	return b
}

// String returns the file's contents as a string (see Bytes).
func (c *Config) String() string { return string(c.Bytes()) }

// WriteTo writes the file's contents to w.
func (c *Config) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, bytes.NewReader(c.Bytes()))
	if err != nil {
		return n, fmt.Errorf("kconfig: writing %s: %w", c.name, err)
	}
	return n, nil
}

// formatLine returns the line conf writes for sym = v.
func formatLine(prefix, sym string, v Value) string {
	if v.kind == KindNotSet {
		return "# " + prefix + sym + " is not set"
	}
	return prefix + sym + "=" + v.text
}
