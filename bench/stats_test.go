package bench

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMeanMedian(t *testing.T) {
	if m := Mean([]float64{1, 2, 3, 10}); m != 4 {
		t.Errorf("Mean = %v", m)
	}
	if m := Median([]float64{10, 1, 3, 2}); m != 2.5 {
		t.Errorf("Median = %v", m)
	}
	if m := Median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("Median = %v", m)
	}
	if !math.IsNaN(Mean(nil)) || !math.IsNaN(Median(nil)) {
		t.Error("empty input should be NaN")
	}
}

func TestQuantiles(t *testing.T) {
	// Known values from statistical tables.
	for _, c := range []struct{ p, df, want float64 }{
		{0.975, 1, 12.7062}, {0.975, 2, 4.3027}, {0.975, 4, 2.7764}, {0.975, 10, 2.2281},
		{0.975, 30, 2.0423}, {0.95, 5, 2.0150}, {0.995, 20, 2.8453},
	} {
		if got := tQuantile(c.p, c.df); math.Abs(got-c.want) > 1e-3 {
			t.Errorf("tQuantile(%v, %v) = %v, want %v", c.p, c.df, got, c.want)
		}
	}
	if got := normalQuantile(0.975); math.Abs(got-1.959964) > 1e-6 {
		t.Errorf("normalQuantile(0.975) = %v", got)
	}
	if got := normalQuantile(0.001); math.Abs(got+3.090232) > 1e-6 {
		t.Errorf("normalQuantile(0.001) = %v", got)
	}
}

// simulate draws an arm: boots boots with a multiplicative boot effect of
// sd bootSD, runs runs each with run noise runSD, around mean mu.
func simulate(rng *rand.Rand, mu float64, boots, runs int, bootSD, runSD float64) [][]float64 {
	g := make([][]float64, boots)
	for i := range g {
		b := mu * (1 + bootSD*rng.NormFloat64())
		for range runs {
			g[i] = append(g[i], b*(1+runSD*rng.NormFloat64()))
		}
	}
	return g
}

// TestRatioCICoverage runs 1000 simulated experiments with a known true
// ratio and checks that the 95% interval covers it 95% of the time (within
// +-2.2 points, 3 standard errors of a 1000-trial proportion), for
// unpaired arms (helpers on vs off: different boots) and paired arms
// (rnull vs null_blk: same boots, shared boot effect), with few and many
// boots, and with boot effects larger than run noise.
func TestRatioCICoverage(t *testing.T) {
	cases := []struct {
		name          string
		paired        bool
		boots, runs   int
		bootSD, runSD float64
	}{
		{"unpaired-5boots", false, 5, 3, 0.03, 0.01},
		{"unpaired-12boots", false, 12, 3, 0.02, 0.02},
		{"paired-4boots", true, 4, 3, 0.03, 0.01},
		{"paired-10boots", true, 10, 2, 0.05, 0.01},
		{"unpaired-3boots", false, 3, 2, 0.02, 0.01},
		{"paired-3boots", true, 3, 1, 0.02, 0.01},
	}
	const trials, truth = 1000, 1.02
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(42, uint64(c.boots)))
			covered, width := 0, 0.0
			for k := range trials {
				a := simulate(rng, 100, c.boots, c.runs, c.bootSD, c.runSD)
				var b [][]float64
				if c.paired {
					// Same boots: B shares A's boot effect, plus its own
					// smaller one.
					b = make([][]float64, len(a))
					for i := range a {
						for _, x := range a[i] {
							b[i] = append(b[i], x*truth*(1+0.005*rng.NormFloat64()))
						}
					}
				} else {
					b = simulate(rng, 100*truth, c.boots, c.runs, c.bootSD, c.runSD)
				}
				iv, err := RatioCI(a, b, c.paired, BootstrapOptions{Resamples: 400, Seed: uint64(k)})
				if err != nil {
					t.Fatal(err)
				}
				if iv.Contains(truth) {
					covered++
				}
				width += iv.HalfWidth()
			}
			cov := float64(covered) / trials
			t.Logf("coverage %.3f, mean half-width %.4f", cov, width/trials)
			if math.Abs(cov-0.95) > 0.022 {
				t.Errorf("coverage %.3f, want 0.95 +- 0.022", cov)
			}
		})
	}
}

