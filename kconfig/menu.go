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

// finalize is _menu_finalize without the automatic submenus (which only
// change how menus nest, not values or the written files): it propagates
// dependencies into entries and properties and builds the reverse
// dependencies of select and imply.
func (t *Tree) finalize(parent *Menu, insideChoice bool) {
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
		for m := parent.List; m != nil; m = m.Next {
			t.finalize(m, inChoice)
		}
	} else if !insideChoice && parent.Sym != nil {
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
		}
	}
}
