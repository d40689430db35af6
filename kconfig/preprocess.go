package kconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Preprocessor limits: they keep malformed or hostile Kconfig files from
// hanging or exhausting memory.
const (
	macroMaxArgs      = 16      // FUNCTION_MAX_ARGS
	macroMaxRecursion = 1000    // as preprocess.c's "Too deep recursive expansion"
	macroMaxLen       = 1 << 20 // longest expansion we accept
	macroMaxSteps     = 1 << 22 // total $(...) evaluations per Load
)

type macroFlavor uint8

const (
	macroRecursive macroFlavor = iota // =
	macroSimple                       // :=
	macroAppend                       // +=
)

type macroVar struct {
	value    string
	flavor   macroFlavor
	expCount int
	cmds     []string // $(shell) commands a simple variable's value came from
}

// preprocessor is the Kconfig preprocessor (scripts/kconfig/preprocess.c):
// variables, user functions, built-in functions and the environment.
type preprocessor struct {
	vars  map[string]*macroVar
	env   map[string]string
	shell func(cmd string) (string, error)
	info  func(msg string)
	warn  func(msg string)
	file  string
	line  int
	steps int
	// used records the environment variables Kconfig referenced.
	used map[string]string
	// trace collects the $(shell) commands the current expansion used,
	// directly or through simple variables; byLine keeps them by
	// "file:line" of the line being expanded.
	trace  []string
	byLine map[string][]string
}

// traced records that the line being expanded used cmds.
func (m *preprocessor) traced(cmds ...string) {
	m.trace = append(m.trace, cmds...)
	if m.byLine == nil {
		m.byLine = map[string][]string{}
	}
	k := m.file + ":" + strconv.Itoa(m.line)
	for _, c := range cmds {
		if !slices.Contains(m.byLine[k], c) {
			m.byLine[k] = append(m.byLine[k], c)
		}
	}
}

func (m *preprocessor) errorf(format string, args ...any) error {
	return &LoadError{File: m.file, Line: m.line, Msg: fmt.Sprintf(format, args...)}
}

// addVariable is variable_add.
func (m *preprocessor) addVariable(name, value string, flavor macroFlavor) error {
	v := m.vars[name]
	appendTo := false
	if v != nil {
		if flavor == macroAppend {
			flavor = v.flavor
			appendTo = true
		}
	} else {
		if flavor == macroAppend {
			flavor = macroRecursive
		}
		v = &macroVar{}
		m.vars[name] = v
	}
	v.flavor = flavor
	nv := value
	if flavor == macroSimple {
		saved := m.trace
		m.trace = nil
		var err error
		nv, err = m.expandString(value, nil)
		if err != nil {
			return err
		}
		if appendTo {
			v.cmds = append(v.cmds, m.trace...)
		} else {
			v.cmds = m.trace
		}
		m.trace = append(saved, m.trace...)
	}
	if appendTo {
		v.value = v.value + " " + nv
	} else {
		v.value = nv
	}
	return nil
}

// expandString expands every reference in in (expand_string_with_args).
func (m *preprocessor) expandString(in string, args []string) (string, error) {
	out, _, err := m.expand(in, 0, func(byte) bool { return false }, args)
	return out, err
}

func macroIsEndOfToken(c byte) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')
}

// expandOneToken expands a word that contains '$' (expand_one_token): it
// stops at the first character that cannot be part of a word, and returns
// how many bytes of in it used.
func (m *preprocessor) expandOneToken(in string) (string, int, error) {
	return m.expand(in, 0, macroIsEndOfToken, nil)
}

// expand is __expand_string: copy in from pos, expanding "$(...)", until
// isEnd (or the end of the string).
func (m *preprocessor) expand(in string, pos int, isEnd func(byte) bool, args []string) (string, int, error) {
	var b strings.Builder
	start := pos
	for pos < len(in) {
		c := in[pos]
		if c == '$' {
			b.WriteString(in[start:pos])
			s, next, err := m.expandDollar(in, pos+1, args)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(s)
			if b.Len() > macroMaxLen {
				return "", 0, m.errorf("macro expansion longer than %d bytes", macroMaxLen)
			}
			pos = next
			start = pos
			continue
		}
		if isEnd(c) {
			break
		}
		pos++
	}
	b.WriteString(in[start:pos])
	return b.String(), pos, nil
}

