package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// VarianceComponents splits one arm's spread into the levels of the
// design: boot, device instance within a boot, run within an instance.
// They are the method-of-moments (ANOVA) estimates of the nested
// random-effects model y = μ + b + i + r, for unbalanced data (the
// expected mean squares with Sokal & Rohlf's coefficients), in the
// measure's unit squared. A negative moment estimate is set to 0 and
// named in Truncated. A level the data cannot separate is folded into the
// level above it (one instance per boot: Boot holds the instance
// variance) or below it (one run per instance: Instance holds the run
// variance), and the flags say so.
type VarianceComponents struct {
	// Mean is the grand mean of the values.
	Mean float64 `json:"mean"`
	// Boot, Instance and Run are the variance components; NaN when the
	// data has no degree of freedom for them (Boot with one boot).
	Boot     float64 `json:"boot"`
	Instance float64 `json:"instance"`
	Run      float64 `json:"run"`
	// Boots, Instances and Runs count the boots, the instances (over all
	// boots) and the values.
	Boots     int `json:"boots"`
	Instances int `json:"instances"`
	Runs      int `json:"runs"`
	// InstanceInBoot is set when no boot has two instances: Boot holds
	// boot and instance variance, Instance is NaN. RunInInstance is set
	// when no instance has two runs: Instance (or Boot, with
	// InstanceInBoot) holds the run variance too, Run is NaN.
	InstanceInBoot bool `json:"instance_in_boot,omitempty"`
	RunInInstance  bool `json:"run_in_instance,omitempty"`
	// Truncated names the components whose moment estimate came out
	// negative and was set to 0 ("boot", "instance").
	Truncated []string `json:"truncated,omitempty"`
}

// MarshalJSON writes a component that is not estimable (NaN) as null.
func (v VarianceComponents) MarshalJSON() ([]byte, error) {
	type plain VarianceComponents
	num := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		plain
		Boot     *float64 `json:"boot"`
		Instance *float64 `json:"instance"`
		Run      *float64 `json:"run"`
	}{plain(v), num(v.Boot), num(v.Instance), num(v.Run)})
}

// Total is the sum of the estimable components: the variance of one run.
func (v VarianceComponents) Total() float64 {
	t := 0.0
	for _, c := range []float64{v.Boot, v.Instance, v.Run} {
		if !math.IsNaN(c) {
			t += c
		}
	}
	return t
}

// CV is a component's standard deviation relative to the mean (0.001 is
// 0.1%); NaN for a NaN component.
func (v VarianceComponents) CV(c float64) float64 {
	if math.IsNaN(c) || v.Mean == 0 {
		return math.NaN()
	}
	return math.Sqrt(c) / math.Abs(v.Mean)
}

// BootMeanVariance is the variance of a boot mean under a design of
// instances per boot and runs per instance: Boot + Instance/instances +
// Run/(instances·runs), with NaN components counted as 0.
func (v VarianceComponents) BootMeanVariance(instances, runs int) float64 {
	z := func(x float64) float64 {
		if math.IsNaN(x) {
			return 0
		}
		return x
	}
	i, r := float64(max(instances, 1)), float64(max(runs, 1))
	return z(v.Boot) + z(v.Instance)/i + z(v.Run)/(i*r)
}

// EstimateComponents estimates the variance components of nested values:
// values[boot][instance] are the runs of one instance of one boot. Empty
// instances and boots are ignored; no value at all is an error.
func EstimateComponents(values [][][]float64) (VarianceComponents, error) {
	var boots [][][]float64
	for _, b := range values {
		var insts [][]float64
		for _, in := range b {
			if len(in) > 0 {
				insts = append(insts, in)
			}
		}
		if len(insts) > 0 {
			boots = append(boots, insts)
		}
	}
	if len(boots) == 0 {
		return VarianceComponents{}, errors.New("bench: variance components of no values")
	}
	vc := VarianceComponents{Boots: len(boots)}
	// Sums for the means and the coefficients.
	var total float64
	var sumNij2, sumNi2, sumNij2OverNi float64
	var N int
	for _, b := range boots {
		ni := 0
		var s2 float64
		for _, in := range b {
			vc.Instances++
			nij := len(in)
			ni += nij
			s2 += float64(nij * nij)
			for _, x := range in {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return VarianceComponents{}, fmt.Errorf("bench: variance components: bad value %v", x)
				}
				total += x
			}
		}
		N += ni
		sumNij2 += s2
		sumNi2 += float64(ni * ni)
		sumNij2OverNi += s2 / float64(ni)
	}
	vc.Runs = N
	grand := total / float64(N)
	vc.Mean = grand
	// Sums of squares.
	var ssBoot, ssInst, ssRun float64
	for _, b := range boots {
		var bs float64
		bn := 0
		for _, in := range b {
			bs += sum(in)
			bn += len(in)
		}
		bm := bs / float64(bn)
		ssBoot += float64(bn) * (bm - grand) * (bm - grand)
		for _, in := range b {
			im := Mean(in)
			ssInst += float64(len(in)) * (im - bm) * (im - bm)
			for _, x := range in {
				ssRun += (x - im) * (x - im)
			}
		}
	}
	a, B := float64(vc.Boots), float64(vc.Instances)
	dfBoot, dfInst, dfRun := a-1, B-a, float64(N)-B
	vc.RunInInstance = dfRun == 0
	vc.InstanceInBoot = dfInst == 0
	vc.Boot, vc.Instance, vc.Run = math.NaN(), math.NaN(), math.NaN()
	msRun := 0.0
	if dfRun > 0 {
		msRun = ssRun / dfRun
		vc.Run = msRun
	}
	inst := 0.0
	if dfInst > 0 {
		msInst := ssInst / dfInst
		k1 := (float64(N) - sumNij2OverNi) / dfInst
		inst = (msInst - msRun) / k1
		if inst < 0 {
			inst = 0
			vc.Truncated = append(vc.Truncated, "instance")
		}
		vc.Instance = inst
	}
	if dfBoot > 0 {
		msBoot := ssBoot / dfBoot
		k2 := (sumNij2OverNi - sumNij2/float64(N)) / dfBoot
		k3 := (float64(N) - sumNi2/float64(N)) / dfBoot
		boot := (msBoot - msRun - k2*inst) / k3
		if boot < 0 {
			boot = 0
			vc.Truncated = append(vc.Truncated, "boot")
		}
		vc.Boot = boot
	}
	return vc, nil
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// DesignCosts are the wall-time costs, in seconds, of one more unit at
// each level of the design, each without the levels below it: a boot
// (QEMU start to ready, settling, everything but its instances), a device
// instance (creating its devices), and a run (one run of every workload
// and driver of the boot).
type DesignCosts struct {
	Boot     float64 `json:"boot_seconds"`
	Instance float64 `json:"instance_seconds"`
	Run      float64 `json:"run_seconds"`
}

