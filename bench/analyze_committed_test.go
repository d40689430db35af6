package bench

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// committedResults rebuilds the Results of the committed default run
// (preset default, seed 1, 14 boots) from its benchstat input,
// testdata/bench-v1.txt (the doc/results/bench.txt of the fio-derived
// measure, before the plugin), which holds every measured run in boot order but
// no boot ids and no I/O counts. Boots are cut by the preset: an icount
// boot has workloads x 2 drivers x ICountRuns lines, a wall boot
// workloads x 2 x Runs, each of one kernel. Boot ids are made up
// ("committed-00" ...); instructions per I/O are 1e9/IOPS (one vCPU) and
// the I/O counts IOPS x runtime (0.5 s of guest time under icount).
func committedResults(t *testing.T) *Results {
	t.Helper()
	f, err := os.Open("testdata/bench-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := defaultPresetV1()
	r := &Results{Format: ResultsFormat, Preset: p, Seed: 1, Complete: true, GuestCPUs: 1}
	perBoot := map[Mode]int{
		ModeICount: len(p.Workloads) * 2 * p.ICountRuns,
		ModeWall:   len(p.Workloads) * 2 * p.Runs,
	}
	runtime := map[Mode]float64{ModeICount: p.ICountRuntime.Seconds(), ModeWall: p.Workloads[0].Runtime.Seconds()}
	var cur *BootRecord
	runs := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "kernel-"); ok {
			name, rest, _ := strings.Cut(k, ": ")
			r.Kernels = append(r.Kernels, KernelMeta{Name: name, InlineHelpers: strings.Contains(rest, "helpers=true"),
				ConfigHelpers: map[bool]string{true: "y", false: ""}[strings.Contains(rest, "helpers=true")]})
			continue
		}
		if !strings.HasPrefix(line, "BenchmarkNullBlk/") {
			continue
		}
		fs := strings.Fields(line)
		labels := map[string]string{}
		for _, kv := range strings.Split(fs[0], "/")[1:] {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
		iops, err := strconv.ParseFloat(fs[4], 64)
		if err != nil || len(fs) < 6 || fs[5] != "iops" {
			t.Fatalf("bad line %q", line)
		}
		mode, kernel := Mode(labels["measure"]), labels["kernel"]
		if cur == nil || len(cur.Samples) == perBoot[cur.Mode] {
			r.Boots = append(r.Boots, BootRecord{Index: len(r.Boots), Kernel: kernel, Mode: mode, BootID: fmt.Sprintf("committed-%02d", len(r.Boots))})
			cur = &r.Boots[len(r.Boots)-1]
			clear(runs)
		}
		if cur.Mode != mode || cur.Kernel != kernel {
			t.Fatalf("boot %d: line %q in a %s boot of %s", cur.Index, line, cur.Mode, cur.Kernel)
		}
		s := Sample{Workload: labels["wl"], Driver: Driver(labels["driver"]), IOPS: iops,
			TotalIOs: int64(math.Round(iops * runtime[mode])), RuntimeMS: int64(1000 * runtime[mode])}
		s.Run = runs[s.Workload+string(s.Driver)]
		runs[s.Workload+string(s.Driver)]++
		if mode == ModeICount {
			s.InstrPerIO = 1e9 / iops
		}
		cur.Samples = append(cur.Samples, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(r.Boots) != 14 || len(r.Kernels) != 2 {
		t.Fatalf("%d boots, %d kernels, want 14 and 2", len(r.Boots), len(r.Kernels))
	}
	return r
}

// The committed run, analysed again: the published per-workload changes,
// the pooled estimates (the null_blk control contains no change, the
// helpers effect on rnull excludes it), the two-mode null_blk arms with
// their boots, the U tests at their floor and the adjusted p-values.
func TestAnalyzeCommitted(t *testing.T) {
	r := committedResults(t)
	a, err := Analyze(r, AnalyzeOptions{Bootstrap: BootstrapOptions{Seed: r.Seed}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range a.Comparisons {
		if c.Measure != MeasureInstr {
			continue
		}
		t.Logf("%-18s %-22s %s/%s: %+.3f%% [%+.3f%%, %+.3f%%] df %.1f p %.3g Holm %.3g BH %.3g", c.Question, c.Workload, c.B, c.A,
			100*c.Change(), 100*(c.Interval.Lo-1), 100*(c.Interval.Hi-1), c.Interval.DF, c.UTest.P, c.PHolm, c.PBH)
		if !c.HasInterval() {
			t.Errorf("%s %s %s: no interval: %s %s", c.Question, c.Workload, c.A, c.Note, c.Err)
		}
		wantControl := c.Question == HelpersOnOff && c.A.Driver == NullBlk
		if c.Interval.Contains(1) != wantControl {
			t.Errorf("%s %s %s/%s: interval %+v, contains no change: %v", c.Question, c.Workload, c.B, c.A, c.Interval, !wantControl)
		}
		if !wantControl && !c.UTest.AtFloor() {
			t.Errorf("%s %s %s: p %v, want the floor %v", c.Question, c.Workload, c.A, c.UTest.P, c.UTest.PMin)
		}
		if math.Abs(c.UTest.PMin-2.0/252) > 1e-12 {
			t.Errorf("PMin %v, want 2/C(10,5)", c.UTest.PMin)
		}
	}
	pooled := map[string]PooledEstimate{}
	for _, p := range a.Pooled {
		if p.Measure != MeasureInstr {
			continue
		}
		t.Logf("pooled %-18s %s/%s over %d workloads: %+.3f%% [%+.3f%%, %+.3f%%] df %.1f boots %d/%d", p.Question, p.B, p.A, len(p.Workloads),
			100*p.Change(), 100*(p.Interval.Lo-1), 100*(p.Interval.Hi-1), p.Interval.DF, p.Interval.BootsA, p.Interval.BootsB)
		pooled[string(p.Question)+" "+p.A.String()] = p
	}
	for _, c := range []struct {
		key        string
		change     float64 // the mean of the published per-workload changes
		containsNo bool
	}{
		{"rnull vs null_blk helpers-off/null_blk", -0.0049, false},
		{"rnull vs null_blk helpers-on/null_blk", -0.0100, false},
		{"helpers on vs off helpers-off/rnull", -0.0049, false},
		{"helpers on vs off helpers-off/null_blk", 0.0002, true},
	} {
		p, ok := pooled[c.key]
		if !ok || !p.HasInterval() || len(p.Workloads) != 3 || p.Interval.BootsA != 5 || p.Interval.BootsB != 5 {
			t.Errorf("%s: pooled %+v", c.key, p)
			continue
		}
		if math.Abs(p.Change()-c.change) > 0.0002 || p.Interval.Contains(1) != c.containsNo {
			t.Errorf("%s: pooled change %+.4f%% [%+.4f%%, %+.4f%%], want about %+.2f%%, containing no change: %v", c.key, 100*p.Change(),
				100*(p.Interval.Lo-1), 100*(p.Interval.Hi-1), 100*c.change, c.containsNo)
		}
	}
	// The null_blk arms have boots 0.05-0.1% above the rest.
	modal := 0
	for _, s := range a.Arms {
		if s.Measure != MeasureInstr {
			continue
		}
		if s.Resolution < 0.04 || s.Resolution > 0.06 {
			t.Errorf("%s %s: resolution %v, want one I/O in 0.5 s, ~0.05 instructions", s.Key, s.Key.Workload, s.Resolution)
		}
		if s.Modality.Multimodal {
			modal++
			var ids []string
			for _, m := range s.Modality.Modes {
				ids = append(ids, fmt.Sprint(m.BootIDs))
			}
			t.Logf("%s %s: modes %s, P %.3g", s.Key, s.Key.Workload, strings.Join(ids, " "), s.Modality.P)
		}
	}
	if modal == 0 {
		t.Error("no multimodal arm in the committed run")
	}
	for _, w := range a.Warnings {
		t.Log("warning: ", w)
	}
}
