package kconfig

import (
	"bytes"
	"fmt"
	"strings"
)

// ExplainTerm is one term of a dependency, select or imply expression,
// with its current value.
type ExplainTerm struct {
	Expr  string   // the term, as Kconfig prints it
	Value Tristate // its value in the evaluated configuration
	// Blocks is set for the terms that keep the symbol from taking the
	// wanted value.
	Blocks bool
	// Values are the values of the term's symbols, "NAME=VALUE".
	Values []string
}

// Cause is one link of a root-cause chain: Symbol has Value, and (unless
// it is the end of the chain) that is because of the next link.
type Cause struct {
	Symbol string
	Value  string
	// Why says what this link does: "depends on", "selected by", "no
	// prompt", "toolchain", ...
	Why string
	// Values are the values of the symbols of the expression Why names,
	// "NAME=VALUE" (set on the last link of a chain).
	Values []string
	// Macros are the $(shell,...) commands the symbol's value (or that of
	// a symbol in Values) came from: what ran, its exit status and output
	// (set on the last link of a chain).
	Macros []MacroRun
}

// Assignment is one line to put in the .config input.
type Assignment struct {
	Symbol string
	Value  string // y, m, n, a number or an unquoted string
}

// String returns the .config line for the assignment.
func (a Assignment) String() string {
	switch a.Value {
	case "n":
		return "# " + DefaultPrefix + a.Symbol + " is not set"
	}
	return DefaultPrefix + a.Symbol + "=" + a.Value
}

// Explanation says why a symbol did or did not take a wanted value after
// olddefconfig: its dependencies term by term, its prompt's visibility,
// the symbols that select or imply it, its choice and its range, the
// chains of causes down to symbols no assignment can change, and a
// minimal set of assignments that make it take, when one exists.
type Explanation struct {
	Symbol  string
	Type    Type
	Want    string
	Current string
	// Takes reports whether the symbol already has the wanted value.
	Takes bool
	// Visible is the prompt's visibility (n: the user cannot set it).
	Visible   Tristate
	HasPrompt bool
	// DependsOn are the && terms of the direct dependencies.
	DependsOn []ExplainTerm
	// SelectedBy and ImpliedBy are the || terms of the reverse
	// dependencies ("X && condition").
	SelectedBy []ExplainTerm
	ImpliedBy  []ExplainTerm
	// Choice is the prompt of the choice the symbol belongs to, and
	// Chosen its selected member.
	Choice, Chosen string
	// Range is the active range of an int or hex symbol ("lo hi").
	Range string
	// Causes are the root-cause chains, each starting at Symbol.
	Causes [][]Cause
	// Fix is a minimal set of assignments that makes the symbol take the
	// wanted value, verified by re-running olddefconfig; nil when none
	// exists (Unfixable says why).
	Fix       []Assignment
	Unfixable string
}

