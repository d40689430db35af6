package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
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
	if m.IsPlugin() {
		return pluginLabel(m)
	}
	if m == MeasureInstr {
		return "instructions per I/O (fio-derived, icount)"
	}
	return "IOPS (wall clock, TCG)"
}

// HigherIsBetter reports the measure's direction.
func (m Measure) HigherIsBetter() bool { return m == MeasureIOPS }

func (m Measure) mode() Mode {
	if m.CountsInstructions() {
		return ModeICount
	}
	return ModeWall
}

func (m Measure) value(s Sample) float64 {
	if m.IsPlugin() {
		return pluginValue(m, s)
	}
	if m == MeasureInstr {
		return s.InstrPerIO
	}
	return s.IOPS
}

// ArmKey names an arm: a (kernel, driver) pair on one workload.
type ArmKey struct {
	Kernel   string // KernelMeta.Name
	Driver   Driver // "null_blk" or "rnull"
	Workload string // Workload.Name
}

// String is "kernel/driver".
func (k ArmKey) String() string { return k.Kernel + "/" + string(k.Driver) }

// ArmStats summarises one arm's measured (non-warm-up) samples. Values
// are in the unit of the measure: instructions per I/O, or I/O
// operations per second.
type ArmStats struct {
	Key     ArmKey
	Measure Measure
	// N is the number of measured runs, Boots the boots they came from.
	N, Boots int
	// Median and Mean are those of all runs (not of boot means); Min and
	// Max the extreme runs.
	Median   float64
	Mean     float64
	Min, Max float64
	// BetweenBoot is the share of the variance that lies between boot
	// means (0..1); near 1 means the runs cluster by boot. It is -1 when
	// no boot has two runs (nothing to compare with).
	BetweenBoot float64
	// Resolution is the smallest difference the measure can show in one
	// run, in its unit: the median over runs of value/total_ios (one I/O
	// more or less); 0 when the runs do not say how many I/Os they did.
	Resolution float64
	// RunSE is the standard error of a boot mean from run-to-run noise
	// alone: the pooled within-boot standard deviation over the square
	// root of the mean runs per boot; 0 when no boot has two runs.
	RunSE float64
	// Modality is CheckBootModality of the boot means (one value per
	// boot, so that runs of one boot do not pass for a mode), with the
	// boot ids of each mode, floored by Resolution and RunSE.
	Modality Modality
	// ByBoot holds the runs' values grouped by boot, in boot order, and
	// BootIDs the boot id of each group.
	ByBoot  [][]float64
	BootIDs []string
	// InstanceOf holds the device instance (Sample.Instance) of each
	// value of ByBoot, in the same shape.
	InstanceOf [][]int
	// Components are the arm's variance components (boot, device
	// instance, run) from ByBoot and InstanceOf.
	Components VarianceComponents
	// InstanceModality is CheckBootModality of the instance means (ids
	// "boot#instance"), when some boot has two instances: a mode drawn
	// when a device is created shows here and not between boots.
	InstanceModality *Modality `json:",omitempty"`
	// FirstRun is how the first run of the arm in a device instance
	// compares with its later runs (warm-up runs included as first
	// runs); nil when no instance ran the arm twice.
	FirstRun *FirstRunEffect `json:",omitempty"`
}

