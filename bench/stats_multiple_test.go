package bench

import (
	"math"
	"testing"
)

// Known answers (R's p.adjust(p, "holm") and p.adjust(p, "BH")).
func TestAdjustKnown(t *testing.T) {
	ps := []float64{0.01, 0.04, 0.03, 0.005, 0.5}
	holm := []float64{0.04, 0.09, 0.09, 0.025, 0.5}
	bh := []float64{0.025, 0.05, 0.05, 0.025, 0.5}
	gotH, gotB := HolmAdjust(ps), BHAdjust(ps)
	for i := range ps {
		if math.Abs(gotH[i]-holm[i]) > 1e-12 || math.Abs(gotB[i]-bh[i]) > 1e-12 {
			t.Errorf("p %v: Holm %v (want %v), BH %v (want %v)", ps[i], gotH[i], holm[i], gotB[i], bh[i])
		}
	}
	// The committed run: 12 icount comparisons, 9 at the 5-vs-5 floor.
	floor := MinUTestP(5, 5)
	ps = []float64{floor, floor, 0.492, floor, floor, floor, 0.365, floor, floor, floor, 0.984, floor}
	gotH, gotB = HolmAdjust(ps), BHAdjust(ps)
	if math.Abs(gotH[0]-12*floor) > 1e-12 || math.Abs(gotB[0]-floor*12/9) > 1e-12 || gotH[10] != 1 || math.Abs(gotB[10]-0.984) > 1e-12 {
		t.Errorf("committed: Holm %v, BH %v", gotH, gotB)
	}
	if HolmAdjust(nil) == nil || len(BHAdjust(nil)) != 0 {
		t.Error("empty input")
	}
	if h := HolmAdjust([]float64{math.NaN(), 0.01}); h[0] != 1 || h[1] != 0.02 {
		t.Errorf("NaN: %v", h)
	}
}

// Holm is never below the raw p, BH never above Holm; both are monotone
// in the raw p.
func TestAdjustOrder(t *testing.T) {
	ps := []float64{0.2, 0.001, 0.04, 0.04, 0.7, 0.0079, 0.0079, 1, 0}
	h, b := HolmAdjust(ps), BHAdjust(ps)
	for i := range ps {
		if h[i] < ps[i] || b[i] < ps[i] || b[i] > h[i] || h[i] > 1 {
			t.Errorf("p %v: Holm %v BH %v", ps[i], h[i], b[i])
		}
		for j := range ps {
			if ps[i] < ps[j] && (h[i] > h[j] || b[i] > b[j]) {
				t.Errorf("not monotone: p %v -> %v %v, p %v -> %v %v", ps[i], h[i], b[i], ps[j], h[j], b[j])
			}
		}
	}
}

func TestMinUTestP(t *testing.T) {
	for _, c := range []struct {
		n1, n2 int
		want   float64
	}{{5, 5, 2.0 / 252}, {3, 3, 0.1}, {2, 2, 1.0 / 3}, {1, 1, 1}, {4, 6, 2.0 / 210}, {0, 5, 1}, {10, 10, 2.0 / 184756}} {
		if got := MinUTestP(c.n1, c.n2); math.Abs(got-c.want) > 1e-12*c.want {
			t.Errorf("MinUTestP(%d, %d) = %v, want %v", c.n1, c.n2, got, c.want)
		}
	}
	// benchmath's exact test reaches it for separated samples.
	u := MannWhitney([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10})
	if !u.AtFloor() || math.Abs(u.PMin-2.0/252) > 1e-12 {
		t.Errorf("separated 5 vs 5: %+v, want at the floor", u)
	}
	if u := MannWhitney([]float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}); u.AtFloor() {
		t.Errorf("interleaved: %+v at the floor", u)
	}
}
