package bench

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// results-quick-aa.json is a real quick-preset run in which both "kernels"
// were the same bzImage (the hand-built helpers-on tiny kernel): an A/A
// test. It has two icount boots per kernel, too few for an interval: the
// comparisons carry NoteTooFewBoots, and their estimates must still find
// no helpers effect on instructions per I/O, within a fraction of a
// percent, and the real rnull/null_blk difference.
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
		if c.Note != NoteTooFewBoots || c.HasInterval() || c.Interval != (Interval{}) || c.Better() != 0 {
			t.Errorf("%s %s %s: note %q, interval %+v: want no interval with two boots", c.Question, c.Measure, c.A, c.Note, c.Interval)
		}
		if c.Measure != MeasureInstr {
			continue
		}
		n++
		switch c.Question {
		case HelpersOnOff:
			if math.Abs(c.Change()) > 0.002 {
				t.Errorf("A/A helpers comparison %s: change %+.3f%%, want within 0.2%%", c.A.Driver, 100*c.Change())
			}
		case RustVsC:
			// rnull retires ~1% fewer instructions per 4k read than
			// null_blk in this kernel.
			if math.Abs(c.Change()+0.0105) > 0.002 {
				t.Errorf("rnull vs null_blk on %s: change %+.3f%%", c.A.Kernel, 100*c.Change())
			}
		}
	}
	if n != 4 {
		t.Errorf("%d icount comparisons", n)
	}
	for _, p := range a.Pooled {
		if p.Note != NoteTooFewBoots || p.HasInterval() || !(p.Ratio > 0) {
			t.Errorf("pooled %s %s %s: %+v, want an estimate without interval", p.Question, p.Measure, p.A, p)
		}
	}
}

// synthResults builds icount boots of two kernels, boots boots each
// (alternating), with the given workloads and one run per driver and
// workload; value gives a run's instructions per I/O.
func synthResults(boots int, workloads []string, value func(boot int, kernel string, d Driver, wl string) float64) *Results {
	r := &Results{Format: ResultsFormat, Complete: true, GuestCPUs: 1,
		Kernels: []KernelMeta{{Name: "helpers-on", InlineHelpers: true, ConfigHelpers: "y"}, {Name: "helpers-off"}}}
	for i := range 2 * boots {
		k := r.Kernels[i%2].Name
		b := BootRecord{Index: i, Kernel: k, Mode: ModeICount, BootID: fmt.Sprintf("id-%02d", i)}
		for _, wl := range workloads {
			for _, d := range Drivers() {
				v := value(i, k, d, wl)
				b.Samples = append(b.Samples, Sample{Workload: wl, Driver: d, IOPS: 1e9 / v, InstrPerIO: v, TotalIOs: 100000})
			}
		}
		r.Boots = append(r.Boots, b)
	}
	return r
}

// Paired arms are aligned by boot id: a boot that lost one driver's runs
// is refused, by name, instead of shifting every later boot against the
// other driver's.
func TestAnalyzePairsByBootID(t *testing.T) {
	r := synthResults(5, []string{"w"}, func(boot int, k string, d Driver, wl string) float64 {
		v := 5000 + float64(boot) // a boot effect shared by both drivers
		if d == RNull {
			v *= 0.99
		}
		return v
	})
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range a.Comparisons {
		if c.Question == RustVsC && (!c.HasInterval() || !c.Interval.Paired || math.Abs(c.Interval.Ratio-0.99) > 1e-9 || c.Interval.HalfWidth() > 1e-9) {
			t.Errorf("aligned pairs: %+v", c)
		}
	}
	// Boot id-04 (helpers-on) loses its rnull run.
	s := r.Boots[4].Samples
	r.Boots[4].Samples = s[:1]
	a, err = Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range a.Comparisons {
		if c.Question != RustVsC {
			continue
		}
		if c.A.Kernel == "helpers-on" {
			if c.HasInterval() || !strings.Contains(c.Err, "boot id-04 has runs of helpers-on/null_blk but none of helpers-on/rnull") {
				t.Errorf("mismatched boots: err %q, interval %+v", c.Err, c.Interval)
			}
		} else if !c.HasInterval() {
			t.Errorf("helpers-off: %+v", c)
		}
	}
	for _, p := range a.Pooled {
		if p.Question == RustVsC && p.A.Kernel == "helpers-on" && !strings.Contains(p.Err, "id-04") {
			t.Errorf("pooled over mismatched boots: %+v", p)
		}
	}
	// Direct: a boot in B only, an empty id, an id twice.
	A := &ArmStats{Key: ArmKey{"k", NullBlk, "w"}, ByBoot: [][]float64{{1}, {2}}, BootIDs: []string{"x", "y"}}
	B := &ArmStats{Key: ArmKey{"k", RNull, "w"}, ByBoot: [][]float64{{3}, {4}, {5}}, BootIDs: []string{"y", "x", "z"}}
	if _, _, err := AlignBoots(A, B); err == nil || !strings.Contains(err.Error(), "boot z has runs of k/rnull but none of k/null_blk") {
		t.Errorf("boot in B only: %v", err)
	}
	B.ByBoot, B.BootIDs = B.ByBoot[:2], B.BootIDs[:2]
	pa, pb, err := AlignBoots(A, B)
	if err != nil || pa[0][0] != 1 || pb[0][0] != 4 || pb[1][0] != 3 {
		t.Errorf("aligned by id: %v %v %v", pa, pb, err)
	}
	B.BootIDs = []string{"x", "x"}
	if _, _, err := AlignBoots(A, B); err == nil || !strings.Contains(err.Error(), "boot id x twice") {
		t.Errorf("duplicate id: %v", err)
	}
	B.BootIDs = []string{"x", ""}
	if _, _, err := AlignBoots(A, B); err == nil || !strings.Contains(err.Error(), "no boot id") {
		t.Errorf("empty id: %v", err)
	}
}

// Fewer than MinIntervalBoots boots per arm: no interval, the note, an
// estimate, and no verdict; the adjusted p-values are filled anyway.
func TestAnalyzeTooFewBoots(t *testing.T) {
	r := synthResults(2, []string{"w1", "w2"}, func(boot int, k string, d Driver, wl string) float64 {
		return 5000 + float64(boot%3)
	})
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Comparisons) != 8 {
		t.Fatalf("%d comparisons", len(a.Comparisons))
	}
	for _, c := range a.Comparisons {
		if c.Note != NoteTooFewBoots || c.HasInterval() || c.Better() != 0 || !(c.Ratio > 0) || c.PHolm < c.UTest.P || c.PBH < c.UTest.P {
			t.Errorf("%+v", c)
		}
	}
}

// The adjusted p-values are computed over the comparisons of one measure.
func TestAnalyzeAdjustedP(t *testing.T) {
	r := synthResults(5, []string{"w1", "w2", "w3"}, func(boot int, k string, d Driver, wl string) float64 {
		v := 5000 * (1 + 1e-4*float64((boot*7)%5))
		if d == RNull {
			v *= 0.99
		}
		return v
	})
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []float64
	for _, c := range a.Comparisons {
		ps = append(ps, c.UTest.P)
	}
	holm, bh := HolmAdjust(ps), BHAdjust(ps)
	for i, c := range a.Comparisons {
		if c.PHolm != holm[i] || c.PBH != bh[i] {
			t.Errorf("%d: Holm %v BH %v, want %v %v", i, c.PHolm, c.PBH, holm[i], bh[i])
		}
	}
}
