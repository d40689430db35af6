package tcgplugin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/osutil"
)

// Func is one kernel function of a SymbolTable: the text from its symbol's
// address up to the next symbol of any kind (or the end of a text section).
type Func struct {
	// ID is the function's index in the table, the id the map file and
	// the plugin's output use.
	ID int
	// Name is the symbol that names the function. Where several text
	// symbols share an address, it is the one preferred by
	// ReadSystemMap, and the others are Aliases.
	Name string
	// Key is unique in the table: Name, or "Name@START" (START in hex)
	// when several functions have that name (static functions of
	// different files). Profiles are keyed by it.
	Key string
	// Aliases are the other text symbols at Start, sorted.
	Aliases []string
	// Type is Name's System.map type letter: t, T, w or W.
	Type byte
	// Start and End bound the function's instructions: [Start, End).
	Start, End uint64
}

// SymbolTable is a kernel's text symbols as function ranges, sorted by
// address and not overlapping; ReadSystemMap makes one.
type SymbolTable struct {
	funcs []Func
	keys  map[string]int   // Key → id
	names map[string][]int // Name and aliases → ids
}

// SystemMapError is a System.map line ReadSystemMap cannot read.
type SystemMapError struct {
	Line    int    // 1-based line number
	Excerpt string // the line, bounded
	Msg     string
}

// Error is "tcgplugin: System.map line N: MSG: EXCERPT".
func (e *SystemMapError) Error() string {
	return fmt.Sprintf("tcgplugin: System.map line %d: %s: %q", e.Line, e.Msg, e.Excerpt)
}

// maxLine bounds a line of the files this package reads.
const maxLine = 64 << 10

// excerptLen bounds the quoted part of a bad line in an error.
const excerptLen = 80

// textType reports whether a System.map type letter is a text symbol.
func textType(c byte) bool { return c == 't' || c == 'T' || c == 'w' || c == 'W' }

// ignoredType reports whether a symbol type marks no place in the image:
// absolute symbols, undefined ones, debugging entries.
func ignoredType(c byte) bool { return strings.IndexByte("aAUuNn?-", c) >= 0 }

// markerKind tells the linker's section markers from functions: a start
// marker (_stext, __entry_text_start) names the code after it only when
// no function does; an end marker (_etext, __inittext_end) ends the text
// before it, so the code after it belongs to no function unless one
// starts there.
func markerKind(name string) (start, end bool) {
	switch name {
	case "_text", "_stext", "_sinittext":
		return true, false
	case "_etext", "_einittext":
		return false, true
	}
	if strings.HasPrefix(name, "__") {
		return strings.HasSuffix(name, "text_start"), strings.HasSuffix(name, "text_end")
	}
	return false, false
}

// rank orders the text symbols at one address for naming the function:
// lower is better. Functions first, position-independent aliases (__pi_*)
// next, then start markers, then end markers; within each, T, W, t, w.
func rank(name string, typ byte) int {
	r := strings.IndexByte("TWtw", typ)
	switch start, end := markerKind(name); {
	case end:
		r += 30
	case start:
		r += 20
	case strings.HasPrefix(name, "__pi_"):
		r += 10
	}
	return r
}

type symbol struct {
	name string
	typ  byte
}

// ReadSystemMap reads a kernel's System.map ("ADDR TYPE NAME" lines, as
// scripts/mksysmap writes them) into a SymbolTable of its text symbols
// (types t, T, w, W). Where several text symbols share an address one
// names the function (a function over a section marker, a global over a
// weak or local symbol, then the first in byte order) and the rest become
// its aliases. A function ends where the next symbol of any kind begins
// (data after text ends it too), and a section's end marker (_etext,
// _einittext, __*text_end) with no function at its address leaves the
// code after it to no function. Absolute (A) and undefined (U) symbols are
// ignored. A line that does not parse is a *SystemMapError naming it; a
// map with no text, or with nothing after its last text symbol (so that
// the end of text is unknown), is an error too.
func ReadSystemMap(r io.Reader) (*SymbolTable, error) {
	text := map[uint64][]symbol{}
	var others []uint64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		s := string(bytes.TrimRight(sc.Bytes(), "\r"))
		if strings.TrimSpace(s) == "" {
			continue
		}
		bad := func(msg string) error {
			return &SystemMapError{Line: line, Excerpt: osutil.Excerpt(s, excerptLen), Msg: msg}
		}
		f := strings.Fields(s)
		if len(f) != 3 {
			return nil, bad(`want "ADDRESS TYPE NAME"`)
		}
		if len(f[0]) > 16 {
			return nil, bad("address longer than 64 bits")
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			return nil, bad("address is not hexadecimal")
		}
		if len(f[1]) != 1 || !isTypeLetter(f[1][0]) {
			return nil, bad("type is not one nm letter")
		}
		typ := f[1][0]
		switch {
		case textType(typ):
			text[addr] = append(text[addr], symbol{name: f[2], typ: typ})
		case ignoredType(typ):
		default:
			others = append(others, addr)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &SystemMapError{Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("tcgplugin: System.map: %w", err)
	}
	if len(text) == 0 {
		return nil, errors.New("tcgplugin: System.map has no text symbols")
	}
	return newTable(text, others)
}

// isTypeLetter reports whether c can be an nm symbol type.
func isTypeLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '?' || c == '-'
}

