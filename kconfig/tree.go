package kconfig

import "strconv"

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

	infos     []int // indices of the $(info) messages in Warnings
	warned    map[*Symbol]bool
	macroCmds map[string][]string // "file:line" -> $(shell) commands its expansion used
	macroRuns map[string]MacroRun // command -> how it ran
	syms      []*Symbol           // all, in creation order (index = id)
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
func (t *Tree) Choices() []*Choice {
	var out []*Choice
	walk(t.Root, func(m *Menu) {
		if m.Kind == MenuChoice {
			out = append(out, m)
		}
	})
	return out
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

// MacroRuns returns how the $(shell,...) commands behind s's properties
// ran (its defaults, prompts, ranges and their conditions, wherever the
// preprocessor expanded a macro that ran a command), in property order.
func (t *Tree) MacroRuns(s *Symbol) []MacroRun {
	var out []MacroRun
	seen := map[string]bool{}
	for _, p := range s.Props {
		for _, c := range t.macroCmds[p.File+":"+strconv.Itoa(p.Line)] {
			if seen[c] {
				continue
			}
			seen[c] = true
			if run, ok := t.macroRuns[c]; ok {
				out = append(out, run)
			} else {
				out = append(out, MacroRun{Command: c, Status: -2, Result: "(not recorded)"})
			}
		}
	}
	return out
}
