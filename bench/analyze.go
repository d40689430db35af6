package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Measure is what a number means.
type Measure string

// The two measures.
const (
	// MeasureIOPS is fio's IOPS from plain-TCG boots: wall-clock, noisy.
	MeasureIOPS Measure = "iops"
	// MeasureInstr is guest instructions per I/O from -icount boots:
	// low-noise, counts instructions only (no cache or branch effects).
	MeasureInstr Measure = "instr/io"
)

// Label is the measure's human name.
func (m Measure) Label() string {
	if m == MeasureInstr {
		return "instructions per I/O (icount)"
	}
	return "IOPS (wall clock, TCG)"
}

// HigherIsBetter reports the measure's direction.
func (m Measure) HigherIsBetter() bool { return m == MeasureIOPS }

func (m Measure) mode() Mode {
	if m == MeasureInstr {
		return ModeICount
	}
	return ModeWall
}

func (m Measure) value(s Sample) float64 {
	if m == MeasureInstr {
		return s.InstrPerIO
	}
	return s.IOPS
}

// ArmKey names an arm: a (kernel, driver) pair on one workload.
type ArmKey struct {
	Kernel   string
	Driver   Driver
	Workload string
}

// String is "kernel/driver".
func (k ArmKey) String() string { return k.Kernel + "/" + string(k.Driver) }

// ArmStats summarises one arm's measured (non-warm-up) samples.
type ArmStats struct {
	Key      ArmKey
	Measure  Measure
	N, Boots int
	Median   float64
	Mean     float64 // mean of all runs
	Min, Max float64
	// BetweenBoot is the share of the variance that lies between boot
	// means (0..1); near 1 means the runs cluster by boot. It is -1 when
	// no boot has two runs (nothing to compare with).
	BetweenBoot float64
	Modality    Modality
	ByBoot      [][]float64 // runs, grouped by boot in boot order
	BootIDs     []string
}

// Question is one of the two comparisons the benchmark answers.
type Question string

// The questions, with the effect sizes they are about.
const (
	RustVsC      Question = "rnull vs null_blk"
	HelpersOnOff Question = "helpers on vs off"
)

// Effect is the size of the effect in question: 5% for Rust vs C (the
// published per-workload differences span -5%..+15%), 2% for inline
// helpers (the published mean gain).
func (q Question) Effect() float64 {
	if q == HelpersOnOff {
		return 0.02
	}
	return 0.05
}

// Comparison is B/A for one question, measure and workload.
type Comparison struct {
	Question Question
	Measure  Measure
	Workload string
	A, B     ArmKey // ratio is B/A: rnull/null_blk, helpers-on/helpers-off
	Interval Interval
	UTest    UTest // on boot means
	Warnings []string
	Err      string // no interval (e.g. too few boots)
}

// Change is the relative change B/A - 1.
func (c Comparison) Change() float64 { return c.Interval.Ratio - 1 }

// Better reports whether B is better than A with the interval excluding
// no change: +1 better, -1 worse, 0 inconclusive.
func (c Comparison) Better() int {
	if c.Err != "" || c.Interval.Contains(1) {
		return 0
	}
	up := c.Interval.Lo > 1
	if up == c.Measure.HigherIsBetter() {
		return 1
	}
	return -1
}

// Analysis is the statistics of a Results.
type Analysis struct {
	Arms        []ArmStats
	Comparisons []Comparison
	// Conclusive names the measure the conclusions rest on: instructions
	// per I/O when icount boots exist, else IOPS.
	Conclusive Measure
	Warnings   []string
}

// AnalyzeOptions tunes Analyze; the zero value is 95%, 2000 resamples,
// seed 1.
type AnalyzeOptions struct {
	Bootstrap BootstrapOptions
}