func TestRatioCIKnown(t *testing.T) {
	a := [][]float64{{100, 100}, {100, 100}, {100, 100}}
	b := [][]float64{{110, 110}, {110, 110}, {110, 110}}
	iv, err := RatioCI(a, b, true, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(iv.Ratio-1.1) > 1e-12 || math.Abs(iv.Lo-1.1) > 1e-12 || math.Abs(iv.Hi-1.1) > 1e-12 {
		t.Errorf("no variation: %+v, want exactly 1.1", iv)
	}
	// Deterministic for a seed.
	rng := rand.New(rand.NewPCG(1, 2))
	a, b = simulate(rng, 10, 6, 3, 0.1, 0.1), simulate(rng, 11, 6, 3, 0.1, 0.1)
	i1, _ := RatioCI(a, b, false, BootstrapOptions{Seed: 7})
	i2, _ := RatioCI(a, b, false, BootstrapOptions{Seed: 7})
	if i1 != i2 {
		t.Errorf("same seed, different intervals: %+v %+v", i1, i2)
	}
	if _, err := RatioCI(a[:1], b, false, BootstrapOptions{}); !errors.Is(err, ErrTooFewBoots) {
		t.Errorf("one boot: %v", err)
	}
	if _, err := RatioCI(a, b[:3], true, BootstrapOptions{}); err == nil {
		t.Error("paired with unequal boots: no error")
	}
	if _, err := RatioCI([][]float64{{0}, {0}}, b, false, BootstrapOptions{}); err == nil {
		t.Error("zero arm: no error")
	}
}

// A boot effect must widen the interval: the same runs regrouped as if
// every run were its own boot would give a narrower, overconfident one.
func TestRatioCIRespectsBoots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := simulate(rng, 100, 4, 8, 0.05, 0.005), simulate(rng, 100, 4, 8, 0.05, 0.005)
	flat := func(g [][]float64) [][]float64 {
		var f [][]float64
		for _, r := range g {
			for _, x := range r {
				f = append(f, []float64{x})
			}
		}
		return f
	}
	byBoot, _ := RatioCI(a, b, false, BootstrapOptions{})
	byRun, _ := RatioCI(flat(a), flat(b), false, BootstrapOptions{})
	if byBoot.HalfWidth() < 2*byRun.HalfWidth() {
		t.Errorf("boot-level half-width %.4f not much wider than run-level %.4f", byBoot.HalfWidth(), byRun.HalfWidth())
	}
}

func TestCheckModality(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// Bimodal: two boots' worth of throughput, 15k and 21k IOPS.
	var bi []float64
	for i := range 20 {
		c := 15000.0
		if i%2 == 1 {
			c = 21000
		}
		bi = append(bi, c+300*rng.NormFloat64())
	}
	if m := CheckModality(bi); !m.Multimodal || m.Low < 8 || m.High < 8 {
		t.Errorf("two clusters not flagged: %+v", m)
	}
	// False positives on unimodal normal samples of 20: rare.
	fp := 0
	for range 1000 {
		var u []float64
		for range 20 {
			u = append(u, 100+rng.NormFloat64())
		}
		if CheckModality(u).Multimodal {
			fp++
		}
	}
	if fp > 20 {
		t.Errorf("%d/1000 normal samples called multimodal", fp)
	}
	if CheckModality([]float64{1, 2, 100}).Multimodal {
		t.Error("too few samples flagged")
	}
	if CheckModality([]float64{5, 5, 5, 5, 5, 5, 5}).Multimodal {
		t.Error("constant flagged")
	}
}

func TestMannWhitney(t *testing.T) {
	a := []float64{10, 11, 12, 13, 14, 15}
	b := []float64{20, 21, 22, 23, 24, 25}
	if u := MannWhitney(a, b); u.P >= 0.05 || u.N1 != 6 {
		t.Errorf("separated samples: %+v", u)
	}
	if u := MannWhitney(a, a); u.P < 0.5 {
		t.Errorf("identical samples: %+v", u)
	}
	if u := MannWhitney(a[:2], b[:2]); len(u.Warnings) == 0 {
		t.Errorf("two samples each: want a too-few-samples warning, got %+v", u)
	}
}

// Known answers, derived by hand from the definition of U.
func TestMannWhitneyKnown(t *testing.T) {
	u := MannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6})
	if u.U != 0 || math.Abs(u.P-0.1) > 1e-12 || len(u.Warnings) == 0 {
		t.Errorf("3 vs 3 separated: %+v, want U=0 p=0.1 exact with a warning", u)
	}
	u = MannWhitney([]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8, 9})
	// U1 = 6, exact two-sided p = 0.41269841...
	if u.U != 6 || math.Abs(u.P-0.4126984126984127) > 1e-9 {
		t.Errorf("interleaved: %+v, want U=6 p=0.4127", u)
	}
	// With ties: normal approximation, by hand: ranks of the first
	// sample 1, 3, 3, 5.5, 7 -> U = 19.5-15 = 4.5; mu = 12.5; tie
	// correction sum(t^3-t) = 24+6; sigma^2 = 25/12*(11-30/90) = 22.22;
	// z = (8-0.5)/4.714 = 1.591; p = 0.1116 (R's wilcox.test, correct=TRUE).
	u = MannWhitney([]float64{1, 2, 2, 3, 4}, []float64{2, 3, 5, 6, 7})
	if u.U != 4.5 || math.Abs(u.P-0.1116) > 5e-4 {
		t.Errorf("ties: %+v, want U=4.5 p~0.1116", u)
	}
}
