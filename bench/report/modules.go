package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rflkit/rflkit/bench"
)

// moduleArm gathers one (kernel, driver, workload) arm's samples for the
// modules section.
type moduleArm struct {
	key                    bench.ArmKey
	module                 bool
	n, failed              int
	path, driver, modCode  []float64
	unknown                []float64
	load, unload, loadWall []float64
	texts                  map[string]bool
	failedOps              map[string]int
}

// writeModules writes the section comparing built-in with module arms,
// when the results have module arms.
func writeModules(bw *errWriter, r *bench.Results, a *bench.Analysis) {
	kinds := map[string]bool{}
	hasModule := false
	for _, k := range r.Kernels {
		kinds[k.Name] = k.IsModule()
		hasModule = hasModule || k.IsModule()
	}
	if !hasModule {
		return
	}
	bw.printf("## Built-in vs loadable module\n\n")
	bw.write("Module arms boot the kernel built with CONFIG_MODULES=y (kbuild.TinyRustModules) and, for every sample, " +
		"load the driver's module (null_blk with nr_devices=0, rnull_mod), create and check the device through configfs, " +
		"run the plugin's windows, remove the device and unload the module. The plugin's function map is fixed at boot, " +
		"so module code lands in its unknown bucket (kernel addresses outside vmlinux's functions); for module arms that " +
		"bucket is attributed to the driver (\"module code\" below, included in the driver figure). This is an " +
		"approximation: any other kernel code outside vmlinux's functions is counted with it; the built-in arms' unknown " +
		"bucket, shown beside, is the size of that error.\n\n")
	bw.printf("| kernel | drivers | RUST_INLINE_HELPERS | undefined rust_helper_* (per module) | rust_helper_* in vmlinux |\n|---|---|---|---|---|\n")
	for _, k := range r.Kernels {
		kind := bench.DriverBuiltIn
		if k.IsModule() {
			kind = bench.DriverModule
		}
		undef, vml := "-", "-"
		if ic := k.InlineCheck; ic != nil {
			var parts []string
			names := make([]string, 0, len(ic.ModuleUndefined))
			for n := range ic.ModuleUndefined {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				parts = append(parts, fmt.Sprintf("%s %d", n, ic.ModuleUndefined[n]))
			}
			undef = strings.Join(parts, ", ")
			vml = fmt.Sprint(ic.VmlinuxHelpers)
		}
		bw.printf("| %s | %s | %s | %s | %s |\n", k.Name, kind, orNone(k.ConfigHelpers), undef, vml)
	}
	arms := map[bench.ArmKey]*moduleArm{}
	var order []bench.ArmKey
	for _, b := range r.Boots {
		for _, s := range b.Samples {
			if s.Warmup {
				continue
			}
			k := bench.ArmKey{Kernel: b.Kernel, Driver: s.Driver, Workload: s.Workload}
			ma := arms[k]
			if ma == nil {
				ma = &moduleArm{key: k, module: kinds[b.Kernel], texts: map[string]bool{}, failedOps: map[string]int{}}
				arms[k] = ma
				order = append(order, k)
			}
			ma.n++
			if m := s.Module; m != nil {
				if m.TextAddr != "" {
					ma.texts[m.TextAddr] = true
				}
				if m.Loaded {
					ma.load = append(ma.load, m.LoadSeconds)
					ma.loadWall = append(ma.loadWall, m.LoadWallSeconds)
				}
				if m.Unloaded {
					ma.unload = append(ma.unload, m.UnloadSeconds)
				}
				if m.Failed != "" {
					ma.failed++
					ma.failedOps[m.FailedOp]++
					continue
				}
			}
			if p := s.Plugin; p != nil && p.Failed == "" {
				ma.path = append(ma.path, p.Groups.Path)
				ma.driver = append(ma.driver, p.Groups.Driver)
				ma.unknown = append(ma.unknown, p.Groups.Unknown)
				if s.Module != nil {
					ma.modCode = append(ma.modCode, s.Module.ModuleInsns)
				}
			} else if p != nil {
				ma.failed++
				ma.failedOps["plugin"]++
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		x, y := order[i], order[j]
		if x.Workload != y.Workload {
			return x.Workload < y.Workload
		}
		if x.Driver != y.Driver {
			return x.Driver < y.Driver
		}
		return x.Kernel < y.Kernel
	})
	bw.printf("\nPer arm (means over good samples; instructions per I/O):\n\n")
	bw.printf("| workload | driver | kernel | kind | samples | failed | path | driver | of which module code | unknown bucket | load (guest s, median) | unload (guest s, median) | .text addresses |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range order {
		ma := arms[k]
		kind := bench.DriverBuiltIn
		modCode := "-"
		if ma.module {
			kind = bench.DriverModule
			modCode = fmtMean(ma.modCode)
		}
		failed := fmt.Sprint(ma.failed)
		if len(ma.failedOps) > 0 {
			var ops []string
			for op, n := range ma.failedOps {
				ops = append(ops, fmt.Sprintf("%s %d", op, n))
			}
			sort.Strings(ops)
			failed += " (" + strings.Join(ops, ", ") + ")"
		}
		texts := make([]string, 0, len(ma.texts))
		for t := range ma.texts {
			texts = append(texts, "`"+t+"`")
		}
		sort.Strings(texts)
		load, unload := "-", "-"
		if len(ma.load) > 0 {
			load = fmt.Sprintf("%.4f", bench.Median(ma.load))
		}
		if len(ma.unload) > 0 {
			unload = fmt.Sprintf("%.4f", bench.Median(ma.unload))
		}
		bw.printf("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.Workload, k.Driver, k.Kernel, kind, ma.n, failed,
			fmtMean(ma.path), fmtMean(ma.driver), modCode, fmtMean(ma.unknown), load, unload, orNone(strings.Join(texts, " ")))
	}
	var cs []bench.Comparison
	for _, c := range a.Comparisons {
		if c.Measure != bench.MeasureDriverInsns && c.Measure != bench.MeasurePathInsns && c.Measure != bench.MeasureHelperCalls {
			continue
		}
		if c.Question == bench.ModuleVsBuiltIn || (c.Question == bench.HelpersOnOff && kinds[c.A.Kernel]) {
			cs = append(cs, c)
		}
	}
	if len(cs) > 0 {
		bw.printf("\n| comparison | measure | workload | B / A | change [95%% CI] | verdict |\n|---|---|---|---|---|---|\n")
		for _, c := range cs {
			bw.printf("| %s | %s | %s | %s / %s | %s | %s |\n", c.Question, c.Measure, c.Workload, c.B, c.A, fmtChange(c), verdict(c))
		}
	}
	bw.printf("\n")
}

func fmtMean(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return fmt.Sprintf("%.2f", s/float64(len(xs)))
}

// helperPairsOf counts the kernel pairs of p's question, measure and
// driver among the pooled estimates: more than one (built-in and module
// arms) and the summary names the kernels.
func helperPairsOf(a *bench.Analysis, p bench.PooledEstimate) int {
	n := 0
	for _, q := range a.Pooled {
		if q.Question == p.Question && q.Measure == p.Measure && q.A.Driver == p.A.Driver {
			n++
		}
	}
	return n
}
