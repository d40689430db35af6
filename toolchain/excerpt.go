package toolchain

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxExcerpt bounds how much of a tool's output (or of anything a tool
// printed) a message quotes.
const maxExcerpt = 300

// excerpt returns s without surrounding space, cut to at most maxExcerpt
// bytes at a character boundary; a cut is marked with the size of the
// whole. Every message that repeats what a tool printed goes through it.
func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)) + " bytes in all)"
}

// quote is excerpt(s) as a Go string literal, so that control characters
// and invalid UTF-8 print safely.
func quote(s string) string { return strconv.Quote(excerpt(s)) }

// maxField bounds a value read from tool output and kept in a Candidate
// (a version line, a vendor, a pre-release tag): real ones are short.
const maxField = 200

// bounded cuts s to at most n bytes at a character boundary, marking a
// cut with "...".
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
