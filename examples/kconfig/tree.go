package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/kconfig"
	"github.com/rflkit/rflkit/toolchain"
)

// treeCommands returns the subcommands that read the Kconfig tree (the
// language layer of package kconfig). They are added to the table built
// by commands, next to fileCommands.
func treeCommands() map[string]command {
	cmds := map[string]command{
		"olddefconfig": {
			usage:   "-src TREE [-arch ARCH] -config IN [-o OUT]",
			summary: "make olddefconfig: IN with every other symbol at its default (OUT defaults to IN)",
			run:     runOldDefconfig,
		},
		"savedefconfig": {
			usage:   "-src TREE [-arch ARCH] -config IN [-o OUT]",
			summary: "make savedefconfig: the minimal defconfig for IN (stdout without -o)",
			run:     runSavedefconfig,
		},
		"randconfig": {
			usage:   "-src TREE [-arch ARCH] [-seed N] [-config ALLCONFIG] -o OUT",
			summary: "make randconfig (seed from -seed, else $KCONFIG_SEED; probabilities from $KCONFIG_PROBABILITY)",
			run:     runRandConfig,
		},
		"explain": {
			usage:   "-src TREE [-arch ARCH] -config IN SYM[=VAL]",
			summary: "why SYM does not get VAL (y by default) after olddefconfig, and what would make it",
			run:     runExplain,
		},
	}
	for name, mode := range map[string]kconfig.AllMode{
		"alldefconfig": kconfig.AllDef, "allnoconfig": kconfig.AllNo,
		"allyesconfig": kconfig.AllYes, "allmodconfig": kconfig.AllMod,
	} {
		cmds[name] = command{
			usage:   "-src TREE [-arch ARCH] [-config ALLCONFIG] -o OUT",
			summary: "make " + name + " (ALLCONFIG is KCONFIG_ALLCONFIG)",
			run: func(ctx context.Context, e *env, args []string) error {
				return runAllConfig(ctx, e, name, mode, args)
			},
		}
	}
	return cmds
}

// treeFlags are the flags every tree subcommand takes.
type treeFlags struct {
	src, arch, config, out, cache string
	vars                          varsFlag
	noDetect, noMacroCache        bool
}

// varsFlag collects repeated -var NAME=VALUE flags.
type varsFlag map[string]string

func (v varsFlag) String() string {
	var s []string
	for k, x := range v {
		s = append(s, k+"="+x)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func (v varsFlag) Set(s string) error {
	k, x, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %s", kconfig.Excerpt(s))
	}
	v[k] = x
	return nil
}

func newTreeFlags(e *env, name, args string) (*flag.FlagSet, *treeFlags) {
	fs := newFlags(e, name, args)
	f := &treeFlags{vars: varsFlag{}}
	fs.StringVar(&f.src, "src", "", "kernel source tree (required)")
	fs.StringVar(&f.arch, "arch", "", "ARCH (default: the host's)")
	fs.StringVar(&f.config, "config", "", "input .config")
	fs.StringVar(&f.out, "o", "", "output file")
	fs.StringVar(&f.cache, "cache", "", "rflkit cache directory (default $RFLKIT_CACHE_DIR or ~/.cache/rflkit)")
	fs.Var(f.vars, "var", "make variable NAME=VALUE (repeatable); replaces the toolchain doctor's choice")
	fs.BoolVar(&f.noDetect, "no-detect", false, "do not run the toolchain doctor (use only -var)")
	fs.BoolVar(&f.noMacroCache, "no-macro-cache", false, "do not cache $(shell) results on disk")
	return fs, f
}

// load runs the toolchain doctor (unless told otherwise) and reads the
// Kconfig tree with its make variables, the two overlapped
// (overlapLoad); -var or -no-detect read it with the -var variables
// alone.
func (f *treeFlags) load(ctx context.Context, e *env) (*kconfig.Tree, error) {
	if f.src == "" {
		return nil, errors.New("-src is required")
	}
	load := func(ctx context.Context, g toolGuess, out io.Writer) (*kconfig.Tree, error) {
		vars := maps.Clone(g.MakeVars)
		if vars == nil {
			vars = map[string]string{}
		}
		maps.Copy(vars, f.vars)
		return kconfig.Load(ctx, kconfig.LoadOptions{
			SrcDir: f.src, Arch: f.arch, MakeVars: vars, CacheDir: f.cache,
			NoMacroCache: f.noMacroCache, Fingerprint: g.Fingerprint, Output: out,
		})
	}
	if f.noDetect || len(f.vars) != 0 {
		return load(ctx, toolGuess{}, e.stderr)
	}
	detect := func(ctx context.Context) (toolGuess, error) {
		rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: f.src, Arch: f.arch, CacheDir: f.probeCache()})
		if err != nil {
			return toolGuess{}, fmt.Errorf("toolchain doctor: %w (pass -var NAME=VALUE or -no-detect)", err)
		}
		return toolGuess{MakeVars: rep.MakeVars, Fingerprint: rep.Fingerprint}, nil
	}
	return overlapLoad(ctx, e.stderr, guessPath(f.probeCache(), f.src, f.arch), detect, load)
}

// probeCache is the cache root for the toolchain doctor's probes: -cache,
// else the default one; "" (no cache) when there is none.
func (f *treeFlags) probeCache() string {
	d, _ := cachedir.Resolve(f.cache)
	return d
}

// input reads -config (nil without it). With conf set, the file's parse
// warnings are not printed: the target reads the file again as conf does
// and returns conf's own warnings about the same lines (printWarnings),
// which would otherwise come twice.
func (f *treeFlags) input(e *env, conf bool) (*kconfig.Config, error) {
	if f.config == "" {
		return nil, nil
	}
	if conf {
		return kconfig.ReadFile(f.config, parseOpts(e, true))
	}
	return readConfig(e, f.config, parseOpts(e, true))
}

