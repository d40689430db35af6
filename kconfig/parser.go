package kconfig

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxSourceDepth bounds nested "source" statements.
const maxSourceDepth = 64

// maxExprDepth bounds nested parentheses and '!' in expressions.
const maxExprDepth = 500

type parser struct {
	t         *Tree
	lx        *lexer
	tok       token
	have      bool
	curMenu   *Menu
	curEntry  *Menu
	lastPtr   **Menu
	curChoice *Menu
	readFile  func(name string) (string, error)
	exprDepth int
	modules   *Symbol
	// included is util.c's file table: where each file was first
	// sourced from (file_lookup).
	included map[string]includeSite
}

type includeSite struct {
	parent string
	line   int
}

func (p *parser) peek() (token, error) {
	if !p.have {
		tok, err := p.lx.next()
		if err != nil {
			return tok, err
		}
		p.tok, p.have = tok, true
	}
	return p.tok, nil
}

func (p *parser) take() (token, error) {
	tok, err := p.peek()
	p.have = false
	return tok, err
}

func (p *parser) errorf(format string, args ...any) error {
	return p.lx.errorf(format, args...)
}

func (p *parser) expect(k tokenKind) (token, error) {
	tok, err := p.take()
	if err != nil {
		return tok, err
	}
	if tok.kind != k {
		return tok, p.errorf("syntax error: expected %v, found %v", k, tok.kind)
	}
	return tok, nil
}

func (p *parser) expectEOL() error {
	_, err := p.expect(tEOL)
	return err
}

// parseFile parses the top-level Kconfig file name.
func (p *parser) parseFile(name string) error {
	data, err := p.readFile(name)
	if err != nil {
		return &LoadError{File: name, Line: 0, Msg: fmt.Sprintf("can't find file %s: %v", name, err)}
	}
	p.t.Files = append(p.t.Files, name)
	p.included = map[string]includeSite{name: {}}
	p.lx.files = []*inputFile{{name: name, data: data, line: 1}}
	p.lx.prev, p.lx.prevPrev = tEOL, tEOL
	p.curMenu, p.curEntry = p.t.Root, p.t.Root
	p.lastPtr = &p.t.Root.List
	tok, err := p.peek()
	if err != nil {
		return err
	}
	if tok.kind == tMainmenu {
		p.take()
		s, err := p.expect(tWordQuote)
		if err != nil {
			return err
		}
		if err := p.expectEOL(); err != nil {
			return err
		}
		p.addPrompt(PropMenu, s.text, nil)
	}
	end, err := p.parseStmts(false)
	if err != nil {
		return err
	}
	if end != tEOF {
		return p.errorf("syntax error: unexpected %v", end)
	}
	return nil
}

// addEntry is menu_add_entry.
func (p *parser) addEntry(sym *Symbol, kind MenuKind) *Menu {
	f := p.lx.cur()
	m := &Menu{Kind: kind, Sym: sym, Parent: p.curMenu, File: f.name, Line: p.lx.stmtLine}
	*p.lastPtr = m
	p.lastPtr = &m.Next
	p.curEntry = m
	if sym != nil {
		sym.Menus = append(sym.Menus, m)
	}
	return m
}

func (p *parser) addMenu() *Menu {
	p.lastPtr = &p.curEntry.List
	p.curMenu = p.curEntry
	return p.curMenu
}

func (p *parser) endMenu() {
	p.lastPtr = &p.curMenu.Next
	p.curMenu = p.curMenu.Parent
}

func (p *parser) warn(msg string) {
	p.t.Warnings = append(p.t.Warnings, msg)
}

// addProp is menu_add_prop.
func (p *parser) addProp(kind PropKind, e, cond *Expr) *Property {
	f := p.lx.cur()
	pr := &Property{Kind: kind, Expr: e, Cond: cond, Menu: p.curEntry, File: f.name, Line: p.lx.stmtLine}
	if p.curEntry.Sym != nil {
		p.curEntry.Sym.Props = append(p.curEntry.Sym.Props, pr)
	}
	return pr
}

