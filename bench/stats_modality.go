package bench

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
)

// MinModalityBoots is the fewest values CheckBootModality tests: with
// three, the spread inside a two-value cluster rests on one difference.
const MinModalityBoots = 4

// Modality is the result of the modality check (CheckBootModality).
type Modality struct {
	// Multimodal is set when the values fall into separated clusters: the
	// widest gap between sorted values is improbably wide for one normal
	// sample (P < the test's level).
	Multimodal bool
	// N is the number of values tested (boot means for ArmStats); no
	// test is made below MinModalityBoots, and then P is 1.
	N int
	// Gap is the widest empty interval between sorted values, and Split
	// the value where it starts (both in the values' unit); Low and High
	// count the values on each side.
	Gap, Split float64
	Low, High  int
	// Scale is the spread the gap was set against, in the values' unit:
	// the pooled standard deviation inside the two sides, or the
	// measure's resolution or the run-to-run standard error of a boot
	// mean when larger (ModalityOptions).
	Scale float64
	// P is the probability that n values from one normal distribution
	// show a gap at least Gap/Scale times their within-side spread
	// (Monte Carlo, deterministic); 1 when not tested.
	P float64
	// Modes are the clusters, lowest first, when Multimodal: each side
	// of the gap, and each side again split where it has at least
	// MinModalityBoots values and passes the same test. Nil otherwise.
	Modes []Cluster
}

// Cluster is one mode of an arm: a cluster of boots.
type Cluster struct {
	// BootIDs are the boots in the cluster (their BootRecord.BootID), in
	// the order of the values given (boot order for ArmStats); nil when
	// the values had no ids.
	BootIDs []string
	// N is the number of values in the cluster; Mean, Min and Max are
	// theirs (in the values' unit).
	N              int
	Mean, Min, Max float64
}

// ModalityOptions tunes CheckBootModality. The zero value tests at the 1%
// level with no floor under the spread.
type ModalityOptions struct {
	// Resolution is the smallest difference the measure can show, in the
	// values' unit (ArmStats.Resolution: one I/O more or less in a run):
	// the gap is set against a spread of at least this, so that values
	// that differ by a count or two are not called modes.
	Resolution float64
	// RunSE is the standard error of a boot mean from run-to-run noise
	// alone (the pooled within-boot standard deviation over the square
	// root of the runs per boot); the gap is set against a spread of at
	// least this. 0 when boots have one run.
	RunSE float64
	// Alpha is the test's level; 0 means 0.01.
	Alpha float64
}

// modalitySims is the number of normal samples that calibrate the gap
// test: P is resolved to 1/2001.
const modalitySims = 2000

// CheckBootModality tests whether values (boot means, one per boot; ids
// their boot ids, or nil) fall into separated clusters. It needs
// MinModalityBoots values: the sizes the presets use (5 boots per arm)
// are enough for the modes that matter here, some boots 0.1% away from the
// rest with a spread of 0.002% inside each (icount's sbitmap allocation
// hint gives such modes); at 4 boots such a pair of modes is missed about
// one time in ten.
//
// The sorted values are cut at their widest gap (two clusters) and, from
// 5 values, at their two widest gaps (three clusters); each cut's statistic is its
// narrowest cutting gap over the pooled standard deviation inside its
// clusters (a cluster of one value adds nothing), the latter floored by
// opts.Resolution and opts.RunSE. Their distribution for n values of one
// normal sample does not depend on the sample's mean or spread, so each
// cut's p is the share of modalitySims seeded normal samples of the same
// size whose statistic is at least as large, and P, the smaller p
// calibrated on the same samples, keeps the level whichever cut wins; the
// floors only make P larger. The clusters of the winning cut are reported
// with their boot ids, and split again while the test passes inside them.
// One boot alone in a cluster may be a mode or an outlier: with 4 or 5
// boots the two cannot be told apart. A unimodal but heavy-tailed arm is
// flagged more often than Alpha.
func CheckBootModality(values []float64, ids []string, opts ModalityOptions) Modality {
	return checkBootModality(values, ids, opts, modalityNulls{})
}

// CheckModality is CheckBootModality without ids or floors: any values,
// at least MinModalityBoots of them. The runs of a boot are not
// independent evidence of a mode; Analyze tests boot means.
func CheckModality(xs []float64) Modality {
	return CheckBootModality(xs, nil, ModalityOptions{})
}

// modalityNulls caches the null distributions of the gap statistics by
// sample size, for one analysis (or one test).
type modalityNulls map[int]*gapNull

func checkBootModality(values []float64, ids []string, opts ModalityOptions, nulls modalityNulls) Modality {
	alpha := opts.Alpha
	if !(alpha > 0 && alpha < 1) {
		alpha = 0.01
	}
	m := Modality{N: len(values), P: 1}
	for _, x := range values {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return m
		}
	}
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return values[idx[i]] < values[idx[j]] })
	sorted := make([]float64, len(values))
	for i, k := range idx {
		sorted[i] = values[k]
	}
	floor := math.Max(opts.Resolution, opts.RunSE)
	top := gapTest(sorted, floor, nulls)
	m = top.Modality
	m.Multimodal = m.P < alpha
	if !m.Multimodal {
		return m
	}
	var modes [][2]int // [start, end) in sorted order
	var split func(lo, hi int, cuts []int)
	split = func(lo, hi int, cuts []int) {
		start := lo
		for _, c := range append(append([]int(nil), cuts...), hi-lo) {
			end := lo + c
			if sub := gapTest(sorted[start:end], floor, nulls); sub.P < alpha {
				split(start, end, sub.cuts)
			} else {
				modes = append(modes, [2]int{start, end})
			}
			start = end
		}
	}
	split(0, len(sorted), top.cuts)
	for _, r := range modes {
		md := Cluster{N: r[1] - r[0], Mean: Mean(sorted[r[0]:r[1]]), Min: sorted[r[0]], Max: sorted[r[1]-1]}
		if ids != nil {
			members := append([]int(nil), idx[r[0]:r[1]]...)
			sort.Ints(members)
			for _, k := range members {
				id := strconv.Itoa(k)
				if k < len(ids) {
					id = ids[k]
				}
				md.BootIDs = append(md.BootIDs, id)
			}
		}
		m.Modes = append(m.Modes, md)
	}
	return m
}

