// Command build configures and builds a Linux kernel with clang/LLVM
// through rflkit's kbuild package, with its content-addressed cache.
//
//	go run ./examples/build -src TREE_OR_TARBALL [-base tinyconfig] [-fragment F]... [targets]
//
// It shows a progress bar on a terminal (plain lines otherwise) and prints
// the artifacts. With -json it prints one JSON object on stdout:
// {"cache_hit": bool, "duration_s": float, "config_hash": "...",
// "artifacts": {"kernel": "/path/bzImage", ...}}, and with -inline-check a
// fifth key, "inline_check" (inlineJSON).
//
// With -tiny-rust -modules it builds the tiny Rust kernel with loadable
// modules (kbuild.TinyRustModules: null_blk.ko and rnull_mod.ko; targets
// default to bzImage modules). -inline-check then reads the symbol tables
// of vmlinux, the built-in Rust objects and every module (kbuild.InlineCheck)
// and prints a line each: how many rust_helper_* functions are still
// called out of line.
//
// The toolchain comes from toolchain.Detect (the set Kbuild should use,
// e.g. /usr/bin/rustc rather than a newer rustup rustc first on PATH),
// unless -no-detect is given, in which case -var supplies the variables.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() { cli.Main("build", run) }

// run is the command: it parses args and composes kbuild and toolchain.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flag := flag.NewFlagSet("build", flag.ContinueOnError)
	flag.SetOutput(stderr)
	var frags, vars multiFlag
	src := flag.String("src", "", "kernel source directory or tarball (.tar.xz, .tar.gz)")
	base := flag.String("base", "defconfig", "base configuration: a make target (tinyconfig, defconfig, ...) or a .config file")
	tinyRust := flag.Bool("tiny-rust", false, "use the tiny Rust configuration: tinyconfig plus rflkit's fragment for a bootable guest with null_blk and rnull (overrides -base)")
	helpers := flag.Bool("helpers", true, "with -tiny-rust: RUST_INLINE_HELPERS on")
	modules := flag.Bool("modules", false, "with -tiny-rust: CONFIG_MODULES=y, null_blk and rnull as modules (targets default to bzImage modules)")
	inlineCheck := flag.Bool("inline-check", false, "after the build, check from the symbol tables that the Rust helpers were inlined (adds inline_check to -json)")
	arch := flag.String("arch", "", "kernel ARCH (default: the host's)")
	llvm := flag.String("llvm", "", "LLVM= value: 1, -19, /path/ (default: the toolchain's, else 1)")
	jobs := flag.Int("j", 0, "make -j (default: number of CPUs)")
	out := flag.String("o", "", "O= directory (default: the build cache)")
	cacheDir := flag.String("cache", "", "rflkit cache directory (default $RFLKIT_CACHE_DIR or ~/.cache/rflkit)")
	noDetect := flag.Bool("no-detect", false, "do not run toolchain.Detect; pass the toolchain with -var")
	jsonOut := flag.Bool("json", false, "print one JSON object with cache_hit, duration_s, config_hash, artifacts")
	verbose := flag.Bool("v", false, "stream make's output to stderr")
	flag.Var(&frags, "fragment", "config fragment file (repeatable)")
	flag.Var(&vars, "var", "extra make variable NAME=value (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(stderr, "usage: build -src TREE_OR_TARBALL [flags] [targets]\n")
		flag.PrintDefaults()
	}
	if err := cli.Parse(flag, args); err != nil {
		return err
	}
	if *src == "" {
		flag.Usage()
		return cli.Exit(2, nil)
	}
	if *modules && !*tinyRust {
		return cli.Usagef("-modules needs -tiny-rust")
	}
	extra := map[string]string{}
	for _, v := range vars {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return cli.Usagef("-var %q: want NAME=value", v)
		}
		extra[k] = val
	}

	start := time.Now()

	b := &kbuild.Builder{Src: *src, OutDir: *out, Arch: *arch, LLVM: *llvm, Jobs: *jobs, CacheDir: *cacheDir, ExtraVars: extra}
	if !*noDetect {
		cache, err := cachedir.Resolve(*cacheDir)
		if err != nil {
			return fmt.Errorf("cache directory: %w (give one with -cache)", err)
		}
		srcTree, err := kbuild.ResolveSource(ctx, *src, cache)
		if err != nil {
			return err
		}
		rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: srcTree.Dir, Arch: *arch})
		if err != nil {
			return err
		}
		// Variables given with -var (ExtraVars) and -llvm win over the
		// detected ones.
		b.UseToolchain(rep)
		if !rep.RustAvailable {
			fmt.Fprintln(stderr, "build: warning: the toolchain cannot build Rust code for this tree; run `go run ./examples/doctor -src TREE` for what to fix")
		}
	}

	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	if *verbose {
		b.MakeOutput = stderr
	}
	b.Progress = progress(stderr, tty && !*verbose)

	spec := kbuild.BuildSpec{Config: kbuild.ConfigSpec{Base: *base, Fragments: frags}, Targets: flag.Args()}
	if *tinyRust {
		t := kbuild.TinyRust(*helpers)
		if *modules {
			t = kbuild.TinyRustModules(*helpers)
			if len(spec.Targets) == 0 {
				spec.Targets = []string{"bzImage", "modules"}
			}
		}
		t.Fragments = frags
		spec.Config = t
	}
	res, err := b.Build(ctx, spec)
	if tty && !*verbose {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		report(stderr, err)
		return cli.Exit(1, nil)
	}
	var inline *kbuild.InlineReport
	if *inlineCheck {
		if inline, err = kbuild.InlineCheck(res); err != nil {
			fmt.Fprintf(stderr, "build: inline check: %v\n", err)
			return cli.Exit(1, nil)
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if inline != nil {
			_ = enc.Encode(struct {
				CacheHit    bool              `json:"cache_hit"`
				DurationS   float64           `json:"duration_s"`
				ConfigHash  string            `json:"config_hash"`
				Artifacts   map[string]string `json:"artifacts"`
				InlineCheck inlineJSON        `json:"inline_check"`
			}{res.CacheHit, time.Since(start).Seconds(), res.ConfigHash, res.Artifacts, toInlineJSON(inline)})
			return nil
		}
		_ = enc.Encode(struct {
			CacheHit   bool              `json:"cache_hit"`
			DurationS  float64           `json:"duration_s"`
			ConfigHash string            `json:"config_hash"`
			Artifacts  map[string]string `json:"artifacts"`
		}{res.CacheHit, time.Since(start).Seconds(), res.ConfigHash, res.Artifacts})
		return nil
	}
	how := "built"
	if res.CacheHit {
		how = "cache hit"
	} else if res.SeededFrom != "" {
		how = "built from the objects of " + res.SeededFrom
	}
	fmt.Fprintf(stdout, "%s in %s (config %s)\n", how, time.Since(start).Round(time.Millisecond), res.ConfigHash[:16])
	names := make([]string, 0, len(res.Artifacts))
	for n := range res.Artifacts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "  %-14s %s\n", n, res.Artifacts[n])
	}
	if inline != nil {
		printInline(stdout, inline)
	}
	return nil
}

