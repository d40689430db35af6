package report_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
	"github.com/rflkit/rflkit/bench/report"
)

// archRun is a small fake experiment (two workloads, 3 icount boots per
// kernel) recorded as run on arch.
func archRun(t *testing.T, seed uint64, arch string) *bench.Results {
	t.Helper()
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(seed, seed))}
	p := bench.DefaultPreset()
	p.ICountBoots = 3
	p.Workloads = p.Workloads[:2]
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: p, Seed: seed, Boot: lab.Boot}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bench.RecordArch(context.Background(), res, arch)
	return res
}

// The side-by-side table has a row per pooled question with each run's
// interval exactly as bench.Pool gives it and per-workload rows; two runs
// of one architecture are refused.
func TestCompareArchitectures(t *testing.T) {
	x86, arm := archRun(t, 3, "x86_64"), archRun(t, 4, "arm64")
	var buf bytes.Buffer
	if err := report.CompareArchitectures(&buf, x86, arm); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log(out)
	if !strings.HasPrefix(out, "# x86_64 vs arm64\n") {
		t.Errorf("heading: %q", out[:min(len(out), 40)])
	}
	for _, want := range []string{"| question | A → B | measure | x86_64 | arm64 |", "## Per workload", "| helpers on vs off | randread-4k-qd1-nj1 | helpers-off/rnull → helpers-on/rnull | instr/io | "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The fake laboratory has no plugin: no per-I/O counts of the plugin.
	if strings.Contains(out, "## Per I/O") {
		t.Error("per-I/O plugin table without plugin arms")
	}
	ax, err := bench.Analyze(x86, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	aa, err := bench.Analyze(arm, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for i, p := range ax.Pooled {
		q := aa.Pooled[i]
		if p.Label() != q.Label() || p.Measure != q.Measure {
			t.Fatalf("pooled estimates of the fakes differ in order: %s / %s", p.Label(), q.Label())
		}
		if !p.HasInterval() || !q.HasInterval() {
			continue
		}
		row := "| " + string(p.Question) + " | " + p.A.String() + " → " + p.B.String() + " | " + string(p.Measure) + " | "
		cx := strings.Fields(strings.NewReplacer("[", " ", "]", " ", ",", " ").Replace(out[strings.Index(out, row)+len(row):]))
		if !strings.Contains(out, row) || len(cx) < 3 {
			t.Errorf("no row %q", row)
			continue
		}
		rows++
		if want := fmtPct(p.Interval.Ratio); cx[0] != want {
			t.Errorf("%s: x86_64 change %s, want %s", row, cx[0], want)
		}
		if want := fmtPct(p.Interval.Lo); cx[1] != want {
			t.Errorf("%s: x86_64 low %s, want %s", row, cx[1], want)
		}
	}
	if rows == 0 {
		t.Error("no pooled row with intervals checked")
	}
	// The fakes' rows of arm64 follow those of x86_64 on every line.
	if n := strings.Count(out, "| rnull vs null_blk |"); n < 2 {
		t.Errorf("%d rnull vs null_blk rows", n)
	}

	if err := report.CompareArchitectures(&buf, x86, x86); err == nil || !strings.Contains(err.Error(), "both runs are x86_64") {
		t.Errorf("same architecture: err = %v", err)
	}
	if err := report.CompareArchitectures(&buf, nil, arm); err == nil {
		t.Error("nil results: no error")
	}
	// A run without Arch (older files) is x86_64, from its kernels' or by default.
	old := *x86
	old.Arch = ""
	buf.Reset()
	if err := report.CompareArchitectures(&buf, &old, arm); err != nil || !strings.HasPrefix(buf.String(), "# x86_64 vs arm64") {
		t.Errorf("results without arch: %v %q", err, buf.String()[:min(buf.Len(), 40)])
	}
}

func fmtPct(r float64) string { return fmt.Sprintf("%+.2f%%", 100*(r-1)) }