// gapResult is one test of sorted values: the widest gap, P, and the cuts
// of the winning partition (cluster ends, increasing, the last cluster's
// end left out).
type gapResult struct {
	Modality
	cuts []int
}

// gapTest tests sorted values (see CheckBootModality) with the spread
// floored by floor; P is 1 below MinModalityBoots.
func gapTest(s []float64, floor float64, nulls modalityNulls) gapResult {
	n := len(s)
	r := gapResult{Modality: Modality{N: n, P: 1}}
	if n < MinModalityBoots {
		return r
	}
	st := gapStats(s, floor)
	low := st.cuts[0][0]
	r.Gap, r.Split, r.Low, r.High = s[low]-s[low-1], s[low-1], low, n-low
	null := nulls[n]
	if null == nil {
		null = newGapNull(n)
		nulls[n] = null
	}
	ps := null.pValues(st.stat)
	if n < minThreeModeBoots {
		r.Scale, r.cuts, r.P = st.scale[0], st.cuts[0], ps[0]
		return r
	}
	best := 0
	if ps[1] < ps[0] {
		best = 1
	}
	r.Scale, r.cuts = st.scale[best], st.cuts[best]
	r.P = null.combined(math.Min(ps[0], ps[1]))
	return r
}

// minThreeModeBoots is the fewest values cut into three clusters: four
// would leave one degree of freedom for the spread inside them, and the
// second test would only cost the first its power.
const minThreeModeBoots = 5

// gapStatistics are the two cuts of sorted values: into two clusters at
// the widest gap (k = 0) and into three at the two widest (k = 1), each
// with its statistic (narrowest cutting gap over the floored pooled
// within-cluster standard deviation; +Inf when that is 0 and the gap is
// not), its scale and its cuts.
type gapStatistics struct {
	stat, scale [2]float64
	cuts        [2][]int
}

func gapStats(s []float64, floor float64) gapStatistics {
	n := len(s)
	// Gap i lies between s[i-1] and s[i]; order them widest first
	// (earlier first on ties).
	gaps := make([]int, n-1)
	for i := range gaps {
		gaps[i] = i + 1
	}
	sort.SliceStable(gaps, func(a, b int) bool { return s[gaps[a]]-s[gaps[a]-1] > s[gaps[b]]-s[gaps[b]-1] })
	var st gapStatistics
	for k := range 2 {
		cuts := append([]int(nil), gaps[:k+1]...)
		sort.Ints(cuts)
		narrowest := s[gaps[k]] - s[gaps[k]-1]
		ss, start := 0.0, 0
		for _, end := range append(cuts, n) {
			mu := Mean(s[start:end])
			for _, x := range s[start:end] {
				ss += (x - mu) * (x - mu)
			}
			start = end
		}
		sd := math.Max(math.Sqrt(ss/float64(n-k-2)), floor)
		st.scale[k], st.cuts[k] = sd, cuts
		switch {
		case !(narrowest > 0):
			st.stat[k] = 0
		case sd == 0:
			st.stat[k] = math.Inf(1)
		default:
			st.stat[k] = narrowest / sd
		}
	}
	return st
}

// gapNull is the distribution of the two gap statistics for n values of
// one normal sample, from modalitySims seeded samples: each statistic
// sorted, and the smaller of each sample's two p-values, sorted.
type gapNull struct {
	stat [2][]float64
	minP []float64
}

func newGapNull(n int) *gapNull {
	rng := rand.New(rand.NewPCG(uint64(n), 0x6d6f646573))
	g := &gapNull{}
	all := make([][2]float64, modalitySims)
	x := make([]float64, n)
	for i := range all {
		for j := range x {
			x[j] = rng.NormFloat64()
		}
		sort.Float64s(x)
		all[i] = gapStats(x, 0).stat
		for k := range 2 {
			g.stat[k] = append(g.stat[k], all[i][k])
		}
	}
	for k := range 2 {
		sort.Float64s(g.stat[k])
	}
	g.minP = make([]float64, len(all))
	for i, st := range all {
		ps := g.pValues(st)
		g.minP[i] = math.Min(ps[0], ps[1])
	}
	sort.Float64s(g.minP)
	return g
}

// pValues are the shares of null statistics at least as large as each of
// st's (with the observed one counted: (k+1)/(sims+1)).
func (g *gapNull) pValues(st [2]float64) [2]float64 {
	var ps [2]float64
	for k := range 2 {
		null := g.stat[k]
		above := len(null) - sort.SearchFloat64s(null, st[k])
		ps[k] = float64(above+1) / float64(len(null)+1)
	}
	return ps
}

// combined is the share of null samples whose smaller p-value is at most
// p: the P of the better of the two cuts, calibrated for having chosen
// it.
func (g *gapNull) combined(p float64) float64 {
	k := sort.Search(len(g.minP), func(i int) bool { return g.minP[i] > p*(1+1e-12) })
	return math.Min(1, float64(k+1)/float64(len(g.minP)+1))
}