func printWarnings(e *env, r *kconfig.TargetResult) {
	for _, w := range r.Warnings {
		fmt.Fprintln(e.stderr, w)
	}
}

func runOldDefconfig(ctx context.Context, e *env, args []string) error {
	fs, f := newTreeFlags(e, "olddefconfig", "-src TREE [-arch ARCH] -config IN [-o OUT]")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if f.src == "" || f.config == "" || fs.NArg() != 0 {
		return usageError(e, fs, "-src and -config are required")
	}
	tr, err := f.load(ctx, e)
	if err != nil {
		return err
	}
	in, err := f.input(e, true)
	if err != nil {
		return err
	}
	r := tr.OldDefconfig(in)
	printWarnings(e, r)
	out := f.out
	if out == "" {
		out = f.config
	}
	return r.WriteFile(out)
}

func runAllConfig(ctx context.Context, e *env, name string, mode kconfig.AllMode, args []string) error {
	fs, f := newTreeFlags(e, name, "-src TREE [-arch ARCH] [-config ALLCONFIG] -o OUT")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if f.src == "" || f.out == "" || fs.NArg() != 0 {
		return usageError(e, fs, "-src and -o are required")
	}
	tr, err := f.load(ctx, e)
	if err != nil {
		return err
	}
	in, err := f.input(e, true)
	if err != nil {
		return err
	}
	r := tr.AllConfig(mode, in)
	printWarnings(e, r)
	return r.WriteFile(f.out)
}

func runSavedefconfig(ctx context.Context, e *env, args []string) error {
	fs, f := newTreeFlags(e, "savedefconfig", "-src TREE [-arch ARCH] -config IN [-o OUT]")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if f.src == "" || f.config == "" || fs.NArg() != 0 {
		return usageError(e, fs, "-src and -config are required")
	}
	tr, err := f.load(ctx, e)
	if err != nil {
		return err
	}
	in, err := f.input(e, true)
	if err != nil {
		return err
	}
	r := tr.OldDefconfig(in)
	printWarnings(e, r)
	def := r.Savedefconfig()
	if f.out == "" {
		_, err := e.stdout.Write(def)
		return err
	}
	return atomicfile.Update(f.out, def, 0o644)
}

func runExplain(ctx context.Context, e *env, args []string) error {
	fs, f := newTreeFlags(e, "explain", "-src TREE [-arch ARCH] -config IN SYM[=VAL]")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if f.src == "" || f.config == "" || fs.NArg() != 1 {
		return usageError(e, fs, "-src, -config and one SYM[=VAL] are required")
	}
	sym, want, _ := strings.Cut(fs.Arg(0), "=")
	tr, err := f.load(ctx, e)
	if err != nil {
		return err
	}
	in, err := f.input(e, false)
	if err != nil {
		return err
	}
	x, err := tr.Explain(in, sym, want)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, x)
	if !x.Takes {
		f.toolchainFixes(ctx, e, x)
		return cli.Exit(1, nil)
	}
	return nil
}

// toolchainFixes asks the toolchain doctor, when a root cause of x comes
// from the toolchain (a value a macro computed), what is wrong with the
// tools the tree was read with (the -var tools, as Kbuild uses them) and
// how to fix it: its problems and fixes, printed after the explanation.
func (f *treeFlags) toolchainFixes(ctx context.Context, e *env, x *kconfig.Explanation) {
	fromTools := false
	for _, chain := range x.Causes {
		if len(chain[len(chain)-1].Macros) > 0 {
			fromTools = true
		}
	}
	if !fromTools {
		return
	}
	env := os.Environ()
	for k, v := range f.vars {
		env = append(env, k+"="+v)
	}
	rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: f.src, Arch: f.arch, Env: env, CacheDir: f.probeCache()})
	if err != nil {
		fmt.Fprintf(e.stdout, "  toolchain doctor: %v\n", err)
		return
	}
	if len(rep.Problems) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, "  the toolchain doctor says:")
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "    %s: %s [%s]: found %s; want %s\n      fix: %s\n", p.Severity, p.Tool, p.Check, p.Found, p.Want, p.Fix)
	}
}

func runRandConfig(ctx context.Context, e *env, args []string) error {
	fs, f := newTreeFlags(e, "randconfig", "-src TREE [-arch ARCH] [-seed N] [-config ALLCONFIG] -o OUT")
	seed := fs.String("seed", "", "KCONFIG_SEED (default $KCONFIG_SEED, else the time)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if f.src == "" || f.out == "" || fs.NArg() != 0 {
		return usageError(e, fs, "-src and -o are required")
	}
	if *seed == "" {
		*seed = e.getenv("KCONFIG_SEED")
	}
	var n uint32
	if *seed == "" {
		now := time.Now()
		n = uint32((now.Unix() + 1) * int64(now.Nanosecond()/1000+1))
	} else {
		var err error
		if n, err = kconfig.ParseSeed(*seed); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "KCONFIG_SEED=0x%X\n", n)
	tr, err := f.load(ctx, e)
	if err != nil {
		return err
	}
	in, err := f.input(e, true)
	if err != nil {
		return err
	}
	r, err := tr.RandConfig(kconfig.RandOptions{Seed: n, Probability: e.getenv("KCONFIG_PROBABILITY"), AllConfig: in})
	if err != nil {
		return err
	}
	printWarnings(e, r)
	return r.WriteFile(f.out)
}