// addPrompt is menu_add_prompt.
func (p *parser) addPrompt(kind PropKind, text string, cond *Expr) *Property {
	pr := p.addProp(kind, nil, cond)
	if t := strings.TrimLeft(text, " \t\n\r\f\v"); t != text {
		p.warn(fmt.Sprintf("%s:%d:warning: leading whitespace ignored", pr.File, pr.Line))
		text = t
	}
	if p.curEntry.Prompt != nil {
		p.warn(fmt.Sprintf("%s:%d:warning: prompt redefined", pr.File, pr.Line))
	}
	if kind == PropPrompt {
		for m := p.curEntry.Parent; m != nil; m = m.Parent {
			if m.Visibility != nil {
				pr.Cond = exprAnd(pr.Cond, m.Visibility)
			}
		}
	}
	p.curEntry.Prompt = pr
	pr.Text = text
	return pr
}

func (p *parser) setType(t Type) {
	s := p.curEntry.Sym
	if s.Type == t {
		return
	}
	if s.Type == TypeUnknown {
		s.Type = t
		return
	}
	name := s.Name
	if name == "" {
		name = "<choice>"
	}
	p.warn(fmt.Sprintf("%s:%d:warning: ignoring type redefinition of '%s' from '%s' to '%s'",
		p.curEntry.File, p.curEntry.Line, name, s.Type, t))
}

// addDep is menu_add_dep: "depends on X if Y" is X || (Y == n), the
// comparison rewritten by expr_trans_compare as the kernel does: it is not
// "the value of Y is n" (!A for A=m is m, not n, yet !A == n becomes
// A != n, which is y).
func (p *parser) addDep(dep, cond *Expr) {
	if cond != nil {
		dep = exprOr(dep, p.t.transCompare(cond, ExprEqual, p.t.no))
	}
	p.curEntry.Dep = exprAnd(p.curEntry.Dep, dep)
}

// transCompare is expr_trans_compare: e compared (op is ExprEqual or
// ExprUnequal) with the constant sym (y, m or n), pushed down to the
// symbols and comparisons of e.
func (t *Tree) transCompare(e *Expr, op ExprOp, sym *Symbol) *Expr {
	if e == nil {
		e = exprSym(sym)
		if op == ExprUnequal {
			e = &Expr{Op: ExprNot, Left: e}
		}
		return e
	}
	switch e.Op {
	case ExprAnd, ExprOr:
		e1 := t.transCompare(e.Left, ExprEqual, sym)
		e2 := t.transCompare(e.Right, ExprEqual, sym)
		var r *Expr
		and, or := ExprAnd, ExprOr
		if e.Op == ExprOr {
			and, or = ExprOr, ExprAnd
		}
		switch sym {
		case t.yes:
			r = &Expr{Op: and, Left: e1, Right: e2}
		case t.no:
			r = &Expr{Op: or, Left: e1, Right: e2}
		}
		if op == ExprUnequal {
			r = &Expr{Op: ExprNot, Left: r}
		}
		return r
	case ExprNot:
		if op == ExprEqual {
			return t.transCompare(e.Left, ExprUnequal, sym)
		}
		return t.transCompare(e.Left, ExprEqual, sym)
	case ExprSymbol:
		return &Expr{Op: op, Sym: e.Sym, Sym2: sym}
	}
	// A comparison.
	if op == ExprEqual {
		switch sym {
		case t.yes:
			return e
		case t.mod:
			return exprSym(t.no)
		case t.no:
			return &Expr{Op: ExprNot, Left: e}
		}
	} else {
		switch sym {
		case t.yes:
			return &Expr{Op: ExprNot, Left: e}
		case t.mod:
			return exprSym(t.yes)
		case t.no:
			return e
		}
	}
	return nil
}

