package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -analyze re-analyses a real results.json (an A/A quick run kept in
// bench/testdata) without booting anything and writes every output.
func TestAnalyzeOnly(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	o := options{analyze: "../../bench/testdata/results-quick-aa.json", out: out}
	if err := run(context.Background(), o, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "bench.txt", "plot.svg", "plot.png", "analysis.json"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "results.json")); err == nil {
		t.Error("-analyze rewrote results.json")
	}
	if !strings.Contains(stdout.String(), "The conclusion rests on instructions per I/O") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

func TestBadPreset(t *testing.T) {
	err := run(context.Background(), options{preset: "huge", out: t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("err = %v", err)
	}
}
