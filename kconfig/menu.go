package kconfig

import (
	"fmt"
	"slices"
)

// PropKind is the kind of a symbol property.
type PropKind uint8

// The property kinds.
const (
	PropPrompt  PropKind = iota // a prompt ("bool \"text\"", prompt "text")
	PropDefault                 // default, def_bool, def_tristate
	PropSelect                  // select
	PropImply                   // imply
	PropRange                   // range
	PropMenu                    // the title of a menu or menuconfig
	PropComment                 // the text of a comment
)

// Property is one property of a symbol or menu entry. Cond is its full
// condition after dependency propagation: the entry's dependencies, the
// enclosing menus' and ifs', and its own "if".
type Property struct {
	Kind PropKind
	Text string // prompt text
	// Expr is the value of a default, the symbol of a select/imply, and a
	// comparison node holding the two bounds of a range (Sym, Sym2).
	Expr *Expr
	Cond *Expr
	Menu *Menu // the entry that defines it
	File string
	Line int
}

// MenuKind says what a Menu entry is.
type MenuKind uint8

// The kinds of menu entries.
const (
	MenuConfig     MenuKind = iota // config
	MenuMenuconfig                 // menuconfig
	MenuMenu                       // menu ... endmenu
	MenuChoice                     // choice ... endchoice
	MenuComment                    // comment
	MenuIf                         // if ... endif
)

// Menu is an entry of the menu tree: a config/menuconfig definition, a
// menu, a choice, a comment or an if block. Children are linked through
// List (first child) and Next (next sibling), as in the kernel's tools.
type Menu struct {
	Kind       MenuKind
	Sym        *Symbol   // config/menuconfig/choice
	Prompt     *Property // nil for entries without one
	Parent     *Menu
	List, Next *Menu
	// Dep is the entry's full dependency after propagation from its
	// parents ("depends on" and enclosing if/menu/choice dependencies).
	Dep *Expr
	// Visibility is the "visible if" of a menu.
	Visibility *Expr
	Help       string
	File       string
	Line       int

	members []*Symbol // choice members in definition order
	// autoParent is the entry whose automatic submenu (menu_finalize)
	// takes this one in, if any.
	autoParent *Menu
}

// Choice is a choice ... endchoice block: a Menu of kind MenuChoice, whose
// Sym is the choice's nameless symbol and whose Members are the symbols it
// chooses between. It is the same type as Menu, not one of its own, because
// the menu tree links a choice like any other entry (its members are its
// children, as in the kernel's struct menu); the name says where a choice
// block is what a function takes or returns (Symbol.Choice, Tree.Choices).
type Choice = Menu

// Members returns the symbols of a choice block in definition order (nil
// for other entries).
func (m *Menu) Members() []*Symbol { return slices.Clone(m.members) }

// walk visits the menu tree depth first, in file order.
func walk(root *Menu, f func(*Menu)) {
	for m := root; m != nil; m = menuNext(m, root) {
		f(m)
	}
}

// menuNext is menu_next: depth-first successor of m below root.
func menuNext(m, root *Menu) *Menu {
	if m.List != nil {
		return m.List
	}
	for m != root && m.Next == nil {
		m = m.Parent
	}
	if m == root {
		return nil
	}
	return m.Next
}

// menuVisible is menu_is_visible.
func (e *evaluator) menuVisible(m *Menu) bool {
	if m.Prompt == nil {
		return false
	}
	if m.Visibility != nil && e.expr(m.Visibility) == No {
		return false
	}
	var vis Tristate
	if m.Sym != nil {
		e.calc(m.Sym)
	}
	vis = e.expr(m.Prompt.Cond)
	if vis != No {
		return true
	}
	if m.Sym == nil || e.vals[m.Sym.id].tri == No {
		return false
	}
	for c := m.List; c != nil; c = c.Next {
		if e.menuVisible(c) {
			return true
		}
	}
	return false
}

