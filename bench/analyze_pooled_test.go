package bench

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// With one workload the pooled estimate is the comparison's: same
// estimate, same interval.
func TestPoolOneWorkload(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	r := synthResults(5, []string{"w"}, func(boot int, k string, d Driver, wl string) float64 {
		return 5000 * (1 + 3e-4*rng.NormFloat64())
	})
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Pooled) != len(a.Comparisons) {
		t.Fatalf("%d pooled for %d comparisons", len(a.Pooled), len(a.Comparisons))
	}
	for i, p := range a.Pooled {
		c := a.Comparisons[i]
		if p.Interval != c.Interval || p.Ratio != c.Ratio || len(p.Workloads) != 1 {
			t.Errorf("pooled %+v, comparison %+v", p.Interval, c.Interval)
		}
	}
}

// The pooled interval covers the mean of the workloads' true ratios when
// boot effects are shared by the workloads of a boot, paired and not, at 5
// boots per arm: normal boot effects (0.03%), and two modes as in the
// committed run (40% of the boots 0.1% higher, 0.005% spread otherwise).
// 1000 experiments each: the standard error of a coverage of 0.95 is
// 0.0069. Normal effects are held to [0.92, 0.985] (0.92 is 3 standard
// errors below 0.94, the level of RatioCI's intervals at 5 boots); two
// modes to 0.95(1-q) less 3 standard errors, q = 0.6^5 + 0.4^5 the chance
// that every boot of an arm lands in one mode (see checkCoverage).
// Averaging the per-workload intervals as if the workloads were
// independent (the mean half-width over sqrt(3)) must fall short on the
// normal design: the boots are shared.
func TestPoolCoverage(t *testing.T) {
	truths := []float64{0.995, 0.99, 1.002} // per workload, B/A
	const trials, boots = 1000, 5
	for _, d := range []struct {
		name   string
		paired bool
		effect bootEffect
	}{
		{"normal", false, bootEffect{sd: 3e-4}},
		{"normal-paired", true, bootEffect{sd: 3e-4}},
		{"two-mode", false, bootEffect{sd: 5e-5, mode: 1e-3, p: 0.4}},
		{"two-mode-paired", true, bootEffect{sd: 5e-5, mode: 1e-3, p: 0.4}},
	} {
		t.Run(d.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(len(d.name))))
			covered, naive := 0, 0
			for k := range trials {
				// One boot effect per boot, shared by its workloads, and
				// 0.002% of noise per run.
				arm := func(scale []float64) [][]float64 {
					m := make([][]float64, boots)
					for i := range m {
						e := d.effect.draw(rng)
						for _, s := range scale {
							m[i] = append(m[i], 5000*s*e*(1+2e-5*rng.NormFloat64()))
						}
					}
					return m
				}
				a, b := arm([]float64{1, 1, 1}), arm(truths)
				want := Mean(truths)
				if d.paired {
					// The same boots: B also carries A's boot effect, so
					// the ratio carries only B's own (mean effect.mean()).
					for i := range b {
						for w := range b[i] {
							b[i][w] *= a[i][w] / 5000
						}
					}
					want *= d.effect.mean()
				}
				iv, err := meanRatioCI(a, b, d.paired, BootstrapOptions{Resamples: 400, Seed: uint64(k)}, welchDF)
				if err != nil {
					t.Fatal(err)
				}
				if iv.Contains(want) {
					covered++
				}
				hw := 0.0
				for w := range truths {
					col := func(g [][]float64) [][]float64 {
						c := make([][]float64, len(g))
						for i := range g {
							c[i] = []float64{g[i][w]}
						}
						return c
					}
					wiv, err := meanRatioCI(col(a), col(b), d.paired, BootstrapOptions{Resamples: 400, Seed: uint64(k)}, welchDF)
					if err != nil {
						t.Fatal(err)
					}
					hw += wiv.HalfWidth() / 3
				}
				if math.Abs(iv.Ratio/want-1) <= hw/math.Sqrt(3) {
					naive++
				}
			}
			cov, ncov := float64(covered)/trials, float64(naive)/trials
			t.Logf("pooled coverage %.3f, independent-workloads coverage %.3f", cov, ncov)
			lo := 0.92
			if d.effect.p > 0 {
				q := math.Pow(d.effect.p, boots) + math.Pow(1-d.effect.p, boots)
				lo = 0.95*(1-q) - 3*0.0069
			}
			if cov < lo || cov > 0.985 {
				t.Errorf("pooled coverage %.3f not in [%.3f, 0.985]", cov, lo)
			}
			if d.effect.p == 0 && ncov > 0.88 {
				t.Errorf("the naive combination covers %.3f: the test does not show why boots must be resampled together", ncov)
			}
		})
	}
}

// A boot that lacks a workload (an experiment stopped early) is left out
// of the pooled estimate with a warning naming it.
func TestPoolIncompleteBoot(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	r := synthResults(5, []string{"w1", "w2"}, func(boot int, k string, d Driver, wl string) float64 {
		return 5000 * (1 + 3e-4*rng.NormFloat64())
	})
	last := &r.Boots[len(r.Boots)-1] // helpers-off, id-09
	last.Samples = last.Samples[:2]  // w1 only
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Pooled {
		touched := p.A.Kernel == "helpers-off" || p.B.Kernel == "helpers-off"
		if !touched {
			continue
		}
		if !p.HasInterval() || len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], "id-09") {
			t.Errorf("%s %s/%s: %+v", p.Question, p.B, p.A, p)
		}
		if n := p.Interval.BootsA; p.A.Kernel == "helpers-off" && n != 4 {
			t.Errorf("%s: %d boots of A, want 4", p.Question, n)
		}
	}
	if _, err := Pool(nil, BootstrapOptions{}); err == nil {
		t.Error("nil analysis")
	}
}
