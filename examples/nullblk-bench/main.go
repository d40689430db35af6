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
//	go run ./examples/nullblk-bench [-preset quick|default|pilot|published] [-out DIR] [-seed N]
//	go run ./examples/nullblk-bench [-instances N] [-boots N] [-until PCT [-until-each]] [-budget DUR]
//	go run ./examples/nullblk-bench -analyze results.json [-out DIR]
//	go run ./examples/nullblk-bench -arch arm64 [-preset ...] [-out DIR]
//	go run ./examples/nullblk-bench -compare-arch X86.json ARM64.json
//
// -arch arm64 builds the arm64 kernels (kbuild.TinyRustFor, target Image)
// and boots them in qemu-system-aarch64 -M virt under TCG, with fio:arm64
// and busybox-static:arm64 from the distribution in the guests.
// -compare-arch prints two results.json of different architectures side
// by side (bench/report.CompareArchitectures).
//
// -preset pilot measures boot, device-instance and run variance; every
// report sizes the next run from them (Kalibera & Jones). -until stops
// between rounds once the pooled intervals are that narrow (sequential
// stopping, at most the preset's or -boots' boots), -budget once the next
// round would end after that much time.
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
	// instances and boots override the preset's device instances per
	// boot and -icount boots per kernel (0: the preset's own).
	instances, boots int
	// untilHW, untilEach and budget are the sequential stopping rule
	// (bench.StopRule): a target half-width in percent, for every
	// comparison too, and a wall-time budget; zero: none.
	untilHW   float64
	untilEach bool
	budget    time.Duration
	// designFrom is a pilot's results.json whose design advice sets the
	// instances, runs and boots (before -instances and -boots).
	designFrom string
	// noPlugin measures -icount boots without the instruction-counting
	// plugin (fio-derived instructions per I/O only).
	noPlugin bool
	// modules adds the module arms: both kernels built with loadable
	// null_blk and rnull_mod modules, loaded for every sample.
	modules bool
	// arch is the guests' kernel ARCH: x86_64 or arm64.
	arch string
	// compareArch is the first results.json of -compare-arch; the
	// second is the one argument.
	compareArch string
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
	fs.IntVar(&o.instances, "instances", 0, "device instances per boot, overriding the preset's (0)")
	fs.IntVar(&o.boots, "boots", 0, "-icount boots per kernel, overriding the preset's (0); with -until, the most to run")
	fs.Float64Var(&o.untilHW, "until", 0, "sequential stopping: stop between rounds once every pooled interval's half-width is at most this many percent (0.05 = ±0.05%), at two checks in a row from the 5th round")
	fs.BoolVar(&o.untilEach, "until-each", false, "with -until, every per-workload comparison must reach the half-width too")
	fs.StringVar(&o.designFrom, "design-from", "", "take instances per boot, runs per instance and boots per kernel from this pilot results.json's design advice: the cheapest design for the -until half-width, default 0.05% (-preset pilot)")
	fs.DurationVar(&o.budget, "budget", 0, "sequential stopping: start no round that would end after this much wall time (0: none)")
	fs.BoolVar(&o.noPlugin, "no-plugin", false, "count -icount boots with fio's IOPS only, without the instruction-counting TCG plugin")
	fs.BoolVar(&o.modules, "modules", false, "also compare the drivers as loadable modules (loaded and unloaded for every sample) with the built-in ones, helpers on and off")
	fs.BoolVar(&o.build, "build-only", false, "check the toolchain and build (or find cached) the two kernels, then stop")
	fs.StringVar(&o.arch, "arch", "x86_64", "guest architecture: x86_64 or arm64 (qemu-system-aarch64 -M virt, TCG)")
	fs.StringVar(&o.compareArch, "compare-arch", "", "print this results.json and the one argument (of another architecture) side by side, then stop")
	o.cl.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &usageError{err}
	}
	o.cl.mergeArgs = fs.Args()
	if o.arch != "x86_64" && o.arch != "arm64" {
		err := fmt.Errorf("-arch %q: want x86_64 or arm64", o.arch)
		fmt.Fprintf(stderr, "nullblk-bench: %v\n", err)
		fs.Usage()
		return o, &usageError{err}
	}
	if o.compareArch != "" && fs.NArg() != 1 {
		err := fmt.Errorf("-compare-arch %s needs the second results.json as its one argument", o.compareArch)
		fmt.Fprintf(stderr, "nullblk-bench: %v\n", err)
		fs.Usage()
		return o, &usageError{err}
	}
	if fs.NArg() > 0 && !o.cl.merge && o.compareArch == "" {
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
	if o.compareArch != "" {
		return compareArch(o.compareArch, o.cl.mergeArgs[0], stdout)
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
	p, until, err := design(o, stdout)
	if err != nil {
		return err
	}
	if until != nil && o.cl.wantsPlan() {
		return errors.New("-until and -budget (sequential stopping) cannot shard: a shard does not see the others' boots")
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
	rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: tree.Dir, Arch: o.arch})
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
	ui.line("doctor: ARCH=%s: Rust is available, inline helpers possible (%s)", o.arch, strings.Join(rep.MakeArgs(), " "))

	// 2. Configure and build the two kernels.
	var kernels []bench.KernelArm
	cacheHits := map[string]bool{}
	for _, helpers := range []bool{true, false} {
		name := "helpers-off"
		if helpers {
			name = "helpers-on"
		}
		cfg, err := kbuild.TinyRustFor(o.arch, helpers)
		if err != nil {
			return err
		}
		r, err := buildKernel(ctx, o, src, rep, ui, stderr, name, kbuild.BuildSpec{Config: cfg, Targets: []string{kbuild.BootTarget(o.arch)}})
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
		if o.arch != "x86_64" {
			return fmt.Errorf("-arch %s: the sharded modes boot x86_64 guests only", o.arch)
		}
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
		Boot:     bench.QEMUBoot(bench.QEMUOptions{Arch: o.arch, CacheDir: o.cache, Console: console, Logger: log, NoPlugin: o.noPlugin}),
		Progress: ui.progress, Until: until}
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

// design is the preset and the sequential stopping rule the flags ask
// for: the named preset, then a pilot's advice (-design-from), then the
// explicit overrides.
func design(o options, stdout io.Writer) (bench.Preset, *bench.StopRule, error) {
	p, err := bench.PresetByName(o.preset)
	if err != nil {
		return p, nil, err
	}
	if o.wallBoots >= 0 {
		p.WallBoots = o.wallBoots
	}
	if o.designFrom != "" {
		pilot, err := bench.ReadResults(o.designFrom)
		if err != nil {
			return p, nil, err
		}
		a, err := bench.Analyze(pilot, bench.AnalyzeOptions{TargetHalfWidth: o.untilHW / 100})
		if err != nil {
			return p, nil, err
		}
		if a.Design == nil {
			return p, nil, fmt.Errorf("%s: no design advice (no measured arms)", o.designFrom)
		}
		d := a.Design.Cheapest
		if d.Boots == 0 {
			d = a.Design.Recommended
		}
		p = d.Apply(p)
		fmt.Fprintf(stdout, "design from %s: %d instance(s) per boot, %d run(s) per instance, %d boots per kernel (widest pooled interval there ±%.3f%%)\n",
			o.designFrom, p.Instances, p.ICountRuns, p.ICountBoots, 100*a.Design.WidestHalfWidth)
	}
	if o.instances > 0 {
		p.Instances = o.instances
	}
	if o.boots > 0 {
		p.ICountBoots = o.boots
	}
	var until *bench.StopRule
	if o.untilHW > 0 || o.budget > 0 {
		until = &bench.StopRule{HalfWidth: o.untilHW / 100, Each: o.untilEach, Budget: o.budget}
	}
	return p, until, nil
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

// compareArch prints two results.json of different architectures side by
// side (report.CompareArchitectures).
func compareArch(a, b string, stdout io.Writer) error {
	ra, err := bench.ReadResults(a)
	if err != nil {
		return err
	}
	rb, err := bench.ReadResults(b)
	if err != nil {
		return err
	}
	return report.CompareArchitectures(stdout, ra, rb)
}
