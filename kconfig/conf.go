package kconfig

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rflkit/rflkit/internal/atomicfile"
)

// TargetResult is what a configuration target (OldDefconfig, Defconfig,
// AllConfig, TinyConfig, RandConfig) produces: a configuration evaluated
// against a Tree, every symbol's value as scripts/kconfig/conf computes
// it, and the .config file conf writes for it (Bytes, WriteFile).
type TargetResult struct {
	t *Tree
	e *evaluator
	// Warnings are conf's warnings about the input (unknown values,
	// reassignments) and unmet direct dependencies of selected symbols.
	Warnings []string
}

// Result is the old name of TargetResult.
//
// Deprecated: use TargetResult.
type Result = TargetResult

func (t *Tree) result(e *evaluator, warns []string) *TargetResult {
	r := &TargetResult{t: t, e: e, Warnings: warns}
	for _, s := range t.syms {
		e.calc(s)
	}
	for _, s := range t.syms {
		if e.unmet[s] {
			r.Warnings = append(r.Warnings, e.unmetWarning(s))
		}
	}
	return r
}

// configBytes turns a Config into the bytes conf would read.
func configBytes(c *Config) []byte {
	if c == nil {
		return nil
	}
	return c.Bytes()
}

// configName is c's name in conf's warnings, def for a nil or nameless c.
func configName(c *Config, def string) string {
	if c == nil || c.Name() == "" {
		return def
	}
	return c.Name()
}

// OldDefconfig is `make olddefconfig`: the values of in, with every other
// symbol at its default. A nil in is an empty .config (alldefconfig).
func (t *Tree) OldDefconfig(in *Config) *TargetResult {
	return t.oldDefconfigBytes(configName(in, ".config"), configBytes(in))
}

func (t *Tree) oldDefconfigBytes(name string, data []byte) *TargetResult {
	e := newEvaluator(t)
	warns := e.readConfig(name, data, true)
	e.invalidate()
	return t.result(e, warns)
}

// Defconfig is `make defconfig` (conf --defconfig=FILE): the same as
// OldDefconfig on the defconfig file.
func (t *Tree) Defconfig(in *Config) *TargetResult { return t.OldDefconfig(in) }

// DefconfigPath returns the architecture's default defconfig file
// (arch/$SRCARCH/configs/$KBUILD_DEFCONFIG).
func (t *Tree) DefconfigPath() string { return filepath.Join(t.srcDir, t.defconfig) }

// AllMode is the answer the all*config targets give to new symbols.
type AllMode uint8

// The all*config modes.
const (
	AllDef AllMode = iota // alldefconfig: defaults
	AllNo                 // allnoconfig
	AllYes                // allyesconfig
	AllMod                // allmodconfig
)

// AllConfig is `make all{no,yes,mod,def}config`. allconfig is
// KCONFIG_ALLCONFIG (values that are kept), or nil.
func (t *Tree) AllConfig(mode AllMode, allconfig *Config) *TargetResult {
	return t.allConfigBytes(mode, configName(allconfig, "all.config"), configBytes(allconfig))
}

func (t *Tree) allConfigBytes(mode AllMode, name string, data []byte) *TargetResult {
	e := newEvaluator(t)
	var warns []string
	if data != nil {
		warns = e.readConfig(name, data, true)
	}
	if mode != AllDef {
		val := map[AllMode]Tristate{AllNo: No, AllYes: Yes, AllMod: Mod}[mode]
		walk(t.Root, func(m *Menu) {
			s := m.Sym
			if s == nil || m.Prompt == nil || e.user[s.id].set ||
				(s.Type != TypeBool && s.Type != TypeTristate) || s.choice != nil || s.IsChoice() {
				return
			}
			e.user[s.id] = evalUser{set: true, tri: val}
		})
	}
	e.invalidate()
	return t.result(e, warns)
}

