// Command nullblk-bench is rflkit's main job: it compares the C null_blk
// driver with the Rust rnull driver, and RUST_INLINE_HELPERS on with off,
// on the Linux 7.2 tiny Rust kernel built with clang/LLVM and booted in
// QEMU.
//
// It checks the toolchain, configures and builds the two kernels (cached),
// boots each several times in a seeded random order, runs fio against both
// drivers in every boot, and writes into the output directory:
//
//	results.json  every raw sample and the context to re-analyse it
//	report.md     the result tables, intervals, warnings and caveats
//	bench.txt     Go benchmark format, for benchstat
//	analysis.json the statistics (per-arm summaries, ratios, intervals)
//	plot.svg      per-arm distributions (and plot.png)
//
// Usage:
//
//	go run ./examples/nullblk-bench [-preset quick|default|published] [-out DIR] [-seed N]
//	go run ./examples/nullblk-bench -analyze results.json [-out DIR]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

// defaultTarball is where Debian's linux-source-7.2 puts the tree
// (scripts/setup installs it).
const defaultTarball = "/usr/src/linux-source-7.2.tar.xz"

type options struct {
	preset  string
	out     string
	seed    uint64
	analyze string
	src     string
	cache   string
	verbose bool
	build   bool
}

func main() {
	var o options
	flag.StringVar(&o.preset, "preset", "default", "workload preset: "+strings.Join(bench.PresetNames(), ", "))
	flag.StringVar(&o.out, "out", "nullblk-bench-results", "output directory")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the boot schedule and of the bootstrap")
	flag.StringVar(&o.analyze, "analyze", "", "re-analyse this results.json without running anything")
	flag.StringVar(&o.src, "src", "", "kernel source tarball or tree (default $RFLKIT_KERNEL_SRC, else "+defaultTarball+")")
	flag.StringVar(&o.cache, "cache", "", "rflkit cache directory (default $RFLKIT_CACHE_DIR, else ~/.cache/rflkit)")
	flag.BoolVar(&o.verbose, "v", false, "log each step and the guests' consoles to stderr")
	flag.BoolVar(&o.build, "build-only", false, "check the toolchain and build (or find cached) the two kernels, then stop")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "nullblk-bench: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "nullblk-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if o.analyze != "" {
		res, err := bench.ReadResults(o.analyze)
		if err != nil {
			return err
		}
		return writeOutputs(o, res, stdout, false)
	}
	p, err := bench.PresetByName(o.preset)
	if err != nil {
		return err
	}
	ui := newUI(stdout)
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	t0 := time.Now()

	// 1. Doctor.
	src := o.src
	if src == "" {
		src = os.Getenv("RFLKIT_KERNEL_SRC")
	}
	if src == "" {
		src = defaultTarball
	}
	ui.line("doctor: unpacking/identifying %s", src)
	tree, err := kbuild.ResolveSource(ctx, src, o.cache)
	if err != nil {
		return fmt.Errorf("kernel source: %w (run scripts/setup)", err)
	}
	rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: tree.Dir, Arch: "x86_64"})
	if err != nil {
		return err
	}
	if !rep.RustAvailable || !rep.InlineHelpers {
		var b strings.Builder
		for _, pr := range rep.Problems {
			fmt.Fprintf(&b, "\n  %v", pr)
		}
		return fmt.Errorf("doctor: Rust available %v, inline helpers possible %v; run scripts/setup%s", rep.RustAvailable, rep.InlineHelpers, b.String())
	}
	ui.line("doctor: Rust is available, inline helpers possible (%s)", strings.Join(rep.MakeArgs(), " "))

	// 2. Configure and build the two kernels.
	var kernels []bench.KernelArm
	cacheHits := map[string]bool{}
	for _, helpers := range []bool{true, false} {
		name := "helpers-off"
		if helpers {
			name = "helpers-on"
		}
		// The same source, variables and (no) fingerprint as
		// internal/testkernel, so that kernels built by the tests are
		// cache hits here and the other way round; kbuild keys the cache
		// on the versions of the tools these variables name.
		b := &kbuild.Builder{Src: src, Arch: "x86_64", MakeVars: kernelVars(rep.MakeVars),
			CacheDir: o.cache, Progress: func(e kbuild.Event) { ui.build(name, e) }}
		if o.verbose {
			b.Log = stderr
		}
		r, err := b.Build(ctx, kbuild.BuildSpec{Config: kbuild.TinyRust(helpers), Targets: []string{"bzImage"}})
		if err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
		img := r.Artifacts["bzImage"]
		if img == "" {
			img = r.Artifacts["kernel"]
		}
		if img == "" {
			return fmt.Errorf("build %s: no bzImage among %v", name, r.Artifacts)
		}
		ui.done("build %s: %s (cache hit %v)", name, img, r.CacheHit)
		cacheHits[name] = r.CacheHit
		kernels = append(kernels, bench.KernelArm{Name: name, Helpers: helpers, BzImage: img, Config: r.Artifacts["config"]})
	}

	if o.build {
		return nil
	}

	// 3. Boot, run, record.
	var console io.Writer
	if o.verbose {
		console = stderr
	}
	e := &bench.Experiment{Kernels: kernels, Preset: p, Seed: o.seed, Log: log,
		Boot:     bench.QEMUBoot(bench.QEMUOptions{CacheDir: o.cache, Console: console, Logger: log}),
		Progress: ui.progress}
	res, runErr := e.Run(ctx)
	ui.done("experiment: %d boots in %s", lenBoots(res), time.Since(t0).Round(time.Second))
	if res == nil {
		return runErr
	}
	res.Toolchain = map[string]string{"fingerprint": rep.Fingerprint, "make_args": strings.Join(rep.MakeArgs(), " ")}
	for tool, c := range rep.Chosen {
		res.Toolchain[string(tool)] = c.Path + " " + c.Version
	}
	for i := range res.Kernels {
		res.Kernels[i].CacheHit = cacheHits[res.Kernels[i].Name]
	}
	if err := writeOutputs(o, res, stdout, runErr != nil); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "total wall time %s\n", time.Since(t0).Round(time.Second))
	return runErr
}

