package bench

import (
	"math"
	"math/rand/v2"
	"testing"
)

// nestedSample draws boots × instances × runs values with the given
// standard deviations per level (sizes may vary per boot: inst[b]).
func nestedSample(rng *rand.Rand, mean, sdBoot, sdInst, sdRun float64, inst []int, runs func(b, i int) int) [][][]float64 {
	var out [][][]float64
	for b, ni := range inst {
		bv := mean + sdBoot*rng.NormFloat64()
		var bb [][]float64
		for i := range ni {
			iv := bv + sdInst*rng.NormFloat64()
			var rr []float64
			for range runs(b, i) {
				rr = append(rr, iv+sdRun*rng.NormFloat64())
			}
			bb = append(bb, rr)
		}
		out = append(out, bb)
	}
	return out
}

// The balanced case against the textbook formulas: σ²run = MSrun,
// σ²inst = (MSinst - MSrun)/n, σ²boot = (MSboot - MSinst)/(b·n).
func TestEstimateComponentsBalancedFormulas(t *testing.T) {
	v := [][][]float64{
		{{10, 11, 12}, {14, 15, 13}},
		{{20, 21, 19}, {18, 17, 19}},
		{{9, 8, 10}, {12, 12, 12}},
	}
	a, b, n := 3.0, 2.0, 3.0
	grand, bm, im := 0.0, make([]float64, 3), make([][]float64, 3)
	for i, bb := range v {
		im[i] = make([]float64, 2)
		for j, in := range bb {
			im[i][j] = Mean(in)
			bm[i] += im[i][j] / b
		}
		grand += bm[i] / a
	}
	var ssb, ssi, ssr float64
	for i, bb := range v {
		ssb += b * n * (bm[i] - grand) * (bm[i] - grand)
		for j, in := range bb {
			ssi += n * (im[i][j] - bm[i]) * (im[i][j] - bm[i])
			for _, x := range in {
				ssr += (x - im[i][j]) * (x - im[i][j])
			}
		}
	}
	msb, msi, msr := ssb/(a-1), ssi/(a*(b-1)), ssr/(a*b*(n-1))
	got, err := EstimateComponents(v)
	if err != nil {
		t.Fatal(err)
	}
	want := VarianceComponents{Run: msr, Instance: (msi - msr) / n, Boot: (msb - msi) / (b * n)}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"run", got.Run, want.Run}, {"instance", got.Instance, want.Instance}, {"boot", got.Boot, want.Boot}} {
		if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got.Boots != 3 || got.Instances != 6 || got.Runs != 18 || got.InstanceInBoot || got.RunInInstance || len(got.Truncated) > 0 {
		t.Errorf("counts/flags %+v", got)
	}
	if math.Abs(got.Mean-grand) > 1e-9 {
		t.Errorf("mean %v, want %v", got.Mean, grand)
	}
}

// The moment estimates are unbiased, balanced or not: averaged over many
// simulated experiments they recover the true components.
func TestEstimateComponentsUnbiased(t *testing.T) {
	const sdB, sdI, sdR = 3.0, 2.0, 1.0
	designs := []struct {
		name string
		inst []int
		runs func(b, i int) int
	}{
		{"balanced 6x3x2", []int{3, 3, 3, 3, 3, 3}, func(int, int) int { return 2 }},
		{"unbalanced", []int{2, 3, 1, 4, 2, 3, 2}, func(b, i int) int { return 1 + (b+i)%3 }},
	}
	for _, d := range designs {
		t.Run(d.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 11))
			const sims = 4000
			var sb, si, sr float64
			for range sims {
				vc, err := EstimateComponents(nestedSample(rng, 100, sdB, sdI, sdR, d.inst, d.runs))
				if err != nil {
					t.Fatal(err)
				}
				// Truncation at 0 biases upward a little; these variances are
				// far from 0, so truncation is rare.
				sb, si, sr = sb+vc.Boot, si+vc.Instance, sr+vc.Run
			}
			for _, c := range []struct {
				name      string
				got, want float64
				tol       float64
			}{{"boot", sb / sims, sdB * sdB, 0.08}, {"instance", si / sims, sdI * sdI, 0.06}, {"run", sr / sims, sdR * sdR, 0.04}} {
				if math.Abs(c.got-c.want) > c.tol*c.want {
					t.Errorf("mean %s estimate %.3f, want %.3f ± %.0f%%", c.name, c.got, c.want, 100*c.tol)
				}
			}
		})
	}
}

