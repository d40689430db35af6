package kconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	// Kconfig is the top Kconfig file, relative to SrcDir; "" means
	// "Kconfig" (make's KBUILD_KCONFIG).
	Kconfig string
	// CacheDir is rflkit's cache root; "" means $RFLKIT_CACHE_DIR, else
	// ~/.cache/rflkit. $(shell) results go to its kconfig-macros/.
	CacheDir string
	// NoMacroCache disables the on-disk cache of $(shell) results.
	NoMacroCache bool
	// Fingerprint identifies the toolchain (toolchain.Report.Fingerprint);
	// it is part of the cache key, so a new toolchain re-runs the macros.
	Fingerprint string
	// Output receives $(info) messages and warnings; nil discards them
	// (they are also kept in Tree.Warnings).
	Output io.Writer
}

// Load reads the whole Kconfig tree of opts.SrcDir for one architecture:
// it computes make's environment, runs the preprocessor (running the
// $(shell) commands concurrently and caching them), parses every sourced
// file and propagates dependencies as the kernel's menu_finalize does.
func Load(ctx context.Context, opts LoadOptions) (*Tree, error) {
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
	r, err := newMacroRunner(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("kconfig: %w", err)
	}
	defer r.close()
	var envErr error
	env, defconfig, err := langMakeEnv(opts, base, func(cmd string, env []string) string {
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
	envList := langEnvList(env)
	r.setEnv(envList)
	top := opts.Kconfig
	if top == "" {
		top = "Kconfig"
	}
	files := &langFileCache{src: opts.SrcDir, data: map[string]string{}}
	for round := 1; ; round++ {
		r.pending = map[string]bool{}
		speculative := round <= 8
		shell := r.speculative
		if !speculative {
			shell = func(cmd string) (string, error) { return r.runSync(cmd, nil) }
		}
		t, err := langParseTree(top, env, files.read, shell)
		if len(r.pending) == 0 && (err == nil || !strings.Contains(err.Error(), macroSpecMarker)) {
			if err != nil {
				return nil, err
			}
			if t != nil && !langTainted(t) {
				r.saveBundle()
				r.stats.Rounds = round
				calls := t.MacroStats.Calls
				t.MacroStats = r.stats
				t.MacroStats.Calls = calls
				t.Env = env
				t.defconfig = defconfig
				t.srcDir = opts.SrcDir
				t.arch = env["ARCH"]
				if opts.Output != nil {
					for _, w := range t.Warnings {
						fmt.Fprintln(opts.Output, w)
					}
				}
				return t, nil
			}
		}
		if len(r.pending) == 0 && !speculative {
			if err != nil {
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

// langTainted reports whether a speculative marker leaked into the tree
// (a command whose output was not known yet).
func langTainted(t *Tree) bool {
	for _, s := range t.syms {
		if strings.Contains(s.Name, macroSpecMarker) {
			return true
		}
	}
	for _, w := range t.Warnings {
		if strings.Contains(w, macroSpecMarker) {
			return true
		}
	}
	tainted := false
	langWalk(t.Root, func(m *Menu) {
		if m.Prompt != nil && strings.Contains(m.Prompt.Text, macroSpecMarker) {
			tainted = true
		}
	})
	return tainted
}

type langFileCache struct {
	src  string
	mu   sync.Mutex
	data map[string]string
}

func (c *langFileCache) read(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.data[name]; ok {
		return d, nil
	}
	b, err := os.ReadFile(langResolve(c.src, name))
	if err != nil {
		return "", err
	}
	c.data[name] = string(b)
	return string(b), nil
}

// langParseTree parses the tree from top with the given environment and
// $(shell) implementation, and finalizes it.
func langParseTree(top string, env map[string]string, read func(string) (string, error), shell func(string) (string, error)) (*Tree, error) {
	t := newTree()
	calls := 0
	m := &langMacro{vars: map[string]*macroVar{}, env: env}
	m.shell = func(cmd string) (string, error) {
		calls++
		return shell(cmd)
	}
	m.info = func(msg string) { t.Warnings = append(t.Warnings, msg) }
	m.warn = func(msg string) { t.Warnings = append(t.Warnings, msg) }
	lx := &langLexer{macro: m}
	lx.warn = func(msg string) { t.Warnings = append(t.Warnings, msg) }
	p := &langParser{t: t, lx: lx, readFile: read}
	if err := p.parseFile(top); err != nil {
		return nil, err
	}
	t.MacroStats.Calls = calls
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
		return nil, err
	}
	if err := t.checkDeps(); err != nil {
		return nil, err
	}
	return t, nil
}

// finalize is _menu_finalize without the automatic submenus (which only
// change how menus nest, not values or the written files): it propagates
// dependencies into entries and properties and builds the reverse
// dependencies of select and imply.
func (t *Tree) finalize(parent *Menu, insideChoice bool) {
	if parent.List != nil {
		for m := parent.List; m != nil; m = m.Next {
			basedep := exprAnd(parent.Dep, exprRewriteM(m.Dep, t.Modules))
			m.Dep = basedep
			var props []*Property
			if m.Sym != nil {
				props = m.Sym.Props
			} else if m.Prompt != nil {
				props = []*Property{m.Prompt}
			}
			for _, p := range props {
				if p.Menu != m {
					continue
				}
				dep := exprAnd(basedep, exprRewriteM(p.Cond, t.Modules))
				p.Cond = dep
				switch p.Kind {
				case PropSelect:
					es := p.Expr.Sym
					es.RevDep = exprOr(es.RevDep, exprAnd(exprSym(m.Sym), dep))
				case PropImply:
					es := p.Expr.Sym
					es.Implied = exprOr(es.Implied, exprAnd(exprSym(m.Sym), dep))
				}
			}
		}
		inChoice := parent.Sym != nil && parent.Sym.IsChoice()
		for m := parent.List; m != nil; m = m.Next {
			t.finalize(m, inChoice)
		}
	} else if !insideChoice && parent.Sym != nil {
		parent.Sym.DirDep = exprOr(parent.Sym.DirDep, parent.Dep)
	}
}

// check reports what conf_parse rejects after parsing: properties on
// transitional symbols, defaults on choice members.
func (t *Tree) check() error {
	for _, s := range t.syms {
		if s.Transitional {
			for _, m := range s.Menus {
				if m.Dep != nil || m.Visibility != nil {
					// The kernel allows only "yes" dependencies here.
					if !langIsYes(m.Dep) {
						return &Error{File: m.File, Line: m.Line, Msg: "transitional symbols can only have help sections"}
					}
				}
			}
			for _, p := range s.Props {
				if p.Kind != PropComment {
					return &Error{File: p.File, Line: p.Line, Msg: "transitional symbols can only have help sections"}
				}
			}
		}
		if s.choice != nil {
			for _, p := range s.Props {
				if p.Kind == PropDefault {
					return &Error{File: p.File, Line: p.Line, Msg: "defaults for choice values not supported"}
				}
			}
		}
	}
	return nil
}

func langIsYes(e *Expr) bool {
	return e == nil || e.Op == ExprSymbol && e.Sym.Name == "y" && e.Sym.isConst
}