// Explain evaluates cfg with olddefconfig and explains why symbol sym has
// (or does not have) the value want ("y", "m", "n", or a string/number;
// "" means y).
func (t *Tree) Explain(cfg *Config, sym string, want string) (*Explanation, error) {
	sym = strings.TrimPrefix(sym, DefaultPrefix)
	s := t.byName[sym]
	if s == nil || s.Type == TypeUnknown {
		return nil, fmt.Errorf("kconfig: explain: no symbol %s in %s's Kconfig", sym, t.arch)
	}
	if want == "" {
		want = "y"
	}
	input := configBytes(cfg)
	r := t.oldDefconfigBytes(configName(cfg, ".config"), input)
	e := r.e
	x := &Explanation{Symbol: sym, Type: s.Type, Want: want, Current: e.stringValue(s)}
	if s.Type == TypeBool || s.Type == TypeTristate {
		w, ok := ParseTristate(want)
		if !ok {
			return nil, fmt.Errorf("kconfig: explain: %s is %s, %q is not y, m or n", sym, s.Type, want)
		}
		if w == Mod && s.Type == TypeBool {
			return nil, fmt.Errorf("kconfig: explain: %s is bool and cannot be m", sym)
		}
	} else if !stringValid(s.Type, want) {
		return nil, fmt.Errorf("kconfig: explain: %q is not a valid %s value for %s", want, s.Type, sym)
	}
	x.Takes = x.Current == want
	v := e.vals[s.id]
	x.Visible = v.visible
	for _, p := range s.Props {
		if e.isPrompt(p) {
			x.HasPrompt = true
		}
	}
	wantTri, _ := ParseTristate(want)
	for _, term := range exprSplitAnd(s.DirDep) {
		val := e.expr(term)
		x.DependsOn = append(x.DependsOn, ExplainTerm{Expr: term.String(), Value: val, Values: e.exprValues(term),
			Blocks: (s.Type == TypeBool || s.Type == TypeTristate) && val < wantTri || val == No})
	}
	for _, term := range exprSplitOr(s.RevDep) {
		val := e.expr(term)
		x.SelectedBy = append(x.SelectedBy, ExplainTerm{Expr: term.String(), Value: val, Values: e.exprValues(term), Blocks: val > wantTri})
	}
	for _, term := range exprSplitOr(s.Implied) {
		x.ImpliedBy = append(x.ImpliedBy, ExplainTerm{Expr: term.String(), Value: e.expr(term)})
	}
	if c := s.choice; c != nil {
		x.Choice = c.Prompt.Text
		for _, m := range c.members {
			if e.vals[m.id].tri == Yes {
				x.Chosen = m.Name
			}
		}
	}
	if p := e.rangeProp(s); p != nil {
		x.Range = exprSymName(p.Expr.Sym) + " " + exprSymName(p.Expr.Sym2)
	}
	if p := e.rangeProp(s); p != nil && !x.Takes {
		base := 10
		if s.Type == TypeHex {
			base = 16
		}
		val, _ := cStrtoll(want, base)
		if lo, hi := e.rangeVal(p.Expr.Sym, base), e.rangeVal(p.Expr.Sym2, base); val < lo || val > hi {
			x.Unfixable = fmt.Sprintf("%s is outside %s's range %s..%s (%s:%d)", want, sym,
				e.stringValue(p.Expr.Sym), e.stringValue(p.Expr.Sym2), p.File, p.Line)
			return x, nil
		}
	}
	if !x.Takes {
		ex := &explainer{t: t, e: e, seen: map[*Symbol]bool{}}
		x.Causes = ex.causes(s, want, nil)
		x.Fix, x.Unfixable = ex.fix(input, s, want)
	}
	return x, nil
}

// exprValues returns "NAME=VALUE" for each named symbol of x, once each.
func (e *evaluator) exprValues(x *Expr) []string {
	var out []string
	seen := map[*Symbol]bool{}
	x.Symbols(func(s *Symbol) {
		if s.isConst || s.Name == "" || seen[s] {
			return
		}
		seen[s] = true
		if s.Type == TypeUnknown {
			// A word that names no symbol: a constant (a number that a
			// macro gave), or a symbol of another architecture (n).
			if s.Name[0] >= '0' && s.Name[0] <= '9' || s.Name[0] == '-' {
				return
			}
			out = append(out, s.Name+"=n (undefined)")
			return
		}
		out = append(out, s.Name+"="+e.stringValue(s))
	})
	return out
}

// rootLink finishes the last link of a chain: the values of the symbols
// of x (the expression that blocks) and the macros behind them and s.
func (ex *explainer) rootLink(l Cause, s *Symbol, x *Expr) Cause {
	seen := map[string]bool{}
	add := func(sym *Symbol) {
		for _, r := range ex.t.MacroRuns(sym) {
			if !seen[r.Command] {
				seen[r.Command] = true
				l.Macros = append(l.Macros, r)
			}
		}
	}
	add(s)
	if x != nil {
		l.Values = ex.e.exprValues(x)
		x.Symbols(func(d *Symbol) {
			if !d.isConst && d.Name != "" {
				add(d)
			}
		})
	}
	return l
}

