package kconfig

import "strings"

// checkDeps reports a dependency loop the way conf_parse's sym_check_deps
// rejects one: a symbol whose value depends, through its dependencies,
// reverse dependencies, defaults and property conditions, on itself.
// Choices and their members are left out (the kernel checks them as a
// group with rules of their own).
func (t *Tree) checkDeps() error {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(t.syms))
	var path []*Symbol
	var visit func(s *Symbol) []*Symbol
	edges := func(s *Symbol, f func(*Symbol) []*Symbol) []*Symbol {
		var loop []*Symbol
		walk := func(e *Expr) {
			if loop != nil {
				return
			}
			e.Symbols(func(d *Symbol) {
				if loop == nil {
					loop = f(d)
				}
			})
		}
		walk(s.DirDep)
		walk(s.RevDep)
		walk(s.Implied)
		for _, p := range s.Props {
			if p.Kind == PropSelect || p.Kind == PropImply {
				continue
			}
			walk(p.Cond)
			if p.Kind == PropDefault {
				walk(p.Expr)
			}
		}
		return loop
	}
	visit = func(s *Symbol) []*Symbol {
		if s.isConst || s.Type == TypeUnknown || s.choice != nil || s.IsChoice() {
			return nil
		}
		switch color[s.id] {
		case grey:
			for i, p := range path {
				if p == s {
					return append(append([]*Symbol(nil), path[i:]...), s)
				}
			}
			return []*Symbol{s, s}
		case black:
			return nil
		}
		color[s.id] = grey
		path = append(path, s)
		loop := edges(s, visit)
		path = path[:len(path)-1]
		color[s.id] = black
		return loop
	}
	for _, s := range t.syms {
		if loop := visit(s); loop != nil {
			var names []string
			for _, l := range loop {
				names = append(names, l.Name)
			}
			m := loop[0].Menus[0]
			return &Error{File: m.File, Line: m.Line, Msg: "recursive dependency detected: " + strings.Join(names, " -> ")}
		}
	}
	return nil
}
