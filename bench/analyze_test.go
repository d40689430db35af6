package bench

import (
	"math"
	"testing"
)

// results-quick-aa.json is a real quick-preset run in which both "kernels"
// were the same bzImage (the hand-built helpers-on tiny kernel): an A/A
// test. The analysis must find no helpers effect on instructions per I/O,
// within a fraction of a percent, and the real rnull/null_blk difference.
func TestAnalyzeRealAA(t *testing.T) {
	r, err := ReadResults("testdata/results-quick-aa.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != MeasureInstr {
		t.Errorf("conclusive: %s", a.Conclusive)
	}
	n := 0
	for _, c := range a.Comparisons {
		if c.Measure != MeasureInstr {
			continue
		}
		n++
		switch c.Question {
		case HelpersOnOff:
			if !c.Interval.Contains(1) || c.Interval.HalfWidth() > 0.005 {
				t.Errorf("A/A helpers comparison %s: %+v, want an interval around 1 narrower than 0.5%%", c.A.Driver, c.Interval)
			}
		case RustVsC:
			// rnull retires ~1% fewer instructions per 4k read than
			// null_blk in this kernel.
			if c.Interval.Contains(1) || math.Abs(c.Change()+0.0105) > 0.002 {
				t.Errorf("rnull vs null_blk on %s: %+v", c.A.Kernel, c.Interval)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d icount comparisons", n)
	}
}
