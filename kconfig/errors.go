package kconfig

import (
	"errors"
	"fmt"
	"strings"
)

// LoadError is why Load could not read a Kconfig tree: a syntax error, a
// preprocessor error ($(error-if), an unknown function, a recursive
// variable), a sourced file that is missing, a recursive dependency, a
// construct conf_parse rejects, or an LLVM= value the top Makefile
// rejects. File and Line say where (Line 0 for a file as a whole).
type LoadError struct {
	File string
	Line int
	Msg  string
	// Text is the message as scripts/kconfig/conf prints it on stderr
	// (several lines for a recursive dependency or inclusion), when it is
	// not "FILE:LINE: MSG".
	Text string
}

// ConfText returns the message as conf prints it on stderr, ending in a
// newline.
func (e *LoadError) ConfText() string {
	if e.Text != "" {
		return e.Text
	}
	return fmt.Sprintf("%s:%d: %s\n", e.File, e.Line, e.Msg)
}

// LoadErrors are several errors found at once: conf reports every
// recursive dependency and every rejected construct before it exits.
// errors.As finds the first *LoadError in it.
type LoadErrors []*LoadError

// Error returns the first error and how many more there are.
func (es LoadErrors) Error() string {
	if len(es) == 0 {
		return "kconfig: no error"
	}
	if len(es) == 1 {
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more)", es[0].Error(), len(es)-1)
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es LoadErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ConfText returns what conf prints on stderr for err: the conf text of
// every *LoadError in it (LoadErrors, or one wrapped error), else its
// message on a line.
func ConfText(err error) string {
	var es LoadErrors
	if errors.As(err, &es) {
		var b strings.Builder
		for _, e := range es {
			b.WriteString(e.ConfText())
		}
		return b.String()
	}
	var e *LoadError
	if errors.As(err, &e) {
		return e.ConfText()
	}
	return err.Error() + "\n"
}

// Error returns "kconfig: FILE:LINE: MESSAGE".
func (e *LoadError) Error() string {
	return fmt.Sprintf("kconfig: %s:%d: %s", e.File, e.Line, e.Msg)
}

// Error is the old name of LoadError.
//
// Deprecated: use LoadError.
type Error = LoadError