type explainer struct {
	t    *Tree
	e    *evaluator
	seen map[*Symbol]bool
}

// need returns, for a term that is too low (or too high), the symbol
// assignments that would move it the right way: (symbol, wanted value).
func (ex *explainer) need(term *Expr, up bool) []Assignment {
	switch term.Op {
	case ExprSymbol:
		if term.Sym.isConst || term.Sym.Type == TypeUnknown {
			return nil
		}
		if up {
			return []Assignment{{term.Sym.Name, "y"}}
		}
		return []Assignment{{term.Sym.Name, "n"}}
	case ExprNot:
		return ex.need(term.Left, !up)
	case ExprAnd:
		if up {
			var out []Assignment
			for _, t := range exprSplitAnd(term) {
				if ex.e.expr(t) != Yes {
					out = append(out, ex.need(t, true)...)
				}
			}
			return out
		}
		for _, t := range exprSplitAnd(term) {
			if ex.e.expr(t) != No {
				return ex.need(t, false)
			}
		}
	case ExprOr:
		if up {
			for _, t := range exprSplitOr(term) {
				if a := ex.need(t, true); len(a) > 0 {
					return a
				}
			}
			return nil
		}
		var out []Assignment
		for _, t := range exprSplitOr(term) {
			if ex.e.expr(t) != No {
				out = append(out, ex.need(t, false)...)
			}
		}
		return out
	case ExprEqual, ExprUnequal:
		// X=y / X!=n style comparisons on a tristate symbol.
		s, c := term.Sym, term.Sym2
		if !c.isConst {
			s, c = c, s
		}
		if s.isConst || s.Type == TypeUnknown {
			return nil
		}
		if _, ok := ParseTristate(c.Name); ok && (s.Type == TypeBool || s.Type == TypeTristate) {
			eq := term.Op == ExprEqual
			if eq == up {
				return []Assignment{{s.Name, c.Name}}
			}
			if c.Name == "n" {
				return []Assignment{{s.Name, "y"}}
			}
			return []Assignment{{s.Name, "n"}}
		}
	}
	return nil
}

// causes follows why s does not have want down to its root causes.
func (ex *explainer) causes(s *Symbol, want string, prefix []Cause) [][]Cause {
	e := ex.e
	cur := e.stringValue(s)
	link := Cause{Symbol: s.Name, Value: cur}
	if ex.seen[s] || len(prefix) > 30 {
		return [][]Cause{append(append([]Cause(nil), prefix...), link)}
	}
	ex.seen[s] = true
	defer delete(ex.seen, s)
	wantTri, isTri := ParseTristate(want)
	var out [][]Cause
	follow := func(why string, x *Expr, assigns []Assignment) {
		l := link
		l.Why = why
		chain := append(append([]Cause(nil), prefix...), l)
		n := len(out)
		for _, a := range assigns {
			ns := ex.t.byName[a.Symbol]
			if ns == nil || e.stringValue(ns) == a.Value {
				continue
			}
			out = append(out, ex.causes(ns, a.Value, chain)...)
		}
		if len(out) == n {
			chain[len(chain)-1] = ex.rootLink(l, s, x)
			out = append(out, chain)
		}
	}
	end := func(why string) {
		l := ex.rootLink(link, s, nil)
		l.Why = why
		out = append(out, append(append([]Cause(nil), prefix...), l))
	}
	v := e.vals[s.id]
	if isTri && wantTri == Mod && s.Type == TypeTristate && e.modulesVal == No && ex.t.Modules != nil && !ex.t.Modules.isConst {
		// MODULES=n is one root cause; the dependencies that block y
		// (or m) are others, listed below.
		follow("m needs modules", nil, []Assignment{{ex.t.Modules.Name, "y"}})
	}
	switch {
	case isTri && (s.Type == TypeBool || s.Type == TypeTristate) && wantTri > v.tri:
		blocked := false
		for _, term := range exprSplitAnd(s.DirDep) {
			if e.expr(term) < wantTri {
				blocked = true
				follow("depends on "+term.String(), term, ex.need(term, true))
			}
		}
		if !blocked && s.choice != nil && e.expr(s.choice.Dep) == No {
			follow("choice depends on "+s.choice.Dep.String(), s.choice.Dep, ex.need(s.choice.Dep, true))
			blocked = true
		}
		if !blocked {
			hasPrompt := false
			for _, p := range s.Props {
				if e.isPrompt(p) {
					hasPrompt = true
					if c := e.expr(p.Cond); c < wantTri {
						follow("prompt visible if "+p.Cond.String(), p.Cond, ex.need(p.Cond, true))
						blocked = true
					}
				}
			}
			if !hasPrompt {
				if p := ex.blockedDefault(s, wantTri); p != nil {
					follow("default "+p.Expr.String()+" if "+p.Cond.String(), p.Cond, ex.need(p.Cond, true))
				} else {
					end("no prompt: set only by defaults, select and imply")
				}
			} else if !blocked {
				end("not set in the input")
			}
		}
	case isTri && (s.Type == TypeBool || s.Type == TypeTristate) && wantTri < v.tri:
		forced := false
		for _, term := range exprSplitOr(s.RevDep) {
			if e.expr(term) > wantTri {
				forced = true
				follow("selected by "+term.String(), term, ex.need(term, false))
			}
		}
		if !forced {
			end("default or input value")
		}
	default:
		why := "value"
		if r := e.rangeProp(s); r != nil {
			why = "range " + exprSymName(r.Expr.Sym) + " " + exprSymName(r.Expr.Sym2)
		} else if v.visible == No {
			why = "prompt not visible"
		}
		end(why)
	}
	return out
}

