package report_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
	"github.com/rflkit/rflkit/bench/report"
)

// The report's design section: the variance components per arm, the
// measured costs, the sizing, and the sequential stopping record.
func TestReportDesignSection(t *testing.T) {
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(5, 6)), ICountBootSD: 0.0002, ICountInstanceSD: 0.001}
	p := bench.QuickPreset()
	p.ICountBoots, p.Instances, p.ICountRuns = 6, 3, 2
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: p, Seed: 2, Boot: lab.Boot,
		Until: &bench.StopRule{HalfWidth: 1e-9}}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, res, a, report.MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"## Where the spread lies: boots, device instances, runs",
		"Design: 3 device instance(s) per boot",
		"| workload | kernel | driver | boot | instance | run | modes of instance means | first run vs later [95% CI] |",
		"Measured costs per level",
		"**Sizing the next run** (Kalibera & Jones",
		"**Sequential stopping**: target ±0.000% for the pooled estimates; stopped after 6 of 6 rounds: schedule finished. Checks: 5 rounds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// One row per arm of the conclusive measure, each with three
	// estimable components.
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| randread-4k") && strings.Count(l, "%") >= 3 && strings.Contains(l, "| helpers-") {
			if strings.Contains(l, "n/a") {
				t.Errorf("row with a component not estimable: %s", l)
			}
			rows++
		}
	}
	if rows < 4 {
		t.Errorf("%d component rows, want 4:\n%s", rows, out)
	}
}