// expandDollar expands the reference after a '$' at in[pos-1]; it returns
// the expansion and the position after it.
func (m *preprocessor) expandDollar(in string, pos int, args []string) (string, int, error) {
	if pos >= len(in) || in[pos] != '(' {
		return "$", pos, nil
	}
	p := pos + 1
	q := p
	nest := 0
	for ; q < len(in); q++ {
		if in[q] == '(' {
			nest++
		} else if in[q] == ')' {
			if nest == 0 {
				break
			}
			nest--
		}
	}
	if q >= len(in) {
		return "", 0, m.errorf("unterminated reference to '%s': missing ')'", in[p:])
	}
	s, err := m.evalClause(in[p:q], args)
	if err != nil {
		return "", 0, err
	}
	return s, q + 1, nil
}

// evalClause is eval_clause: a variable, argument, function call or
// environment variable reference.
func (m *preprocessor) evalClause(str string, args []string) (string, error) {
	m.steps++
	if m.steps > macroMaxSteps {
		return "", m.errorf("too many macro expansions")
	}
	if n, err := strconv.ParseUint(str, 10, 32); err == nil && n > 0 && int(n) <= len(args) {
		return args[n-1], nil
	}
	var parts []string
	nest, prev := 0, 0
	for i := 0; i < len(str); i++ {
		switch str[i] {
		case ',':
			if nest == 0 {
				if len(parts) >= macroMaxArgs {
					return "", m.errorf("too many function arguments")
				}
				parts = append(parts, str[prev:i])
				prev = i + 1
			}
		case '(':
			nest++
		case ')':
			nest--
		}
	}
	if len(parts) >= macroMaxArgs {
		return "", m.errorf("too many function arguments")
	}
	parts = append(parts, str[prev:])
	name, err := m.expandString(parts[0], args)
	if err != nil {
		return "", err
	}
	fargs := make([]string, len(parts)-1)
	for i, p := range parts[1:] {
		if fargs[i], err = m.expandString(p, args); err != nil {
			return "", err
		}
	}
	if v := m.vars[name]; v != nil {
		if len(fargs) == 0 && v.expCount > 0 {
			return "", m.errorf("Recursive variable '%s' references itself (eventually)", name)
		}
		if v.expCount > macroMaxRecursion {
			return "", m.errorf("Too deep recursive expansion")
		}
		if v.flavor != macroRecursive {
			if len(v.cmds) > 0 {
				m.traced(v.cmds...)
			}
			return v.value, nil
		}
		v.expCount++
		res, err := m.expandString(v.value, fargs)
		v.expCount--
		return res, err
	}
	if res, ok, err := m.function(name, fargs); ok || err != nil {
		return res, err
	}
	if len(fargs) == 0 && name != "" {
		if v, ok := m.env[name]; ok {
			if m.used != nil {
				m.used[name] = v
			}
			return v, nil
		}
	}
	return "", nil
}

// function runs a built-in function; ok is false when name is none.
func (m *preprocessor) function(name string, args []string) (res string, ok bool, err error) {
	want := map[string][2]int{
		"error-if": {2, 2}, "filename": {0, 0}, "info": {1, 1},
		"lineno": {0, 0}, "shell": {1, 1}, "warning-if": {2, 2},
	}
	lim, found := want[name]
	if !found {
		return "", false, nil
	}
	if len(args) < lim[0] {
		return "", true, m.errorf("too few function arguments passed to '%s'", name)
	}
	if len(args) > lim[1] {
		return "", true, m.errorf("too many function arguments passed to '%s'", name)
	}
	switch name {
	case "error-if":
		if args[0] == "y" {
			return "", true, m.errorf("%s", args[1])
		}
	case "filename":
		return m.file, true, nil
	case "lineno":
		return strconv.Itoa(m.line), true, nil
	case "info":
		if m.info != nil {
			m.info(args[0])
		}
	case "warning-if":
		if args[0] == "y" && m.warn != nil {
			m.warn(fmt.Sprintf("%s:%d: %s", m.file, m.line, args[1]))
		}
	case "shell":
		if m.shell == nil {
			return "", true, nil
		}
		out, err := m.shell(args[0])
		m.traced(args[0])
		if err != nil {
			return "", true, m.errorf("$(shell,%s): %v", args[0], err)
		}
		return out, true, nil
	}
	return "", true, nil
}
