package kconfig

import (
	"fmt"
	"slices"
)

// Type is the type of a Kconfig symbol.
type Type uint8

// The symbol types. TypeUnknown is a name that is used (in an expression,
// as a constant) but never given a type by a config entry.
const (
	TypeUnknown Type = iota
	TypeBool
	TypeTristate
	TypeString
	TypeInt
	TypeHex
)

// String returns the keyword of the type ("bool", "tristate", "string",
// "int", "hex") or "unknown".
func (t Type) String() string {
	switch t {
	case TypeBool:
		return "bool"
	case TypeTristate:
		return "tristate"
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeHex:
		return "hex"
	}
	return "unknown"
}

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

// Choice is a choice block.
type Choice = Menu

// Symbol is a Kconfig symbol. A Tree's symbols are shared by every
// evaluation: values live in a Result, not here.
type Symbol struct {
	Name string // "" for a choice
	Type Type
	// Menus are the entries defining the symbol, in parse order.
	Menus []*Menu
	// Props are all its properties (of every definition), in parse order.
	Props []*Property
	// DirDep is the || of the dependencies of its definitions.
	DirDep *Expr
	// RevDep is the || of "X && cond" for every "select" of it.
	RevDep *Expr
	// Implied is the || of "X && cond" for every "imply" of it.
	Implied *Expr
	// Transitional is set by the "transitional" keyword.
	Transitional bool

	id       int
	isConst  bool
	choice   *Menu // the choice it is a member of
	isChoice *Menu // for a choice's symbol: its menu
}

// Choice returns the choice block sym is a member of, or nil.
func (s *Symbol) Choice() *Menu { return s.choice }

// IsChoice reports whether s is the (nameless) symbol of a choice block.
func (s *Symbol) IsChoice() bool { return s.isChoice != nil }

// Members returns the symbols of a choice block in definition order.
func (m *Menu) Members() []*Symbol { return slices.Clone(m.members) }

// String returns the symbol's name ("<choice>" for a choice).
func (s *Symbol) String() string { return exprSymName(s) }

// Tree is a parsed Kconfig tree: its symbols, its menu tree and the
// environment it was read with. It is read-only after Load and may be
// evaluated concurrently.
type Tree struct {
	// Root is the main menu; its Prompt is the mainmenu title.
	Root *Menu
	// Modules is the symbol with the "modules" option (MODULES), or the
	// constant n.
	Modules *Symbol
	// Files lists the Kconfig files read, in order.
	Files []string
	// Env is the environment the preprocessor saw (what make exports).
	Env map[string]string
	// Warnings are the preprocessor's $(info)/$(warning-if) messages and
	// parser warnings, "file:line: text".
	Warnings []string
	// MacroStats counts the preprocessor's $(shell) calls.
	MacroStats MacroStats

	syms      []*Symbol // all, in creation order (index = id)
	byName    map[string]*Symbol
	consts    map[string]*Symbol
	yes, mod  *Symbol
	no        *Symbol
	defconfig string // KBUILD_DEFCONFIG path relative to the tree
	srcDir    string
	arch      string
}

// Lookup returns the symbol called name (without CONFIG_), or nil.
func (t *Tree) Lookup(name string) *Symbol {
	return t.byName[name]
}

// Symbols returns the named symbols in order of first appearance.
func (t *Tree) Symbols() []*Symbol {
	var out []*Symbol
	for _, s := range t.syms {
		if !s.isConst && s.Name != "" {
			out = append(out, s)
		}
	}
	return out
}

// Choices returns the choice blocks in menu order.
func (t *Tree) Choices() []*Menu {
	var out []*Menu
	langWalk(t.Root, func(m *Menu) {
		if m.Kind == MenuChoice {
			out = append(out, m)
		}
	})
	return out
}

// langWalk visits the menu tree depth first, in file order.
func langWalk(root *Menu, f func(*Menu)) {
	for m := root; m != nil; m = langNext(m, root) {
		f(m)
	}
}

// langNext is menu_next: depth-first successor of m below root.
func langNext(m, root *Menu) *Menu {
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

func (t *Tree) newSymbol(name string, isConst bool) *Symbol {
	s := &Symbol{Name: name, id: len(t.syms), isConst: isConst}
	t.syms = append(t.syms, s)
	return s
}

// lookup is sym_lookup: y/m/n are the constant tristates; other names are
// created on first use.
func (t *Tree) lookup(name string, isConst bool) *Symbol {
	switch name {
	case "y":
		return t.yes
	case "m":
		return t.mod
	case "n":
		return t.no
	}
	tab := t.byName
	if isConst {
		tab = t.consts
	}
	if s := tab[name]; s != nil {
		return s
	}
	s := t.newSymbol(name, isConst)
	tab[name] = s
	return s
}

func newTree() *Tree {
	t := &Tree{byName: map[string]*Symbol{}, consts: map[string]*Symbol{}}
	t.yes = t.newSymbol("y", true)
	t.mod = t.newSymbol("m", true)
	t.no = t.newSymbol("n", true)
	for _, s := range []*Symbol{t.yes, t.mod, t.no} {
		s.Type = TypeTristate
	}
	t.Root = &Menu{Kind: MenuMenu}
	return t
}

// Error is a Kconfig syntax or preprocessor error, at File:Line.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error returns "kconfig: FILE:LINE: MESSAGE".
func (e *Error) Error() string {
	return fmt.Sprintf("kconfig: %s:%d: %s", e.File, e.Line, e.Msg)
}
