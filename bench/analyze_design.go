package bench

import (
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"
)

// DefaultTargetHalfWidth is the relative half-width the design advice
// aims at when AnalyzeOptions.TargetHalfWidth is 0: 0.05%, so that a
// 0.1% difference is resolved.
const DefaultTargetHalfWidth = 0.0005

// designLimit caps the instances per boot and runs per instance the
// advice proposes.
const designLimit = 16

// DesignAdvice sizes the next experiment from this one (Kalibera & Jones):
// the variance components of the conclusive measure's arms and the
// measured cost of each level give the cheapest instances per boot and
// runs per instance, and the widest pooled interval the boots needed for
// the target half-width.
type DesignAdvice struct {
	// Measure is the measure advised on (Analysis.Conclusive).
	Measure Measure
	// Costs are the measured costs of the levels (MeasuredCosts).
	Costs DesignCosts
	// Current is the design that ran (the preset's instances and
	// runs, the boots per kernel it had), Recommended the advised one:
	// per level the median over the measure's arms of each arm's
	// optimum (OptimalDesign), and the boots per kernel for Target.
	Current, Recommended Design
	// Target is the relative half-width aimed at (0.0005 = 0.05%).
	Target float64
	// Cheapest is the design that reaches Target at the least wall time
	// of boots (Boots × Seconds), searched over 1..16 instances and runs
	// with the measured components and costs: at few boots the t
	// quantile, not the variance, sets an interval's width, which the
	// per-level optimum (Recommended) does not see. Zero without a
	// pooled interval.
	Cheapest Design
	// CurrentBoots is the boots per kernel the current design would
	// need for Target (BootsFor at its own variance; 0 when unknown):
	// beside Recommended.Boots, the choice between more boots and more
	// instances, at their costs.
	CurrentBoots int
	// Widest is the pooled estimate (Analysis.Pooled of the measure)
	// with the widest interval, and WidestHalfWidth its relative
	// half-width; "" when no pooled estimate has an interval.
	Widest          string
	WidestHalfWidth float64
	// Notes say what the advice cannot see (levels the design did not
	// separate, components truncated at 0).
	Notes []string
}

// MeasuredCosts are the design's level costs measured in r's boots of
// mode m (built-in kernels only: module arms load a module per sample):
// Boot is a boot's wall time less its samples and instance set-ups,
// Instance the mean set-up of a device instance, Run the samples' wall
// time per round of runs (one run of every workload and driver).
func MeasuredCosts(r *Results, m Mode) DesignCosts {
	var c DesignCosts
	var boots, insts, rounds int
	var bootS, instS, runS float64
	mods := map[string]bool{}
	for _, k := range r.Kernels {
		mods[k.Name] = k.IsModule()
	}
	for _, b := range r.Boots {
		if b.Mode != m || mods[b.Kernel] || len(b.Samples) == 0 {
			continue
		}
		over := b.WallSeconds
		seen := map[[2]int]bool{}
		for _, s := range b.Samples {
			over -= s.WallSeconds
			runS += s.WallSeconds
			seen[[2]int{s.Instance, s.Run}] = true
		}
		rounds += len(seen)
		for _, in := range b.Instances {
			over -= in.SetupSeconds
			instS += in.SetupSeconds
			insts++
		}
		bootS += math.Max(over, 0)
		boots++
	}
	if boots > 0 {
		c.Boot = bootS / float64(boots)
	}
	if insts > 0 {
		c.Instance = instS / float64(insts)
	}
	if rounds > 0 {
		c.Run = runS / float64(rounds)
	}
	return c
}

// currentDesign is the instances per boot and runs per instance r's
// preset ran in mode m.
func currentDesign(r *Results, m Mode) Design {
	runs := r.Preset.Runs
	if m == ModeICount && r.Preset.ICountRuns > 0 {
		runs = r.Preset.ICountRuns
	}
	boots := r.Preset.WallBoots
	if m == ModeICount {
		boots = r.Preset.ICountBoots
	}
	return Design{Instances: r.Preset.instances(), Runs: max(runs, 1), Boots: boots}
}

