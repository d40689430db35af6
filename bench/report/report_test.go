package report_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
	"github.com/rflkit/rflkit/bench/report"
)

// fakeRun runs a 14-boot experiment in the fake laboratory (the one
// bench's TestExperimentEndToEndFake checks), round-trips it through
// results.json and analyses the copy.
func fakeRun(t *testing.T) (bench.Preset, *bench.Results, *bench.Analysis) {
	t.Helper()
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(9, 9))}
	p := bench.DefaultPreset()
	p.WallBoots, p.ICountBoots = 4, 3
	p.Workloads = p.Workloads[:3] // three workloads, as the assertions below count
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: p, Seed: 7, Boot: lab.Boot}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := res.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := bench.ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := bench.Analyze(back, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p, back, a
}

// The presentation half of bench's end-to-end test: table, report,
// benchmark lines and plots of a fake experiment.
func TestReportEndToEndFake(t *testing.T) {
	p, back, a := fakeRun(t)
	var tbl, md, bf bytes.Buffer
	if err := report.WriteTable(&tbl, a); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, back, a, report.MarkdownOptions{PlotFile: "plot.png"}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteBenchfmt(&bf, back); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rnull vs null_blk", "helpers on vs off", "instructions per I/O"} {
		if !strings.Contains(tbl.String(), want) || !strings.Contains(md.String(), want) {
			t.Errorf("table or report lacks %q", want)
		}
	}
	lines := 0
	lineRE := regexp.MustCompile(`^BenchmarkNullBlk/measure=(wall|icount)/kernel=helpers-(on|off)/driver=(null_blk|rnull)/wl=\S+ 1 [0-9.]+ ns/op [0-9.]+ iops( [0-9.]+ instr/io)?$`)
	for _, l := range strings.Split(bf.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			lines++
			if !lineRE.MatchString(l) {
				t.Errorf("bad benchmark line %q", l)
			}
		}
	}
	if want := p.Instances * len(p.Workloads) * 2 * (8*p.Runs + 6*p.ICountRuns); lines != want {
		t.Errorf("%d benchmark lines, want %d (no warm-up)", lines, want)
	}
	svg, png, err := report.Plot(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || !bytes.Contains(svg, []byte("<svg")) {
		t.Error("plot encodings")
	}
}

// WriteAll on a real results.json (an A/A quick run): every output, the
// table on Out, and results.json left alone when re-analysing.
func TestWriteAllReanalyse(t *testing.T) {
	res, err := bench.ReadResults("../testdata/results-quick-aa.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	var out bytes.Buffer
	files, err := report.WriteAll(dir, res, report.WriteOptions{Reanalyse: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{report.BenchfmtFile, report.PlotSVGFile, report.PlotPNGFile, report.AnalysisFile, report.ReportFile}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("wrote %q, want %q", files, want)
	}
	for _, f := range want {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, report.ResultsFile)); err == nil {
		t.Error("re-analysis wrote results.json")
	}
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil || !bytes.Contains(md, []byte("![per-arm distributions](plot.png)")) {
		t.Errorf("report.md does not embed the plot (%v)", err)
	}
	s := out.String()
	if !strings.Contains(s, "The conclusion rests on instructions per I/O") ||
		!strings.HasSuffix(s, "wrote bench.txt, plot.svg, plot.png, analysis.json, report.md in "+dir+"\n") {
		t.Errorf("out:\n%s", s)
	}
}

// A fresh run writes results.json first; a run that failed before its
// first boot gets nothing else.
func TestWriteAllResults(t *testing.T) {
	_, res, _ := fakeRun(t)
	dir := t.TempDir()
	files, err := report.WriteAll(dir, res, report.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 || files[0] != report.ResultsFile {
		t.Errorf("wrote %q", files)
	}
	back, err := bench.ReadResults(filepath.Join(dir, report.ResultsFile))
	if err != nil || !reflect.DeepEqual(back.Boots, res.Boots) {
		t.Errorf("results.json does not round-trip: %v", err)
	}

	failed := &bench.Results{Format: bench.ResultsFormat, Seed: 1, Error: "bench: boot 0: no kernel"}
	dir = t.TempDir()
	files, err = report.WriteAll(dir, failed, report.WriteOptions{})
	if err != nil || !reflect.DeepEqual(files, []string{report.ResultsFile}) {
		t.Errorf("failed run: wrote %q, %v", files, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("failed run: %d files in the directory", len(ents))
	}
}

// The statistics of the report: adjusted p-values beside the raw ones,
// the floor of the U test marked and explained, the pooled estimates with
// their intervals in the summary, and no interval with two boots.
func TestReportStatistics(t *testing.T) {
	_, back, a := fakeRun(t)
	var tbl, md bytes.Buffer
	if err := report.WriteTable(&tbl, a); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, back, a, report.MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{tbl.String(), md.String()} {
		for _, want := range []string{"p Holm", "p BH", "mean change [95% CI]", "(min)", "is the smallest p-value the U test can give",
			"2/C(6,3) = 0.1 for 3 and 3 boots"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	}
	// The report gives the boot-to-boot spread it measured, not a fixed claim.
	if strings.Contains(md.String(), "~0.01%") || !strings.Contains(md.String(), "the boot means of an arm spread by") {
		t.Error("the report does not give the measured boot-to-boot spread")
	}
	sum := report.Summary(a)
	if len(sum) != 4 {
		t.Fatalf("summary %q", sum)
	}
	for _, l := range sum {
		if !regexp.MustCompile(`: [+-][0-9.]+% \[[+-][0-9.]+%, [+-][0-9.]+%\], mean over 3 workloads \(per workload`).MatchString(l) || strings.Contains(l, "p ") {
			t.Errorf("summary line %q: want the pooled interval, no p-value", l)
		}
	}

	// Two boots per arm: the note instead of an interval.
	res, err := bench.ReadResults("../testdata/results-quick-aa.json")
	if err != nil {
		t.Fatal(err)
	}
	aa, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md.Reset()
	if err := report.WriteMarkdown(&md, res, aa, report.MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, l := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(l, "| rnull vs null_blk |") || strings.HasPrefix(l, "| helpers on vs off |") {
			rows++
			if !strings.Contains(l, "too few boots: no interval") || strings.Contains(l, "[") {
				t.Errorf("row %q: want the note, no interval", l)
			}
		}
	}
	if rows == 0 {
		t.Error("no comparison rows")
	}
	for _, l := range report.Summary(aa) {
		if !strings.Contains(l, "too few boots: no interval") {
			t.Errorf("summary %q", l)
		}
	}
}