// parseStmts parses statements up to an end statement or the end of the
// top file, and returns the terminating token.
func (p *parser) parseStmts(inChoice bool) (tokenKind, error) {
	for {
		tok, err := p.peek()
		if err != nil {
			return 0, err
		}
		switch tok.kind {
		case tEOF:
			return tEOF, nil
		case tEndmenu, tEndchoice, tEndif:
			p.take()
			if err := p.expectEOL(); err != nil {
				return 0, err
			}
			return tok.kind, nil
		case tConfig, tMenuconfig:
			err = p.parseConfig(tok.kind == tMenuconfig)
		case tComment:
			err = p.parseComment()
		case tIf:
			err = p.parseIf(inChoice)
		case tChoice, tMenu, tSource, tWord:
			if inChoice {
				return 0, p.errorf("invalid statement")
			}
			switch tok.kind {
			case tChoice:
				err = p.parseChoice()
			case tMenu:
				err = p.parseMenu()
			case tSource:
				err = p.parseSource()
			default:
				err = p.parseAssignment()
			}
		default:
			return 0, p.errorf("invalid statement")
		}
		if err != nil {
			return 0, err
		}
	}
}

func (p *parser) parseAssignment() error {
	name, _ := p.take()
	op, err := p.take()
	if err != nil {
		return err
	}
	var flavor macroFlavor
	switch op.kind {
	case tEqual:
		flavor = macroRecursive
	case tColonEqual:
		flavor = macroSimple
	case tPlusEqual:
		flavor = macroAppend
	default:
		return p.errorf("unknown statement \"%s\"", name.text)
	}
	val := ""
	tok, err := p.take()
	if err != nil {
		return err
	}
	if tok.kind == tAssignVal {
		val = tok.text
		if tok, err = p.take(); err != nil {
			return err
		}
	}
	if tok.kind != tEOL && tok.kind != tEOF {
		return p.errorf("syntax error in assignment to %s", name.text)
	}
	p.lx.macro.file, p.lx.macro.line = p.lx.cur().name, p.lx.stmtLine
	return p.lx.macro.addVariable(name.text, val, flavor)
}

func (p *parser) parseSource() error {
	p.take()
	s, err := p.expect(tWordQuote)
	if err != nil {
		return err
	}
	if err := p.expectEOL(); err != nil {
		return err
	}
	name := s.text
	if len(p.lx.files) >= maxSourceDepth {
		return p.errorf("source nesting deeper than %d (at %q)", maxSourceDepth, name)
	}
	data, err := p.readFile(name)
	if err != nil {
		f := p.lx.cur()
		return &LoadError{File: f.name, Line: p.lx.stmtLine, Msg: fmt.Sprintf("can't open file \"%s\"", name),
			Text: fmt.Sprintf("%s:%d: can't open file \"%s\"\n", f.name, p.lx.stmtLine, name)}
	}
	for _, f := range p.lx.files {
		if f.name == name {
			// zconf_nextfile's message: the chain of open files.
			var b strings.Builder
			fmt.Fprintf(&b, "Recursive inclusion detected.\nInclusion path:\n  current file : %s\n", name)
			var chain []string
			for i := len(p.lx.files) - 1; i >= 0; i-- {
				line := p.lx.stmtLine
				if i+1 < len(p.lx.files) {
					line = p.lx.files[i+1].sourceLine
				}
				fmt.Fprintf(&b, "  included from: %s:%d\n", p.lx.files[i].name, line)
				chain = append(chain, p.lx.files[i].name)
			}
			return &LoadError{File: p.lx.cur().name, Line: p.lx.stmtLine, Text: b.String(),
				Msg: fmt.Sprintf("recursive inclusion of %q (included from %s)", name, strings.Join(chain, " <- "))}
		}
	}
	parent := p.lx.cur().name
	if first, ok := p.included[name]; ok {
		return &LoadError{File: parent, Line: p.lx.stmtLine,
			Msg: fmt.Sprintf("repeated inclusion of %s (first included from %s:%d)", name, first.parent, first.line),
			Text: fmt.Sprintf("%s:%d: error: repeated inclusion of %s\n%s:%d: note: location of first inclusion of %s\n",
				parent, p.lx.stmtLine, name, first.parent, first.line, name)}
	}
	p.included[name] = includeSite{parent: parent, line: p.lx.stmtLine}
	p.t.Files = append(p.t.Files, name)
	p.lx.files = append(p.lx.files, &inputFile{name: name, data: data, line: 1, sourceLine: p.lx.stmtLine})
	return nil
}