// adviseDesign fills a.Design for the conclusive measure.
func adviseDesign(a *Analysis, r *Results, target float64) {
	m := a.Conclusive
	var arms []*ArmStats
	for i := range a.Arms {
		if a.Arms[i].Measure == m && a.Arms[i].Boots > 0 {
			arms = append(arms, &a.Arms[i])
		}
	}
	if len(arms) == 0 {
		return
	}
	if target <= 0 {
		target = DefaultTargetHalfWidth
	}
	d := &DesignAdvice{Measure: m, Costs: MeasuredCosts(r, m.mode()), Current: currentDesign(r, m.mode()), Target: target}
	cur := d.Current
	d.Current.Seconds = d.Costs.BootSeconds(cur.Instances, cur.Runs)
	var is, rs []float64
	instInBoot, runInInst, truncated := 0, 0, 0
	for _, st := range arms {
		vc := st.Components
		o := OptimalDesign(vc, d.Costs, cur.Instances, cur.Runs, designLimit)
		is, rs = append(is, float64(o.Instances)), append(rs, float64(o.Runs))
		if vc.InstanceInBoot {
			instInBoot++
		}
		if vc.RunInInstance {
			runInInst++
		}
		if len(vc.Truncated) > 0 {
			truncated++
		}
	}
	seconds := d.Costs.BootSeconds
	// varScale is how the boot means' variance changes from the current
	// design to i instances of r runs (the mean over the arms).
	varScale := func(i, r int) float64 {
		var scale []float64
		for _, st := range arms {
			v0 := st.Components.BootMeanVariance(cur.Instances, cur.Runs)
			if v0 > 0 {
				scale = append(scale, st.Components.BootMeanVariance(i, r)/v0)
			}
		}
		if len(scale) == 0 {
			return 1
		}
		return Mean(scale)
	}
	rec := Design{Instances: int(math.Ceil(Median(is))), Runs: int(math.Ceil(Median(rs)))}
	rec.Seconds = seconds(rec.Instances, rec.Runs)
	var wide PooledEstimate
	for _, p := range a.Pooled {
		if p.Measure != m || !p.HasInterval() {
			continue
		}
		if hw := p.Interval.HalfWidth(); hw > d.WidestHalfWidth {
			d.WidestHalfWidth, d.Widest, wide = hw, p.Label(), p
		}
	}
	if d.Widest != "" {
		n, pair, conf := min(wide.BootsA, wide.BootsB), wide.Interval.Paired, wide.Interval.Confidence
		boots := func(i, r int) int { return BootsFor(d.WidestHalfWidth, n, target, varScale(i, r), conf, pair) }
		rec.Boots = boots(rec.Instances, rec.Runs)
		d.CurrentBoots = boots(cur.Instances, cur.Runs)
		// The cheapest design for the target: every instances x runs up
		// to the limit, its boots and their wall time.
		best := math.Inf(1)
		for i := 1; i <= designLimit; i++ {
			for r := 1; r <= designLimit; r++ {
				b := boots(i, r)
				if b == 0 {
					continue
				}
				if c := float64(b) * seconds(i, r); c < best-1e-9 {
					best = c
					d.Cheapest = Design{Instances: i, Runs: r, Boots: b, Seconds: seconds(i, r)}
				}
			}
		}
	}
	d.Recommended = rec
	if instInBoot > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d of %d arms had one device instance per boot: boot and instance variance are one figure there, and the instances advised keep the design's", instInBoot, len(arms)))
	}
	if runInInst > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d of %d arms had one run per instance: instance and run variance are one figure there, and the runs advised keep the design's", runInInst, len(arms)))
	}
	if truncated > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d of %d arms had a negative moment estimate, set to 0: that level's spread is below what the data can resolve", truncated, len(arms)))
	}
	if d.Widest == "" {
		d.Notes = append(d.Notes, "no pooled estimate has an interval (too few boots): no boot count for the target")
	}
	a.Design = d
}

// firstRunValue is one value of an arm in one device instance.
type firstRunValue struct {
	run    int
	warmup bool
	v      float64
}

type firstRunKey struct {
	m    Measure
	k    ArmKey
	boot string
}

// firstRunData collects, per measure, arm and boot, the values of each
// device instance, warm-up runs included, for FirstRunEffect.
type firstRunData struct {
	byBoot map[firstRunKey]map[int][]firstRunValue
	boots  map[Measure]map[ArmKey][]string
}

func (f *firstRunData) add(m Measure, k ArmKey, boot string, s Sample, v float64) {
	if f.byBoot == nil {
		f.byBoot = map[firstRunKey]map[int][]firstRunValue{}
		f.boots = map[Measure]map[ArmKey][]string{}
	}
	key := firstRunKey{m, k, boot}
	if f.byBoot[key] == nil {
		f.byBoot[key] = map[int][]firstRunValue{}
		if f.boots[m] == nil {
			f.boots[m] = map[ArmKey][]string{}
		}
		f.boots[m][k] = append(f.boots[m][k], boot)
	}
	f.byBoot[key][s.Instance] = append(f.byBoot[key][s.Instance], firstRunValue{s.Run, s.Warmup, v})
}

