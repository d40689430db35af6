package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"golang.org/x/perf/benchmath"
)

// Mean returns the arithmetic mean of xs (NaN when empty).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Median returns the median of xs (NaN when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// stddev is the sample standard deviation (0 for fewer than 2 values).
func stddev(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := Mean(xs)
	s := 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}

// Interval is the estimate of a ratio B/A between two arms with its
// confidence interval.
type Interval struct {
	// Ratio is the estimate of B/A (dimensionless; 0.99 = B is 1% below
	// A), and Lo and Hi the interval's bounds on the same scale.
	Ratio, Lo, Hi float64
	// Confidence is the interval's level (0.95).
	Confidence float64
	// BootsA and BootsB are the boots (top-level units) behind each arm.
	BootsA int
	BootsB int
	// Paired is set when boots were resampled jointly (both arms in the
	// same boots).
	Paired bool
	// DF is the degrees of freedom of the t quantile that widened the
	// bootstrap interval: Welch-Satterthwaite's for independent arms,
	// n-1 for paired ones (see RatioCI).
	DF float64
}

// HalfWidth is half the interval's width relative to the estimate
// (0.01 = +-1%).
func (iv Interval) HalfWidth() float64 { return (iv.Hi - iv.Lo) / 2 / iv.Ratio }

// Contains reports whether x lies in the interval.
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// BootstrapOptions tunes RatioCI. The zero value is 95%, 2000 resamples,
// seed 1.
type BootstrapOptions struct {
	Confidence float64 // 0 means 0.95
	Resamples  int     // 0 means 2000
	Seed       uint64  // the resampling is deterministic for a seed
}

// ErrTooFewBoots is returned when an arm has fewer than two boots: with
// one boot there is no estimate of the boot-to-boot variation.
var ErrTooFewBoots = errors.New("bench: need at least 2 boots per arm for an interval")

// RatioCI estimates mean(B)/mean(A), where a and b hold one slice of runs
// per boot, and gives a confidence interval that respects the boot level:
// each arm's value is the mean of its boot means, and the bootstrap
// resamples boots, never single runs, so runs that cluster by boot do not
// pass for independent evidence. Paired (a[i] and b[i] from the same boot)
// resamples boot indices jointly; it needs len(a) == len(b), and a boot
// without runs in either arm is left out of both.
//
// The percentile interval of a bootstrap over few units is too narrow; it
// is widened about the estimate, on the log scale, by c * t(df)/z (after
// Hesterberg's "expanded percentile" interval). For independent arms df is
// the Welch-Satterthwaite degrees of freedom of the log boot means,
//
//	df = (vA + vB)^2 / (vA^2/(nA-1) + vB^2/(nB-1)),  vX = var(log boot means of X)/nX,
//
// and c = sqrt((vA+vB) / (vA(nA-1)/nA + vB(nB-1)/nB)) undoes the
// bootstrap's divisor-n variance (sqrt(n/(n-1)) when nA = nB). Pooled
// degrees of freedom (nA+nB-2) would assume equal spreads in both arms;
// real arms differ (boot-to-boot spreads of 0.017% and 0.057% in one run
// here), and the pooled interval then covers 0.81-0.91 of the time at 2 to
// 5 boots per arm instead of 0.95. Paired arms use the n-1 degrees of
// freedom of the per-boot differences of the logs. Coverage is checked by
// simulation in the tests (2 to 10 boots per arm, equal and unequal
// spreads, two-mode boots). RatioCI computes an interval from 2 boots per
// arm; Analyze reports none below MinIntervalBoots.
func RatioCI(a, b [][]float64, paired bool, opts BootstrapOptions) (Interval, error) {
	return ratioCI(a, b, paired, opts, welchDF)
}

// ratioCIPooled is RatioCI with the pooled degrees of freedom it used
// before (nA+nB-2, and sqrt(n/(n-1)) with n the smaller arm): kept so that
// the coverage test can show it undercovers when the arms' spreads differ.
func ratioCIPooled(a, b [][]float64, paired bool, opts BootstrapOptions) (Interval, error) {
	return ratioCI(a, b, paired, opts, pooledDF)
}

func ratioCI(a, b [][]float64, paired bool, opts BootstrapOptions, rule dfRule) (Interval, error) {
	ma, err := bootMeans(a, paired)
	if err != nil {
		return Interval{}, err
	}
	mb, err := bootMeans(b, paired)
	if err != nil {
		return Interval{}, err
	}
	if paired {
		if len(ma) != len(mb) {
			return Interval{}, fmt.Errorf("bench: paired ratio with %d and %d boots", len(ma), len(mb))
		}
		ma, mb = dropUnpaired(ma, mb)
	}
	return meanRatioCI(column(ma), column(mb), paired, opts, rule)
}

