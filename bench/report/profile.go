package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rflkit/rflkit/bench"
)

// reportMeasures are the measures the tables show, in order: the plugin's
// counts, fio-derived instructions per I/O, wall-clock IOPS.
func reportMeasures() []bench.Measure {
	return append(bench.PluginMeasures(), bench.MeasureInstr, bench.MeasureIOPS)
}

func findArm(a *bench.Analysis, m bench.Measure, k bench.ArmKey) *bench.ArmStats {
	for i := range a.Arms {
		if a.Arms[i].Measure == m && a.Arms[i].Key == k {
			return &a.Arms[i]
		}
	}
	return nil
}

func findComparison(a *bench.Analysis, q bench.Question, m bench.Measure, A, B bench.ArmKey) *bench.Comparison {
	for i := range a.Comparisons {
		c := &a.Comparisons[i]
		if c.Question == q && c.Measure == m && c.A == A && c.B == B {
			return c
		}
	}
	return nil
}

// fmtFine is a comparison's change with its interval to 0.001%, or why
// there is none.
func fmtFine(c *bench.Comparison) string {
	if c == nil {
		return "not measured"
	}
	if !c.HasInterval() {
		return fmtChange(*c)
	}
	iv := c.Interval
	return fmt.Sprintf("%+.3f%% [%+.3f%%, %+.3f%%]", 100*(iv.Ratio-1), 100*(iv.Lo-1), 100*(iv.Hi-1))
}

func armMean(a *bench.Analysis, m bench.Measure, k bench.ArmKey) string {
	s := findArm(a, m, k)
	if s == nil {
		return "n/a"
	}
	return fmtValue(m, s.Mean)
}

// pluginWorkloads are the workloads with plugin arms, sorted.
func pluginWorkloads(a *bench.Analysis) []string {
	var wls []string
	for _, s := range a.Arms {
		if s.Measure == bench.MeasurePathInsns && !slices.Contains(wls, s.Key.Workload) {
			wls = append(wls, s.Key.Workload)
		}
	}
	slices.Sort(wls)
	return wls
}