// FirstRunEffect is the start-up cost a warm-up run would absorb: per
// device instance, the first run's value minus the mean of the later
// runs, averaged per boot and then over boots, relative to the later
// runs' mean, with a t interval over boots.
type FirstRunEffect struct {
	// Change is (first - later) / later: 0.001 is 0.1% more in the
	// first run.
	Change float64
	// Lo and Hi bound Change (95%, t over boots); equal to Change with
	// one boot.
	Lo, Hi float64
	// Boots is the boots with an instance that ran the arm twice.
	Boots int
	// Warmup is set when the first runs were warm-up runs (kept out of
	// the arm's other statistics).
	Warmup bool
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
	Workload string // Workload.Name
	// A and B are the arms compared; the ratio is B/A: rnull/null_blk,
	// helpers-on/helpers-off.
	A, B ArmKey
	// Ratio is the estimate of B/A, the ratio of the arms' means of boot
	// means; set whenever both arms have boots, with or without an
	// interval.
	Ratio float64
	// Interval is Ratio with its bootstrap interval (RatioCI); zero when
	// Err or Note is set.
	Interval Interval
	// UTest is the Mann-Whitney U test on the arms' boot means.
	UTest UTest
	// PHolm is UTest.P adjusted by Holm's step-down method over all the
	// comparisons of this measure (family-wise error: the chance that
	// any of them is a false positive is at most PHolm).
	PHolm float64
	// PBH is UTest.P adjusted by Benjamini and Hochberg's step-up method
	// over the same comparisons (false discovery rate: among the
	// comparisons with PBH <= q, at most a share q are false positives
	// on average).
	PBH float64
	// Warnings say why the comparison may not answer its question (an
	// interval wider than the effect, no interval). A multimodal arm is
	// warned about once, in Analysis.Warnings (and ArmStats.Modality).
	Warnings []string
	// Note is set when no interval is reported on purpose:
	// NoteTooFewBoots when an arm has fewer than MinIntervalBoots boots.
	// "" otherwise.
	Note string
	// Err is why the interval could not be computed (paired arms whose
	// boots differ, a bad value); "" otherwise.
	Err string
}

// NoteTooFewBoots is Comparison.Note when an arm has fewer than
// MinIntervalBoots boots.
const NoteTooFewBoots = "too few boots: no interval"

// HasInterval reports whether the comparison carries an interval (neither
// Note nor Err is set).
func (c Comparison) HasInterval() bool { return c.Err == "" && c.Note == "" }

// Change is the relative change B/A - 1 (Ratio - 1).
func (c Comparison) Change() float64 { return c.Ratio - 1 }