// bootMeans returns the mean of every boot's runs, NaN for a boot without
// runs when keepEmpty (paired arms stay aligned), nothing for it otherwise.
func bootMeans(g [][]float64, keepEmpty bool) ([]float64, error) {
	var ms []float64
	for i, runs := range g {
		if len(runs) == 0 {
			if keepEmpty {
				ms = append(ms, math.NaN())
			}
			continue
		}
		m := Mean(runs)
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return nil, fmt.Errorf("bench: boot %d: mean %v", i, m)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// dropUnpaired leaves out the boots that have no mean (NaN) in either arm.
func dropUnpaired(a, b []float64) ([]float64, []float64) {
	var ra, rb []float64
	for i := range a {
		if !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			ra, rb = append(ra, a[i]), append(rb, b[i])
		}
	}
	return ra, rb
}

// column turns one value per boot into the one-workload layout of
// meanRatioCI.
func column(xs []float64) [][]float64 {
	c := make([][]float64, len(xs))
	for i, x := range xs {
		c[i] = []float64{x}
	}
	return c
}

func quantileSorted(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	h := p * float64(len(s)-1)
	i := int(math.Floor(h))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

// normalQuantile is the standard normal quantile (Acklam's algorithm,
// relative error < 1.2e-9).
func normalQuantile(p float64) float64 {
	a := [...]float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := [...]float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := [...]float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := [...]float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	const plow = 0.02425
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	case p < plow:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-plow:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	}
	q := p - 0.5
	r := q * q
	return (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
}

// tCDF is Student's t distribution function with df degrees of freedom,
// through the regularized incomplete beta function.
func tCDF(t, df float64) float64 {
	x := df / (df + t*t)
	ib := 0.5 * regIncBeta(df/2, 0.5, x)
	if t > 0 {
		return 1 - ib
	}
	return ib
}

// tQuantile inverts tCDF by bisection (p in (0.5, 1)).
func tQuantile(p, df float64) float64 {
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < p {
		hi *= 2
		if hi > 1e12 {
			return math.Inf(1)
		}
	}
	for i := 0; i < 200 && hi-lo > 1e-12*hi; i++ {
		m := (lo + hi) / 2
		if tCDF(m, df) < p {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

// regIncBeta is I_x(a, b) by Lentz's continued fraction (Numerical
// Recipes' betacf).
func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log(1-x))
	if x > (a+1)/(a+b+2) {
		return 1 - regIncBeta(b, a, 1-x)
	}
	const tiny = 1e-300
	f, c, d := 1.0, 1.0, 0.0
	for i := 0; i <= 400; i++ {
		m := float64(i / 2)
		var num float64
		switch {
		case i == 0:
			num = 1
		case i%2 == 0:
			num = m * (b - m) * x / ((a + 2*m - 1) * (a + 2*m))
		default:
			num = -(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 2*m + 1))
		}
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		d = 1 / d
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		cd := c * d
		f *= cd
		if math.Abs(1-cd) < 1e-14 {
			break
		}
	}
	return front * (f - 1) / a
}

// UTest is a two-sided Mann-Whitney U test between two arms.
type UTest struct {
	U float64 // U statistic of the first sample
	// P is the two-sided p-value (1 when a sample is empty).
	P float64
	// N1 and N2 are the sizes of the two samples (boot means).
	N1, N2 int
	// PMin is the smallest two-sided p-value the test can give for
	// these sample sizes, 2/C(N1+N2, N1) (MinUTestP): the p of two
	// samples that do not overlap at all. A P at PMin says "every boot
	// of one arm on the same side of every boot of the other", not how
	// far apart the arms are.
	PMin     float64
	Alpha    float64  // the significance threshold benchmath uses (0.05)
	Warnings []string // e.g. too few samples for significance at Alpha
}

// AtFloor reports whether P is the smallest p-value the sample sizes
// allow (PMin): the samples were fully separated, and more separation
// could not lower P.
func (u UTest) AtFloor() bool { return u.N1 > 0 && u.N2 > 0 && u.P <= u.PMin*(1+1e-9) }

// MinUTestP is the smallest two-sided p-value of an exact Mann-Whitney U
// test between samples of n1 and n2 values, 2/C(n1+n2, n1) (at most 1),
// reached when they do not overlap: 0.0079 for 5 and 5, 0.1 for 3 and 3.
// It is 1 when either sample is empty.
func MinUTestP(n1, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	lc, _ := math.Lgamma(float64(n1 + n2 + 1))
	l1, _ := math.Lgamma(float64(n1 + 1))
	l2, _ := math.Lgamma(float64(n2 + 1))
	return math.Min(1, 2*math.Exp(l1+l2-lc))
}

// MannWhitney compares a and b with a two-sided Mann-Whitney U test. The
// p-value and the warnings come from golang.org/x/perf/benchmath
// (AssumeNothing, the test benchstat uses: exact distribution for small
// samples, ties handled), so they agree with what benchstat would say about
// the same samples; U is reported beside them.
func MannWhitney(a, b []float64) UTest {
	n1, n2 := len(a), len(b)
	u := UTest{N1: n1, N2: n2, P: 1, PMin: MinUTestP(n1, n2), Alpha: benchmath.DefaultThresholds.CompareAlpha}
	if n1 == 0 || n2 == 0 {
		u.Warnings = append(u.Warnings, "empty sample")
		return u
	}
	u.U = uStatistic(a, b)
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, &benchmath.DefaultThresholds), benchmath.NewSample(b, &benchmath.DefaultThresholds))
	u.P, u.Alpha = c.P, c.Alpha
	for _, w := range c.Warnings {
		u.Warnings = append(u.Warnings, w.Error())
	}
	return u
}

// uStatistic is U of the first sample: its rank sum (mid-ranks for ties)
// less n1(n1+1)/2.
func uStatistic(a, b []float64) float64 {
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, x := range a {
		all = append(all, obs{x, true})
	}
	for _, x := range b {
		all = append(all, obs{x, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	r1 := 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		i = j
	}
	n1 := float64(len(a))
	return r1 - n1*(n1+1)/2
}
