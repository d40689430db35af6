package bench

import (
	"math"
	"sort"
)

// HolmAdjust returns Holm's step-down adjustment of the p-values ps, in
// their order: with p(1) <= ... <= p(m) sorted, the adjusted p(i) is
// max over j <= i of min(1, (m-j+1) p(j)). Rejecting every hypothesis
// whose adjusted p is at most alpha keeps the family-wise error rate (the
// chance of any false positive among the m) at most alpha, whatever the
// dependence between the tests. A NaN p counts as 1.
func HolmAdjust(ps []float64) []float64 {
	m := len(ps)
	out := make([]float64, m)
	prev := 0.0
	for rank, i := range pOrder(ps) {
		adj := math.Min(1, float64(m-rank)*clampP(ps[i]))
		prev = math.Max(prev, adj)
		out[i] = prev
	}
	return out
}

// BHAdjust returns Benjamini and Hochberg's step-up adjustment of the
// p-values ps, in their order: with p(1) <= ... <= p(m) sorted, the
// adjusted p(i) is min over j >= i of min(1, m p(j) / j). Rejecting every
// hypothesis whose adjusted p is at most q keeps the false discovery rate
// (the expected share of false positives among the rejections) at most q
// for independent or positively dependent tests, as comparisons sharing
// boots are. A NaN p counts as 1.
func BHAdjust(ps []float64) []float64 {
	m := len(ps)
	out := make([]float64, m)
	order := pOrder(ps)
	next := 1.0
	for rank := m - 1; rank >= 0; rank-- {
		i := order[rank]
		adj := math.Min(1, float64(m)*clampP(ps[i])/float64(rank+1))
		next = math.Min(next, adj)
		out[i] = next
	}
	return out
}

// pOrder returns the indices of ps by increasing p (NaN as 1), stable.
func pOrder(ps []float64) []int {
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return clampP(ps[idx[a]]) < clampP(ps[idx[b]]) })
	return idx
}

// clampP maps a p-value into [0, 1], NaN to 1.
func clampP(p float64) float64 {
	if math.IsNaN(p) || p > 1 {
		return 1
	}
	return math.Max(p, 0)
}
