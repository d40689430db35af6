package dotconfig

import (
	"strconv"
	"unicode/utf8"
)

// ExcerptLen is how many bytes of a line or value an error message quotes
// at most (see Excerpt).
const ExcerptLen = 100

// Excerpt quotes s for a message, as %q does, but at most its first
// ExcerptLen bytes (cut at a UTF-8 character boundary) followed by
// "... (N bytes)" when s is longer: a 10 MB malformed line makes a short
// error. Every message of the .config reader, and of the kconfig command,
// quotes input through Excerpt.
func Excerpt(s string) string {
	if len(s) <= ExcerptLen {
		return strconv.Quote(s)
	}
	cut := ExcerptLen
	for i := cut; i > ExcerptLen-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			cut = i
			break
		}
	}
	return strconv.Quote(s[:cut]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