// newTable builds the function ranges from the text symbols by address and
// the addresses of the other symbols.
func newTable(text map[uint64][]symbol, others []uint64) (*SymbolTable, error) {
	// A boundary is where a range ends: every symbol's address. fn says
	// whether a function starts there (false: data, or only end
	// markers: a hole).
	type boundary struct {
		addr uint64
		fn   bool
	}
	var bounds []boundary
	for addr, syms := range text {
		fn := false
		for _, s := range syms {
			if _, end := markerKind(s.name); !end {
				fn = true
			}
		}
		bounds = append(bounds, boundary{addr, fn})
	}
	for _, a := range others {
		if _, ok := text[a]; !ok {
			bounds = append(bounds, boundary{a, false})
		}
	}
	slices.SortFunc(bounds, func(a, b boundary) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	})
	bounds = slices.CompactFunc(bounds, func(a, b boundary) bool { return a.addr == b.addr })

	t := &SymbolTable{names: map[string][]int{}}
	for i, b := range bounds {
		if !b.fn {
			continue
		}
		syms := text[b.addr]
		slices.SortFunc(syms, func(x, y symbol) int {
			if d := rank(x.name, x.typ) - rank(y.name, y.typ); d != 0 {
				return d
			}
			return strings.Compare(x.name, y.name)
		})
		if i+1 == len(bounds) {
			return nil, fmt.Errorf("tcgplugin: System.map: no symbol follows the last text symbol %q, so where text ends is unknown", osutil.Excerpt(syms[0].name, excerptLen))
		}
		f := Func{ID: len(t.funcs), Name: syms[0].name, Type: syms[0].typ, Start: b.addr, End: bounds[i+1].addr}
		for _, s := range syms[1:] {
			if s.name != f.Name {
				f.Aliases = append(f.Aliases, s.name)
			}
		}
		slices.Sort(f.Aliases)
		f.Aliases = slices.Compact(f.Aliases)
		t.funcs = append(t.funcs, f)
	}
	if len(t.funcs) == 0 {
		return nil, errors.New("tcgplugin: System.map has no functions (only section end markers)")
	}
	t.assignKeys()
	return t, nil
}

// assignKeys gives each function its Key, unique in the table (a name
// repeated by several functions gets its address), and indexes the keys
// and every symbol name.
func (t *SymbolTable) assignKeys() {
	count := map[string]int{}
	for _, f := range t.funcs {
		count[f.Name]++
	}
	t.keys = map[string]int{}
	// Unique names first: they keep their name even should another
	// function's generated key look like it.
	for i := range t.funcs {
		if f := &t.funcs[i]; count[f.Name] == 1 {
			f.Key = f.Name
			t.keys[f.Key] = i
		}
	}
	for i := range t.funcs {
		f := &t.funcs[i]
		if count[f.Name] == 1 {
			continue
		}
		f.Key = fmt.Sprintf("%s@%x", f.Name, f.Start)
		for n := 1; ; n++ {
			if _, taken := t.keys[f.Key]; !taken {
				break
			}
			f.Key = fmt.Sprintf("%s@%x#%d", f.Name, f.Start, n)
		}
		t.keys[f.Key] = i
	}
	for _, f := range t.funcs {
		t.index(f.Name, f.ID)
		for _, a := range f.Aliases {
			t.index(a, f.ID)
		}
	}
}

func (t *SymbolTable) index(name string, id int) {
	if ids := t.names[name]; len(ids) == 0 || ids[len(ids)-1] != id {
		t.names[name] = append(ids, id)
	}
}

// Len is the number of functions.
func (t *SymbolTable) Len() int { return len(t.funcs) }

// Funcs returns the functions, sorted by address; Funcs()[id].ID == id.
func (t *SymbolTable) Funcs() []Func { return slices.Clone(t.funcs) }

// Func returns the function with the given id.
func (t *SymbolTable) Func(id int) (Func, bool) {
	if id < 0 || id >= len(t.funcs) {
		return Func{}, false
	}
	return t.funcs[id], true
}

// Start is the address of the first function: the plugin counts
// instructions below it as user space.
func (t *SymbolTable) Start() uint64 { return t.funcs[0].Start }

// End is the end of the last function's range.
func (t *SymbolTable) End() uint64 { return t.funcs[len(t.funcs)-1].End }

// Lookup returns the function whose range holds addr.
func (t *SymbolTable) Lookup(addr uint64) (Func, bool) {
	i, found := slices.BinarySearchFunc(t.funcs, addr, func(f Func, a uint64) int {
		switch {
		case f.Start < a:
			return -1
		case f.Start > a:
			return 1
		}
		return 0
	})
	if !found {
		i--
	}
	if i < 0 || addr >= t.funcs[i].End {
		return Func{}, false
	}
	return t.funcs[i], true
}

