package kconfig

import "strings"

// ExprOp is the operator of an Expr node.
type ExprOp uint8

// The expression operators of the Kconfig language.
const (
	ExprSymbol    ExprOp = iota // a symbol (Sym)
	ExprNot                     // !Left
	ExprAnd                     // Left && Right
	ExprOr                      // Left || Right
	ExprEqual                   // Sym = Sym2
	ExprUnequal                 // Sym != Sym2
	ExprLess                    // Sym < Sym2
	ExprLessEqual               // Sym <= Sym2
	ExprGreater                 // Sym > Sym2
	ExprGreaterEq               // Sym >= Sym2
)

// Expr is a Kconfig expression. A nil *Expr means "y" (no condition).
// Symbol and comparison nodes use Sym (and Sym2); the others Left (and
// Right).
type Expr struct {
	Op          ExprOp
	Left, Right *Expr
	Sym, Sym2   *Symbol
}

func exprSym(s *Symbol) *Expr { return &Expr{Op: ExprSymbol, Sym: s} }

// exprAnd returns a && b, treating nil as y.
func exprAnd(a, b *Expr) *Expr {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return &Expr{Op: ExprAnd, Left: a, Right: b}
}

// exprOr returns a || b, treating nil as "absent" (as expr_alloc_or does).
func exprOr(a, b *Expr) *Expr {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return &Expr{Op: ExprOr, Left: a, Right: b}
}

func (op ExprOp) text() string {
	switch op {
	case ExprEqual:
		return "="
	case ExprUnequal:
		return "!="
	case ExprLess:
		return "<"
	case ExprLessEqual:
		return "<="
	case ExprGreater:
		return ">"
	case ExprGreaterEq:
		return ">="
	}
	return "?"
}

// exprPrec orders operators as expr_compare_type does for parenthesising.
func exprNeedParen(prev, cur ExprOp) bool {
	rank := func(op ExprOp) int {
		switch op {
		case ExprOr:
			return 0
		case ExprAnd:
			return 1
		case ExprNot:
			return 2
		case ExprEqual, ExprUnequal:
			return 3
		case ExprLess, ExprLessEqual, ExprGreater, ExprGreaterEq:
			return 4
		}
		return 5
	}
	if prev == cur || prev == ExprSymbol {
		return false
	}
	return rank(prev) > rank(cur)
}

// String prints e the way the kernel's tools do ("A && (B || !C)"); nil
// prints as "y".
func (e *Expr) String() string {
	var b strings.Builder
	exprPrint(&b, e, ExprSymbol, nil)
	return b.String()
}

func exprSymName(s *Symbol) string {
	if s == nil {
		return "<nil>"
	}
	if s.Name == "" {
		return "<choice>"
	}
	if s.isConst && s.Name != "y" && s.Name != "m" && s.Name != "n" {
		return `"` + s.Name + `"`
	}
	return s.Name
}

// exprPrint prints e; val, when set, gives the " [=v]" annotation of a
// symbol (as the kernel's warnings print values).
func exprPrint(b *strings.Builder, e *Expr, prev ExprOp, val func(*Symbol) string) {
	sym := func(s *Symbol) {
		b.WriteString(exprSymName(s))
		if val != nil && s.Type != TypeUnknown && (!s.isConst || s.Name == "y" || s.Name == "m" || s.Name == "n") {
			b.WriteString(" [=" + val(s) + "]")
		}
	}
	if e == nil {
		b.WriteString("y")
		return
	}
	paren := exprNeedParen(prev, e.Op)
	if paren {
		b.WriteByte('(')
	}
	switch e.Op {
	case ExprSymbol:
		sym(e.Sym)
	case ExprNot:
		b.WriteByte('!')
		exprPrint(b, e.Left, ExprNot, val)
	case ExprAnd:
		exprPrint(b, e.Left, ExprAnd, val)
		b.WriteString(" && ")
		exprPrint(b, e.Right, ExprAnd, val)
	case ExprOr:
		exprPrint(b, e.Left, ExprOr, val)
		b.WriteString(" || ")
		exprPrint(b, e.Right, ExprOr, val)
	default:
		sym(e.Sym)
		b.WriteString(e.Op.text())
		sym(e.Sym2)
	}
	if paren {
		b.WriteByte(')')
	}
}

// Symbols calls f for each symbol e refers to, in order.
func (e *Expr) Symbols(f func(*Symbol)) {
	if e == nil {
		return
	}
	switch e.Op {
	case ExprSymbol:
		f(e.Sym)
	case ExprNot:
		e.Left.Symbols(f)
	case ExprAnd, ExprOr:
		e.Left.Symbols(f)
		e.Right.Symbols(f)
	default:
		f(e.Sym)
		f(e.Sym2)
	}
}

// exprRewriteM rewrites each bare 'm' into 'm && MODULES' (rewrite_m).
func exprRewriteM(e *Expr, modules *Symbol) *Expr {
	if e == nil {
		return nil
	}
	switch e.Op {
	case ExprNot:
		return &Expr{Op: ExprNot, Left: exprRewriteM(e.Left, modules)}
	case ExprAnd, ExprOr:
		return &Expr{Op: e.Op, Left: exprRewriteM(e.Left, modules), Right: exprRewriteM(e.Right, modules)}
	case ExprSymbol:
		if e.Sym.isConst && e.Sym.Name == "m" {
			return exprAnd(e, exprSym(modules))
		}
	}
	return e
}

// exprSplitAnd returns the && terms of e.
func exprSplitAnd(e *Expr) []*Expr {
	if e == nil {
		return nil
	}
	if e.Op == ExprAnd {
		return append(exprSplitAnd(e.Left), exprSplitAnd(e.Right)...)
	}
	return []*Expr{e}
}

// exprSplitOr returns the || terms of e.
func exprSplitOr(e *Expr) []*Expr {
	if e == nil {
		return nil
	}
	if e.Op == ExprOr {
		return append(exprSplitOr(e.Left), exprSplitOr(e.Right)...)
	}
	return []*Expr{e}
}

// exprSimplify drops constant y/n operands of && and || (the kernel's
// expr_eliminate_yn), for printing.
func exprSimplify(e *Expr) *Expr {
	if e == nil {
		return nil
	}
	isConst := func(x *Expr, name string) bool {
		return x != nil && x.Op == ExprSymbol && x.Sym.isConst && x.Sym.Name == name
	}
	switch e.Op {
	case ExprAnd, ExprOr:
		l, r := exprSimplify(e.Left), exprSimplify(e.Right)
		absorb, neutral := "n", "y"
		if e.Op == ExprOr {
			absorb, neutral = "y", "n"
		}
		switch {
		case isConst(l, absorb):
			return l
		case isConst(r, absorb):
			return r
		case isConst(l, neutral):
			return r
		case isConst(r, neutral):
			return l
		}
		return &Expr{Op: e.Op, Left: l, Right: r}
	case ExprNot:
		return &Expr{Op: ExprNot, Left: exprSimplify(e.Left)}
	}
	return e
}