// fix finds a minimal set of assignments that makes s take want, checked
// with olddefconfig.
func (ex *explainer) fix(input []byte, s *Symbol, want string) ([]Assignment, string) {
	t := ex.t
	takes := func(as []Assignment) (*TargetResult, bool) {
		var b bytes.Buffer
		b.Write(input)
		if len(input) > 0 && input[len(input)-1] != '\n' {
			b.WriteByte('\n')
		}
		for _, a := range as {
			ns := t.byName[a.Symbol]
			if ns != nil && ns.Type == TypeString {
				b.WriteString(DefaultPrefix + a.Symbol + "=" + StringValue(a.Value).String() + "\n")
			} else {
				b.WriteString(a.String() + "\n")
			}
		}
		r := t.oldDefconfigBytes(".config", b.Bytes())
		return r, r.e.stringValue(s) == want
	}
	set := []Assignment{}
	have := map[string]string{}
	e := ex.e
	for round := 0; round < 40; round++ {
		sub := &explainer{t: t, e: e, seen: map[*Symbol]bool{}}
		leaves, why := sub.leaves(s, want)
		if why != "" {
			return nil, why
		}
		added := false
		for _, a := range leaves {
			if v, ok := have[a.Symbol]; ok && v == a.Value {
				continue
			}
			have[a.Symbol] = a.Value
			set = append(set, a)
			added = true
		}
		r, ok := takes(set)
		if ok {
			return ex.minimize(set, takes), ""
		}
		if !added {
			break
		}
		e = r.e
	}
	return nil, "no set of assignments found"
}

