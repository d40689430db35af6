package kconfig

import (
	"fmt"
	"strings"
)

// depStackEntry is one frame of sym_check_deps's dep_stack: the symbol
// being checked and which of its expressions leads on.
type depStackEntry struct {
	sym  *Symbol
	prop *Property
	// expr says which expression of sym is followed: "dir" (depends on),
	// "rev" (select), "imply", "prop" (a default's value) or "" (a
	// property's condition).
	expr string
}

// depChecker is symbol.c's recursive dependency check (sym_check_deps),
// with its CHECK and CHECKED flags and its stack, printing each loop as
// conf does.
type depChecker struct {
	t       *Tree
	check   []bool
	checked []bool
	stack   []*depStackEntry
	errs    []*LoadError
}

// checkDeps runs sym_check_deps on one symbol; it returns whether a loop
// was found (and recorded in c.errs).
func (c *depChecker) checkDeps(s *Symbol) *Symbol {
	if c.check[s.id] {
		c.printRecursive(s)
		return s
	}
	if c.checked[s.id] {
		return nil
	}
	var s2 *Symbol
	switch {
	case s.choice != nil && s.choice.Sym != nil:
		c.push(s)
		s2 = c.checkDeps(s.choice.Sym)
		c.pop()
	case s.IsChoice():
		s2 = c.checkChoiceDeps(s)
	default:
		c.check[s.id], c.checked[s.id] = true, true
		s2 = c.checkSymDeps(s)
		c.check[s.id] = false
	}
	return s2
}

func (c *depChecker) push(s *Symbol) *depStackEntry {
	e := &depStackEntry{sym: s}
	c.stack = append(c.stack, e)
	return e
}

func (c *depChecker) pop() { c.stack = c.stack[:len(c.stack)-1] }

// checkExprDeps is sym_check_expr_deps.
func (c *depChecker) checkExprDeps(e *Expr) *Symbol {
	if e == nil {
		return nil
	}
	switch e.Op {
	case ExprOr, ExprAnd:
		if s := c.checkExprDeps(e.Left); s != nil {
			return s
		}
		return c.checkExprDeps(e.Right)
	case ExprNot:
		return c.checkExprDeps(e.Left)
	case ExprSymbol:
		return c.checkDeps(e.Sym)
	default:
		if e.Sym != nil {
			if s := c.checkDeps(e.Sym); s != nil {
				return s
			}
		}
		if e.Sym2 != nil {
			return c.checkDeps(e.Sym2)
		}
	}
	return nil
}

// checkSymDeps is sym_check_sym_deps.
func (c *depChecker) checkSymDeps(s *Symbol) *Symbol {
	st := c.push(s)
	defer c.pop()
	st.expr = "dir"
	if s2 := c.checkExprDeps(s.DirDep); s2 != nil {
		return s2
	}
	st.expr = "rev"
	if s2 := c.checkExprDeps(s.RevDep); s2 != nil {
		return s2
	}
	st.expr = "imply"
	if s2 := c.checkExprDeps(s.Implied); s2 != nil {
		return s2
	}
	st.expr = ""
	for _, p := range s.Props {
		if p.Kind == PropSelect || p.Kind == PropImply {
			continue
		}
		st.prop = p
		if s2 := c.checkExprDeps(p.Cond); s2 != nil {
			return s2
		}
		if p.Kind != PropDefault || s.IsChoice() {
			continue
		}
		st.expr = "prop"
		if s2 := c.checkExprDeps(p.Expr); s2 != nil {
			return s2
		}
		st.expr = ""
	}
	return nil
}

// checkChoiceDeps is sym_check_choice_deps.
func (c *depChecker) checkChoiceDeps(choice *Symbol) *Symbol {
	c.push(choice)
	defer c.pop()
	cm := choice.isChoice
	members := func(f func(*Symbol)) {
		for m := cm.List; m != nil; m = menuNext(m, cm) {
			if m.Sym != nil {
				f(m.Sym)
			}
		}
	}
	members(func(s *Symbol) { c.check[s.id], c.checked[s.id] = true, true })
	c.check[choice.id], c.checked[choice.id] = true, true
	s2 := c.checkSymDeps(choice)
	c.check[choice.id] = false
	if s2 == nil {
		for m := cm.List; m != nil && s2 == nil; m = menuNext(m, cm) {
			if m.Sym != nil {
				s2 = c.checkSymDeps(m.Sym)
			}
		}
	}
	members(func(s *Symbol) { c.check[s.id] = false })
	if s2 != nil && s2.choice == cm {
		s2 = choice
	}
	return s2
}

func symPrintName(s *Symbol) string {
	if s.Name == "" {
		return "<choice>"
	}
	return s.Name
}

// propTypeName is prop_get_type_name.
func propTypeName(p *Property) string {
	if p == nil {
		return "unknown"
	}
	switch p.Kind {
	case PropPrompt:
		return "prompt"
	case PropComment:
		return "comment"
	case PropMenu:
		return "menu"
	case PropDefault:
		return "default"
	case PropSelect:
		return "select"
	case PropImply:
		return "imply"
	case PropRange:
		return "range"
	}
	return "unknown"
}

// printRecursive is sym_check_print_recursive: the loop ending at last.
func (c *depChecker) printRecursive(last *Symbol) {
	stack := c.stack
	if last.choice != nil && last.choice.Sym != nil {
		stack = append(append([]*depStackEntry(nil), stack...), &depStackEntry{sym: last})
		last = last.choice.Sym
	}
	start := -1
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].sym == last {
			start = i
			break
		}
	}
	var b strings.Builder
	file, line := "", 0
	if len(last.Menus) > 0 {
		file, line = last.Menus[0].File, last.Menus[0].Line
	}
	if start < 0 {
		b.WriteString("unexpected recursive dependency error\n")
		c.errs = append(c.errs, &LoadError{File: file, Line: line, Msg: "unexpected recursive dependency error", Text: b.String()})
		return
	}
	var chain []string
	for i := start; i < len(stack); i++ {
		st := stack[i]
		s := st.sym
		next := last
		if i+1 < len(stack) {
			next = stack[i+1].sym
		}
		if s == last {
			b.WriteString("error: recursive dependency detected!\n")
		}
		chain = append(chain, symPrintName(s))
		switch {
		case next.IsChoice():
			cm := next.isChoice
			fmt.Fprintf(&b, "\tsymbol %s is part of choice block at %s:%d\n", symPrintName(s), cm.File, cm.Line)
		case st.expr == "dir":
			fmt.Fprintf(&b, "\tsymbol %s depends on %s\n", symPrintName(s), next.Name)
		case st.expr == "rev":
			fmt.Fprintf(&b, "\tsymbol %s is selected by %s\n", s.Name, next.Name)
		case st.expr == "imply":
			fmt.Fprintf(&b, "\tsymbol %s is implied by %s\n", s.Name, next.Name)
		case st.expr == "prop":
			fmt.Fprintf(&b, "\tsymbol %s %s value contains %s\n", symPrintName(s), propTypeName(st.prop), next.Name)
		default:
			fmt.Fprintf(&b, "\tsymbol %s %s is visible depending on %s\n", symPrintName(s), propTypeName(st.prop), next.Name)
		}
	}
	b.WriteString("For a resolution refer to Documentation/kbuild/kconfig-language.rst\n" +
		"subsection \"Kconfig recursive dependency limitations\"\n\n")
	chain = append(chain, symPrintName(last))
	c.errs = append(c.errs, &LoadError{File: file, Line: line,
		Msg: "recursive dependency detected: " + strings.Join(chain, " -> "), Text: b.String()})
}