// effect is the arm's FirstRunEffect, nil when no instance ran it twice.
func (f *firstRunData) effect(m Measure, k ArmKey) *FirstRunEffect {
	var perBoot []float64
	warm := false
	for _, boot := range f.boots[m][k] {
		var ds []float64
		for _, vs := range f.byBoot[firstRunKey{m, k, boot}] {
			if len(vs) < 2 {
				continue
			}
			sort.SliceStable(vs, func(i, j int) bool { return vs[i].run < vs[j].run })
			var later []float64
			for _, x := range vs[1:] {
				later = append(later, x.v)
			}
			lm := Mean(later)
			if lm == 0 {
				continue
			}
			ds = append(ds, (vs[0].v-lm)/lm)
			warm = warm || vs[0].warmup
		}
		if len(ds) > 0 {
			perBoot = append(perBoot, Mean(ds))
		}
	}
	if len(perBoot) == 0 {
		return nil
	}
	e := &FirstRunEffect{Change: Mean(perBoot), Boots: len(perBoot), Warmup: warm}
	e.Lo, e.Hi = e.Change, e.Change
	if n := len(perBoot); n > 1 {
		h := tQuantile(0.975, float64(n-1)) * stddev(perBoot) / math.Sqrt(float64(n))
		e.Lo, e.Hi = e.Change-h, e.Change+h
	}
	return e
}

// stopper applies a StopRule during Experiment.Run.
type stopper struct {
	rule      *StopRule
	res       *Results
	rec       *StopRecord
	rounds    int
	lastRound int
	started   bool
}

func newStopper(rule *StopRule, res *Results, plans []BootPlan) *stopper {
	planned := 0
	for _, p := range plans {
		planned = max(planned, p.Round+1)
	}
	rec := &StopRecord{TargetHalfWidth: rule.HalfWidth, Each: rule.Each, BudgetSeconds: rule.Budget.Seconds(),
		Reason: StopSchedule, PlannedRounds: planned, MinRounds: rule.MinRounds, Consecutive: rule.Consecutive}
	if rec.MinRounds <= 0 {
		rec.MinRounds = DefaultStopMinRounds
	}
	if rec.Consecutive <= 0 {
		rec.Consecutive = DefaultStopConsecutive
	}
	res.Stop = rec
	return &stopper{rule: rule, res: res, rec: rec}
}

// beforeBoot reports whether to stop before boot p: at the start of a
// round that would end past the budget.
func (s *stopper) beforeBoot(p BootPlan, elapsed time.Duration) bool {
	newRound := !s.started || p.Round != s.lastRound
	s.started, s.lastRound = true, p.Round
	if !newRound || s.rule.Budget <= 0 || s.rounds == 0 {
		return false
	}
	perRound := elapsed / time.Duration(s.rounds)
	if elapsed+perRound > s.rule.Budget {
		s.rec.Reason = StopBudget
		return true
	}
	return false
}

// afterRound counts a finished round and reports whether the target is
// reached.
func (s *stopper) afterRound(elapsed time.Duration, log *slog.Logger) bool {
	s.rounds++
	s.rec.Rounds = s.rounds
	if s.rule.HalfWidth <= 0 || s.rounds < s.rec.MinRounds {
		return false
	}
	snap := *s.res
	snap.Complete = true
	a, err := Analyze(&snap, AnalyzeOptions{Bootstrap: BootstrapOptions{Seed: max(s.res.Seed, 1)}})
	if err != nil {
		log.Warn("sequential stopping: analysis failed; going on", "err", err)
		return false
	}
	widest, hw, ok := widestInterval(a, s.rule.Each)
	s.rec.Checks = append(s.rec.Checks, StopCheck{Rounds: s.rounds, ElapsedSeconds: elapsed.Seconds(), Widest: widest, HalfWidth: hw, Complete: ok})
	log.Info("sequential stopping check", "rounds", s.rounds, "widest", widest, "half_width", hw, "target", s.rule.HalfWidth)
	if s.rule.reached(s.rec.Checks) {
		s.rec.Reason = StopTarget
		return true
	}
	return false
}

// widestInterval is the conclusive measure's pooled estimate (and with
// each, comparison) with the widest interval; ok is false when one has
// no interval (its name is returned, with half-width 0) or there is
// none.
func widestInterval(a *Analysis, each bool) (name string, hw float64, ok bool) {
	seen := false
	for _, p := range a.Pooled {
		if p.Measure != a.Conclusive {
			continue
		}
		seen = true
		if !p.HasInterval() {
			return p.Label(), 0, false
		}
		if h := p.Interval.HalfWidth(); h >= hw {
			name, hw = p.Label(), h
		}
	}
	if each {
		for _, c := range a.Comparisons {
			if c.Measure != a.Conclusive {
				continue
			}
			seen = true
			label := fmt.Sprintf("%s, %s: %s vs %s", c.Question, c.Workload, c.A, c.B)
			if !c.HasInterval() {
				return label, 0, false
			}
			if h := c.Interval.HalfWidth(); h >= hw {
				name, hw = label, h
			}
		}
	}
	return name, hw, seen
}

// Apply returns p with the design's instances per boot, runs per -icount
// instance and, when set, -icount boots per kernel (a pilot's
// DesignAdvice.Cheapest for the next run). Zero fields keep p's.
func (d Design) Apply(p Preset) Preset {
	if d.Instances > 0 {
		p.Instances = d.Instances
	}
	if d.Runs > 0 {
		p.ICountRuns = d.Runs
	}
	if d.Boots > 0 {
		p.ICountBoots = d.Boots
	}
	return p
}