// finalize is _menu_finalize without building the automatic submenus
// (which change how menus nest, not values or the written files): it
// propagates dependencies into entries and properties, builds the reverse
// dependencies of select and imply, and checks each symbol once
// (sym_check_prop). It keeps the order of conf's checks, though: the
// siblings that an automatic submenu would take in below parent's symbol
// (autoSubmenu) are finalized before that symbol is checked, as conf
// does, so that the warnings come in conf's order. It returns the entry
// after parent and the siblings it took in.
func (t *Tree) finalize(parent *Menu, insideChoice bool) *Menu {
	next := parent.Next
	if parent.List != nil {
		for m := parent.List; m != nil; m = m.Next {
			basedep := exprAnd(parent.Dep, exprRewriteM(m.Dep, t.Modules))
			m.Dep = basedep
			var props []*Property
			if m.Sym != nil {
				props = m.Sym.Props
			} else if m.Prompt != nil {
				props = []*Property{m.Prompt}
			}
			for _, p := range props {
				if p.Menu != m {
					continue
				}
				dep := exprAnd(basedep, exprRewriteM(p.Cond, t.Modules))
				p.Cond = dep
				switch p.Kind {
				case PropSelect:
					es := p.Expr.Sym
					es.RevDep = exprOr(es.RevDep, exprAnd(exprSym(m.Sym), dep))
				case PropImply:
					es := p.Expr.Sym
					es.Implied = exprOr(es.Implied, exprAnd(exprSym(m.Sym), dep))
				}
			}
		}
		inChoice := parent.Sym != nil && parent.Sym.IsChoice()
		for m := parent.List; m != nil; {
			m = t.finalize(m, inChoice)
		}
	} else if !insideChoice && parent.Sym != nil {
		for next != nil && t.autoSubmenu(parent, next) {
			next.autoParent = parent
			next = t.finalize(next, false)
		}
		parent.Sym.DirDep = exprOr(parent.Sym.DirDep, parent.Dep)
	}
	// menu_finalize's check of a symbol, once per symbol (SYMBOL_WARNED).
	if s := parent.Sym; s != nil && !s.isConst {
		if t.warned == nil {
			t.warned = map[*Symbol]bool{}
		}
		if !t.warned[s] {
			t.warned[s] = true
			if s.Type == TypeUnknown {
				t.Warnings = append(t.Warnings, fmt.Sprintf("%s:%d:warning: config symbol defined without type", parent.File, parent.Line))
			}
			t.checkProps(s)
		}
	}
	return next
}

// autoSubmenu reports whether _menu_finalize's automatic submenu creation
// puts m (a later sibling of parent) below parent's symbol sym: m's
// condition (its prompt's, else its dependency) mentions sym and either
// requires it (expr_depends_symbol) or contains all of sym's prompt
// condition ("(sym || Q) && R" when sym's prompt depends on R).
//
// The superset test approximates conf's expr_transform +
// expr_eliminate_eq: both conditions are compared term by term ("&&"
// operands, "A != n" read as A, "A = y" of a bool as A, "!!A" as A), and
// every term of sym's must be a term of m's. It only orders the checks.
func (t *Tree) autoSubmenu(parent, m *Menu) bool {
	sym := parent.Sym
	dep := m.Dep
	if m.Prompt != nil {
		dep = m.Prompt.Cond
	}
	if !exprContainsSymbol(dep, sym) {
		return false
	}
	if exprDependsSymbol(dep, sym, t) {
		return true
	}
	var base *Expr
	if parent.Prompt != nil {
		base = parent.Prompt.Cond
	}
	if dep.Op == ExprOr {
		// eliminate_eq over || turns the common terms into n: never y
		// unless sym's condition was y already.
		return isYes(t.normTerm(base))
	}
	terms := exprSplitAnd(dep)
	for _, b := range exprSplitAnd(base) {
		b = t.normTerm(b)
		if isYes(b) {
			continue
		}
		if !slices.ContainsFunc(terms, func(d *Expr) bool { return exprEq(t.normTerm(d), b) }) {
			return false
		}
	}
	return true
}

// exprContainsSymbol is expr_contains_symbol.
func exprContainsSymbol(e *Expr, s *Symbol) bool {
	if e == nil {
		return false
	}
	switch e.Op {
	case ExprAnd, ExprOr:
		return exprContainsSymbol(e.Left, s) || exprContainsSymbol(e.Right, s)
	case ExprSymbol:
		return e.Sym == s
	case ExprNot:
		return exprContainsSymbol(e.Left, s)
	}
	return e.Sym == s || e.Sym2 == s
}

// exprDependsSymbol is expr_depends_symbol: e requires s (s, s=y, s=m or
// s!=n as an && term).
func exprDependsSymbol(e *Expr, s *Symbol, t *Tree) bool {
	if e == nil {
		return false
	}
	switch e.Op {
	case ExprAnd:
		return exprDependsSymbol(e.Left, s, t) || exprDependsSymbol(e.Right, s, t)
	case ExprSymbol:
		return e.Sym == s
	case ExprEqual:
		return e.Sym == s && (e.Sym2 == t.yes || e.Sym2 == t.mod)
	case ExprUnequal:
		return e.Sym == s && e.Sym2 == t.no
	}
	return false
}