// Analyze computes per-arm statistics and the two questions' comparisons
// for every workload and measure in r.
func Analyze(r *Results, opts AnalyzeOptions) (*Analysis, error) {
	if r == nil {
		return nil, errors.New("bench: nil results")
	}
	bo := opts.Bootstrap
	if bo.Seed == 0 {
		bo.Seed = 1
	}
	a := &Analysis{Conclusive: MeasureIOPS}
	if !r.Complete {
		a.Warnings = append(a.Warnings, "the experiment did not complete: "+r.Error)
	}
	for _, k := range r.Kernels {
		if k.InlineHelpers != (k.ConfigHelpers == "y") && k.ConfigHelpers != "unknown" {
			a.Warnings = append(a.Warnings, fmt.Sprintf("kernel %s: inline_helpers=%v but its .config has RUST_INLINE_HELPERS=%q", k.Name, k.InlineHelpers, k.ConfigHelpers))
		}
	}
	arms := map[Measure]map[ArmKey]*ArmStats{}
	var order []struct {
		m Measure
		k ArmKey
	}
	for _, m := range []Measure{MeasureInstr, MeasureIOPS} {
		arms[m] = map[ArmKey]*ArmStats{}
		for _, b := range r.Boots {
			if b.Mode != m.mode() {
				continue
			}
			perArm := map[ArmKey][]float64{}
			var keys []ArmKey
			for _, s := range b.Samples {
				if s.Warmup {
					continue
				}
				v := m.value(s)
				if !(v > 0) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("bench: boot %d: %s %s run %d: bad %s value %v", b.Index, s.Driver, s.Workload, s.Run, m, v)
				}
				k := ArmKey{Kernel: b.Kernel, Driver: s.Driver, Workload: s.Workload}
				if _, ok := perArm[k]; !ok {
					keys = append(keys, k)
				}
				perArm[k] = append(perArm[k], v)
			}
			for _, k := range keys {
				st := arms[m][k]
				if st == nil {
					st = &ArmStats{Key: k, Measure: m}
					arms[m][k] = st
					order = append(order, struct {
						m Measure
						k ArmKey
					}{m, k})
				}
				st.ByBoot = append(st.ByBoot, perArm[k])
				st.BootIDs = append(st.BootIDs, b.BootID)
			}
		}
	}
	if len(arms[MeasureInstr]) > 0 {
		a.Conclusive = MeasureInstr
	}
	sort.SliceStable(order, func(i, j int) bool {
		x, y := order[i], order[j]
		if x.m != y.m {
			return x.m == MeasureInstr
		}
		if x.k.Workload != y.k.Workload {
			return x.k.Workload < y.k.Workload
		}
		if x.k.Kernel != y.k.Kernel {
			return x.k.Kernel < y.k.Kernel
		}
		return x.k.Driver < y.k.Driver
	})
	for _, o := range order {
		st := arms[o.m][o.k]
		fillArm(st)
		a.Arms = append(a.Arms, *st)
	}
	// Comparisons.
	for _, m := range []Measure{MeasureInstr, MeasureIOPS} {
		wls := map[string]bool{}
		var wlOrder []string
		kernels := map[string]bool{}
		var kOrder []string
		for _, o := range order {
			if o.m != m {
				continue
			}
			if !wls[o.k.Workload] {
				wls[o.k.Workload] = true
				wlOrder = append(wlOrder, o.k.Workload)
			}
			if !kernels[o.k.Kernel] {
				kernels[o.k.Kernel] = true
				kOrder = append(kOrder, o.k.Kernel)
			}
		}
		onName, offName := helperArms(r)
		for _, wl := range wlOrder {
			for _, kn := range kOrder {
				A, B := arms[m][ArmKey{kn, NullBlk, wl}], arms[m][ArmKey{kn, RNull, wl}]
				if A != nil && B != nil {
					a.Comparisons = append(a.Comparisons, compare(RustVsC, m, A, B, true, bo))
				}
			}
			if onName != "" && offName != "" {
				for _, d := range Drivers() {
					A, B := arms[m][ArmKey{offName, d, wl}], arms[m][ArmKey{onName, d, wl}]
					if A != nil && B != nil {
						a.Comparisons = append(a.Comparisons, compare(HelpersOnOff, m, A, B, false, bo))
					}
				}
			}
		}
	}
	few := 0
	for _, c := range a.Comparisons {
		if len(c.UTest.Warnings) > 0 {
			few++
		}
	}
	if few > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d of %d U tests (on boot means) have too few boots to reach p < 0.05 whatever the data; their p-values say nothing", few, len(a.Comparisons)))
	}
	return a, nil
}

// helperArms finds the helpers-on and helpers-off kernels.
func helperArms(r *Results) (on, off string) {
	for _, k := range r.Kernels {
		if k.InlineHelpers {
			on = k.Name
		} else {
			off = k.Name
		}
	}
	return on, off
}

func fillArm(st *ArmStats) {
	var all []float64
	var bootMeans []float64
	for _, b := range st.ByBoot {
		all = append(all, b...)
		bootMeans = append(bootMeans, Mean(b))
	}
	st.N, st.Boots = len(all), len(st.ByBoot)
	st.Median, st.Mean = Median(all), Mean(all)
	st.Min, st.Max = all[0], all[0]
	for _, x := range all {
		st.Min, st.Max = math.Min(st.Min, x), math.Max(st.Max, x)
	}
	// Share of variance between boots: var(boot means) against the total.
	st.BetweenBoot = -1
	for _, b := range st.ByBoot {
		if len(b) > 1 {
			st.BetweenBoot = 0
		}
	}
	if tot := stddev(all); tot > 0 && len(bootMeans) > 1 && st.BetweenBoot == 0 {
		st.BetweenBoot = math.Min(1, math.Pow(stddev(bootMeans)/tot, 2))
	}
	st.Modality = CheckModality(all)
}

func compare(q Question, m Measure, A, B *ArmStats, paired bool, bo BootstrapOptions) Comparison {
	c := Comparison{Question: q, Measure: m, Workload: A.Key.Workload, A: A.Key, B: B.Key}
	if paired && len(A.ByBoot) != len(B.ByBoot) {
		paired = false
	}
	iv, err := RatioCI(A.ByBoot, B.ByBoot, paired, bo)
	if err != nil {
		c.Err = err.Error()
		c.Warnings = append(c.Warnings, fmt.Sprintf("no interval: %v", err))
	} else {
		c.Interval = iv
		if hw := iv.HalfWidth(); hw > q.Effect() {
			c.Warnings = append(c.Warnings, fmt.Sprintf("interval half-width %.2f%% is wider than the %.0f%% effect in question: inconclusive by design", 100*hw, 100*q.Effect()))
		}
	}
	var ma, mb []float64
	for _, b := range A.ByBoot {
		ma = append(ma, Mean(b))
	}
	for _, b := range B.ByBoot {
		mb = append(mb, Mean(b))
	}
	c.UTest = MannWhitney(ma, mb)
	for _, s := range []*ArmStats{A, B} {
		if s.Modality.Multimodal {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is multimodal: %d samples <= %.4g < gap of %.3g < %d samples", s.Key, s.Modality.Low, s.Modality.Split, s.Modality.Gap, s.Modality.High))
		}
	}
	return c
}
