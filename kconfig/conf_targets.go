package kconfig

import (
	"bytes"
	"fmt"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Result is a configuration evaluated against a Tree: every symbol's
// value as scripts/kconfig/conf computes it.
type Result struct {
	t *Tree
	e *evaluator
	// Warnings are conf's warnings about the input (unknown values,
	// reassignments) and unmet direct dependencies of selected symbols.
	Warnings []string
}

func (t *Tree) result(e *evaluator, warns []string) *Result {
	r := &Result{t: t, e: e, Warnings: warns}
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

// confInput turns a Config into the bytes conf would read.
func confInput(c *Config) []byte {
	if c == nil {
		return nil
	}
	return c.Bytes()
}

func confName(c *Config, def string) string {
	if c == nil || c.Name() == "" {
		return def
	}
	return c.Name()
}

// OldDefconfig is `make olddefconfig`: the values of in, with every other
// symbol at its default. A nil in is an empty .config (alldefconfig).
func (t *Tree) OldDefconfig(in *Config) *Result {
	return t.oldDefconfigBytes(confName(in, ".config"), confInput(in))
}

func (t *Tree) oldDefconfigBytes(name string, data []byte) *Result {
	e := newEvaluator(t)
	warns := e.confLoad(name, data, true)
	e.invalidate()
	return t.result(e, warns)
}

// Defconfig is `make defconfig` (conf --defconfig=FILE): the same as
// OldDefconfig on the defconfig file.
func (t *Tree) Defconfig(in *Config) *Result { return t.OldDefconfig(in) }

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
func (t *Tree) AllConfig(mode AllMode, allconfig *Config) *Result {
	return t.allConfigBytes(mode, confName(allconfig, "all.config"), confInput(allconfig))
}

func (t *Tree) allConfigBytes(mode AllMode, name string, data []byte) *Result {
	e := newEvaluator(t)
	var warns []string
	if data != nil {
		warns = e.confLoad(name, data, true)
	}
	if mode != AllDef {
		val := map[AllMode]Tristate{AllNo: No, AllYes: Yes, AllMod: Mod}[mode]
		langWalk(t.Root, func(m *Menu) {
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
func (t *Tree) TinyConfig() (*Result, error) {
	base, err := os.ReadFile(filepath.Join(t.srcDir, "kernel/configs/tiny-base.config"))
	if err != nil {
		return nil, fmt.Errorf("kconfig: tinyconfig: %w", err)
	}
	r := t.allConfigBytes(AllNo, "kernel/configs/tiny-base.config", base)
	merged := r.Bytes()
	srcArch := t.Env["SRCARCH"]
	for _, f := range []string{"kernel/configs/tiny.config", "arch/" + srcArch + "/configs/tiny.config"} {
		frag, err := os.ReadFile(filepath.Join(t.srcDir, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("kconfig: tinyconfig: %w", err)
		}
		merged = confMergeText(merged, frag)
	}
	return t.oldDefconfigBytes(".config", merged), nil
}

var confCfgRe = regexp.MustCompile(`^` + DefaultPrefix + `[a-zA-Z0-9_]+`)
var confNotSetRe = regexp.MustCompile(`^# ` + DefaultPrefix + `[a-zA-Z0-9_]+ is not set$`)

func confCfgName(line string) string {
	if m := confCfgRe.FindString(line); m != "" {
		return m
	}
	if confNotSetRe.MatchString(line) {
		return strings.TrimSuffix(strings.TrimPrefix(line, "# "), " is not set")
	}
	return ""
}

// confMergeText is one step of merge_config.sh: the base without the
// symbols the fragment sets (except "=n" kept before "is not set"), a
// blank line, then the fragment.
func confMergeText(base, frag []byte) []byte {
	fragLines := confLines(frag)
	merge := map[string]string{}
	for _, l := range fragLines {
		if c := confCfgName(l); c != "" {
			merge[c] = l
		}
	}
	var out bytes.Buffer
	for _, l := range confLines(base) {
		c := confCfgName(l)
		nv, in := merge[c]
		if c == "" || !in {
			out.WriteString(l + "\n")
			continue
		}
		if l == nv {
			continue
		}
		if strings.HasSuffix(l, "=n") && strings.HasSuffix(nv, " is not set") {
			out.WriteString(l + "\n")
		}
	}
	out.WriteString("\n")
	for _, l := range fragLines {
		out.WriteString(l + "\n")
	}
	return out.Bytes()
}

func confLines(b []byte) []string {
	s := string(b)
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// Bytes returns the .config file conf writes for this result.
func (r *Result) Bytes() []byte { return r.e.confWrite() }

// Savedefconfig returns the minimal defconfig `make savedefconfig` writes.
func (r *Result) Savedefconfig() []byte {
	e := &evaluator{t: r.t, user: append([]evalUser(nil), r.e.user...), prio: r.e.prio}
	return e.confWriteDefconfig()
}

// Config returns the result as a Config (the written .config, parsed).
func (r *Result) Config() (*Config, error) {
	return Parse(bytes.NewReader(r.Bytes()), ".config", ParseOptions{Lenient: true})
}

// WriteFile writes the .config to path atomically (a temporary file in
// the same directory, synced, then renamed; an existing file keeps its
// permissions).
func (r *Result) WriteFile(path string) error {
	return confWriteAtomic(path, r.Bytes())
}

func confWriteAtomic(path string, data []byte) error {
	if err := atomicfile.Update(path, data, 0o644); err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	return nil
}

// Symbol values.

// Tristate returns the value of a bool or tristate symbol (n for unknown
// names and other types).
func (r *Result) Tristate(name string) Tristate {
	s := r.t.byName[name]
	if s == nil {
		return No
	}
	return r.e.vals[s.id].tri
}

// Value returns a symbol's value as conf prints it ("y", "m", "n", a
// number, or an unquoted string) and whether the symbol exists.
func (r *Result) Value(name string) (string, bool) {
	s := r.t.byName[name]
	if s == nil {
		return "", false
	}
	return r.e.stringValue(s), true
}

// Written reports whether the symbol appears in the .config file.
func (r *Result) Written(name string) bool {
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