// Better reports whether B is better than A with the interval excluding
// no change: +1 better, -1 worse, 0 inconclusive or no interval.
func (c Comparison) Better() int {
	if !c.HasInterval() || c.Interval.Contains(1) {
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
	// Arms are the per-arm summaries, instructions per I/O first, then
	// by workload, kernel and driver.
	Arms []ArmStats
	// Comparisons are both questions for every workload and measure
	// with the arms they need.
	Comparisons []Comparison
	// Pooled are the per-question estimates over workloads (the mean
	// relative change, as the published 2% is), one per question,
	// measure and kernel (Rust vs C) or driver (helpers): see Pool.
	Pooled []PooledEstimate
	// Conclusive names the measure the conclusions rest on: instructions
	// per I/O when icount boots exist, else IOPS.
	Conclusive Measure
	// Design sizes the next experiment from this one's variance
	// components and costs (adviseDesign); nil without arms.
	Design *DesignAdvice `json:",omitempty"`
	// Warnings concern the whole experiment (incomplete, kernels whose
	// .config contradicts their arm, multimodal arms with the boots of
	// each mode, comparisons without an interval, U tests that cannot
	// reach significance or sit at their floor).
	Warnings []string
}

// AnalyzeOptions tunes Analyze; the zero value is 95%, 2000 resamples,
// seed 1.
type AnalyzeOptions struct {
	Bootstrap BootstrapOptions
	// TargetHalfWidth is the relative half-width the design advice
	// (Analysis.Design) sizes boots for; 0 = DefaultTargetHalfWidth.
	TargetHalfWidth float64
}

// Analyze computes per-arm statistics and the two questions' comparisons
// for every workload and measure in r: per arm, summaries and the modes of
// its boot means (CheckBootModality); per comparison, the ratio B/A with
// its interval over boots (RatioCI; paired arms aligned by boot id, none
// below MinIntervalBoots boots per arm), the U test on boot means with its
// floor, and Holm- and Benjamini-Hochberg-adjusted p-values over the
// comparisons of the measure; per question, the mean change over
// workloads with its interval (Pool).
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
	resolution := map[Measure]map[ArmKey][]float64{}
	bootKey := bootKeys(r.Boots)
	firstRuns := firstRunData{}
	moduleKernel := map[string]bool{}
	for _, k := range r.Kernels {
		moduleKernel[k.Name] = k.IsModule()
	}
	for _, m := range analyzedMeasures() {
		arms[m] = map[ArmKey]*ArmStats{}
		resolution[m] = map[ArmKey][]float64{}
		for bi, b := range r.Boots {
			if b.Mode != m.mode() {
				continue
			}
			perArm := map[ArmKey][]float64{}
			perInst := map[ArmKey][]int{}
			var keys []ArmKey
			for si, s := range b.Samples {
				if s.moduleFailed() {
					continue // failed module samples: moduleWarnings
				}
				v := m.value(s)
				if m.IsPlugin() && math.IsNaN(v) {
					continue // no plugin counts, or a failed sample (pluginWarnings)
				}
				if !(v > 0 || (v == 0 && m.zeroAllowed())) || math.IsInf(v, 0) {
					if s.Warmup {
						continue // not analysed: its value does not matter
					}
					return nil, fmt.Errorf("bench: boot %d: %s %s run %d: bad %s value %v", b.Index, s.Driver, s.Workload, s.Run, m, v)
				}
				k := ArmKey{Kernel: b.Kernel, Driver: s.Driver, Workload: s.Workload}
				firstRuns.add(m, k, bootKey[bi], s, v)
				if s.Warmup {
					continue
				}
				if _, ok := perArm[k]; !ok {
					keys = append(keys, k)
				}
				perArm[k] = append(perArm[k], v)
				inst := s.Instance
				if moduleKernel[b.Kernel] {
					// A module arm's every sample has its own device.
					inst = si
				}
				perInst[k] = append(perInst[k], inst)
				if res := m.resolution(s, v); res > 0 {
					resolution[m][k] = append(resolution[m][k], res)
				}
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
				st.BootIDs = append(st.BootIDs, bootKey[bi])
				st.InstanceOf = append(st.InstanceOf, perInst[k])
			}
		}
	}
	if len(arms[MeasureInstr]) > 0 {
		a.Conclusive = MeasureInstr
	}
	if len(arms[MeasurePathInsns]) > 0 {
		a.Conclusive = MeasurePathInsns
	}
	a.Warnings = append(a.Warnings, pluginWarnings(r)...)
	a.Warnings = append(a.Warnings, moduleWarnings(r)...)
	sort.SliceStable(order, func(i, j int) bool {
		x, y := order[i], order[j]
		if x.m != y.m {
			return measureRank(x.m) < measureRank(y.m)
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
		if rs := resolution[o.m][o.k]; len(rs) > 0 {
			st.Resolution = Median(rs)
		}
		fillArm(st)
		st.FirstRun = firstRuns.effect(o.m, o.k)
		a.Arms = append(a.Arms, *st)
	}
	// Comparisons.
	for _, m := range analyzedMeasures() {
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
		hpairs, mpairs := helperPairs(r), modulePairs(r)
		for _, wl := range wlOrder {
			for _, kn := range kOrder {
				A, B := arms[m][ArmKey{kn, NullBlk, wl}], arms[m][ArmKey{kn, RNull, wl}]
				if A != nil && B != nil && comparable(m, A, B) {
					a.Comparisons = append(a.Comparisons, compare(RustVsC, m, A, B, true, bo))
				}
			}
			for _, hp := range hpairs {
				for _, d := range Drivers() {
					A, B := arms[m][ArmKey{hp.a, d, wl}], arms[m][ArmKey{hp.b, d, wl}]
					if A != nil && B != nil && comparable(m, A, B) {
						a.Comparisons = append(a.Comparisons, compare(HelpersOnOff, m, A, B, false, bo))
					}
				}
			}
			for _, mp := range mpairs {
				for _, d := range Drivers() {
					A, B := arms[m][ArmKey{mp.a, d, wl}], arms[m][ArmKey{mp.b, d, wl}]
					if A != nil && B != nil && comparable(m, A, B) {
						a.Comparisons = append(a.Comparisons, compare(ModuleVsBuiltIn, m, A, B, false, bo))
					}
				}
			}
		}
	}
	adjustPValues(a.Comparisons)
	pooled, err := Pool(a, bo)
	if err != nil {
		return nil, err
	}
	a.Pooled = pooled
	adviseDesign(a, r, opts.TargetHalfWidth)
	for _, s := range a.Arms {
		if s.Modality.Multimodal {
			a.Warnings = append(a.Warnings, modalityWarning(&s))
		}
	}
	few, floor, noIV := 0, 0, 0
	var floorAt UTest
	for _, c := range a.Comparisons {
		if len(c.UTest.Warnings) > 0 {
			few++
		}
		if c.UTest.AtFloor() {
			if floor == 0 || c.UTest.N1+c.UTest.N2 > floorAt.N1+floorAt.N2 {
				floorAt = c.UTest
			}
			floor++
		}
		if c.Note == NoteTooFewBoots {
			noIV++
		}
	}
	if noIV > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d of %d comparisons have an arm with fewer than %d boots and no interval (%q)", noIV, len(a.Comparisons), MinIntervalBoots, NoteTooFewBoots))
	}
	if few > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d of %d U tests (on boot means) have too few boots to reach p < 0.05 whatever the data; their p-values say nothing", few, len(a.Comparisons)))
	}
	if floor > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d of %d U tests are at the smallest p-value their boots allow (2/C(nA+nB, nA): %.2g with %d and %d boots): the arms did not overlap, which says nothing of how far apart they are; read the intervals",
			floor, len(a.Comparisons), floorAt.PMin, floorAt.N1, floorAt.N2))
	}
	return a, nil
}

