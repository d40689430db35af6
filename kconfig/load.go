package kconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// LoadOptions say which Kconfig tree to read and with which toolchain.
// The zero value (with SrcDir set) reads the host architecture's tree with
// make's default tools, caching $(shell) results in the default cache.
type LoadOptions struct {
	// SrcDir is the kernel source tree (required).
	SrcDir string
	// Arch is make's ARCH ("x86_64", "arm64", ...); "" means ARCH from
	// MakeVars or the environment, else the host's (as make does).
	Arch string
	// MakeVars are the variables given on make's command line: LLVM,
	// RUSTC, HOSTRUSTC, RUSTDOC, BINDGEN, CC, ... (toolchain.Report's
	// MakeVars). They decide CC, LD and friends exactly as the top
	// Makefile does.
	MakeVars map[string]string
	// Env is the environment make runs in; nil means os.Environ().
	Env []string
	// Kconfig is the top Kconfig file, relative to SrcDir (or absolute);
	// "" means "Kconfig" (make's KBUILD_KCONFIG).
	Kconfig string
	// ConfEnv, when not nil, is the environment scripts/kconfig/conf is
	// run in by hand, given directly: srctree and the variables the
	// Kconfig files use ($(CC), $(ARCH), ...), over Env (or
	// os.Environ()). No Makefile is read and no make variable computed,
	// so any Kconfig tree loads, not only a kernel's: Arch and MakeVars
	// are ignored. SrcDir defaults to ConfEnv["srctree"], and srctree to
	// SrcDir. Files are found as conf finds them: relative to srctree.
	ConfEnv map[string]string
	// CacheDir is rflkit's cache root; "" means $RFLKIT_CACHE_DIR, else
	// ~/.cache/rflkit. $(shell) results go to its kconfig-macros/.
	CacheDir string
	// NoMacroCache disables the on-disk cache of $(shell) results.
	NoMacroCache bool
	// Fingerprint identifies the toolchain (toolchain.Report.Fingerprint);
	// it is part of the cache key, so a new toolchain re-runs the macros.
	Fingerprint string
	// Output receives $(info) messages and warnings; nil discards them
	// (they are also kept in Tree.Warnings). Warnings are written even
	// when Load fails, as conf prints them before its errors.
	Output io.Writer
	// Info, when not nil, receives the $(info) messages instead of
	// Output (conf prints them on stdout, its warnings on stderr).
	Info io.Writer
}

