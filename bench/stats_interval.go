package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// MinIntervalBoots is the fewest boots per arm for which Analyze reports an
// interval. With two boots the spread of an arm rests on one difference:
// the t quantile is 4.3 to 12.7 (1 to 2 degrees of freedom) and the
// bootstrap has three distinct resampled means per arm, so the interval
// says little even when it covers.
const MinIntervalBoots = 3

// dfRule gives the expansion of a bootstrap interval from per-boot scores
// on the log scale (one per boot of each arm; for paired arms, the two
// arms' scores of the same boots): the degrees of freedom of the t
// quantile and the factor c that undoes the bootstrap's divisor-n
// variance.
type dfRule func(sa, sb []float64, paired bool) (df, c float64)

// welchDF is RatioCI's rule: n-1 for paired arms (the differences of the
// scores are the data), Welch-Satterthwaite for independent ones.
func welchDF(sa, sb []float64, paired bool) (df, c float64) {
	if paired {
		n := float64(len(sa))
		return n - 1, math.Sqrt(n / (n - 1))
	}
	nA, nB := float64(len(sa)), float64(len(sb))
	va, vb := variance(sa)/nA, variance(sb)/nB
	if !(va+vb > 0) {
		// No spread in either arm: the interval is a point and the
		// expansion does not matter.
		n := math.Min(nA, nB)
		return nA + nB - 2, math.Sqrt(n / (n - 1))
	}
	df = (va + vb) * (va + vb) / (va*va/(nA-1) + vb*vb/(nB-1))
	c = math.Sqrt((va + vb) / (va*(nA-1)/nA + vb*(nB-1)/nB))
	return df, c
}

// pooledDF is the rule RatioCI had before Welch: nA+nB-2 degrees of
// freedom for independent arms, whatever their spreads, and sqrt(n/(n-1))
// with n the smaller arm. It undercovers when the spreads differ (see
// TestRatioCICoverage).
func pooledDF(sa, sb []float64, paired bool) (df, c float64) {
	n := float64(min(len(sa), len(sb)))
	df = n - 1
	if !paired {
		df = float64(len(sa) + len(sb) - 2)
	}
	return df, math.Sqrt(n / (n - 1))
}

// variance is the sample variance (divisor n-1; 0 for fewer than 2
// values).
func variance(xs []float64) float64 {
	s := stddev(xs)
	return s * s
}

// meanRatioCI estimates the mean over workloads of mean_i b[i][w] /
// mean_i a[i][w], where a[i][w] is boot i's mean on workload w (every boot
// has every workload), and its expanded-percentile interval. The bootstrap
// resamples boots, each carrying all its workloads; paired arms share
// boots (a[i] and b[i]) and are resampled jointly. The workloads are fixed.
// With one workload this is RatioCI's interval.
//
// The expansion's rule gets per-boot scores from the linearisation of the
// estimate's logarithm: with r_w the workload's ratio and weights
// u_w = r_w / sum(r), a boot's score is sum_w u_w log x[w], so that the
// variance of log(estimate) is about var(scores of A)/nA + var(scores of
// B)/nB (for paired arms, var(differences)/n). With one workload the
// scores are the log boot means.
func meanRatioCI(a, b [][]float64, paired bool, opts BootstrapOptions, rule dfRule) (Interval, error) {
	conf := opts.Confidence
	if conf == 0 {
		conf = 0.95
	}
	if !(conf > 0 && conf < 1) {
		return Interval{}, fmt.Errorf("bench: confidence %v not in (0,1)", conf)
	}
	nres := opts.Resamples
	if nres <= 0 {
		nres = 2000
	}
	nA, nB := len(a), len(b)
	if nA < 2 || nB < 2 {
		return Interval{}, ErrTooFewBoots
	}
	if paired && nA != nB {
		return Interval{}, fmt.Errorf("bench: paired ratio with %d and %d boots", nA, nB)
	}
	nw := len(a[0])
	if nw == 0 {
		return Interval{}, fmt.Errorf("bench: no workloads")
	}
	for _, arm := range [][][]float64{a, b} {
		for i, row := range arm {
			if len(row) != nw {
				return Interval{}, fmt.Errorf("bench: boot %d has %d workloads, want %d", i, len(row), nw)
			}
			for _, x := range row {
				if !(x > 0) || math.IsInf(x, 0) {
					return Interval{}, fmt.Errorf("bench: boot %d: mean %v: arms must be positive", i, x)
				}
			}
		}
	}
	colMeans := func(g [][]float64) []float64 {
		m := make([]float64, nw)
		for _, row := range g {
			for w, x := range row {
				m[w] += x
			}
		}
		for w := range m {
			m[w] /= float64(len(g))
		}
		return m
	}
	mA, mB := colMeans(a), colMeans(b)
	ratios := make([]float64, nw)
	for w := range ratios {
		ratios[w] = mB[w] / mA[w]
	}
	est := Mean(ratios)
	if math.IsNaN(est) || math.IsInf(est, 0) || est <= 0 {
		return Interval{}, fmt.Errorf("bench: ratio %v: arms must be positive", est)
	}

	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	rs := make([]float64, nres)
	sa, sb := make([]float64, nw), make([]float64, nw)
	for k := range rs {
		if nw == 1 {
			// One workload (RatioCI): the same draws, without the
			// inner loops.
			var ta, tb float64
			if paired {
				for range nA {
					i := rng.IntN(nA)
					ta += a[i][0]
					tb += b[i][0]
				}
			} else {
				for range nA {
					ta += a[rng.IntN(nA)][0]
				}
				for range nB {
					tb += b[rng.IntN(nB)][0]
				}
			}
			rs[k] = (tb / float64(nB)) / (ta / float64(nA))
			continue
		}
		clear(sa)
		clear(sb)
		if paired {
			for range nA {
				i := rng.IntN(nA)
				for w := range nw {
					sa[w] += a[i][w]
					sb[w] += b[i][w]
				}
			}
		} else {
			for range nA {
				i := rng.IntN(nA)
				for w := range nw {
					sa[w] += a[i][w]
				}
			}
			for range nB {
				i := rng.IntN(nB)
				for w := range nw {
					sb[w] += b[i][w]
				}
			}
		}
		r := 0.0
		for w := range nw {
			r += (sb[w] / float64(nB)) / (sa[w] / float64(nA))
		}
		rs[k] = r / float64(nw)
	}
	sort.Float64s(rs)
	alpha := 1 - conf
	lo, hi := quantileSorted(rs, alpha/2), quantileSorted(rs, 1-alpha/2)

	sum := 0.0
	for _, r := range ratios {
		sum += r
	}
	score := func(row []float64) float64 {
		s := 0.0
		for w, x := range row {
			s += ratios[w] / sum * math.Log(x)
		}
		return s
	}
	scA, scB := make([]float64, nA), make([]float64, nB)
	for i := range a {
		scA[i] = score(a[i])
	}
	for i := range b {
		scB[i] = score(b[i])
	}
	df, c := rule(scA, scB, paired)
	f := c * tQuantile(1-alpha/2, df) / normalQuantile(1-alpha/2)
	// Widen on the log scale, where a ratio's sampling distribution is
	// closer to symmetric and the bounds stay positive.
	return Interval{Ratio: est, Lo: est * math.Exp(f*math.Log(lo/est)), Hi: est * math.Exp(f*math.Log(hi/est)), Confidence: conf,
		BootsA: nA, BootsB: nB, Paired: paired, DF: df}, nil
}