// writePluginConclusion says what the plugin counts are, then answers the
// two questions in words, workload by workload.
func writePluginConclusion(bw *errWriter, r *bench.Results, a *bench.Analysis) {
	cpu := r.GuestCPU
	if cpu == "" {
		cpu = "QEMU's default"
	}
	bw.write("**Guest instructions per I/O counted function by function** by a QEMU TCG plugin (qemu/tcgplugin) in " +
		"`-icount shift=0,sleep=off` boots, -cpu " + cpu + ": in each step fio runs N and then 2N I/Os, each between two `sync`s " +
		"whose entry into ksys_sync snapshots the counters, and the difference of the two windows over N is the cost of one " +
		"I/O; the driver's queue_rq must have been entered exactly once more per request in the larger window, or the sample " +
		"fails. Groups are name heuristics: the driver's own code (null_blk: null_*/nullb_*; rnull: Rust symbols of crate rnull), " +
		"the C helpers (rust_helper_*), the whole kernel, and the whole path (kernel + user space, fio). " +
		"These are instruction counts, not cycles: TCG is not bare metal, and it models no caches, branch prediction, " +
		"pipeline or memory latency. The fio-derived instructions per I/O (1e9 / IOPS under icount) are shown as a secondary " +
		"figure; fio rounds its runtime to whole milliseconds, so they are coarser.\n\n")
	on, off := "", ""
	for _, k := range r.Kernels {
		if k.InlineHelpers {
			on = k.Name
		} else {
			off = k.Name
		}
	}
	bw.printf("## Answers (plugin counts, mean over boots, 95%% intervals over boots)\n\n")
	for _, wl := range pluginWorkloads(a) {
		bw.printf("**%s**\n\n", wl)
		for _, k := range r.Kernels {
			c, rs := bench.ArmKey{Kernel: k.Name, Driver: bench.NullBlk, Workload: wl}, bench.ArmKey{Kernel: k.Name, Driver: bench.RNull, Workload: wl}
			bw.printf("- Rust vs C, %s: rnull's own code costs %s instructions per I/O against null_blk's %s (%s); "+
				"the whole path %s against %s (%s); the kernel %s against %s.\n",
				k.Name, armMean(a, bench.MeasureDriverInsns, rs), armMean(a, bench.MeasureDriverInsns, c),
				fmtFine(findComparison(a, bench.RustVsC, bench.MeasureDriverInsns, c, rs)),
				armMean(a, bench.MeasurePathInsns, rs), armMean(a, bench.MeasurePathInsns, c),
				fmtFine(findComparison(a, bench.RustVsC, bench.MeasurePathInsns, c, rs)),
				armMean(a, bench.MeasureKernelInsns, rs), armMean(a, bench.MeasureKernelInsns, c))
		}
		if on == "" || off == "" {
			continue
		}
		rOff, rOn := bench.ArmKey{Kernel: off, Driver: bench.RNull, Workload: wl}, bench.ArmKey{Kernel: on, Driver: bench.RNull, Workload: wl}
		cOff, cOn := bench.ArmKey{Kernel: off, Driver: bench.NullBlk, Workload: wl}, bench.ArmKey{Kernel: on, Driver: bench.NullBlk, Workload: wl}
		check := "the option acted"
		if s := findArm(a, bench.MeasureHelperCalls, rOn); s == nil {
			check = "not measured"
		} else if s.Max > 0.01 {
			check = "helpers remain called: check that the option acted"
		}
		bw.printf("- Helpers on vs off, rnull: %s rust_helper_* calls per I/O remain with helpers on (%s without): %s. "+
			"Driver-own instructions per I/O %s → %s (%s); whole path %s → %s (%s).\n",
			armMean(a, bench.MeasureHelperCalls, rOn), armMean(a, bench.MeasureHelperCalls, rOff), check,
			armMean(a, bench.MeasureDriverInsns, rOff), armMean(a, bench.MeasureDriverInsns, rOn),
			fmtFine(findComparison(a, bench.HelpersOnOff, bench.MeasureDriverInsns, rOff, rOn)),
			armMean(a, bench.MeasurePathInsns, rOff), armMean(a, bench.MeasurePathInsns, rOn),
			fmtFine(findComparison(a, bench.HelpersOnOff, bench.MeasurePathInsns, rOff, rOn)))
		bw.printf("- Helpers on vs off, null_blk (the control, which should not change): driver-own %s, whole path %s.\n",
			fmtFine(findComparison(a, bench.HelpersOnOff, bench.MeasureDriverInsns, cOff, cOn)),
			fmtFine(findComparison(a, bench.HelpersOnOff, bench.MeasurePathInsns, cOff, cOn)))
		bw.printf("\n")
	}
}

// writeProfiles writes the differential profiles of the standard
// comparisons: the functions whose instructions per I/O differ most
// between the arms, with the per-boot values.
func writeProfiles(bw *errWriter, r *bench.Results) {
	ps := bench.StandardProfiles(r)
	if len(ps) == 0 {
		return
	}
	bw.printf("## Differential profiles (plugin, instructions per I/O by function)\n\n")
	bw.printf("Top %d functions by |B − A| for each comparison; A and B are means of boot means, and the per-boot "+
		"values show modes that belong to whole boots. Group: the function's group for the arm's driver.\n\n", bench.ProfileTop)
	for _, p := range ps {
		bw.printf("**%s: %s (B) vs %s (A)**, whole path %.2f vs %.2f\n\n", p.Workload, p.B, p.A, p.PathB, p.PathA)
		bw.printf("| function | group | A | B | B − A | A per boot | B per boot |\n|---|---|---|---|---|---|---|\n")
		for _, f := range p.Funcs {
			g := f.GroupA
			if f.GroupB != f.GroupA {
				g = f.GroupA + " / " + f.GroupB
			}
			bw.printf("| `%s` | %s | %.2f | %.2f | %+.2f | %s | %s |\n", shortSym(f.Key), g, f.A, f.B, f.Diff, perBoot(f.ABoots), perBoot(f.BBoots))
		}
		bw.printf("\n")
	}
}

// shortSym bounds a (mangled) symbol for a table cell.
func shortSym(s string) string {
	if len(s) > 90 {
		return s[:60] + "…" + s[len(s)-25:]
	}
	return s
}

func perBoot(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}