func (p *parser) parseIfExpr() (*Expr, error) {
	tok, err := p.peek()
	if err != nil {
		return nil, err
	}
	if tok.kind != tIf {
		return nil, nil
	}
	p.take()
	return p.parseExpr()
}

func typeOf(k tokenKind) (Type, bool) {
	switch k {
	case tBool:
		return TypeBool, true
	case tTristate:
		return TypeTristate, true
	case tInt:
		return TypeInt, true
	case tHex:
		return TypeHex, true
	case tString:
		return TypeString, true
	}
	return 0, false
}

func (p *parser) parseConfig(isMenuconfig bool) error {
	p.take()
	name, err := p.expect(tWord)
	if err != nil {
		return err
	}
	if err := p.expectEOL(); err != nil {
		return err
	}
	sym := p.t.lookup(name.text, false)
	if sym.isConst {
		return p.errorf("cannot define constant symbol %q", name.text)
	}
	kind := MenuConfig
	if isMenuconfig {
		kind = MenuMenuconfig
	}
	m := p.addEntry(sym, kind)
	if err := p.parseConfigOptions(); err != nil {
		return err
	}
	if isMenuconfig {
		if m.Prompt == nil {
			return p.errorf("menuconfig statement without prompt")
		}
		m.Prompt.Kind = PropMenu
	}
	if p.curChoice != nil && !isMenuconfig {
		if m.Prompt == nil {
			return &LoadError{File: m.File, Line: m.Line, Msg: "choice member must have a prompt"}
		}
		if sym.Type != TypeBool {
			return &LoadError{File: m.File, Line: m.Line, Msg: "choice member must be bool"}
		}
		if sym.choice == nil {
			sym.choice = p.curChoice
			p.curChoice.members = append(p.curChoice.members, sym)
		}
	}
	return nil
}