// leaves returns the user assignments that move s toward want in the
// current evaluation, or why none can.
func (ex *explainer) leaves(s *Symbol, want string) ([]Assignment, string) {
	e := ex.e
	if e.stringValue(s) == want {
		return nil, ""
	}
	if ex.seen[s] {
		return nil, ""
	}
	ex.seen[s] = true
	wantTri, isTri := ParseTristate(want)
	isBool := s.Type == TypeBool || s.Type == TypeTristate
	var out []Assignment
	var why string
	sub := func(term *Expr, up bool) {
		for _, a := range ex.need(term, up) {
			ns := ex.t.byName[a.Symbol]
			if ns == nil {
				continue
			}
			l, w := ex.leaves(ns, a.Value)
			out = append(out, l...)
			if w != "" && why == "" {
				why = w
			}
		}
	}
	v := e.vals[s.id]
	if isTri && wantTri == Mod && s.Type == TypeTristate && e.modulesVal == No && ex.t.Modules != nil && !ex.t.Modules.isConst {
		l, w := ex.leaves(ex.t.Modules, "y")
		if w != "" {
			return nil, w
		}
		return append(l, Assignment{s.Name, want}), ""
	}
	switch {
	case isTri && isBool && wantTri > v.tri:
		blocked := false
		for _, term := range exprSplitAnd(s.DirDep) {
			if e.expr(term) < wantTri {
				blocked = true
				sub(term, true)
			}
		}
		if s.choice != nil {
			if c := s.choice.Dep; e.expr(c) == No {
				blocked = true
				sub(c, true)
			}
		}
		for _, p := range s.Props {
			if e.isPrompt(p) && e.expr(p.Cond) < wantTri && !blocked {
				blocked = true
				sub(p.Cond, true)
			}
		}
		if !blocked || ex.settable(e, s) {
			if ex.settable(e, s) {
				out = append(out, Assignment{s.Name, want})
			} else {
				// Promptless: satisfy the condition of its default, or
				// raise a select or imply of it.
				if p := ex.blockedDefault(s, wantTri); p != nil {
					n := len(out)
					sub(p.Cond, true)
					if len(out) > n || why != "" {
						break
					}
				}
				terms := append(exprSplitOr(s.RevDep), exprSplitOr(s.Implied)...)
				if len(terms) == 0 {
					return nil, fmt.Sprintf("%s=%s has no prompt and nothing selects it: it follows from the toolchain or other defaults", s.Name, e.stringValue(s))
				}
				n := len(out)
				sub(terms[0], true)
				if len(out) == n && why == "" {
					why = fmt.Sprintf("%s=%s has no prompt and its selects cannot be enabled", s.Name, e.stringValue(s))
				}
			}
		}
	case isTri && isBool && wantTri < v.tri:
		for _, term := range exprSplitOr(s.RevDep) {
			if e.expr(term) > wantTri {
				sub(term, false)
			}
		}
		if ex.settable(e, s) {
			out = append(out, Assignment{s.Name, want})
		} else if s.RevDep == nil || e.expr(s.RevDep) <= wantTri {
			// Only a default keeps it up: lower its dependencies.
			for _, term := range exprSplitAnd(s.DirDep) {
				if e.expr(term) > wantTri {
					sub(term, false)
					break
				}
			}
		}
	default:
		if !ex.settable(e, s) {
			return nil, fmt.Sprintf("%s has no prompt", s.Name)
		}
		for _, term := range exprSplitAnd(s.DirDep) {
			if e.expr(term) == No {
				sub(term, true)
			}
		}
		out = append(out, Assignment{s.Name, want})
	}
	if len(out) == 0 && why == "" {
		why = fmt.Sprintf("nothing can change %s=%s", s.Name, e.stringValue(s))
	}
	if why != "" {
		return nil, why
	}
	return out, ""
}

// blockedDefault returns the first default of s that would give it want
// but whose condition is too low.
func (ex *explainer) blockedDefault(s *Symbol, want Tristate) *Property {
	for _, p := range s.Props {
		if p.Kind != PropDefault {
			continue
		}
		if ex.e.expr(p.Expr) >= want && ex.e.expr(p.Cond) < want {
			return p
		}
	}
	return nil
}

// settable reports whether a user assignment can change s: it has a
// prompt (possibly hidden behind other dependencies).
func (ex *explainer) settable(e *evaluator, s *Symbol) bool {
	if s.Transitional {
		return false
	}
	for _, p := range s.Props {
		if e.isPrompt(p) {
			return true
		}
	}
	return false
}

func (ex *explainer) minimize(set []Assignment, takes func([]Assignment) (*TargetResult, bool)) []Assignment {
	for i := 0; i < len(set); {
		trial := append(append([]Assignment(nil), set[:i]...), set[i+1:]...)
		if _, ok := takes(trial); ok && len(trial) > 0 {
			set = trial
			continue
		}
		i++
	}
	return set
}

