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
// (bench/report.WriteAll writes them; doc/metadata.md describes
// results.json and analysis.json field by field).
//
// Usage:
//
//	go run ./examples/nullblk-bench [-preset quick|default|published] [-out DIR] [-seed N]
//	go run ./examples/nullblk-bench -analyze results.json [-out DIR]
//
// The exit status is 0 on success, 2 for a bad command line and 1 for any
// other failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/report"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

// defaultTarball is where Debian's linux-source-7.2 puts the tree
// (scripts/setup installs it).
const defaultTarball = "/usr/src/linux-source-7.2.tar.xz"

// options are the command-line flags.
type options struct {
	preset  string
	out     string
	seed    uint64
	analyze string
	src     string
	cache   string
	verbose bool
	build   bool
	// wallBoots overrides the preset's wall-clock boots per kernel
	// (-1: the preset's own).
	wallBoots int
	// noPlugin measures -icount boots without the instruction-counting
	// plugin (fio-derived instructions per I/O only).
	noPlugin bool
	// modules adds the module arms: both kernels built with loadable
	// null_blk and rnull_mod modules, loaded for every sample.
	modules bool
	// cl are the sharded modes' flags (cluster.go).
	cl clusterOptions
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a bad command line; the flag set has already said what is
// wrong and printed the usage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode is the exit status for run's error: 0 for none (and for -h),
// 2 for a bad command line, 1 for anything else, which it prints.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	fmt.Fprintf(stderr, "nullblk-bench: %v\n", err)
	return 1
}

// parseFlags parses args (without the program name); usage and flag
// errors go to stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("nullblk-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.preset, "preset", "default", "workload preset: "+strings.Join(bench.PresetNames(), ", "))
	fs.StringVar(&o.out, "out", "nullblk-bench-results", "output directory")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the boot schedule and of the bootstrap")
	fs.StringVar(&o.analyze, "analyze", "", "re-analyse this results.json without running anything")
	fs.StringVar(&o.src, "src", "", "kernel source tarball or tree (default $RFLKIT_KERNEL_SRC, else "+defaultTarball+")")
	fs.StringVar(&o.cache, "cache", "", "rflkit cache directory (default $RFLKIT_CACHE_DIR, else ~/.cache/rflkit)")
	fs.BoolVar(&o.verbose, "v", false, "log each step and the guests' consoles to stderr")
	fs.IntVar(&o.wallBoots, "wall-boots", -1, "wall-clock boots per kernel, overriding the preset's (-1); useful under KVM or on bare metal, noise under TCG")
	fs.BoolVar(&o.noPlugin, "no-plugin", false, "count -icount boots with fio's IOPS only, without the instruction-counting TCG plugin")
	fs.BoolVar(&o.modules, "modules", false, "also compare the drivers as loadable modules (loaded and unloaded for every sample) with the built-in ones, helpers on and off")
	fs.BoolVar(&o.build, "build-only", false, "check the toolchain and build (or find cached) the two kernels, then stop")
	o.cl.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &usageError{err}
	}
	o.cl.mergeArgs = fs.Args()
	if fs.NArg() > 0 && !o.cl.merge {
		err := fmt.Errorf("unexpected arguments %q", fs.Args())
		fmt.Fprintf(stderr, "nullblk-bench: %v\n", err)
		fs.Usage()
		return o, &usageError{err}
	}
	return o, nil
}

// run is the command: args are the arguments without the program name;
// the tables and progress go to stdout, logs and the usage to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if o.analyze != "" {
		res, err := bench.ReadResults(o.analyze)
		if err != nil {
			return err
		}
		_, err = report.WriteAll(o.out, res, report.WriteOptions{Reanalyse: true, Out: stdout})
		return err
	}
	if handled, err := runCluster(ctx, o, stdout, stderr); handled {
		return err
	}
	return measure(ctx, o, stdout, stderr)
}

// measure checks the toolchain, builds the two kernels, runs the
// experiment and writes its outputs.
func measure(ctx context.Context, o options, stdout, stderr io.Writer) error {
	p, err := bench.PresetByName(o.preset)
	if err != nil {
		return err
	}
	if o.wallBoots >= 0 {
		p.WallBoots = o.wallBoots
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
		r, err := buildKernel(ctx, o, src, rep, ui, stderr, name, kbuild.BuildSpec{Config: kbuild.TinyRust(helpers), Targets: []string{"bzImage"}})
		if err != nil {
			return err
		}
		img := r.Artifacts[kbuild.ArtifactKernel]
		ui.done("build %s: %s (cache hit %v)", name, img, r.CacheHit)
		cacheHits[name] = r.CacheHit
		kernels = append(kernels, bench.KernelArm{Name: name, Helpers: helpers, BzImage: img, Config: r.Artifacts[kbuild.ArtifactConfig],
			SystemMap: r.Artifacts[kbuild.ArtifactSystemMap]})
	}
	if o.modules {
		mods, err := buildModuleKernels(ctx, o, src, rep, ui, stderr, cacheHits)
		if err != nil {
			return err
		}
		kernels = append(kernels, mods...)
	}

	if o.cl.wantsPlan() {
		return planAndRun(ctx, o, p, kernels, toolchainInfo(rep), stdout)
	}
	if o.build {
		return nil
	}

	// 3. Boot, run, record.
	var console io.Writer
	if o.verbose {
		console = stderr
	}
	e := &bench.Experiment{Kernels: kernels, Preset: p, Seed: o.seed, Logger: log,
		Boot:     bench.QEMUBoot(bench.QEMUOptions{CacheDir: o.cache, Console: console, Logger: log, NoPlugin: o.noPlugin}),
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
	if _, err := report.WriteAll(o.out, res, report.WriteOptions{Out: stdout}); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "total wall time %s\n", time.Since(t0).Round(time.Second))
	return runErr
}

func lenBoots(r *bench.Results) int {
	if r == nil {
		return 0
	}
	return len(r.Boots)
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