// inlineJSON is -json's inline_check object: for vmlinux, the number of
// rust_helper_* functions it still defines; for the built-in Rust objects
// and each module, the helpers they call out of line (their undefined
// rust_helper_* symbols, [] for none).
type inlineJSON struct {
	InlineHelpers   bool                `json:"inline_helpers"`
	Inlined         bool                `json:"inlined"`
	VmlinuxHelpers  int                 `json:"vmlinux_helpers"`
	RustObjects     int                 `json:"rust_objects"`
	RustOutOfLine   map[string][]string `json:"rust_objects_out_of_line"`
	ModuleOutOfLine map[string][]string `json:"modules_out_of_line"`
}

func toInlineJSON(r *kbuild.InlineReport) inlineJSON {
	j := inlineJSON{
		InlineHelpers: r.InlineHelpers, Inlined: r.Inlined(), VmlinuxHelpers: len(r.Vmlinux),
		RustObjects: r.RustObjectCount, RustOutOfLine: r.RustObjects, ModuleOutOfLine: map[string][]string{},
	}
	for m, u := range r.Modules {
		j.ModuleOutOfLine[m] = append([]string{}, u...) // [] rather than null
	}
	return j
}

// printInline prints the inline check: a line for vmlinux, one for the
// built-in Rust objects, one per module.
func printInline(w io.Writer, r *kbuild.InlineReport) {
	fmt.Fprintf(w, "inline check (RUST_INLINE_HELPERS=%v):\n", r.InlineHelpers)
	fmt.Fprintf(w, "  vmlinux        defines %d rust_helper_* functions\n", len(r.Vmlinux))
	n := 0
	for _, u := range r.RustObjects {
		n += len(u)
	}
	fmt.Fprintf(w, "  built-in Rust  %d of %d objects call %d helpers out of line\n", len(r.RustObjects), r.RustObjectCount, n)
	mods := make([]string, 0, len(r.Modules))
	for m := range r.Modules {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, m := range mods {
		u := r.Modules[m]
		line := fmt.Sprintf("  module %-7s imports %d rust_helper_* symbols", m, len(u))
		if len(u) > 0 {
			shown := u
			if len(shown) > 5 {
				shown = shown[:5]
			}
			line += ": " + strings.Join(shown, " ")
			if len(u) > len(shown) {
				line += fmt.Sprintf(" (+%d)", len(u)-len(shown))
			}
		}
		fmt.Fprintln(w, line)
	}
}

// progress draws a bar on a terminal, plain lines otherwise.
func progress(w io.Writer, bar bool) func(kbuild.Event) {
	lastPct, lastLines := -1, 0
	return func(e kbuild.Event) {
		switch {
		case e.Phase == kbuild.PhaseBuild && e.Kind != "":
			if bar {
				const width = 30
				p := e.Percent
				label := fmt.Sprintf("%5.1f%%", p)
				if p < 0 {
					p, label = 0, fmt.Sprintf("%5d lines", e.Lines)
				}
				n := int(p / 100 * width)
				target := e.Kind + " " + e.Path
				if len(target) > 50 {
					target = "..." + target[len(target)-47:]
				}
				fmt.Fprintf(w, "\r\033[K[%s%s] %s %s %s", strings.Repeat("#", n), strings.Repeat(".", width-n), label, e.Elapsed.Round(time.Second), target)
				return
			}
			if p := int(e.Percent) / 5 * 5; e.Percent >= 0 && p > lastPct {
				lastPct = p
				fmt.Fprintf(w, "build: %d%% (%d/%d lines, %s)\n", p, e.Lines, e.Expected, e.Elapsed.Round(time.Second))
			} else if e.Percent < 0 && e.Lines-lastLines >= 200 {
				lastLines = e.Lines
				fmt.Fprintf(w, "build: %d lines (%s) %s %s\n", e.Lines, e.Elapsed.Round(time.Second), e.Kind, e.Path)
			}
		case e.Message != "":
			if bar {
				fmt.Fprintf(w, "\r\033[K")
			}
			fmt.Fprintf(w, "%s: %s (%s)\n", e.Phase, e.Message, e.Elapsed.Round(time.Millisecond))
		}
	}
}

func report(w io.Writer, err error) {
	var ke *kbuild.KernelError
	var ie *kbuild.InfraError
	var ce *kbuild.ConfigError
	fmt.Fprintln(w, err)
	switch {
	case errors.As(err, &ke):
		for _, d := range ke.Diagnostics {
			fmt.Fprintf(w, "  %s\n", d)
		}
		fmt.Fprintf(w, "full log: %s\n", ke.Log)
	case errors.As(err, &ie):
		for _, l := range ie.Tail {
			fmt.Fprintf(w, "  | %s\n", l)
		}
		if ie.Log != "" {
			fmt.Fprintf(w, "full log: %s\n", ie.Log)
		}
	case errors.As(err, &ce):
		fmt.Fprintf(w, "final .config: %s\n", ce.Config)
	}
}