// ByName returns the function a name denotes: a Key, else a symbol name
// (the function's own or an alias) that only one function has.
func (t *SymbolTable) ByName(name string) (Func, bool) {
	if id, ok := t.keys[name]; ok {
		return t.funcs[id], true
	}
	ids := t.names[name]
	if len(ids) != 1 {
		return Func{}, false
	}
	return t.funcs[ids[0]], true
}

// Addr returns the start address of the function name denotes (see
// ByName); false when no function, or more than one, has that name.
func (t *SymbolTable) Addr(name string) (uint64, bool) {
	f, ok := t.ByName(name)
	return f.Start, ok
}

// Range is one line of the plugin's map file: the instructions at
// [Start, End) count for function ID.
type Range struct {
	Start, End uint64
	ID         int
}

// Ranges returns the table as the plugin's map file describes it.
func (t *SymbolTable) Ranges() []Range {
	rs := make([]Range, len(t.funcs))
	for i, f := range t.funcs {
		rs[i] = Range{Start: f.Start, End: f.End, ID: f.ID}
	}
	return rs
}

// Map file format identification (the first line), shared with
// insncount.c.
const (
	mapMagic      = "rflkit-insncount-map"
	formatVersion = 1
)

// WriteMap writes the table in the plugin's map file format (see the
// package documentation).
func (t *SymbolTable) WriteMap(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %d %d\n", mapMagic, formatVersion, len(t.funcs))
	for _, f := range t.funcs {
		fmt.Fprintf(bw, "%016x %016x %d\n", f.Start, f.End, f.ID)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tcgplugin: writing the map: %w", err)
	}
	return nil
}

// WriteMapFile writes the map file to path atomically.
func (t *SymbolTable) WriteMapFile(path string) error {
	var b bytes.Buffer
	if err := t.WriteMap(&b); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("tcgplugin: %w", err)
	}
	return nil
}

// MapError is a map file line ReadMap cannot accept.
type MapError struct {
	Line    int    // 1-based line number
	Excerpt string // the line, bounded
	Msg     string
}

// Error is "tcgplugin: map line N: MSG: EXCERPT".
func (e *MapError) Error() string {
	return fmt.Sprintf("tcgplugin: map line %d: %s: %q", e.Line, e.Msg, e.Excerpt)
}

// ReadMap reads a map file as the plugin does, with the same checks: the
// header, the announced number of lines, START < END, sorted and not
// overlapping, ID >= 0. A bad line is a *MapError.
func ReadMap(r io.Reader) ([]Range, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	var s string
	bad := func(msg string) error {
		return &MapError{Line: line, Excerpt: osutil.Excerpt(s, excerptLen), Msg: msg}
	}
	next := func() bool {
		if !sc.Scan() {
			return false
		}
		line++
		s = sc.Text()
		return true
	}
	if !next() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("tcgplugin: map: %w", err)
		}
		return nil, &MapError{Line: 1, Msg: "empty file"}
	}
	f := strings.Fields(s)
	if len(f) != 3 || f[0] != mapMagic {
		return nil, bad(fmt.Sprintf("want a %q header", mapMagic+" VERSION COUNT"))
	}
	if v, err := strconv.Atoi(f[1]); err != nil || v != formatVersion {
		return nil, bad(fmt.Sprintf("want version %d", formatVersion))
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 1 || n > maxRanges {
		return nil, bad(fmt.Sprintf("want 1..%d ranges", maxRanges))
	}
	var rs []Range
	for len(rs) < n {
		if !next() {
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("tcgplugin: map line %d: %w", line+1, err)
			}
			return nil, &MapError{Line: line + 1, Msg: fmt.Sprintf("missing: the header announced %d ranges", n)}
		}
		f := strings.Fields(s)
		if len(f) != 3 {
			return nil, bad(`want "START END ID"`)
		}
		var r Range
		var e1, e2, e3 error
		r.Start, e1 = strconv.ParseUint(f[0], 16, 64)
		r.End, e2 = strconv.ParseUint(f[1], 16, 64)
		r.ID, e3 = strconv.Atoi(f[2])
		switch {
		case e1 != nil || e2 != nil || e3 != nil:
			return nil, bad("want hexadecimal START and END and a decimal ID")
		case r.Start >= r.End:
			return nil, bad("START is not below END")
		case r.ID < 0 || r.ID > maxID:
			return nil, bad(fmt.Sprintf("ID outside 0..%d", maxID))
		case len(rs) > 0 && r.Start < rs[len(rs)-1].End:
			return nil, bad("overlaps or precedes the line before")
		}
		rs = append(rs, r)
	}
	if next() {
		return nil, bad(fmt.Sprintf("more lines than the %d announced", n))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tcgplugin: map: %w", err)
	}
	return rs, nil
}

// Limits the plugin enforces on a map file.
const (
	maxRanges = 10000000
	maxID     = 1<<31 - 1
)
