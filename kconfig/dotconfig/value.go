package dotconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// ValueKind says what a Value holds.
type ValueKind uint8

// The kinds of Value. The zero Value is KindNotSet.
const (
	// KindNotSet is "# CONFIG_X is not set": the symbol is n (or has no
	// value), written as a comment.
	KindNotSet ValueKind = iota
	// KindTristate is y, m or n (bool and tristate symbols).
	KindTristate
	// KindString is a double-quoted string (string symbols).
	KindString
	// KindNumber is a decimal or 0x-prefixed hexadecimal number (int and
	// hex symbols); its text is kept as written.
	KindNumber
)

// String returns "not set", "tristate", "string" or "number".
func (k ValueKind) String() string {
	switch k {
	case KindNotSet:
		return "not set"
	case KindTristate:
		return "tristate"
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	}
	return fmt.Sprintf("ValueKind(%d)", uint8(k))
}

// Value is the value of one symbol in a .config file. The file layer does
// not know the symbols' Kconfig types, so a Value's kind comes from its
// spelling: y/m/n are tristates, "..." are strings, 12 and 0x1f numbers.
//
// The zero Value is "not set". Values read from a file keep their text as
// written (String returns it unchanged), so a file round-trips byte for
// byte; values built with the constructors use the form conf writes.
type Value struct {
	kind ValueKind
	tri  Tristate
	text string // right-hand side as written ("" for not set)
}

// TristateValue returns y, m or n.
func TristateValue(t Tristate) Value {
	return Value{kind: KindTristate, tri: t, text: t.String()}
}

// StringValue returns a string value; String quotes and escapes it as conf
// does (a backslash before each '"' and '\').
func StringValue(s string) Value {
	return Value{kind: KindString, text: quote(s)}
}

// IntValue returns a decimal number.
func IntValue(n int64) Value {
	return Value{kind: KindNumber, text: strconv.FormatInt(n, 10)}
}

// HexValue returns a hexadecimal number written with a 0x prefix.
func HexValue(n uint64) Value {
	return Value{kind: KindNumber, text: "0x" + strconv.FormatUint(n, 16)}
}

// ParseValue parses the right-hand side of a .config assignment: y, m, n,
// a double-quoted string with backslash escapes, a decimal number
// (optionally negative) or a 0x-prefixed hexadecimal number. It is what
// SetString and the strict parser accept.
func ParseValue(rhs string) (Value, error) {
	v, err := strictValue(rhs)
	if err != nil {
		return Value{}, fmt.Errorf("kconfig: %w", err)
	}
	return v, nil
}

// ValueError is a right-hand side that is not a .config value, from
// ParseValue and Config.SetString (wrapped; use errors.As). Msg says what
// is wrong in terms of the Kconfig type the spelling points to (`not a
// valid hex value: "0x" has no digits`), so a caller can put it next to
// the user's own SYM=VAL.
type ValueError struct {
	Value string // the right-hand side as given
	Col   int    // 1-based byte column in Value of the problem
	Msg   string // what is wrong
}

// Error returns "value VALUE: column COL: MSG", the value quoted by
// Excerpt.
func (e *ValueError) Error() string {
	return fmt.Sprintf("value %s: column %d: %s", Excerpt(e.Value), e.Col, e.Msg)
}

// strictValue reads rhs as the strict parser does: what scanValue refuses
// is a *ValueError.
func strictValue(rhs string) (Value, error) {
	v, col, msg := scanValue(rhs, false)
	if msg != "" {
		return Value{}, &ValueError{Value: rhs, Col: col, Msg: msg}
	}
	return v, nil
}

// Kind returns the kind of value.
func (v Value) Kind() ValueKind { return v.kind }

// String returns the right-hand side of the assignment as it appears in the
// file (or as conf would write it for constructed values). A value that is
// not set returns "n": that is how conf reads "# CONFIG_X is not set", and
// how scripts/diffconfig and kunit print it.
func (v Value) String() string {
	if v.kind == KindNotSet {
		return "n"
	}
	return v.text
}

// Tristate returns the tristate value; not set counts as n. ok is false for
// strings and numbers.
func (v Value) Tristate() (t Tristate, ok bool) {
	switch v.kind {
	case KindNotSet:
		return No, true
	case KindTristate:
		return v.tri, true
	}
	return No, false
}

// Str returns the decoded string (without quotes and escapes); ok is false
// unless v is a string.
func (v Value) Str() (s string, ok bool) {
	if v.kind != KindString {
		return "", false
	}
	s, _, _ = unquote(v.text)
	return s, true
}

// IsHex reports whether v is a number written in hexadecimal (0x...).
func (v Value) IsHex() bool {
	return v.kind == KindNumber && isHexText(v.text)
}