// adjustPValues fills PHolm and PBH: Holm's and Benjamini-Hochberg's
// adjustments of the U tests' p-values over the comparisons of each
// measure (a family per measure: the instructions-per-I/O comparisons are
// the conclusions, the wall-clock ones a separate look).
func adjustPValues(cs []Comparison) {
	byMeasure := map[Measure][]int{}
	for i, c := range cs {
		byMeasure[c.Measure] = append(byMeasure[c.Measure], i)
	}
	for _, idx := range byMeasure {
		ps := make([]float64, len(idx))
		for j, i := range idx {
			ps[j] = cs[i].UTest.P
		}
		holm, bh := HolmAdjust(ps), BHAdjust(ps)
		for j, i := range idx {
			cs[i].PHolm, cs[i].PBH = holm[j], bh[j]
		}
	}
}

// helperArms finds the helpers-on and helpers-off kernels (the built-in
// ones where there are module arms too).
func helperArms(r *Results) (on, off string) {
	for _, k := range r.Kernels {
		if k.IsModule() {
			continue
		}
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
	// Run-to-run standard error of a boot mean.
	ss, dof, runs := 0.0, 0, 0
	for _, b := range st.ByBoot {
		runs += len(b)
		if len(b) < 2 {
			continue
		}
		m := Mean(b)
		for _, x := range b {
			ss += (x - m) * (x - m)
		}
		dof += len(b) - 1
	}
	if dof > 0 {
		st.RunSE = math.Sqrt(ss/float64(dof)) / math.Sqrt(float64(runs)/float64(len(st.ByBoot)))
	}
	st.Modality = CheckBootModality(bootMeans, st.BootIDs, ModalityOptions{Resolution: st.Resolution, RunSE: st.RunSE})
	nested, ids := st.nested()
	// ByBoot is never empty here, so the estimate has values.
	st.Components, _ = EstimateComponents(nested)
	if !st.Components.InstanceInBoot {
		var means []float64
		for _, b := range nested {
			for _, in := range b {
				means = append(means, Mean(in))
			}
		}
		md := CheckBootModality(means, ids, ModalityOptions{Resolution: st.Resolution})
		st.InstanceModality = &md
	}
}

// nested groups the arm's values by boot and instance, with the id
// "bootid#instance" of each instance.
func (st *ArmStats) nested() (values [][][]float64, ids []string) {
	for bi, b := range st.ByBoot {
		var insts [][]float64
		pos := map[int]int{}
		var order []int
		for j, v := range b {
			inst := 0
			if bi < len(st.InstanceOf) && j < len(st.InstanceOf[bi]) {
				inst = st.InstanceOf[bi][j]
			}
			p, ok := pos[inst]
			if !ok {
				p = len(insts)
				pos[inst] = p
				insts = append(insts, nil)
				order = append(order, inst)
			}
			insts[p] = append(insts[p], v)
		}
		values = append(values, insts)
		for _, inst := range order {
			id := fmt.Sprintf("#%d", inst)
			if bi < len(st.BootIDs) {
				id = st.BootIDs[bi] + id
			}
			ids = append(ids, id)
		}
	}
	return values, ids
}

func compare(q Question, m Measure, A, B *ArmStats, paired bool, bo BootstrapOptions) Comparison {
	c := Comparison{Question: q, Measure: m, Workload: A.Key.Workload, A: A.Key, B: B.Key}
	a, b := A.ByBoot, B.ByBoot
	var err error
	if paired {
		a, b, err = AlignBoots(A, B)
	}
	switch {
	case err != nil:
		c.Err = err.Error()
		c.Warnings = append(c.Warnings, fmt.Sprintf("no interval: %v", err))
	case min(len(a), len(b)) < MinIntervalBoots:
		c.Note = NoteTooFewBoots
	default:
		iv, err := RatioCI(a, b, paired, bo)
		if err != nil {
			c.Err = err.Error()
			c.Warnings = append(c.Warnings, fmt.Sprintf("no interval: %v", err))
			break
		}
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
	if len(ma) > 0 && len(mb) > 0 {
		c.Ratio = Mean(mb) / Mean(ma)
	}
	c.UTest = MannWhitney(ma, mb)
	return c
}

// modalityWarning describes a multimodal arm: its modes with their boots.
func modalityWarning(s *ArmStats) string {
	var parts []string
	for _, md := range s.Modality.Modes {
		r := fmt.Sprintf("%.6g", md.Min)
		if md.Max != md.Min {
			r += fmt.Sprintf("..%.6g", md.Max)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", r, strings.Join(md.BootIDs, ", ")))
	}
	w := fmt.Sprintf("%s %s, %s: boot means in %d modes, %s; widest gap %.3g%% of the mean (P = %.2g)", s.Key, s.Measure, s.Key.Workload,
		len(s.Modality.Modes), strings.Join(parts, "; "), 100*s.Modality.Gap/math.Abs(s.Mean), s.Modality.P)
	if s.Boots < 10 {
		w += fmt.Sprintf("; with %d boots a mode no boot fell into goes unseen, and the arm's intervals may cover less than their level", s.Boots)
	}
	return w
}

// AlignBoots pairs the boots of two arms measured in the same boots (the
// two drivers of one kernel) by boot id, in A's boot order, and returns
// their runs. A boot present in one arm and not in the other, a boot
// without an id or an id twice in one arm is an error that names it:
// pairing by position would compare different boots.
func AlignBoots(A, B *ArmStats) (a, b [][]float64, err error) {
	index := func(s *ArmStats) (map[string]int, error) {
		if len(s.BootIDs) != len(s.ByBoot) {
			return nil, fmt.Errorf("bench: arm %s, %s: %d boot ids for %d boots", s.Key, s.Key.Workload, len(s.BootIDs), len(s.ByBoot))
		}
		ix := map[string]int{}
		for i, id := range s.BootIDs {
			if id == "" {
				return nil, fmt.Errorf("bench: arm %s, %s: boot %d of the arm has no boot id: cannot pair", s.Key, s.Key.Workload, i)
			}
			if _, dup := ix[id]; dup {
				return nil, fmt.Errorf("bench: arm %s, %s: boot id %s twice: cannot pair", s.Key, s.Key.Workload, id)
			}
			ix[id] = i
		}
		return ix, nil
	}
	ia, err := index(A)
	if err != nil {
		return nil, nil, err
	}
	ib, err := index(B)
	if err != nil {
		return nil, nil, err
	}
	for _, id := range A.BootIDs {
		j, ok := ib[id]
		if !ok {
			return nil, nil, fmt.Errorf("bench: paired arms %s and %s, %s: boot %s has runs of %s but none of %s", A.Key, B.Key, A.Key.Workload, id, A.Key, B.Key)
		}
		a, b = append(a, A.ByBoot[ia[id]]), append(b, B.ByBoot[j])
	}
	for _, id := range B.BootIDs {
		if _, ok := ia[id]; !ok {
			return nil, nil, fmt.Errorf("bench: paired arms %s and %s, %s: boot %s has runs of %s but none of %s", A.Key, B.Key, A.Key.Workload, id, B.Key, A.Key)
		}
	}
	return a, b, nil
}