// kernelVars keeps the toolchain variables that choose the compilers.
func kernelVars(all map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"LLVM", "RUSTC", "HOSTRUSTC", "RUSTDOC", "BINDGEN"} {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	return out
}

func lenBoots(r *bench.Results) int {
	if r == nil {
		return 0
	}
	return len(r.Boots)
}

// writeOutputs analyses res and writes results.json (unless
// re-analysing), report.md, bench.txt and the plots.
func writeOutputs(o options, res *bench.Results, stdout io.Writer, partial bool) error {
	if o.analyze == "" {
		if err := res.WriteFile(filepath.Join(o.out, "results.json")); err != nil {
			return err
		}
	}
	if partial && len(res.Boots) == 0 {
		return nil
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{Bootstrap: bench.BootstrapOptions{Seed: res.Seed}})
	if err != nil {
		return err
	}
	if err := bench.WriteTable(stdout, a); err != nil {
		return err
	}
	for _, s := range bench.Summary(a) {
		fmt.Fprintln(stdout, s)
	}
	var files []string
	write := func(name string, data []byte) error {
		files = append(files, name)
		return writeFile(filepath.Join(o.out, name), data)
	}
	var bf bytes.Buffer
	if err := bench.WriteBenchfmt(&bf, res); err != nil {
		return err
	}
	if err := write("bench.txt", bf.Bytes()); err != nil {
		return err
	}
	plotFile := ""
	if svg, png, err := bench.Plot(a); err == nil {
		if err := write("plot.svg", svg); err != nil {
			return err
		}
		if err := write("plot.png", png); err != nil {
			return err
		}
		plotFile = "plot.png"
	}
	aj, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	if err := write("analysis.json", append(aj, '\n')); err != nil {
		return err
	}
	var md bytes.Buffer
	if err := bench.WriteMarkdown(&md, res, a, bench.ReportOptions{PlotFile: plotFile}); err != nil {
		return err
	}
	if err := write("report.md", md.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s in %s\n", strings.Join(files, ", "), o.out)
	return nil
}

// writeFile writes atomically: temp file, fsync, rename.
func writeFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}

// ui prints progress: a redrawn bar with a time estimate on a terminal,
// plain lines otherwise.
type ui struct {
	w        io.Writer
	tty      bool
	lastLine time.Time
	lastPct  int
}

func newUI(w io.Writer) *ui {
	u := &ui{w: w, lastPct: -1}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		u.tty = true
	}
	return u
}

func (u *ui) line(f string, a ...any) {
	if u.tty {
		fmt.Fprint(u.w, "\r\033[K")
	}
	fmt.Fprintf(u.w, f+"\n", a...)
}

func (u *ui) done(f string, a ...any) { u.line(f, a...) }

func (u *ui) status(s string) {
	if u.tty {
		fmt.Fprintf(u.w, "\r\033[K%s", s)
		return
	}
	// Plain output: at most one line every 10 s.
	if time.Since(u.lastLine) >= 10*time.Second {
		u.lastLine = time.Now()
		fmt.Fprintln(u.w, s)
	}
}

func (u *ui) build(name string, e kbuild.Event) {
	switch {
	case e.Phase == kbuild.PhaseBuild && e.Percent >= 0:
		u.status(fmt.Sprintf("build %s %s %3.0f%% %s", name, bar(e.Percent/100, 30), e.Percent, e.Elapsed.Round(time.Second)))
	case e.Phase == kbuild.PhaseBuild:
		u.status(fmt.Sprintf("build %s: %d lines %s", name, e.Lines, e.Elapsed.Round(time.Second)))
	case e.Message != "":
		u.status(fmt.Sprintf("build %s: %s: %s", name, e.Phase, e.Message))
	}
}

func (u *ui) progress(p bench.Progress) {
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	s := fmt.Sprintf("boot %d/%d %s %3.0f%% runs %d/%d elapsed %s, ~%s left  %s", p.Boot, p.Boots, bar(frac, 30),
		100*frac, p.Done, p.Total, p.Elapsed.Round(time.Second), p.Remaining.Round(time.Second), p.Message)
	if !u.tty {
		// Plain lines: every boot start, and progress at most every 10 s.
		if strings.HasPrefix(p.Message, "booting") || p.Message == "done" {
			u.lastLine = time.Now()
			fmt.Fprintln(u.w, s)
			return
		}
	}
	u.status(s)
}

func bar(frac float64, width int) string {
	n := int(frac*float64(width) + 0.5)
	n = max(0, min(width, n))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