func (p *parser) parseConfigOptions() error {
	for {
		tok, err := p.peek()
		if err != nil {
			return err
		}
		if t, ok := typeOf(tok.kind); ok {
			p.take()
			nt, err := p.peek()
			if err != nil {
				return err
			}
			if nt.kind == tWordQuote {
				p.take()
				cond, err := p.parseIfExpr()
				if err != nil {
					return err
				}
				p.addPrompt(PropPrompt, nt.text, cond)
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.setType(t)
			continue
		}
		switch tok.kind {
		case tPrompt:
			p.take()
			s, err := p.expect(tWordQuote)
			if err != nil {
				return err
			}
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.addPrompt(PropPrompt, s.text, cond)
		case tTransitional:
			p.take()
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.curEntry.Sym.Transitional = true
		case tDefault, tDefBool, tDefTristate:
			p.take()
			e, err := p.parseExpr()
			if err != nil {
				return err
			}
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.addProp(PropDefault, e, cond)
			switch tok.kind {
			case tDefBool:
				p.setType(TypeBool)
			case tDefTristate:
				p.setType(TypeTristate)
			}
		case tSelect, tImply:
			p.take()
			w, err := p.expect(tWord)
			if err != nil {
				return err
			}
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			k := PropSelect
			if tok.kind == tImply {
				k = PropImply
			}
			p.addProp(k, exprSym(p.t.lookup(w.text, false)), cond)
		case tRange:
			p.take()
			a, err := p.parseSymbol()
			if err != nil {
				return err
			}
			b, err := p.parseSymbol()
			if err != nil {
				return err
			}
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.addProp(PropRange, &Expr{Op: ExprEqual, Sym: a, Sym2: b}, cond)
		case tModules:
			p.take()
			if err := p.expectEOL(); err != nil {
				return err
			}
			if p.modules != nil {
				return p.errorf("symbol '%s' redefines option 'modules' already defined by symbol '%s'",
					p.curEntry.Sym.Name, p.modules.Name)
			}
			p.modules = p.curEntry.Sym
		case tDepends:
			if err := p.parseDepends(); err != nil {
				return err
			}
		case tHelp:
			if err := p.parseHelp(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *parser) parseDepends() error {
	p.take()
	if _, err := p.expect(tOn); err != nil {
		return err
	}
	e, err := p.parseExpr()
	if err != nil {
		return err
	}
	cond, err := p.parseIfExpr()
	if err != nil {
		return err
	}
	if err := p.expectEOL(); err != nil {
		return err
	}
	p.addDep(e, cond)
	return nil
}

func (p *parser) parseHelp() error {
	p.take()
	if err := p.expectEOL(); err != nil {
		return err
	}
	text := p.lx.lexHelp().text
	e := p.curEntry
	name := "<choice>"
	if e.Sym != nil && e.Sym.Name != "" {
		name = e.Sym.Name
	}
	if e.Help != "" {
		return p.errorf("'%s' defined with more than one help text", name)
	}
	if strings.TrimSpace(text) == "" {
		return p.errorf("'%s' defined with blank help text", name)
	}
	e.Help = text
	return nil
}

func (p *parser) parseChoice() error {
	p.take()
	if err := p.expectEOL(); err != nil {
		return err
	}
	sym := p.t.newSymbol("", false)
	m := p.addEntry(sym, MenuChoice)
	sym.isChoice = m
	p.setType(TypeBool)
	for {
		tok, err := p.peek()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tPrompt:
			p.take()
			s, err := p.expect(tWordQuote)
			if err != nil {
				return err
			}
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.addPrompt(PropPrompt, s.text, cond)
			continue
		case tDefault:
			p.take()
			w, err := p.expect(tWord)
			if err != nil {
				return err
			}
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.addProp(PropDefault, exprSym(p.t.lookup(w.text, false)), cond)
			continue
		case tDepends:
			if err := p.parseDepends(); err != nil {
				return err
			}
			continue
		case tHelp:
			if err := p.parseHelp(); err != nil {
				return err
			}
			continue
		}
		break
	}
	if m.Prompt == nil {
		return &LoadError{File: m.File, Line: m.Line, Msg: "choice must have a prompt"}
	}
	p.addMenu()
	p.curChoice = m
	end, err := p.parseStmts(true)
	if err != nil {
		return err
	}
	p.curChoice = nil
	return p.endBlock(m, end, tEndchoice, "choice")
}

func (p *parser) endBlock(m *Menu, end, want tokenKind, what string) error {
	if end == tEOF {
		return &LoadError{File: m.File, Line: m.Line, Msg: "missing end statement for this entry"}
	}
	if end != want {
		return p.errorf("unexpected '%s' within %s block", strings.Trim(end.String(), "'")[3:], what)
	}
	if m.File != p.lx.cur().name {
		return p.errorf("'end%s' in different file than '%s' (%s:%d)", what, what, m.File, m.Line)
	}
	p.endMenu()
	return nil
}

func (p *parser) parseIf(inChoice bool) error {
	p.take()
	e, err := p.parseExpr()
	if err != nil {
		return err
	}
	if err := p.expectEOL(); err != nil {
		return err
	}
	m := p.addEntry(nil, MenuIf)
	p.addDep(e, nil)
	p.addMenu()
	end, err := p.parseStmts(inChoice)
	if err != nil {
		return err
	}
	return p.endBlock(m, end, tEndif, "if")
}

func (p *parser) parseMenu() error {
	p.take()
	s, err := p.expect(tWordQuote)
	if err != nil {
		return err
	}
	if err := p.expectEOL(); err != nil {
		return err
	}
	m := p.addEntry(nil, MenuMenu)
	p.addPrompt(PropMenu, s.text, nil)
	for {
		tok, err := p.peek()
		if err != nil {
			return err
		}
		if tok.kind == tVisible {
			p.take()
			cond, err := p.parseIfExpr()
			if err != nil {
				return err
			}
			if err := p.expectEOL(); err != nil {
				return err
			}
			p.curEntry.Visibility = exprAnd(p.curEntry.Visibility, cond)
			continue
		}
		if tok.kind == tDepends {
			if err := p.parseDepends(); err != nil {
				return err
			}
			continue
		}
		break
	}
	p.addMenu()
	end, err := p.parseStmts(false)
	if err != nil {
		return err
	}
	return p.endBlock(m, end, tEndmenu, "menu")
}

func (p *parser) parseComment() error {
	p.take()
	s, err := p.expect(tWordQuote)
	if err != nil {
		return err
	}
	if err := p.expectEOL(); err != nil {
		return err
	}
	p.addEntry(nil, MenuComment)
	p.addPrompt(PropComment, s.text, nil)
	for {
		tok, err := p.peek()
		if err != nil {
			return err
		}
		if tok.kind != tDepends {
			return nil
		}
		if err := p.parseDepends(); err != nil {
			return err
		}
	}
}

// parseSymbol parses a symbol: a word, or a quoted constant.
func (p *parser) parseSymbol() (*Symbol, error) {
	tok, err := p.take()
	if err != nil {
		return nil, err
	}
	switch tok.kind {
	case tWord:
		return p.t.lookup(tok.text, false), nil
	case tWordQuote:
		return p.t.lookup(tok.text, true), nil
	}
	return nil, p.errorf("syntax error: expected a symbol, found %v", tok.kind)
}

// parseExpr parses expr with the grammar's precedence: || < && < !, with
// comparisons binding two symbols. Both binary operators are left
// associative (%left in parser.y).
func (p *parser) parseExpr() (*Expr, error) {
	return p.parseBinary(tOr, ExprOr, p.parseAnd)
}

// parseAnd parses the operands of ||: unary expressions joined by &&.
func (p *parser) parseAnd() (*Expr, error) {
	return p.parseBinary(tAnd, ExprAnd, p.parseUnary)
}

// parseBinary parses operands (each with operand) joined by the token
// tok, built left to right into op nodes.
func (p *parser) parseBinary(tok tokenKind, op ExprOp, operand func() (*Expr, error)) (*Expr, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		if next.kind != tok {
			return left, nil
		}
		p.take()
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &Expr{Op: op, Left: left, Right: right}
	}
}

func (p *parser) parseUnary() (*Expr, error) {
	p.exprDepth++
	defer func() { p.exprDepth-- }()
	if p.exprDepth > maxExprDepth {
		return nil, p.errorf("expression nested too deeply")
	}
	tok, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch tok.kind {
	case tNot:
		p.take()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Expr{Op: ExprNot, Left: e}, nil
	case tOpenParen:
		p.take()
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tCloseParen); err != nil {
			return nil, err
		}
		return e, nil
	}
	s, err := p.parseSymbol()
	if err != nil {
		return nil, err
	}
	tok, err = p.peek()
	if err != nil {
		return nil, err
	}
	if op, ok := compareOp(tok.kind); ok {
		p.take()
		s2, err := p.parseSymbol()
		if err != nil {
			return nil, err
		}
		return &Expr{Op: op, Sym: s, Sym2: s2}, nil
	}
	return exprSym(s), nil
}

// compareOp is the comparison operator of a token, if it is one.
func compareOp(k tokenKind) (ExprOp, bool) {
	switch k {
	case tEqual:
		return ExprEqual, true
	case tUnequal:
		return ExprUnequal, true
	case tLess:
		return ExprLess, true
	case tLessEqual:
		return ExprLessEqual, true
	case tGreater:
		return ExprGreater, true
	case tGreaterEqual:
		return ExprGreaterEq, true
	}
	return 0, false
}

// resolvePath returns the path of a Kconfig file named in a source
// statement: as is when absolute, else below the tree.
func resolvePath(srcDir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(srcDir, name)
}
