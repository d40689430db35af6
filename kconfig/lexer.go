package kconfig

import (
	"fmt"
	"strings"
)

type tokenKind uint8

const (
	tEOF tokenKind = iota
	tEOL
	tWord
	tWordQuote
	tAssignVal
	tHelpText
	tBool
	tChoice
	tComment
	tConfig
	tDefBool
	tDefTristate
	tDefault
	tDepends
	tEndchoice
	tEndif
	tEndmenu
	tHelp
	tHex
	tIf
	tImply
	tInt
	tMainmenu
	tMenu
	tMenuconfig
	tModules
	tOn
	tPrompt
	tRange
	tSelect
	tSource
	tString
	tTransitional
	tTristate
	tVisible
	tOr
	tAnd
	tEqual
	tUnequal
	tLess
	tLessEqual
	tGreater
	tGreaterEqual
	tNot
	tOpenParen
	tCloseParen
	tColonEqual
	tPlusEqual
)

var keywords = map[string]tokenKind{
	"bool": tBool, "choice": tChoice, "comment": tComment, "config": tConfig,
	"def_bool": tDefBool, "def_tristate": tDefTristate, "default": tDefault,
	"depends": tDepends, "endchoice": tEndchoice, "endif": tEndif,
	"endmenu": tEndmenu, "help": tHelp, "hex": tHex, "if": tIf,
	"imply": tImply, "int": tInt, "mainmenu": tMainmenu, "menu": tMenu,
	"menuconfig": tMenuconfig, "modules": tModules, "on": tOn,
	"prompt": tPrompt, "range": tRange, "select": tSelect, "source": tSource,
	"string": tString, "transitional": tTransitional, "tristate": tTristate,
	"visible": tVisible,
}

// String names the token for error messages.
func (k tokenKind) String() string {
	switch k {
	case tEOF:
		return "end of file"
	case tEOL:
		return "end of line"
	case tWord:
		return "word"
	case tWordQuote:
		return "string"
	case tAssignVal:
		return "value"
	case tHelpText:
		return "help text"
	}
	for w, t := range keywords {
		if t == k {
			return "'" + w + "'"
		}
	}
	ops := map[tokenKind]string{tOr: "||", tAnd: "&&", tEqual: "=", tUnequal: "!=", tLess: "<",
		tLessEqual: "<=", tGreater: ">", tGreaterEqual: ">=", tNot: "!", tOpenParen: "(",
		tCloseParen: ")", tColonEqual: ":=", tPlusEqual: "+="}
	return "'" + ops[k] + "'"
}

// inputFile is one Kconfig file being read.
type inputFile struct {
	name       string // as given to source (relative to the tree)
	data       string
	pos        int
	line       int // yylineno
	sourceLine int // line of the source statement in the parent
}

type token struct {
	kind tokenKind
	text string
}

// lexer is the Kconfig lexer (lexer.l) with its file stack.
type lexer struct {
	files     []*inputFile
	macro     *preprocessor
	prev      tokenKind
	prevPrev  tokenKind
	assignVal bool
	stmtLine  int // cur_lineno: line of the current statement's first token
	warn      func(string)
}

func (l *lexer) cur() *inputFile { return l.files[len(l.files)-1] }

func (l *lexer) errorf(format string, args ...any) error {
	f := l.cur()
	return &LoadError{File: f.name, Line: l.stmtLine, Msg: fmt.Sprintf(format, args...)}
}

