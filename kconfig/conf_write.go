package kconfig

import (
	"bytes"
	"strings"
)

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

// confEscape is escape_string_value.
func confEscape(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// printSymbol is print_symbol_for_dotconfig.
func (e *evaluator) printSymbol(b *bytes.Buffer, s *Symbol) {
	if s.Type == TypeUnknown {
		return
	}
	val := e.stringValue(s)
	if (s.Type == TypeBool || s.Type == TypeTristate) && val == "n" {
		b.WriteString("# " + DefaultPrefix + s.Name + " is not set\n")
		return
	}
	if s.Type == TypeString {
		val = confEscape(val)
	}
	b.WriteString(DefaultPrefix + s.Name + "=" + val + "\n")
}

// confWrite is conf_write: the .config file.
func (e *evaluator) confWrite() []byte {
	var b bytes.Buffer
	b.WriteString("#\n# Automatically generated file; DO NOT EDIT.\n# " + e.t.Root.Prompt.Text + "\n#\n")
	written := make([]bool, len(e.t.syms))
	needNewline := false
	root := e.t.Root
	m := root.List
	for m != nil {
		s := m.Sym
		if s == nil {
			if e.menuVisible(m) {
				b.WriteString("\n#\n# " + m.Prompt.Text + "\n#\n")
				needNewline = false
			}
		} else if !s.IsChoice() && !written[s.id] {
			e.calc(s)
			written[s.id] = true
			if e.vals[s.id].write {
				if needNewline {
					b.WriteByte('\n')
					needNewline = false
				}
				e.printSymbol(&b, s)
			}
		}
		if m.List != nil {
			m = m.List
			continue
		}
		for {
			if m.Sym == nil && m != root && m.Prompt != nil && m.Prompt.Kind == PropMenu && e.menuVisible(m) {
				b.WriteString("# end of " + m.Prompt.Text + "\n")
				needNewline = true
			}
			if m.Next != nil {
				m = m.Next
				break
			}
			m = m.Parent
			if m == nil {
				break
			}
		}
	}
	return b.Bytes()
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

// confWriteDefconfig is conf_write_defconfig (savedefconfig).
func (e *evaluator) confWriteDefconfig() []byte {
	var b bytes.Buffer
	e.invalidate()
	written := make([]bool, len(e.t.syms))
	langWalk(e.t.Root, func(m *Menu) {
		s := m.Sym
		if s == nil || s.IsChoice() || written[s.id] {
			return
		}
		e.calc(s)
		written[s.id] = true
		if !e.vals[s.id].write {
			return
		}
		if !e.changeable(s) {
			return
		}
		if e.stringValue(s) == e.stringDefault(s) {
			return
		}
		if s.choice != nil {
			if ds := e.choiceDefault(s.choice); s == ds && e.vals[s.id].tri == Yes {
				return
			}
		}
		e.printSymbol(&b, s)
	})
	return b.Bytes()
}