// BootSeconds is the cost of one boot of instances device instances of
// runs runs each: Boot + instances·(Instance + runs·Run).
func (c DesignCosts) BootSeconds(instances, runs int) float64 {
	return c.Boot + float64(instances)*(c.Instance+float64(runs)*c.Run)
}

// OptimalPerUpper is Kalibera & Jones' optimal number of lower-level
// repetitions per upper-level unit, sqrt(cUpper·σ²lower / (cLower·σ²upper))
// rounded up, within [1, limit]: a cheap lower level with a large variance
// is worth repeating; where the upper variance is 0 (or NaN) the answer is
// limit, where the lower one is 0 it is 1.
func OptimalPerUpper(cUpper, cLower, varUpper, varLower float64, limit int) int {
	limit = max(limit, 1)
	if math.IsNaN(varLower) || varLower <= 0 {
		return 1
	}
	if math.IsNaN(varUpper) || varUpper <= 0 || cLower <= 0 {
		return limit
	}
	r := math.Ceil(math.Sqrt(cUpper * varLower / (cLower * varUpper)))
	if r > float64(limit) {
		return limit
	}
	return max(1, int(r))
}

// Design is a number of boots, instances per boot and runs per instance,
// with its expected cost.
type Design struct {
	// Instances per boot and Runs per instance.
	Instances int `json:"instances"`
	Runs      int `json:"runs"`
	// Boots is the boots per kernel expected to reach the target
	// half-width (0 when no target was given or it cannot be estimated).
	Boots int `json:"boots,omitempty"`
	// Seconds is the expected wall time of one boot of the design
	// (DesignCosts: boot + instances·(instance + runs·run)).
	Seconds float64 `json:"boot_seconds"`
}

// OptimalDesign is the cheapest design for the variance of a boot mean
// under costs c: instances per boot and runs per instance from
// OptimalPerUpper, level by level (at most limit each). A level folded
// into another (InstanceInBoot, RunInInstance) keeps the design's current
// value, given as instances and runs: the data cannot say.
func OptimalDesign(vc VarianceComponents, c DesignCosts, instances, runs, limit int) Design {
	d := Design{Instances: max(instances, 1), Runs: max(runs, 1)}
	switch {
	case vc.InstanceInBoot && vc.RunInInstance:
	case vc.InstanceInBoot:
		// Boot (with instance) against run: runs per boot.
		d.Runs = OptimalPerUpper(c.Boot+c.Instance, c.Run, vc.Boot, vc.Run, limit)
	case vc.RunInInstance:
		// Boot against instance (with its run).
		d.Instances = OptimalPerUpper(c.Boot, c.Instance+c.Run, vc.Boot, vc.Instance, limit)
	default:
		d.Instances = OptimalPerUpper(c.Boot, c.Instance, vc.Boot, vc.Instance, limit)
		d.Runs = OptimalPerUpper(c.Instance, c.Run, vc.Instance, vc.Run, limit)
	}
	d.Seconds = c.BootSeconds(d.Instances, d.Runs)
	return d
}

// BootsFor is the boots per arm a confidence interval needs to shrink
// from half-width hw at n boots per arm to target, when each boot mean's
// variance changes by the factor varScale (a new design, 1 for the same):
// half-widths scale as t(df)·sqrt(variance/n), with df = n-1 for paired
// arms (the per-boot differences) and Welch's df, about 2(n-1), for two
// independent arms. At least MinIntervalBoots (fewer give no interval);
// 0 when the inputs cannot say (hw, n or target not positive); capped at
// 10000.
func BootsFor(hw float64, n int, target, varScale, level float64, paired bool) int {
	if !(hw > 0) || n < 2 || !(target > 0) || !(varScale > 0) {
		return 0
	}
	if level <= 0 || level >= 1 {
		level = 0.95
	}
	q := 1 - (1-level)/2
	t := func(m int) float64 {
		if paired {
			return tQuantile(q, float64(m-1))
		}
		return tQuantile(q, float64(2*(m-1)))
	}
	// hw = t(n)·s/sqrt(n)  ⇒  s = hw·sqrt(n)/t(n).
	s := hw * math.Sqrt(float64(n)) / t(n) * math.Sqrt(varScale)
	for m := MinIntervalBoots; m <= 10000; m++ {
		if t(m)*s/math.Sqrt(float64(m)) <= target {
			return m
		}
	}
	return 10000
}