// String renders the explanation for humans.
func (x *Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) is %s", x.Symbol, x.Type, x.Current)
	if x.Takes {
		fmt.Fprintf(&b, ", as wanted\n")
	} else {
		fmt.Fprintf(&b, ", wanted %s\n", x.Want)
	}
	if !x.HasPrompt {
		b.WriteString("  no prompt: only defaults, select and imply set it\n")
	} else {
		fmt.Fprintf(&b, "  prompt visible: %s\n", x.Visible)
	}
	mark := func(t ExplainTerm) string {
		if t.Blocks {
			return "  <-- blocks"
		}
		return ""
	}
	if len(x.DependsOn) > 0 {
		b.WriteString("  depends on:\n")
		for _, t := range x.DependsOn {
			fmt.Fprintf(&b, "    [%s] %s%s%s\n", t.Value, t.Expr, termValues(t), mark(t))
		}
	}
	if len(x.SelectedBy) > 0 {
		b.WriteString("  selected by:\n")
		for _, t := range x.SelectedBy {
			fmt.Fprintf(&b, "    [%s] %s%s\n", t.Value, t.Expr, mark(t))
		}
	}
	if len(x.ImpliedBy) > 0 {
		b.WriteString("  implied by:\n")
		for _, t := range x.ImpliedBy {
			fmt.Fprintf(&b, "    [%s] %s\n", t.Value, t.Expr)
		}
	}
	if x.Choice != "" {
		fmt.Fprintf(&b, "  member of choice %q (selected: %s)\n", x.Choice, x.Chosen)
	}
	if x.Range != "" {
		fmt.Fprintf(&b, "  range: %s\n", x.Range)
	}
	if len(x.Causes) > 0 {
		b.WriteString("  root causes:\n")
		for _, chain := range x.Causes {
			var parts []string
			for _, c := range chain {
				parts = append(parts, c.Symbol+"="+c.Value)
			}
			last := chain[len(chain)-1]
			fmt.Fprintf(&b, "    %s (%s)\n", strings.Join(parts, " -> "), last.Why)
			if len(last.Values) > 0 {
				fmt.Fprintf(&b, "      values: %s\n", strings.Join(last.Values, " "))
			}
			for _, m := range last.Macros {
				writeMacroRun(&b, m, "      ")
			}
		}
	}
	if len(x.Fix) > 0 {
		b.WriteString("  to make it take, set:\n")
		for _, a := range x.Fix {
			fmt.Fprintf(&b, "    %s\n", a)
		}
	} else if !x.Takes && x.Unfixable != "" {
		fmt.Fprintf(&b, "  no assignment makes it take: %s\n", x.Unfixable)
	}
	return b.String()
}

// termValues renders a term's symbol values, " (A=y B=22)", when they
// say more than the term's own value.
func termValues(t ExplainTerm) string {
	if len(t.Values) == 0 || len(t.Values) == 1 && !strings.ContainsAny(t.Expr, "=<>!&|(") {
		return ""
	}
	return " (" + strings.Join(t.Values, " ") + ")"
}

// writeMacroRun renders one macro command: what ran, its exit status
// and result, the first lines of its output.
func writeMacroRun(b *strings.Builder, m MacroRun, indent string) {
	kind := "$(shell)"
	if m.Success {
		kind = "$(success)"
	}
	fmt.Fprintf(b, "%s%s ran: %s\n", indent, kind, m.Command)
	switch m.Status {
	case -2:
		fmt.Fprintf(b, "%s  (not recorded in the macro cache)\n", indent)
		return
	case -1:
		fmt.Fprintf(b, "%s  killed by a signal, gave %q\n", indent, m.Result)
	default:
		fmt.Fprintf(b, "%s  exit status %d, gave %q\n", indent, m.Status, m.Result)
	}
	if m.Output != "" && (m.Success || m.Output != m.Result) {
		for _, l := range strings.Split(m.Output, "\n") {
			fmt.Fprintf(b, "%s  | %s\n", indent, l)
		}
	}
}
