package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/rflkit/rflkit/bench"
)

// WriteBenchfmt writes every measured (non-warm-up) sample of r as a Go
// benchmark result line, so that benchstat can summarise and compare runs:
//
//	BenchmarkNullBlk/measure=wall/kernel=helpers-on/driver=rnull/wl=randread-4k-qd32-nj1 1 11234 ns/op 89012 iops
//	BenchmarkNullBlk/measure=icount/kernel=helpers-on/driver=rnull/wl=randread-4k-qd32-nj1 1 5016 ns/op 199373 iops 5016 instr/io
//
// ns/op is nanoseconds per I/O (guest nanoseconds under icount, which equal
// instructions). Compare the kernels with `benchstat -col /kernel file` or
// the drivers with `-col /driver`.
func WriteBenchfmt(w io.Writer, r *bench.Results) error {
	bw := &errWriter{w: w}
	bw.printf("goos: linux\ngoarch: amd64\npkg: github.com/rflkit/rflkit/bench\n")
	if r.Host.CPUModel != "" {
		bw.printf("cpu: %s\n", r.Host.CPUModel)
	}
	bw.printf("preset: %s\nseed: %d\n", r.Preset.Name, r.Seed)
	for _, k := range r.Kernels {
		bw.printf("kernel-%s: %s helpers=%v config=%s\n", k.Name, k.Release, k.InlineHelpers, short(k.ConfigSHA256))
	}
	for _, b := range r.Boots {
		for _, s := range b.Samples {
			if s.Warmup || !(s.IOPS > 0) {
				continue
			}
			name := fmt.Sprintf("BenchmarkNullBlk/measure=%s/kernel=%s/driver=%s/wl=%s", b.Mode, b.Kernel, s.Driver, s.Workload)
			nsPerIO := float64(max(r.GuestCPUs, 1)) * 1e9 / s.IOPS
			bw.printf("%s 1 %.1f ns/op %.1f iops", name, nsPerIO, s.IOPS)
			if b.Mode == bench.ModeICount {
				bw.printf(" %.2f instr/io", s.InstrPerIO)
			}
			bw.printf("\n")
		}
	}
	return bw.err
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

func (e *errWriter) printf(f string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, f, a...)
	}
}

