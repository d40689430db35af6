package kconfig

import (
	"bytes"
	"fmt"
	"strings"
)

// readConfig applies a .config file's assignments as user values, as
// conf_read_simple does (all previous user values are dropped first when
// reset is set). It returns conf's warnings ("name:line:warning: ...").
func (e *evaluator) readConfig(name string, data []byte, reset bool) []string {
	if reset {
		e.user = make([]evalUser, len(e.t.syms))
		e.prio = map[*Menu][]*Symbol{}
	}
	var warns []string
	warn := func(line int, f string, a ...any) {
		warns = append(warns, fmt.Sprintf("%s:%d:warning: ", name, line)+fmt.Sprintf(f, a...))
	}
	seen := map[*Symbol]bool{}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		lineno := i + 1
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		var symName, val string
		if line[0] == '#' {
			if len(line) < 2 || line[1] != ' ' {
				continue
			}
			p := line[2:]
			if !strings.HasPrefix(p, DefaultPrefix) {
				continue
			}
			rest := p[len(DefaultPrefix):]
			sp := strings.IndexByte(rest, ' ')
			if sp < 0 {
				continue
			}
			if rest[sp+1:] != "is not set" {
				continue
			}
			symName, val = rest[:sp], "n"
		} else {
			if !strings.HasPrefix(line, DefaultPrefix) {
				warn(lineno, "unexpected data: %s", line)
				continue
			}
			rest := line[len(DefaultPrefix):]
			eq := strings.IndexByte(rest, '=')
			if eq < 0 {
				warn(lineno, "unexpected data: %s", line)
				continue
			}
			symName, val = rest[:eq], rest[eq+1:]
		}
		s := e.t.byName[symName]
		if s == nil {
			continue
		}
		if seen[s] {
			warn(lineno, "override: reassigning to symbol %s", s.Name)
		}
		if !e.setUser(s, val, func(f string, a ...any) { warn(lineno, f, a...) }) {
			continue
		}
		seen[s] = true
		if s.choice != nil {
			e.moveToFront(s)
		}
	}
	return warns
}

// setUser is conf_set_sym_val for S_DEF_USER; it returns false when the
// line is rejected.
func (e *evaluator) setUser(s *Symbol, p string, warn func(string, ...any)) bool {
	u := &e.user[s.id]
	first := byte(0)
	if p != "" {
		first = p[0]
	}
	switch s.Type {
	case TypeTristate, TypeBool:
		switch {
		case first == 'm' && s.Type == TypeTristate:
			u.set, u.tri = true, Mod
		case first == 'y':
			u.set, u.tri = true, Yes
		case first == 'n':
			u.set, u.tri = true, No
		default:
			warn("symbol value '%s' invalid for %s", p, s.Name)
			return false
		}
	case TypeString:
		if first != '"' {
			return true
		}
		var b strings.Builder
		closed := false
		for i := 1; i < len(p); i++ {
			c := p[i]
			if c == '"' {
				closed = true
				break
			}
			if c == '\\' {
				i++
				if i >= len(p) {
					break
				}
				b.WriteByte(p[i])
				continue
			}
			b.WriteByte(c)
		}
		if !closed {
			warn("invalid string found")
			return false
		}
		u.set, u.str = true, b.String()
	case TypeInt, TypeHex:
		if !stringValid(s.Type, p) {
			warn("symbol value '%s' invalid for %s", p, s.Name)
			return false
		}
		u.set, u.str = true, p
	}
	return true
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
		val = StringValue(val).String() // escape_string_value
	}
	b.WriteString(DefaultPrefix + s.Name + "=" + val + "\n")
}

// writeConfig is conf_write: the .config file.
func (e *evaluator) writeConfig() []byte {
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

// writeDefconfig is conf_write_defconfig (savedefconfig).
func (e *evaluator) writeDefconfig() []byte {
	var b bytes.Buffer
	e.invalidate()
	written := make([]bool, len(e.t.syms))
	walk(e.t.Root, func(m *Menu) {
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