// normTerm is the part of expr_transform (and of the != n comparison
// conf wraps conditions in) that matters for comparing terms.
func (t *Tree) normTerm(e *Expr) *Expr {
	if e == nil {
		return nil
	}
	switch e.Op {
	case ExprUnequal:
		if e.Sym2 == t.no {
			return exprSym(e.Sym)
		}
	case ExprEqual:
		if e.Sym2 == t.yes && e.Sym.Type == TypeBool {
			return exprSym(e.Sym)
		}
	case ExprNot:
		switch l := e.Left; l.Op {
		case ExprNot:
			return t.normTerm(l.Left)
		case ExprEqual:
			return t.normTerm(&Expr{Op: ExprUnequal, Sym: l.Sym, Sym2: l.Sym2})
		case ExprUnequal:
			return t.normTerm(&Expr{Op: ExprEqual, Sym: l.Sym, Sym2: l.Sym2})
		}
	}
	return e
}

// exprEq reports whether a and b are the same expression, node by node.
func exprEq(a, b *Expr) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Op != b.Op {
		return false
	}
	switch a.Op {
	case ExprSymbol:
		return a.Sym == b.Sym
	case ExprNot:
		return exprEq(a.Left, b.Left)
	case ExprAnd, ExprOr:
		return exprEq(a.Left, b.Left) && exprEq(a.Right, b.Right)
	}
	return a.Sym == b.Sym && a.Sym2 == b.Sym2
}

// checkProps is sym_check_prop: conf's warnings about the types of s's
// defaults, selects, implies and ranges, each at its property's line.
func (t *Tree) checkProps(s *Symbol) {
	warn := func(p *Property, format string, args ...any) {
		t.Warnings = append(t.Warnings, fmt.Sprintf("%s:%d:warning: ", p.File, p.Line)+fmt.Sprintf(format, args...))
	}
	number := s.Type == TypeInt || s.Type == TypeHex
	for _, p := range s.Props {
		switch p.Kind {
		case PropDefault:
			if (s.Type == TypeString || number) && p.Expr.Op != ExprSymbol {
				warn(p, "default for config symbol '%s' must be a single symbol", cName(s))
			}
			if p.Expr.Op != ExprSymbol {
				break
			}
			s2 := p.Expr.Sym
			if number && !validNumber(s, s2) {
				warn(p, "'%s': number is invalid", cName(s))
			}
			if s.IsChoice() {
				if c := choiceMenuOf(s2); c == nil || c.Sym != s {
					warn(p, "choice default symbol '%s' is not contained in the choice", cName(s2))
				}
			}
		case PropSelect, PropImply:
			use := "select"
			if p.Kind == PropImply {
				use = "imply"
			}
			s2 := p.Expr.Sym
			if s.Type != TypeBool && s.Type != TypeTristate {
				warn(p, "config symbol '%s' uses %s, but is not bool or tristate", cName(s), use)
			} else if s2.Type != TypeUnknown && s2.Type != TypeBool && s2.Type != TypeTristate {
				warn(p, "'%s' has wrong type. '%s' only accept arguments of bool and tristate type", cName(s2), use)
			}
		case PropRange:
			if !number {
				warn(p, "range is only allowed for int or hex symbols")
			}
			if !validNumber(s, p.Expr.Sym) || !validNumber(s, p.Expr.Sym2) {
				warn(p, "range is invalid")
			}
		}
	}
}

// cName is a symbol's name as conf's printf("%s") shows it: glibc prints
// a choice's NULL name as "(null)".
func cName(s *Symbol) string {
	if s.Name == "" && !s.isConst {
		return "(null)"
	}
	return s.Name
}

// validNumber is menu_validate_number: s2 is an int or hex symbol, or an
// untyped one (a literal) whose name is a valid value of s.
func validNumber(s, s2 *Symbol) bool {
	return s2.Type == TypeInt || s2.Type == TypeHex || s2.Type == TypeUnknown && stringValid(s.Type, s2.Name)
}

// choiceMenuOf is sym_get_choice_menu: the choice whose entry is the
// nearest symbol entry above s's first entry with a prompt, in the menu
// tree as conf's menu_finalize leaves it (with its automatic submenus).
func choiceMenuOf(s *Symbol) *Menu {
	var m *Menu
	for _, x := range s.Menus {
		if x.Prompt != nil {
			m = x
			break
		}
	}
	if m == nil {
		return nil
	}
	for {
		m = finalParent(m)
		if m == nil || m.Sym != nil {
			break
		}
	}
	if m != nil && m.Sym.IsChoice() {
		return m
	}
	return nil
}

// finalParent is m's parent after menu_finalize: the symbol an automatic
// submenu put it below, unless that one has no prompt (menu_finalize
// flattens its submenu again), else its parent in the file.
func finalParent(m *Menu) *Menu {
	for m.autoParent != nil {
		p := m.autoParent
		if p.Prompt != nil {
			return p
		}
		m = p
	}
	return m.Parent
}