// A level the design did not replicate is folded into its neighbour and
// flagged, and the folded figure is the sum of the two.
func TestEstimateComponentsFolded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const sims = 3000
	one := func(int, int) int { return 1 }
	two := func(int, int) int { return 2 }
	var sumA, sumB float64
	for range sims {
		// One instance per boot, two runs: Boot holds boot + instance.
		a, err := EstimateComponents(nestedSample(rng, 50, 2, 1, 0.5, []int{1, 1, 1, 1, 1, 1, 1, 1}, two))
		if err != nil {
			t.Fatal(err)
		}
		if !a.InstanceInBoot || a.RunInInstance || !math.IsNaN(a.Instance) || math.IsNaN(a.Run) {
			t.Fatalf("one instance per boot: %+v", a)
		}
		sumA += a.Boot
		// One run per instance, three instances: Instance holds instance + run.
		b, err := EstimateComponents(nestedSample(rng, 50, 2, 1, 0.5, []int{3, 3, 3, 3, 3, 3, 3, 3}, one))
		if err != nil {
			t.Fatal(err)
		}
		if b.InstanceInBoot || !b.RunInInstance || !math.IsNaN(b.Run) || math.IsNaN(b.Instance) {
			t.Fatalf("one run per instance: %+v", b)
		}
		sumB += b.Instance
	}
	if got, want := sumA/sims, 4.0+1; math.Abs(got-want) > 0.1*want {
		t.Errorf("folded boot+instance %.3f, want %.3f", got, want)
	}
	if got, want := sumB/sims, 1.0+0.25; math.Abs(got-want) > 0.1*want {
		t.Errorf("folded instance+run %.3f, want %.3f", got, want)
	}
	// One value: nothing but the mean.
	v, err := EstimateComponents([][][]float64{{{7}}})
	if err != nil || !math.IsNaN(v.Boot) || v.Mean != 7 || v.Total() != 0 {
		t.Errorf("one value: %+v %v", v, err)
	}
	if _, err := EstimateComponents([][][]float64{{{}}, nil}); err == nil {
		t.Error("no values: no error")
	}
	if _, err := EstimateComponents([][][]float64{{{1, math.NaN()}}}); err == nil {
		t.Error("NaN value: no error")
	}
}

// A component the data puts below zero is truncated and named.
func TestEstimateComponentsTruncated(t *testing.T) {
	// Boot means identical, instances differ within boots: the boot
	// moment estimate is negative.
	v := [][][]float64{{{1, 1.1}, {3, 3.1}}, {{3, 3.1}, {1, 1.1}}, {{1.05, 1}, {3.05, 3}}}
	vc, err := EstimateComponents(v)
	if err != nil {
		t.Fatal(err)
	}
	if vc.Boot != 0 || len(vc.Truncated) != 1 || vc.Truncated[0] != "boot" {
		t.Errorf("%+v: want boot truncated to 0", vc)
	}
}

func TestOptimalPerUpper(t *testing.T) {
	for _, c := range []struct {
		cu, cl, vu, vl float64
		want           int
	}{
		{20, 2, 1, 1, 4},             // sqrt(10) → 4
		{20, 2, 1, 10, 10},           // sqrt(100)
		{20, 2, 1, 1000, 16},         // capped
		{20, 2, 0, 1, 16},            // no upper variance: as many as allowed
		{20, 2, math.NaN(), 1, 16},   // not estimable: the same
		{20, 2, 1, 0, 1},             // no lower variance: one
		{20, 2, 1, math.NaN(), 1},    // not estimable: one
		{0.001, 2, 1, 1, 1},          // an upper level that costs nothing
		{20, 0, 1, 1, 16},            // a lower level that costs nothing
		{18, 1.6, 0.004, 0.0009, 2},  // sqrt(18·0.0009/(1.6·0.004)) = 1.59
		{18, 1.6, 0.0009, 0.004, 8},  // sqrt(50) = 7.07
		{18, 1.6, 0.0009, 0.0004, 3}, // sqrt(5) = 2.24
	} {
		if got := OptimalPerUpper(c.cu, c.cl, c.vu, c.vl, 16); got != c.want {
			t.Errorf("OptimalPerUpper(%v, %v, %v, %v) = %d, want %d", c.cu, c.cl, c.vu, c.vl, got, c.want)
		}
	}
}

func TestOptimalDesignAndBootMeanVariance(t *testing.T) {
	vc := VarianceComponents{Mean: 100, Boot: 1, Instance: 4, Run: 0.01}
	d := OptimalDesign(vc, DesignCosts{Boot: 20, Instance: 0.05, Run: 2}, 1, 1, 16)
	// Instances: sqrt(20·4/(0.05·1)) = 40 → 16; runs: sqrt(0.05·0.01/(2·4)) → 1.
	if d.Instances != 16 || d.Runs != 1 {
		t.Errorf("design %+v, want 16 instances of 1 run", d)
	}
	if want := 20 + 16*(0.05+2); math.Abs(d.Seconds-want) > 1e-9 {
		t.Errorf("seconds %v, want %v", d.Seconds, want)
	}
	if got, want := vc.BootMeanVariance(4, 2), 1+4.0/4+0.01/8; math.Abs(got-want) > 1e-12 {
		t.Errorf("BootMeanVariance = %v, want %v", got, want)
	}
	// Folded levels keep the design's own numbers.
	f := OptimalDesign(VarianceComponents{Boot: 1, Instance: math.NaN(), Run: math.NaN(), InstanceInBoot: true, RunInInstance: true},
		DesignCosts{Boot: 20, Run: 2}, 3, 2, 16)
	if f.Instances != 3 || f.Runs != 2 {
		t.Errorf("folded design %+v, want the current 3 x 2", f)
	}
}