// Load reads the whole Kconfig tree of opts.SrcDir for one architecture:
// it computes make's environment, runs the preprocessor (running the
// $(shell) commands concurrently and caching them), parses every sourced
// file and propagates dependencies as the kernel's menu_finalize does.
func Load(ctx context.Context, opts LoadOptions) (*Tree, error) {
	if opts.SrcDir == "" && opts.ConfEnv != nil {
		opts.SrcDir = opts.ConfEnv["srctree"]
	}
	if opts.SrcDir == "" {
		return nil, errors.New("kconfig: LoadOptions.SrcDir is empty")
	}
	if fi, err := os.Stat(opts.SrcDir); err != nil {
		return nil, fmt.Errorf("kconfig: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("kconfig: %s is not a directory", opts.SrcDir)
	}
	base := opts.Env
	if base == nil {
		base = os.Environ()
	}
	r, err := newShellRunner(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("kconfig: %w", err)
	}
	defer r.close()
	var env map[string]string
	var defconfig string
	if opts.ConfEnv != nil {
		if env, err = confEnv(opts, base); err != nil {
			return nil, fmt.Errorf("kconfig: %w", err)
		}
	} else {
		var envErr error
		env, defconfig, err = makeEnv(opts, base, func(cmd string, env []string) string {
			out, err := r.runSync(cmd, env)
			if err != nil && envErr == nil {
				envErr = err
			}
			return out
		})
		if err == nil {
			err = envErr
		}
		if err != nil {
			return nil, fmt.Errorf("kconfig: make environment: %w", err)
		}
	}
	envList := envList(env)
	r.setEnv(envList)
	top := opts.Kconfig
	if top == "" {
		top = "Kconfig"
	}
	srcTree := opts.SrcDir
	if opts.ConfEnv != nil {
		srcTree = env["srctree"]
	}
	files := &fileCache{src: srcTree, data: map[string]string{}}
	for round := 1; ; round++ {
		r.pending = map[string]bool{}
		speculative := round <= 8
		shell := r.speculative
		if !speculative {
			shell = func(cmd string) (string, error) { return r.runSync(cmd, nil) }
		}
		t, err := parseTree(top, env, files.read, shell)
		if len(r.pending) == 0 && (err == nil || !strings.Contains(err.Error(), pendingMarker)) {
			if err != nil {
				t.print(opts.Output, opts.Info)
				return nil, err
			}
			if !pendingLeaked(t) {
				t.print(opts.Output, opts.Info)
				r.saveBundle()
				t.macroRuns = map[string]MacroRun{}
				for _, cmds := range t.macroCmds {
					for _, c := range cmds {
						if run, ok := r.run(c); ok {
							t.macroRuns[c] = run
						}
					}
				}
				r.stats.Rounds = round
				calls := t.MacroStats.Calls
				t.MacroStats = r.stats
				t.MacroStats.Calls = calls
				t.Env = env
				t.defconfig = defconfig
				t.srcDir = opts.SrcDir
				t.arch = env["ARCH"]
				return t, nil
			}
		}
		if len(r.pending) == 0 && !speculative {
			if err != nil {
				t.print(opts.Output, opts.Info)
				return nil, err
			}
			return nil, errors.New("kconfig: preprocessor did not converge")
		}
		if err := r.runPending(); err != nil {
			return nil, fmt.Errorf("kconfig: $(shell): %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("kconfig: %w", err)
		}
	}
}

// confEnv is the environment of conf run by hand: base, then
// opts.ConfEnv, with srctree defaulting to the absolute SrcDir.
func confEnv(opts LoadOptions, base []string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range opts.ConfEnv {
		env[k] = v
	}
	if env["srctree"] == "" {
		abs, err := filepath.Abs(opts.SrcDir)
		if err != nil {
			return nil, err
		}
		env["srctree"] = abs
	}
	return env, nil
}

// pendingLeaked reports whether a speculative marker leaked into the tree
// (a command whose output was not known yet).
func pendingLeaked(t *Tree) bool {
	for _, s := range t.syms {
		if strings.Contains(s.Name, pendingMarker) {
			return true
		}
	}
	for _, w := range t.Warnings {
		if strings.Contains(w, pendingMarker) {
			return true
		}
	}
	tainted := false
	walk(t.Root, func(m *Menu) {
		if m.Prompt != nil && strings.Contains(m.Prompt.Text, pendingMarker) {
			tainted = true
		}
	})
	return tainted
}

type fileCache struct {
	src  string
	mu   sync.Mutex
	data map[string]string
}

func (c *fileCache) read(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.data[name]; ok {
		return d, nil
	}
	b, err := os.ReadFile(resolvePath(c.src, name))
	if err != nil {
		return "", err
	}
	c.data[name] = string(b)
	return string(b), nil
}

// parseTree parses the tree from top with the given environment and
// $(shell) implementation, and finalizes it.
func parseTree(top string, env map[string]string, read func(string) (string, error), shell func(string) (string, error)) (*Tree, error) {
	t := newTree()
	calls := 0
	m := &preprocessor{vars: map[string]*macroVar{}, env: env}
	m.shell = func(cmd string) (string, error) {
		calls++
		return shell(cmd)
	}
	m.info = func(msg string) {
		t.Warnings = append(t.Warnings, msg)
		t.infos = append(t.infos, len(t.Warnings)-1)
	}
	m.warn = func(msg string) { t.Warnings = append(t.Warnings, msg) }
	lx := &lexer{macro: m}
	lx.warn = func(msg string) { t.Warnings = append(t.Warnings, msg) }
	p := &parser{t: t, lx: lx, readFile: read}
	if err := p.parseFile(top); err != nil {
		return t, err
	}
	t.MacroStats.Calls = calls
	t.macroCmds = m.byLine
	if p.modules != nil {
		t.Modules = p.modules
	} else {
		t.Modules = t.no
	}
	if t.Root.Prompt == nil {
		t.Root.Prompt = &Property{Kind: PropMenu, Text: "Main menu", Menu: t.Root}
	}
	t.finalize(t.Root, false)
	if err := t.check(); err != nil {
		return t, err
	}
	return t, nil
}

// print writes the preprocessor's and parser's messages: $(info) to info
// (out when nil), the rest to out.
func (t *Tree) print(out, info io.Writer) {
	if info == nil {
		info = out
	}
	next := 0
	for i := range t.Warnings {
		w := out
		if next < len(t.infos) && t.infos[next] == i {
			w = info
			next++
		}
		if w != nil {
			fmt.Fprintln(w, t.Warnings[i])
		}
	}
}

// check is the end of conf_parse: for every menu entry in order, the
// recursive dependency check (sym_check_deps), transitional_check_sanity
// and, for a choice, choice_check_sanity of its members. Every error is
// reported, as conf prints them all before it exits.
func (t *Tree) check() error {
	c := &depChecker{t: t, check: make([]bool, len(t.syms)), checked: make([]bool, len(t.syms))}
	var errs LoadErrors
	walk(t.Root, func(m *Menu) {
		if m.Sym != nil && !m.Sym.isConst {
			n := len(c.errs)
			if c.checkDeps(m.Sym) != nil && len(c.errs) == n {
				c.errs = append(c.errs, &LoadError{File: m.File, Line: m.Line, Msg: "recursive dependency detected"})
			}
			errs = append(errs, c.errs[n:]...)
		}
		if e := transitionalCheck(m); e != nil {
			errs = append(errs, e)
		}
		if m.Sym != nil && m.Sym.IsChoice() {
			for ch := m.List; ch != nil; ch = menuNext(ch, m) {
				if ch.Sym != nil {
					errs = append(errs, choiceCheck(ch)...)
				}
			}
		}
	})
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errs
}

// transitionalCheck is transitional_check_sanity.
func transitionalCheck(m *Menu) *LoadError {
	s := m.Sym
	if s == nil || !s.Transitional {
		return nil
	}
	const msg = "transitional symbols can only have help sections"
	if !isYes(m.Dep) || m.Visibility != nil && !isYes(m.Visibility) {
		return &LoadError{File: m.File, Line: m.Line, Msg: msg, Text: fmt.Sprintf("%s:%d: error: %s\n", m.File, m.Line, msg)}
	}
	for _, p := range s.Props {
		if p.Kind != PropComment {
			return &LoadError{File: p.File, Line: p.Line, Msg: msg, Text: fmt.Sprintf("%s:%d: error: %s\n", p.File, p.Line, msg)}
		}
	}
	return nil
}

// choiceCheck is choice_check_sanity.
func choiceCheck(m *Menu) []*LoadError {
	var out []*LoadError
	for _, p := range m.Sym.Props {
		if p.Kind == PropDefault {
			const msg = "defaults for choice values not supported"
			out = append(out, &LoadError{File: p.File, Line: p.Line, Msg: msg, Text: fmt.Sprintf("%s:%d: error: %s\n", p.File, p.Line, msg)})
		}
		if p.Menu != m && p.Kind == PropPrompt {
			const msg = "choice value must not have a prompt in another entry"
			out = append(out, &LoadError{File: p.File, Line: p.Line, Msg: msg, Text: fmt.Sprintf("%s:%d: error: %s\n", p.File, p.Line, msg)})
		}
	}
	return out
}

func isYes(e *Expr) bool {
	return e == nil || e.Op == ExprSymbol && e.Sym.Name == "y" && e.Sym.isConst
}