// next returns the next token (yylex: drops empty statements and tracks
// the statement line and the assignment state).
func (l *lexer) next() (token, error) {
	for {
		tok, err := l.lex1()
		if err != nil {
			return tok, err
		}
		if l.prev == tEOL || l.prev == tHelpText {
			if tok.kind == tEOL {
				continue
			}
			l.stmtLine = l.cur().line
		}
		if l.prevPrev == tEOL && l.prev == tWord &&
			(tok.kind == tEqual || tok.kind == tColonEqual || tok.kind == tPlusEqual) {
			l.assignVal = true
		}
		l.prevPrev = l.prev
		l.prev = tok.kind
		return tok, nil
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// lex1 is the flex scanner for the INITIAL and ASSIGN_VAL states.
func (l *lexer) lex1() (token, error) {
	for {
		f := l.cur()
		l.macro.file, l.macro.line = f.name, f.line
		if f.pos >= len(f.data) {
			l.assignVal = false
			if l.prev != tEOL && l.prev != tHelpText && l.warn != nil {
				l.warn(fmt.Sprintf("%s:%d:warning: no new line at end of file", f.name, f.line))
			}
			if len(l.files) > 1 {
				l.files = l.files[:len(l.files)-1]
				return token{kind: tEOL}, nil
			}
			return token{kind: tEOF}, nil
		}
		if l.assignVal {
			c := f.data[f.pos]
			if c == '\n' {
				f.pos++
				f.line++
				l.assignVal = false
				return token{kind: tEOL}, nil
			}
			if c == ' ' || c == '\t' {
				f.pos++
				continue
			}
			end := strings.IndexByte(f.data[f.pos:], '\n')
			if end < 0 {
				end = len(f.data) - f.pos
			}
			v := f.data[f.pos : f.pos+end]
			f.pos += end
			return token{kind: tAssignVal, text: v}, nil
		}
		d := f.data
		c := d[f.pos]
		switch {
		case c == '#':
			end := strings.IndexByte(d[f.pos:], '\n')
			if end < 0 {
				f.pos = len(d)
			} else {
				f.pos += end
			}
			continue
		case c == ' ' || c == '\t':
			f.pos++
			continue
		case c == '\\' && f.pos+1 < len(d) && d[f.pos+1] == '\n':
			f.pos += 2
			f.line++
			continue
		case c == '\n':
			f.pos++
			f.line++
			return token{kind: tEOL}, nil
		case c == '"' || c == '\'':
			return l.lexString(c)
		case isWordChar(c) || c == '$':
			i := f.pos
			hasDollar := false
			for i < len(d) && (isWordChar(d[i]) || d[i] == '$') {
				if d[i] == '$' {
					hasDollar = true
				}
				i++
			}
			if !hasDollar {
				w := d[f.pos:i]
				f.pos = i
				if k, ok := keywords[w]; ok {
					return token{kind: k, text: w}, nil
				}
				return token{kind: tWord, text: w}, nil
			}
			end := strings.IndexByte(d[f.pos:], '\n')
			if end < 0 {
				end = len(d) - f.pos
			}
			out, n, err := l.macro.expandOneToken(d[f.pos : f.pos+end])
			if err != nil {
				return token{}, err
			}
			f.pos += n
			if n == 0 { // cannot happen: the run starts with a word char or '$'
				f.pos++
			}
			if out != "" {
				return token{kind: tWord, text: out}, nil
			}
			continue
		}
		two := ""
		if f.pos+1 < len(d) {
			two = d[f.pos : f.pos+2]
		}
		switch two {
		case "||":
			f.pos += 2
			return token{kind: tOr}, nil
		case "&&":
			f.pos += 2
			return token{kind: tAnd}, nil
		case "!=":
			f.pos += 2
			return token{kind: tUnequal}, nil
		case "<=":
			f.pos += 2
			return token{kind: tLessEqual}, nil
		case ">=":
			f.pos += 2
			return token{kind: tGreaterEqual}, nil
		case ":=":
			f.pos += 2
			return token{kind: tColonEqual}, nil
		case "+=":
			f.pos += 2
			return token{kind: tPlusEqual}, nil
		}
		f.pos++
		switch c {
		case '=':
			return token{kind: tEqual}, nil
		case '<':
			return token{kind: tLess}, nil
		case '>':
			return token{kind: tGreater}, nil
		case '!':
			return token{kind: tNot}, nil
		case '(':
			return token{kind: tOpenParen}, nil
		case ')':
			return token{kind: tCloseParen}, nil
		}
		if l.warn != nil {
			l.warn(fmt.Sprintf("%s:%d:warning: ignoring unsupported character '%c'", f.name, f.line, c))
		}
	}
}

// lexString reads a quoted string (the STRING state).
func (l *lexer) lexString(q byte) (token, error) {
	f := l.cur()
	d := f.data
	f.pos++
	var b strings.Builder
	for f.pos < len(d) {
		c := d[f.pos]
		switch {
		case c == '$':
			end := strings.IndexByte(d[f.pos:], '\n')
			if end < 0 {
				end = len(d) - f.pos
			}
			line := d[f.pos : f.pos+end]
			out, n, err := l.macro.expandDollar(line, 1, nil)
			if err != nil {
				return token{}, err
			}
			b.WriteString(out)
			f.pos += n
		case c == '\\':
			if f.pos+1 < len(d) && d[f.pos+1] != '\n' {
				b.WriteByte(d[f.pos+1])
				f.pos += 2
			} else {
				f.pos++
			}
		case c == '"' || c == '\'':
			f.pos++
			if c == q {
				return token{kind: tWordQuote, text: b.String()}, nil
			}
			b.WriteByte(c)
		case c == '\n':
			if l.warn != nil {
				l.warn(fmt.Sprintf("%s:%d:warning: multi-line strings not supported", f.name, l.stmtLine))
			}
			return token{kind: tWordQuote, text: b.String()}, nil
		default:
			i := f.pos
			for i < len(d) && d[i] != '$' && d[i] != '"' && d[i] != '\'' && d[i] != '\\' && d[i] != '\n' {
				i++
			}
			b.WriteString(d[f.pos:i])
			f.pos = i
		}
	}
	return token{kind: tWordQuote, text: b.String()}, nil
}

// lexHelp reads a help text (the HELP state), right after "help\n".
func (l *lexer) lexHelp() token {
	f := l.cur()
	d := f.data
	var b strings.Builder
	firstTs, lastTs := 0, 0
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }
	done := func() token {
		l.prevPrev = l.prev
		l.prev = tHelpText
		return token{kind: tHelpText, text: b.String()}
	}
	for {
		if f.pos >= len(d) {
			return done()
		}
		i, ts := f.pos, 0
		for i < len(d) && (d[i] == ' ' || d[i] == '\t') {
			if d[i] == '\t' {
				ts = (ts &^ 7) + 8
			} else {
				ts++
			}
			i++
		}
		if i >= len(d) {
			f.pos = i
			return done()
		}
		if d[i] == '\n' {
			f.pos = i + 1
			f.line++
			if f.pos < len(d) && !isBlank(d[f.pos]) {
				return done()
			}
			b.WriteByte('\n')
			continue
		}
		if i > f.pos {
			lastTs = ts
			if firstTs != 0 {
				if ts < firstTs {
					f.pos = i
					return done()
				}
				b.WriteString(strings.Repeat(" ", ts-firstTs))
			}
		}
		end := strings.IndexByte(d[i:], '\n')
		if end < 0 {
			end = len(d) - i
		}
		b.WriteString(strings.TrimRight(d[i:i+end], " \t"))
		if firstTs == 0 {
			firstTs = lastTs
		}
		f.pos = i + end
		if f.pos >= len(d) {
			return done()
		}
		f.pos++
		f.line++
		if f.pos < len(d) && !isBlank(d[f.pos]) {
			return done()
		}
		b.WriteByte('\n')
	}
}