func TestBootsFor(t *testing.T) {
	// At the target already: the same boots.
	if got := BootsFor(0.001, 5, 0.001, 1, 0.95, false); got != 5 {
		t.Errorf("BootsFor at target = %d, want 5", got)
	}
	// Half the width needs about four times the boots (a little less:
	// t shrinks as df grows).
	got := BootsFor(0.001, 5, 0.0005, 1, 0.95, false)
	if got < 12 || got > 20 {
		t.Errorf("BootsFor(half) = %d, want 12..20", got)
	}
	// A design with a quarter of the variance needs fewer.
	if q := BootsFor(0.001, 5, 0.0005, 0.25, 0.95, false); q >= got {
		t.Errorf("quarter variance: %d boots, not fewer than %d", q, got)
	}
	// A paired interval has fewer degrees of freedom at the same n: more
	// of its width is the t quantile's, which shrinks as boots are added,
	// so the same narrowing takes fewer boots.
	if p := BootsFor(0.001, 5, 0.0005, 1, 0.95, true); p >= got || p < 5 {
		t.Errorf("paired: %d boots, want between 5 and unpaired's %d", p, got)
	}
	if BootsFor(0, 5, 0.0005, 1, 0.95, false) != 0 || BootsFor(0.001, 1, 0.0005, 1, 0.95, false) != 0 || BootsFor(0.001, 5, 0, 1, 0.95, false) != 0 {
		t.Error("BootsFor without the inputs is not 0")
	}
}

// Stopping on the interval's width (StopRule) keeps its coverage near the
// level with the defaults, and not without them: a width is noisy, and
// stopping at the first narrow one picks experiments whose spread came out
// small. Each simulated experiment adds one boot per arm (from 2) until
// the rule says stop or 10 boots are reached; the final interval must
// contain the true ratio about 95% of the time with the default rule
// (5 boots, two checks in a row), and falls to about 0.90 when checking
// once from 3 boots.
func TestStopOnWidthCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation; runs without -short")
	}
	const sims, sdA, sdB, ratio, target = 600, 0.0004, 0.0006, 0.995, 0.0005
	run := func(rule StopRule) (float64, map[int]int) {
		rng := rand.New(rand.NewPCG(17, 19))
		minN := rule.MinRounds
		if minN <= 0 {
			minN = DefaultStopMinRounds
		}
		covered, stops := 0, map[int]int{}
		for range sims {
			var a, b [][]float64
			draw := func() {
				a = append(a, []float64{1000 * (1 + sdA*rng.NormFloat64())})
				b = append(b, []float64{1000 * ratio * (1 + sdB*rng.NormFloat64())})
			}
			draw()
			var iv Interval
			var checks []StopCheck
			for n := 2; n <= 10; n++ {
				draw()
				if n < minN && n < 10 {
					continue
				}
				var err error
				if iv, err = RatioCI(a, b, false, BootstrapOptions{Resamples: 400, Seed: uint64(n)}); err != nil {
					t.Fatal(err)
				}
				checks = append(checks, StopCheck{Rounds: n, Widest: "x", HalfWidth: iv.HalfWidth(), Complete: true})
				if rule.reached(checks) || n == 10 {
					stops[n]++
					break
				}
			}
			if iv.Contains(ratio) {
				covered++
			}
		}
		return float64(covered) / sims, stops
	}
	cov, stops := run(StopRule{HalfWidth: target})
	t.Logf("default rule: coverage %.3f; stops by boots per arm %v", cov, stops)
	if len(stops) < 3 {
		t.Errorf("stops at %v: the simulation does not exercise data-dependent stopping", stops)
	}
	if cov < 0.93 || cov > 0.99 {
		t.Errorf("coverage %.3f after stopping on width with the default rule, want about 0.95", cov)
	}
	naive, stops := run(StopRule{HalfWidth: target, MinRounds: 3, Consecutive: 1})
	t.Logf("one check from 3 boots: coverage %.3f; stops %v", naive, stops)
	if naive >= cov {
		t.Errorf("the naive rule covers %.3f, not less than the default's %.3f: the simulation cannot tell them apart", naive, cov)
	}
}