func fmtValue(m bench.Measure, v float64) string {
	if m == bench.MeasureHelperCalls {
		return fmt.Sprintf("%.3f", v)
	}
	if m.CountsInstructions() {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtShare(x float64) string {
	if x < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func fmtChange(c bench.Comparison) string {
	switch {
	case c.Err != "":
		return "n/a (" + c.Err + ")"
	case c.Note != "":
		return fmtNoInterval(c.Ratio, c.Note)
	}
	return fmtInterval(c.Interval)
}

func fmtInterval(iv bench.Interval) string {
	return fmt.Sprintf("%+.2f%% [%+.2f%%, %+.2f%%]", 100*(iv.Ratio-1), 100*(iv.Lo-1), 100*(iv.Hi-1))
}

// fmtNoInterval is an estimate without its interval: the note says why.
func fmtNoInterval(ratio float64, note string) string {
	if ratio > 0 {
		return fmt.Sprintf("%+.2f%%, %s", 100*(ratio-1), note)
	}
	return note
}

func fmtPooled(p bench.PooledEstimate) string {
	switch {
	case p.Err != "":
		return "n/a (" + p.Err + ")"
	case p.Note != "":
		return fmtNoInterval(p.Ratio, p.Note)
	}
	return fmtInterval(p.Interval)
}

// floorMark follows a p-value at the smallest value its sample sizes
// allow (see floorNote).
const floorMark = " (min)"

// fmtP is the U test's p-value, marked when it is at its floor.
func fmtP(u bench.UTest) string {
	s := fmt.Sprintf("%.3g", u.P)
	if u.AtFloor() {
		s += floorMark
	}
	return s
}

// floorNote explains the floor mark for the comparisons that reach it,
// or returns "" when none does.
func floorNote(cs []bench.Comparison) string {
	floors := map[[2]int]float64{}
	var sizes [][2]int
	for _, c := range cs {
		if !c.UTest.AtFloor() {
			continue
		}
		k := [2]int{c.UTest.N1, c.UTest.N2}
		if _, ok := floors[k]; !ok {
			sizes = append(sizes, k)
		}
		floors[k] = c.UTest.PMin
	}
	if len(sizes) == 0 {
		return ""
	}
	var parts []string
	for _, k := range sizes {
		parts = append(parts, fmt.Sprintf("2/C(%d,%d) = %.2g for %d and %d boots", k[0]+k[1], k[0], floors[k], k[0], k[1]))
	}
	note := "p marked (min) is the smallest p-value the U test can give with these boots (" + strings.Join(parts, "; ") +
		"): every boot of one arm lay on the same side of every boot of the other. It says the arms did not overlap, " +
		"not how far apart they are, and more boots, not more separation, would lower it; the interval says how far. " +
		"Holm's and Benjamini-Hochberg's adjusted p-values are over all the comparisons of the measure."
	minHolm, bh := 1.0, 0
	for _, c := range cs {
		minHolm = math.Min(minHolm, c.PHolm)
		if c.PBH <= 0.05 {
			bh++
		}
	}
	if minHolm > 0.05 {
		note += fmt.Sprintf(" Over these %d comparisons the smallest Holm p is %.2g: at these boots no U test can be significant family-wise at 0.05; "+
			"%d of %d have a BH p of at most 0.05.", len(cs), minHolm, bh, len(cs))
	}
	return note
}

func verdict(c bench.Comparison) string {
	if !c.HasInterval() {
		return "no interval"
	}
	better := "faster"
	worse := "slower"
	if c.Measure.CountsInstructions() {
		better, worse = "fewer instructions", "more instructions"
	}
	subj := string(c.B.Driver)
	if c.Question == bench.HelpersOnOff {
		subj = "helpers on"
	}
	if c.Question == bench.ModuleVsBuiltIn {
		subj = "module"
	}
	switch c.Better() {
	case 1:
		return subj + ": " + better
	case -1:
		return subj + ": " + worse
	}
	return "no difference shown"
}

// WriteTable writes a plain-text table of arms and comparisons.
func WriteTable(w io.Writer, a *bench.Analysis) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	bw := &errWriter{w: tw}
	for _, m := range reportMeasures() {
		first := true
		for _, s := range a.Arms {
			if s.Measure != m {
				continue
			}
			if first {
				bw.printf("\n%s\nworkload\tkernel\tdriver\truns\tboots\tmedian\tmean\tmin\tmax\tbetween-boot\n", m.Label())
				first = false
			}
			mm := ""
			if s.Modality.Multimodal {
				mm = fmt.Sprintf(" %d modes", len(s.Modality.Modes))
			}
			bw.printf("%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s%s\n", s.Key.Workload, s.Key.Kernel, s.Key.Driver, s.N, s.Boots,
				fmtValue(m, s.Median), fmtValue(m, s.Mean), fmtValue(m, s.Min), fmtValue(m, s.Max), fmtShare(s.BetweenBoot), mm)
		}
	}
	bw.printf("\ncomparison\tmeasure\tworkload\tarms (B/A)\tchange [95%% CI]\tp (U, boots)\tp Holm\tp BH\tverdict\n")
	for _, c := range a.Comparisons {
		bw.printf("%s\t%s\t%s\t%s / %s\t%s\t%s\t%.3g\t%.3g\t%s\n", c.Question, c.Measure, c.Workload, c.B, c.A, fmtChange(c),
			fmtP(c.UTest), c.PHolm, c.PBH, verdict(c))
	}
	if len(a.Pooled) > 0 {
		bw.printf("\npooled over workloads\tmeasure\tworkloads\tarms (B/A)\tmean change [95%% CI]\tboots\n")
		for _, p := range a.Pooled {
			bw.printf("%s\t%s\t%d\t%s / %s\t%s\t%d / %d\n", p.Question, p.Measure, len(p.Workloads), p.B, p.A, fmtPooled(p),
				p.BootsB, p.BootsA)
		}
	}
	if bw.err == nil {
		bw.err = tw.Flush()
	}
	if n := floorNote(a.Comparisons); n != "" {
		bw.printf("\n%s\n", n)
	}
	for _, wmsg := range allWarnings(a) {
		bw.printf("warning: %s\n", wmsg)
	}
	bw.printf("\nThe conclusion rests on %s.\n", a.Conclusive.Label())
	return bw.err
}

func allWarnings(a *bench.Analysis) []string {
	ws := append([]string(nil), a.Warnings...)
	for _, c := range a.Comparisons {
		for _, w := range c.Warnings {
			ws = append(ws, fmt.Sprintf("%s, %s, %s: %s", c.Question, c.Measure, c.Workload, w))
		}
	}
	for _, p := range a.Pooled {
		for _, w := range p.Warnings {
			ws = append(ws, fmt.Sprintf("%s, %s, pooled over workloads: %s", p.Question, p.Measure, w))
		}
	}
	return ws
}

// bootSpread returns the smallest and largest relative standard deviation
// of boot means over the arms of m with at least two boots (ok false when
// there is none).
func bootSpread(a *bench.Analysis, m bench.Measure) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range a.Arms {
		if s.Measure != m || len(s.ByBoot) < 2 {
			continue
		}
		var means []float64
		for _, b := range s.ByBoot {
			means = append(means, bench.Mean(b))
		}
		mu := bench.Mean(means)
		ss := 0.0
		for _, x := range means {
			ss += (x - mu) * (x - mu)
		}
		rel := math.Sqrt(ss/float64(len(means)-1)) / mu
		lo, hi, ok = math.Min(lo, rel), math.Max(hi, rel), true
	}
	return lo, hi, ok
}

// MarkdownOptions adds context to the markdown report.
type MarkdownOptions struct {
	// PlotFile is the path of the PNG plot to embed, relative to the
	// report ("" = none).
	PlotFile string
}

// WriteMarkdown writes the report: setup, which measure carries the
// conclusion, per-arm tables, comparisons with intervals, warnings, and
// what the numbers do and do not mean.
func WriteMarkdown(w io.Writer, r *bench.Results, a *bench.Analysis, opts MarkdownOptions) error {
	bw := &errWriter{w: w}
	bw.printf("# rnull vs null_blk, RUST_INLINE_HELPERS on vs off\n\n")
	bw.printf("Preset `%s`, seed %d, %d boots (%s to %s), complete: %v.\n\n", r.Preset.Name, r.Seed, len(r.Boots),
		r.Started.Format("2006-01-02 15:04:05Z"), r.Finished.Format("15:04:05Z"), r.Complete)
	bw.printf("Host: %s, %d CPUs (%s), %s; guest: %d vCPU under QEMU TCG (%s).\n\n", r.Host.Hostname, r.Host.CPUs,
		r.Host.CPUModel, r.Host.KernelRelease, r.GuestCPUs, r.Host.QEMUVersion)
	bw.printf("| kernel | release | RUST_INLINE_HELPERS | .config sha256 |\n|---|---|---|---|\n")
	for _, k := range r.Kernels {
		bw.printf("| %s | %s | %s | `%s` |\n", k.Name, k.Release, orNone(k.ConfigHelpers), short(k.ConfigSHA256))
	}
	bw.write("\nEach boot runs both drivers, alternating, on devices created through configfs with matched " +
		"parameters (4096-byte blocks, irqmode 0, 4096 MiB, null_blk hw_queue_depth 256 and completion_nsec 0, " +
		"scheduler none). Boots alternate the kernels in a seeded random order; warm-up runs are discarded. " +
		"Intervals are 95% bootstrap intervals over boots (not runs), widened for few boots with Welch's degrees of " +
		"freedom (the arms' spreads differ); with fewer than 3 boots per arm none is given. The intervals, not the " +
		"p-values, carry the conclusions: with nA and nB boots a U test cannot go below p = 2/C(nA+nB, nA) (0.0079 at 5 and 5).\n\n")
	if sum := Summary(a); len(sum) > 0 {
		bw.printf("## Summary\n\n")
		for _, l := range sum {
			bw.printf("- %s\n", l)
		}
		bw.printf("\n")
	}
	bw.printf("## Which measure carries the conclusion\n\n")
	if a.Conclusive.IsPlugin() {
		writePluginConclusion(bw, r, a)
	} else if a.Conclusive == bench.MeasureInstr {
		spread := ""
		if lo, hi, ok := bootSpread(a, bench.MeasureInstr); ok {
			spread = fmt.Sprintf(" In this run the boot means of an arm spread by %.3f%% to %.3f%% (standard deviation), "+
				"partly in modes (see the warnings), so it can resolve a 2%% question here, not a 0.01%% one.", 100*lo, 100*hi)
		}
		bw.write("**Instructions per I/O** under `-icount shift=0,sleep=off` (one guest nanosecond is one " +
			"instruction, so fio's IOPS give instructions per I/O)." + spread + " It counts instructions only: no cache, TLB or branch " +
			"effects, and no real device or interrupt timing. Wall-clock IOPS under TCG are shown beside it; " +
			"they are emulator throughput, noisy, and not what a bare-metal machine would do.\n\n")
	} else {
		bw.printf("**Wall-clock IOPS** under TCG (no icount boots were run); these are noisy.\n\n")
	}
	for _, m := range reportMeasures() {
		var cs []bench.Comparison
		for _, c := range a.Comparisons {
			if c.Measure == m {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		bw.printf("## %s\n\n", m.Label())
		bw.printf("| comparison | workload | B / A | change [95%% CI] | p (U test, boot means) | p Holm | p BH | verdict |\n|---|---|---|---|---|---|---|---|\n")
		for _, c := range cs {
			bw.printf("| %s | %s | %s / %s | %s | %s | %.3g | %.3g | %s |\n", c.Question, c.Workload, c.B, c.A, fmtChange(c),
				fmtP(c.UTest), c.PHolm, c.PBH, verdict(c))
		}
		if n := floorNote(cs); n != "" {
			bw.printf("\n%s\n", n)
		}
		var ps []bench.PooledEstimate
		for _, p := range a.Pooled {
			if p.Measure == m {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 {
			bw.printf("\nPooled over workloads (the mean relative change, the statistic of the published figures; boots resampled with all their workloads):\n\n")
			bw.printf("| comparison | B / A | workloads | mean change [95%% CI] | boots (B / A) |\n|---|---|---|---|---|\n")
			for _, p := range ps {
				bw.printf("| %s | %s / %s | %d | %s | %d / %d |\n", p.Question, p.B, p.A, len(p.Workloads), fmtPooled(p), p.BootsB, p.BootsA)
			}
		}
		bw.printf("\n| workload | kernel | driver | runs | boots | median | mean | min | max | between-boot variance |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range a.Arms {
			if s.Measure != m {
				continue
			}
			mm := ""
			if s.Modality.Multimodal {
				mm = fmt.Sprintf(" (%d modes)", len(s.Modality.Modes))
			}
			bw.printf("| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s%s |\n", s.Key.Workload, s.Key.Kernel, s.Key.Driver,
				s.N, s.Boots, fmtValue(m, s.Median), fmtValue(m, s.Mean), fmtValue(m, s.Min), fmtValue(m, s.Max), fmtShare(s.BetweenBoot), mm)
		}
		bw.printf("\n")
	}
	writeDesign(bw, r, a)
	writeModules(bw, r, a)
	writeProfiles(bw, r)
	if opts.PlotFile != "" {
		bw.printf("![per-arm distributions](%s)\n\n", opts.PlotFile)
	}
	seen := map[bench.Mode]bool{}
	for _, b := range r.Boots {
		if seen[b.Mode] || len(b.QEMUArgv) == 0 {
			continue
		}
		if len(seen) == 0 {
			bw.printf("## How the guests ran\n\n")
		}
		seen[b.Mode] = true
		bw.printf("%s boots (boot %d shown; every boot's command line and boot id are in results.json):\n\n```\n%s\n```\n\n",
			b.Mode, b.Index, strings.Join(b.QEMUArgv, " "))
	}
	if len(r.Preset.Workloads) > 0 {
		w := r.Preset.Workloads[0]
		bw.printf("fio (per run; under icount runtime %v, ramp %v): `fio %s`\n\n", r.Preset.ICountRuntime, r.Preset.ICountRamp,
			strings.Join(w.FioArgs("/dev/<device>"), " "))
	}
	if ws := allWarnings(a); len(ws) > 0 {
		bw.printf("## Warnings\n\n")
		for _, w := range ws {
			bw.printf("- %s\n", w)
		}
		bw.printf("\n")
	}
	if a.Conclusive.CountsInstructions() {
		bw.write("## Compared with the published figures\n\n")
		bw.printf("Published (bare metal, out-of-tree full rnull, 120 workloads): inline helpers gave about +2%% IOPS on average, " +
			"and rnull was within about -5%%..+15%% of null_blk per workload. Here, fewer instructions per I/O mean more I/O per " +
			"unit of CPU: a change of x%% in instructions per I/O would be about -x%% in IOPS if the guest were bound by " +
			"instruction count alone, which real hardware is not. The lines of the summary above are the numbers to set " +
			"against the published ones; they come from a different driver (the small in-tree 7.2 rnull), a tiny kernel and " +
			"an emulated CPU.\n\n")
	}
	bw.write("## What this does and does not say\n\n" +
		"- This is a small x86_64 guest (tinyconfig + Rust, 1 vCPU) emulated by QEMU TCG on a shared 2-core VM, " +
		"not bare metal. Emulated instructions cost very different amounts of host time than real ones.\n" +
		"- The published figures (rust-for-linux.com, fio-matrix) are for bare metal and the out-of-tree full rnull: " +
		"RUST_INLINE_HELPERS gave about 2% more IOPS on average over 120 workloads, and rnull ranged about -5%..+15% " +
		"against null_blk per workload. The in-tree 7.2 rnull measured here is smaller than that driver.\n" +
		"- An interval wider than the effect in question (2% for helpers, 5% for Rust vs C) cannot answer it; " +
		"such rows carry a warning.\n" +
		"- Modes are looked for in each arm's boot means (from 4 boots): the widest gap, and from 5 boots the two widest, " +
		"against the spread inside the clusters they cut (at least the measure's resolution, one I/O in a run), calibrated " +
		"on normal samples of the same size at the 1% level; the boots of each mode are named in the warnings. With 5 " +
		"boots a mode that no boot fell into goes unseen, and an arm with modes makes intervals cover less than 95%.\n" +
		"- Many comparisons are made: p Holm bounds the chance of any false positive among a measure's comparisons, " +
		"p BH the expected share of false positives among those called significant.\n")
	return bw.err
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

// Summary returns one line per question and driver (helpers) or kernel
// (Rust vs C) for the conclusive measure: the mean relative change over
// workloads with its interval (bench.PooledEstimate, the statistic of the
// published figures), the range of the per-workload changes, and how many
// per-workload intervals exclude no change. It gives intervals, not
// p-values: with few boots a p-value mostly says how many boots there
// were.
func Summary(a *bench.Analysis) []string {
	var out []string
	for _, p := range a.Pooled {
		if p.Measure != a.Conclusive {
			continue
		}
		key := "kernel " + p.A.Kernel
		if p.Question == bench.HelpersOnOff {
			key = string(p.A.Driver)
		}
		if p.Question == bench.ModuleVsBuiltIn || (p.Question == bench.HelpersOnOff && helperPairsOf(a, p) > 1) {
			key = string(p.A.Driver) + ", " + p.B.Kernel + " / " + p.A.Kernel
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		n, with, excl := 0, 0, 0
		for _, c := range a.Comparisons {
			if c.Measure != p.Measure || c.Question != p.Question || c.A.Kernel != p.A.Kernel || c.A.Driver != p.A.Driver ||
				c.B.Kernel != p.B.Kernel || c.B.Driver != p.B.Driver || !(c.Ratio > 0) {
				continue
			}
			n++
			lo, hi = math.Min(lo, c.Change()), math.Max(hi, c.Change())
			if c.HasInterval() {
				with++
				if !c.Interval.Contains(1) {
					excl++
				}
			}
		}
		line := fmt.Sprintf("%s, %s (%s): %s, mean over %d workloads", p.Question, key, p.Measure, fmtPooled(p), len(p.Workloads))
		if n > 0 {
			line += fmt.Sprintf(" (per workload %+.2f%% to %+.2f%%", 100*lo, 100*hi)
			if with > 0 {
				line += fmt.Sprintf("; %d of %d intervals exclude no change", excl, with)
			}
			line += ")"
		}
		out = append(out, line)
	}
	return out
}