// TinyConfig is `make tinyconfig`: allnoconfig with
// kernel/configs/tiny-base.config, then the tiny.config fragments of
// kernel/configs and arch/$SRCARCH/configs merged in (merge_config.sh -m),
// then olddefconfig.
func (t *Tree) TinyConfig() (*TargetResult, error) {
	base, err := os.ReadFile(filepath.Join(t.srcDir, "kernel/configs/tiny-base.config"))
	if err != nil {
		return nil, fmt.Errorf("kconfig: tinyconfig: %w", err)
	}
	merged, err := t.allConfigBytes(AllNo, "kernel/configs/tiny-base.config", base).Config()
	if err != nil {
		return nil, fmt.Errorf("kconfig: tinyconfig: %w", err)
	}
	srcArch := t.Env["SRCARCH"]
	for _, f := range []string{"kernel/configs/tiny.config", "arch/" + srcArch + "/configs/tiny.config"} {
		data, err := os.ReadFile(filepath.Join(t.srcDir, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("kconfig: tinyconfig: %w", err)
		}
		frag, err := Parse(bytes.NewReader(data), f, ParseOptions{Lenient: true})
		if err != nil {
			return nil, fmt.Errorf("kconfig: tinyconfig: %w", err)
		}
		merged, _ = Merge(merged, frag)
	}
	return t.oldDefconfigBytes(".config", merged.Bytes()), nil
}

// Bytes returns the .config file conf writes for this result.
func (r *TargetResult) Bytes() []byte { return r.e.writeConfig() }

// Savedefconfig returns the minimal defconfig `make savedefconfig` writes.
func (r *TargetResult) Savedefconfig() []byte {
	e := &evaluator{t: r.t, user: append([]evalUser(nil), r.e.user...), prio: r.e.prio}
	return e.writeDefconfig()
}

// Config returns the result as a Config (the written .config, parsed).
func (r *TargetResult) Config() (*Config, error) {
	return Parse(bytes.NewReader(r.Bytes()), ".config", ParseOptions{Lenient: true})
}

// WriteFile writes the .config to path atomically, by the same rule as
// Config.WriteFile: a temporary file in the target's directory, synced,
// then renamed; a symbolic link (dangling or not) is followed and kept; an
// existing file keeps its permissions, owner and group.
func (r *TargetResult) WriteFile(path string) error {
	if err := atomicfile.Update(path, r.Bytes(), 0o644); err != nil {
		return fmt.Errorf("kconfig: writing %s: %w", path, err)
	}
	return nil
}

// Symbol values.

// Tristate returns the value of a bool or tristate symbol (n for unknown
// names and other types).
func (r *TargetResult) Tristate(name string) Tristate {
	s := r.t.byName[name]
	if s == nil {
		return No
	}
	return r.e.vals[s.id].tri
}

// Value returns a symbol's value as conf prints it ("y", "m", "n", a
// number, or an unquoted string) and whether the symbol exists.
func (r *TargetResult) Value(name string) (string, bool) {
	s := r.t.byName[name]
	if s == nil {
		return "", false
	}
	return r.e.stringValue(s), true
}

// Written reports whether the symbol appears in the .config file.
func (r *TargetResult) Written(name string) bool {
	s := r.t.byName[name]
	return s != nil && r.e.vals[s.id].write && s.Type != TypeUnknown
}

// unmetWarning is sym_warn_unmet_dep's message.
func (e *evaluator) unmetWarning(s *Symbol) string {
	var b strings.Builder
	val := func(x *Symbol) string { return e.stringValue(x) }
	v := e.vals[s.id]
	b.WriteString("\nWARNING: unmet direct dependencies detected for " + s.Name + "\n")
	fmt.Fprintf(&b, "  Depends on [%s]: ", v.dirDep)
	exprPrint(&b, exprSimplify(s.DirDep), ExprSymbol, val)
	b.WriteString("\n")
	for _, level := range []Tristate{Yes, Mod} {
		title := fmt.Sprintf("  Selected by [%s]:\n", level)
		for _, term := range exprSplitOr(s.RevDep) {
			if e.expr(term) != level {
				continue
			}
			b.WriteString(title)
			title = ""
			b.WriteString("  - ")
			exprPrint(&b, term, ExprSymbol, val)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// ChangedInputWarning is what conf prints on stderr with
// KCONFIG_WARN_CHANGED_INPUT set: every symbol whose value in the input
// differs from its final value, in menu order ("" when none does).
func (r *TargetResult) ChangedInputWarning() string {
	e := r.e
	var b strings.Builder
	seen := make([]bool, len(r.t.syms))
	walk(r.t.Root, func(m *Menu) {
		s := m.Sym
		if s == nil || s.IsChoice() || seen[s.id] {
			return
		}
		seen[s.id] = true
		u := e.user[s.id]
		if !u.set || s.Type == TypeUnknown {
			return
		}
		var in, out string
		switch s.Type {
		case TypeBool, TypeTristate:
			if u.tri == e.vals[s.id].tri {
				return
			}
			in, out = u.tri.String(), e.vals[s.id].tri.String()
		default:
			in, out = u.str, e.stringValue(s)
			if in == out {
				return
			}
		}
		if b.Len() == 0 {
			b.WriteString("warning: user-provided values changed by Kconfig:\n")
		}
		fmt.Fprintf(&b, "  %s%s: %s -> %s\n", DefaultPrefix, s.Name, in, out)
	})
	return b.String()
}
