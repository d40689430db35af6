package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/internal/atomicfile"
)

// The files WriteAll writes into its directory.
const (
	// ResultsFile is every raw sample and the context to re-analyse it
	// (bench.Results, see doc/metadata.md).
	ResultsFile = "results.json"
	// BenchfmtFile is the measured samples in the Go benchmark format,
	// for benchstat (WriteBenchfmt).
	BenchfmtFile = "bench.txt"
	// PlotSVGFile and PlotPNGFile are the per-arm distributions (Plot).
	PlotSVGFile = "plot.svg"
	PlotPNGFile = "plot.png"
	// AnalysisFile is the statistics: per-arm summaries, ratios,
	// intervals and tests (bench.Analysis as JSON, see doc/metadata.md).
	AnalysisFile = "analysis.json"
	// ReportFile is the markdown report (WriteMarkdown).
	ReportFile = "report.md"
)

// WriteOptions tunes WriteAll. The zero value writes every file and prints
// nothing.
type WriteOptions struct {
	// Reanalyse leaves ResultsFile alone: the results were read from an
	// existing results.json, which is not rewritten.
	Reanalyse bool
	// Out receives the plain-text table (WriteTable), the summary lines
	// (Summary) and a last line naming the files written besides
	// ResultsFile; nil = discard.
	Out io.Writer
}

// WriteAll writes the outputs of a run into dir, creating it if needed:
// ResultsFile (unless opts.Reanalyse), then, from res analysed with the
// bootstrap seeded by res.Seed, BenchfmtFile, PlotSVGFile and PlotPNGFile
// (when there is something to plot), AnalysisFile and ReportFile. Every
// file is written atomically. A run that failed before its first boot (res
// incomplete and without boots) gets ResultsFile only: there is nothing to
// analyse. WriteAll returns the names of the files it wrote, in order.
func WriteAll(dir string, res *bench.Results, opts WriteOptions) ([]string, error) {
	if res == nil {
		return nil, fmt.Errorf("report: nil results")
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var written []string
	if !opts.Reanalyse {
		if err := res.WriteFile(filepath.Join(dir, ResultsFile)); err != nil {
			return written, err
		}
		written = append(written, ResultsFile)
		if !res.Complete && len(res.Boots) == 0 {
			return written, nil
		}
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{Bootstrap: bench.BootstrapOptions{Seed: res.Seed}})
	if err != nil {
		return written, err
	}
	if err := WriteTable(out, a); err != nil {
		return written, fmt.Errorf("report: %w", err)
	}
	for _, s := range Summary(a) {
		if _, err := fmt.Fprintln(out, s); err != nil {
			return written, fmt.Errorf("report: %w", err)
		}
	}
	var derived []string
	write := func(name string, data []byte) error {
		if err := atomicfile.Update(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		derived = append(derived, name)
		written = append(written, name)
		return nil
	}
	var bf bytes.Buffer
	if err := WriteBenchfmt(&bf, res); err != nil {
		return written, fmt.Errorf("report: %w", err)
	}
	if err := write(BenchfmtFile, bf.Bytes()); err != nil {
		return written, err
	}
	plotFile := ""
	if svg, png, err := Plot(a); err == nil {
		if err := write(PlotSVGFile, svg); err != nil {
			return written, err
		}
		if err := write(PlotPNGFile, png); err != nil {
			return written, err
		}
		plotFile = PlotPNGFile
	}
	aj, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return written, fmt.Errorf("report: %w", err)
	}
	if err := write(AnalysisFile, append(aj, '\n')); err != nil {
		return written, err
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, res, a, MarkdownOptions{PlotFile: plotFile}); err != nil {
		return written, fmt.Errorf("report: %w", err)
	}
	if err := write(ReportFile, md.Bytes()); err != nil {
		return written, err
	}
	if _, err := fmt.Fprintf(out, "wrote %s in %s\n", strings.Join(derived, ", "), dir); err != nil {
		return written, fmt.Errorf("report: %w", err)
	}
	return written, nil
}
