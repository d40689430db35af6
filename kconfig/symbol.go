package kconfig

import (
	"math"
	"strings"
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

// Symbol is a Kconfig symbol. A Tree's symbols are shared by every
// evaluation: values live in a TargetResult, not here.
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
func (s *Symbol) Choice() *Choice { return s.choice }

// IsChoice reports whether s is the (nameless) symbol of a choice block.
func (s *Symbol) IsChoice() bool { return s.isChoice != nil }

// String returns the symbol's name ("<choice>" for a choice).
func (s *Symbol) String() string { return exprSymName(s) }

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

// evalSym is the state conf keeps per symbol during one evaluation (the
// fields of struct symbol that change: curr, visible, the dependency
// values, SYMBOL_VALID and SYMBOL_WRITE).
type evalSym struct {
	tri     Tristate
	str     string
	valid   bool
	write   bool
	visible Tristate
	dirDep  Tristate
	revDep  Tristate
	implied Tristate
}

// evalUser is a user value (S_DEF_USER): what the input .config said.
type evalUser struct {
	set bool
	tri Tristate
	str string
}

// evaluator computes symbol values with sym_calc_value's semantics.
type evaluator struct {
	t          *Tree
	vals       []evalSym
	user       []evalUser
	modulesVal Tristate
	prio       map[*Menu][]*Symbol // choice members, highest priority first
	unmet      map[*Symbol]bool
}

func newEvaluator(t *Tree) *evaluator {
	e := &evaluator{t: t, user: make([]evalUser, len(t.syms)), prio: map[*Menu][]*Symbol{}}
	e.invalidate()
	return e
}

// invalidate is sym_clear_all_valid: forget every computed value, then
// compute MODULES first.
func (e *evaluator) invalidate() {
	e.vals = make([]evalSym, len(e.t.syms))
	for _, c := range []*Symbol{e.t.yes, e.t.mod, e.t.no} {
		v := &e.vals[c.id]
		v.valid = true
		v.str = c.Name
		v.tri, _ = ParseTristate(c.Name)
	}
	e.unmet = map[*Symbol]bool{}
	e.calc(e.t.Modules)
}

func (e *evaluator) symType(s *Symbol) Type {
	if s.Type == TypeTristate && e.modulesVal == No {
		return TypeBool
	}
	return s.Type
}

func (e *evaluator) priority(c *Menu) []*Symbol {
	if p, ok := e.prio[c]; ok {
		return p
	}
	return c.members
}

// moveToFront gives a choice member the highest priority (list_move).
func (e *evaluator) moveToFront(s *Symbol) {
	c := s.choice
	old := e.priority(c)
	p := make([]*Symbol, 0, len(old))
	p = append(p, s)
	for _, m := range old {
		if m != s {
			p = append(p, m)
		}
	}
	e.prio[c] = p
}

func (e *evaluator) isPrompt(p *Property) bool {
	return p.Kind == PropPrompt || p.Kind == PropMenu || p.Kind == PropComment
}

// calcVisibility is sym_calc_visibility.
func (e *evaluator) calcVisibility(s *Symbol) {
	v := &e.vals[s.id]
	if s.Transitional {
		v.visible = Yes
		return
	}
	tri := No
	for _, p := range s.Props {
		if e.isPrompt(p) {
			tri = tri.Or(e.expr(p.Cond))
		}
	}
	if tri == Mod && (s.Type != TypeTristate || e.modulesVal == No) {
		tri = Yes
	}
	v = &e.vals[s.id]
	v.visible = tri
	if s.choice != nil {
		return
	}
	conv := func(tri Tristate) Tristate {
		if tri == Mod && e.symType(s) == TypeBool {
			return Yes
		}
		return tri
	}
	dir := Yes
	if s.DirDep != nil {
		dir = e.expr(s.DirDep)
	}
	rev := No
	if s.RevDep != nil {
		rev = e.expr(s.RevDep)
	}
	imp := No
	if s.Implied != nil {
		imp = e.expr(s.Implied)
	}
	v = &e.vals[s.id]
	v.dirDep, v.revDep, v.implied = conv(dir), conv(rev), conv(imp)
}

// defaultProp is sym_get_default_prop.
func (e *evaluator) defaultProp(s *Symbol) (*Property, Tristate) {
	for _, p := range s.Props {
		if p.Kind != PropDefault {
			continue
		}
		if c := e.expr(p.Cond); c != No {
			return p, c
		}
	}
	return nil, No
}

// rangeProp is sym_get_range_prop.
func (e *evaluator) rangeProp(s *Symbol) *Property {
	for _, p := range s.Props {
		if p.Kind == PropRange && e.expr(p.Cond) != No {
			return p
		}
	}
	return nil
}

func propSymbol(p *Property) *Symbol {
	if p != nil && p.Expr != nil && p.Expr.Op == ExprSymbol {
		return p.Expr.Sym
	}
	return nil
}

// calc is sym_calc_value.
func (e *evaluator) calc(s *Symbol) {
	if s == nil || e.vals[s.id].valid {
		return
	}
	e.vals[s.id].valid = true
	var newTri Tristate
	var newStr string
	switch s.Type {
	case TypeInt:
		newStr = "0"
	case TypeHex:
		newStr = "0x0"
	case TypeString:
		newStr = ""
	case TypeBool, TypeTristate:
		newStr = "n"
	default:
		v := &e.vals[s.id]
		v.str, v.tri = s.Name, No
		return
	}
	e.vals[s.id].write = false
	e.calcVisibility(s)
	v := &e.vals[s.id]
	if v.visible != No {
		v.write = true
	}
	v.tri, v.str = newTri, newStr
	u := e.user[s.id]
	var prop *Property
	switch e.symType(s) {
	case TypeBool, TypeTristate:
		if s.choice != nil {
			e.calcChoice(s.choice)
			newTri = e.vals[s.id].tri
		} else {
			v := &e.vals[s.id]
			if v.visible != No && u.set {
				newTri = u.tri.And(v.visible)
			} else {
				if v.revDep != No {
					v.write = true
				}
				if !s.IsChoice() {
					var cond Tristate
					prop, cond = e.defaultProp(s)
					if prop != nil {
						newTri = e.expr(prop.Expr).And(cond)
						if newTri != No {
							e.vals[s.id].write = true
						}
					}
					v = &e.vals[s.id]
					if v.implied != No {
						v.write = true
						newTri = newTri.Or(v.implied).And(v.dirDep)
					}
				}
			}
			v = &e.vals[s.id]
			if v.dirDep < v.revDep {
				e.unmet[s] = true
			}
			newTri = newTri.Or(v.revDep)
		}
		if newTri == Mod && e.symType(s) == TypeBool {
			newTri = Yes
		}
	case TypeString, TypeHex, TypeInt:
		if e.vals[s.id].visible != No && u.set {
			newStr = u.str
			break
		}
		prop, _ = e.defaultProp(s)
		if ds := propSymbol(prop); ds != nil {
			e.vals[s.id].write = true
			e.calc(ds)
			newStr = e.vals[ds.id].str
		}
	}
	if prop != nil && !u.set {
		if ds := propSymbol(prop); ds != nil && ds.Transitional && e.user[ds.id].set {
			e.user[s.id] = evalUser{set: true, tri: newTri, str: newStr}
		}
	}
	v = &e.vals[s.id]
	v.tri, v.str = newTri, newStr
	e.validateRange(s)
	if s == e.t.Modules {
		e.modulesVal = e.vals[s.id].tri
	}
	if s.IsChoice() || s.Transitional {
		e.vals[s.id].write = false
	}
}

// cStrtoll is C's strtoll: leading space, sign, optional 0x for base 16
// (and base 0), digits until the first invalid one, clamped on overflow.
// ok reports whether the whole string was used and was not empty.
func cStrtoll(s string, base int) (int64, bool) {
	u, neg, ok, over := cStrtoParse(s, base)
	if over {
		if neg {
			return math.MinInt64, false
		}
		return math.MaxInt64, false
	}
	if neg {
		if u > 1<<63 {
			return math.MinInt64, false
		}
		return -int64(u), ok
	}
	if u > math.MaxInt64 {
		return math.MaxInt64, false
	}
	return int64(u), ok
}

// cStrtoull is C's strtoull (a '-' negates modulo 2^64).
func cStrtoull(s string, base int) (uint64, bool) {
	u, neg, ok, over := cStrtoParse(s, base)
	if over {
		return math.MaxUint64, false
	}
	if neg {
		return -u, ok
	}
	return u, ok
}

func cStrtoParse(s string, base int) (u uint64, neg, ok, over bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if (base == 16 || base == 0) && i+2 < len(s)+0 && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && cDigit(s[i+2]) < 16 {
		i += 2
		base = 16
	} else if base == 0 {
		if i < len(s) && s[i] == '0' {
			base = 8
		} else {
			base = 10
		}
	}
	start := i
	for i < len(s) {
		d := cDigit(s[i])
		if d >= base {
			break
		}
		if u > (math.MaxUint64-uint64(d))/uint64(base) {
			over = true
		}
		u = u*uint64(base) + uint64(d)
		i++
	}
	return u, neg, i == len(s) && i > start, over
}

func cDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

func (e *evaluator) rangeVal(s *Symbol, base int) int64 {
	e.calc(s)
	switch s.Type {
	case TypeInt:
		base = 10
	case TypeHex:
		base = 16
	}
	n, _ := cStrtoll(e.vals[s.id].str, base)
	return n
}

// validateRange is sym_validate_range.
func (e *evaluator) validateRange(s *Symbol) {
	base := 10
	switch s.Type {
	case TypeInt:
	case TypeHex:
		base = 16
	default:
		return
	}
	p := e.rangeProp(s)
	if p == nil {
		return
	}
	val, _ := cStrtoll(e.vals[s.id].str, base)
	rs := p.Expr.Sym
	if val >= e.rangeVal(rs, base) {
		rs = p.Expr.Sym2
		if val <= e.rangeVal(rs, base) {
			return
		}
	}
	e.vals[s.id].str = e.vals[rs.id].str
}

// choiceDefault is sym_choice_default.
func (e *evaluator) choiceDefault(c *Menu) *Symbol {
	for _, p := range c.Sym.Props {
		if p.Kind != PropDefault || e.expr(p.Cond) == No {
			continue
		}
		if ds := propSymbol(p); ds != nil && e.vals[ds.id].visible != No {
			return ds
		}
	}
	for _, s := range c.members {
		if e.vals[s.id].visible != No {
			return s
		}
	}
	return nil
}

// calcChoice is sym_calc_choice.
func (e *evaluator) calcChoice(c *Menu) *Symbol {
	var res *Symbol
	prio := e.priority(c)
	for _, s := range prio {
		e.calcVisibility(s)
		if e.vals[s.id].visible == No {
			continue
		}
		if u := e.user[s.id]; u.set && u.tri == Yes {
			res = s
			break
		}
	}
	if res == nil {
		res = e.choiceDefault(c)
		if res != nil && e.user[res.id].set && e.user[res.id].tri == No {
			res = nil
		}
	}
	if res == nil {
		for _, s := range c.members {
			if e.vals[s.id].visible != No && !e.user[s.id].set {
				res = s
				break
			}
		}
	}
	if res == nil {
		for i := len(prio) - 1; i >= 0; i-- {
			if e.vals[prio[i].id].visible != No {
				res = prio[i]
				break
			}
		}
	}
	for _, s := range c.members {
		v := &e.vals[s.id]
		if v.visible == No {
			continue
		}
		v.tri = No
		if s == res {
			v.tri = Yes
		}
		v.valid, v.write = true, true
	}
	return res
}

// stringValue is sym_get_string_value.
func (e *evaluator) stringValue(s *Symbol) string {
	switch s.Type {
	case TypeBool, TypeTristate:
		return e.vals[s.id].tri.String()
	}
	return e.vals[s.id].str
}

type evalKind uint8

const (
	kString evalKind = iota
	kSigned
	kUnsigned
)

// parseString is expr_parse_string.
func evalParseString(str string, t Type) (evalKind, int64, uint64) {
	switch t {
	case TypeBool, TypeTristate:
		switch str {
		case "n":
			return kSigned, 0, 0
		case "m":
			return kSigned, 1, 0
		case "y":
			return kSigned, 2, 0
		}
		return kSigned, -1, 0
	case TypeInt:
		n, ok := cStrtoll(str, 10)
		if ok && cIsXdigit(str[len(str)-1]) {
			return kSigned, n, 0
		}
	case TypeHex:
		n, ok := cStrtoull(str, 16)
		if ok && cIsXdigit(str[len(str)-1]) {
			return kUnsigned, 0, n
		}
	default:
		n, ok := cStrtoll(str, 0)
		if ok && cIsXdigit(str[len(str)-1]) {
			return kSigned, n, 0
		}
	}
	return kString, 0, 0
}

func cIsXdigit(c byte) bool { return cDigit(c) < 16 }

// expr is expr_calc_value.
func (e *evaluator) expr(x *Expr) Tristate {
	if x == nil {
		return Yes
	}
	switch x.Op {
	case ExprSymbol:
		e.calc(x.Sym)
		return e.vals[x.Sym.id].tri
	case ExprAnd:
		return e.expr(x.Left).And(e.expr(x.Right))
	case ExprOr:
		return e.expr(x.Left).Or(e.expr(x.Right))
	case ExprNot:
		return e.expr(x.Left).Not()
	}
	e.calc(x.Sym)
	e.calc(x.Sym2)
	s1, s2 := e.stringValue(x.Sym), e.stringValue(x.Sym2)
	k1, k2 := kString, kString
	var l1, l2 int64
	var u1, u2 uint64
	if x.Sym.Type != TypeString || x.Sym2.Type != TypeString {
		k1, l1, u1 = evalParseString(s1, x.Sym.Type)
		k2, l2, u2 = evalParseString(s2, x.Sym2.Type)
	}
	var res int
	switch {
	case k1 == kString || k2 == kString:
		res = strings.Compare(s1, s2)
	case k1 == kUnsigned || k2 == kUnsigned:
		if k1 == kSigned {
			u1 = uint64(l1)
		}
		if k2 == kSigned {
			u2 = uint64(l2)
		}
		res = cmpU(u1, u2)
	default:
		res = cmpS(l1, l2)
	}
	var ok bool
	switch x.Op {
	case ExprEqual:
		ok = res == 0
	case ExprUnequal:
		ok = res != 0
	case ExprLess:
		ok = res < 0
	case ExprLessEqual:
		ok = res <= 0
	case ExprGreater:
		ok = res > 0
	case ExprGreaterEq:
		ok = res >= 0
	}
	if ok {
		return Yes
	}
	return No
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpS(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stringValid is sym_string_valid.
func stringValid(t Type, str string) bool {
	switch t {
	case TypeString:
		return true
	case TypeInt:
		s := str
		if s != "" && s[0] == '-' {
			s = s[1:]
		}
		if s == "" || s[0] < '0' || s[0] > '9' {
			return false
		}
		if s[0] == '0' && len(s) > 1 {
			return false
		}
		for i := 1; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	case TypeHex:
		s := str
		if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
			s = s[2:]
		}
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !cIsXdigit(s[i]) {
				return false
			}
		}
		return true
	case TypeBool, TypeTristate:
		if str == "" {
			return false
		}
		switch str[0] {
		case 'y', 'Y', 'm', 'M', 'n', 'N':
			return true
		}
	}
	return false
}

// changeable is sym_is_changeable.
func (e *evaluator) changeable(s *Symbol) bool {
	v := e.vals[s.id]
	return !s.IsChoice() && v.visible > v.revDep
}

// stringDefault is sym_get_string_default.
func (e *evaluator) stringDefault(s *Symbol) string {
	e.calcVisibility(s)
	e.calc(e.t.Modules)
	val := No
	str := ""
	if p, cond := e.defaultProp(s); p != nil {
		switch s.Type {
		case TypeBool, TypeTristate:
			val = e.expr(p.Expr).And(cond)
		default:
			if ds := propSymbol(p); ds != nil {
				e.calc(ds)
				str = e.vals[ds.id].str
			}
		}
	}
	v := e.vals[s.id]
	val = val.Or(v.revDep)
	if val == Mod && s.choice == nil && e.vals[e.t.Modules.id].tri == No {
		val = Yes
	}
	if s.Type == TypeBool && val == Mod {
		val = Yes
	}
	if val < v.implied {
		val = v.implied
	}
	switch s.Type {
	case TypeBool, TypeTristate:
		return val.String()
	case TypeInt:
		if str == "" {
			str = "0"
		}
	case TypeHex:
		if str == "" {
			str = "0x0"
		}
	}
	return str
}
