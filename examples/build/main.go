// Command build configures and builds a Linux kernel with clang/LLVM
// through rflkit's kbuild package, with its content-addressed cache.
//
//	go run ./examples/build -src TREE_OR_TARBALL [-base tinyconfig] [-fragment F]... [targets]
//
// It shows a progress bar on a terminal (plain lines otherwise) and prints
// the artifacts. With -json it prints one JSON object on stdout:
// {"cache_hit": bool, "duration_s": float, "config_hash": "...",
// "artifacts": {"kernel": "/path/bzImage", ...}}.
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
	"github.com/rflkit/rflkit/internal/cachedir"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flag := flag.NewFlagSet("build", flag.ContinueOnError)
	flag.SetOutput(stderr)
	var frags, vars multiFlag
	src := flag.String("src", "", "kernel source directory or tarball (.tar.xz, .tar.gz)")
	base := flag.String("base", "defconfig", "base configuration: a make target (tinyconfig, defconfig, ...) or a .config file")
	tinyRust := flag.Bool("tiny-rust", false, "use the tiny Rust configuration of FACTS.md (overrides -base)")
	helpers := flag.Bool("helpers", true, "with -tiny-rust: RUST_INLINE_HELPERS on")
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
	if err := flag.Parse(args); err != nil {
		return 2
	}
	if *src == "" {
		flag.Usage()
		return 2
	}
	extra := map[string]string{}
	for _, v := range vars {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			fmt.Fprintf(stderr, "build: -var %q: want NAME=value\n", v)
			return 2
		}
		extra[k] = val
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	b := &kbuild.Builder{Src: *src, OutDir: *out, Arch: *arch, LLVM: *llvm, Jobs: *jobs, CacheDir: *cacheDir}
	if !*noDetect {
		srcTree, err := kbuild.ResolveSource(ctx, *src, mustCacheDir(*cacheDir))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: srcTree.Dir, Arch: *arch})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		b.MakeVars = rep.MakeVars
		b.Fingerprint = rep.Fingerprint
		if *llvm != "" {
			delete(b.MakeVars, "LLVM")
		}
		if !rep.RustAvailable {
			fmt.Fprintln(stderr, "build: warning: the toolchain cannot build Rust code for this tree; see `go run ./examples/toolchain`")
		}
	}
	b.ExtraVars = extra
	// Variables given with -var win over the detected ones.
	for k := range extra {
		delete(b.MakeVars, k)
	}

	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	if *verbose {
		b.Log = stderr
	}
	b.Progress = progress(stderr, tty && !*verbose)

	spec := kbuild.BuildSpec{Config: kbuild.ConfigSpec{Base: *base, Fragments: frags}, Targets: flag.Args()}
	if *tinyRust {
		t := kbuild.TinyRust(*helpers)
		t.Fragments = frags
		spec.Config = t
	}
	res, err := b.Build(ctx, spec)
	if tty && !*verbose {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		report(stderr, err)
		return 1
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			CacheHit   bool              `json:"cache_hit"`
			DurationS  float64           `json:"duration_s"`
			ConfigHash string            `json:"config_hash"`
			Artifacts  map[string]string `json:"artifacts"`
		}{res.CacheHit, time.Since(start).Seconds(), res.ConfigHash, res.Artifacts})
		return 0
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
	return 0
}

func mustCacheDir(d string) string {
	if d, err := cachedir.Resolve(d); err == nil {
		return d
	}
	return ".rflkit-cache"
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