// Int returns a number's value: decimal, or hexadecimal with a 0x prefix
// (the way the kernel reads int and hex symbols). ok is false for other
// kinds, for numbers that do not fit in an int64, and for a hex value
// without 0x (which only a lenient parse accepts).
func (v Value) Int() (n int64, ok bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	var err error
	if isHexText(v.text) {
		var u uint64
		u, err = strconv.ParseUint(v.text[2:], 16, 64)
		n = int64(u)
		if u > 1<<63-1 {
			return 0, false
		}
	} else {
		n, err = strconv.ParseInt(v.text, 10, 64)
	}
	return n, err == nil
}

// Equal reports whether two values are the same as scripts/diffconfig and
// kunit compare them: by their text, with "not set" equal to n. So 0x10 and
// 0x010 differ, while "# CONFIG_X is not set" and CONFIG_X=n are equal.
func (v Value) Equal(w Value) bool { return v.String() == w.String() }

func isHexText(s string) bool {
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

// quote quotes s the way conf's escape_string_value does.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// scanValue classifies and decodes a right-hand side. On failure it
// returns a 1-based column (within rhs) and a message. With lenient set it
// also accepts what conf_read accepts for some symbol type: a tristate is
// its first letter ("yes" is y) and text after a closing quote is ignored.
func scanValue(rhs string, lenient bool) (v Value, col int, msg string) {
	if rhs == "" {
		return Value{}, 1, "missing value after '='"
	}
	switch rhs {
	case "y":
		return Value{kind: KindTristate, tri: Yes, text: rhs}, 0, ""
	case "m":
		return Value{kind: KindTristate, tri: Mod, text: rhs}, 0, ""
	case "n":
		return Value{kind: KindTristate, tri: No, text: rhs}, 0, ""
	}
	switch c := rhs[0]; {
	case c == '"':
		_, end, ok := unquote(rhs)
		if !ok {
			return Value{}, len(rhs) + 1, "not a valid string value: unterminated string (no closing '\"')"
		}
		if end != len(rhs) && !lenient {
			return Value{}, end + 1, "not a valid string value: unexpected text after string"
		}
		return Value{kind: KindString, text: rhs}, 0, ""
	case c == '-' || (c >= '0' && c <= '9'):
		if rhs == "0x" || rhs == "0X" {
			return Value{}, 3, fmt.Sprintf("not a valid hex value: %q has no digits", rhs)
		}
		if isHexText(rhs) {
			for i := 2; i < len(rhs); i++ {
				if !isHexDigit(rhs[i]) {
					return Value{}, i + 1, fmt.Sprintf("not a valid hex value: invalid hexadecimal digit %q", rhs[i])
				}
			}
			return Value{kind: KindNumber, text: rhs}, 0, ""
		}
		i := 0
		if c == '-' {
			i = 1
			if len(rhs) == 1 {
				return Value{}, 2, "not a valid int value: missing digits after '-'"
			}
		}
		for ; i < len(rhs); i++ {
			if rhs[i] < '0' || rhs[i] > '9' {
				return Value{}, i + 1, fmt.Sprintf("not a valid int value: invalid decimal digit %q", rhs[i])
			}
		}
		return Value{kind: KindNumber, text: rhs}, 0, ""
	case lenient && isHexDigit(c) && strings.IndexFunc(rhs, func(r rune) bool { return r > 0x7f || !isHexDigit(byte(r)) }) < 0:
		// A hex symbol's value without its 0x, which conf accepts.
		return Value{kind: KindNumber, text: rhs}, 0, ""
	case lenient && (c == 'y' || c == 'm' || c == 'n'):
		// conf_set_sym_val looks at the first character only.
		t, _ := ParseTristate(rhs[:1])
		return Value{kind: KindTristate, tri: t, text: rhs}, 0, ""
	}
	return Value{}, 1, "invalid value " + Excerpt(rhs) + ` (want y, m, n, "string" or a number)`
}

// unquote decodes a string starting with '"' the way conf_set_sym_val
// does (a backslash keeps the next character). It returns the decoded
// string and the index just past the closing quote.
func unquote(s string) (out string, end int, ok bool) {
	// Fast path: no escapes.
	if j := strings.IndexAny(s[1:], "\"\\"); j >= 0 && s[1+j] == '"' {
		return s[1 : 1+j], j + 2, true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			i++
			if i == len(s) {
				return "", 0, false
			}
		}
		b.WriteByte(s[i])
	}
	return "", 0, false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// badNameIndex reports the index of the first byte of name that is not a
// Kconfig symbol character (A-Z a-z 0-9 _), or -1 when name is valid.
// The empty name is invalid at index 0.
func badNameIndex(name string) int {
	if name == "" {
		return 0
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return i
		}
	}
	return -1
}
