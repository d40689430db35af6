package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
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
	args := []string{"-analyze", "../../bench/testdata/results-quick-aa.json", "-out", out}
	if err := run(context.Background(), args, &stdout, &stdout); err != nil {
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
	err := run(context.Background(), []string{"-preset", "huge", "-out", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("err = %v", err)
	}
	if code := exitCode(err, &bytes.Buffer{}); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

// A bad command line is exit status 2 with the usage on stderr; -h is 0.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-out", t.TempDir(), "extra"}, 2, `nullblk-bench: unexpected arguments ["extra"]`},
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"-seed", "x"}, 2, `invalid value "x" for flag -seed`},
		{[]string{"-h"}, 0, "-build-only"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), c.args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != c.code {
			t.Errorf("%q: exit code %d, want %d (%v)", c.args, code, c.code, err)
		}
		if !strings.Contains(stderr.String(), c.stderr) || !strings.Contains(stderr.String(), "Usage of nullblk-bench") {
			t.Errorf("%q: stderr lacks %q and the usage:\n%s", c.args, c.stderr, stderr.String())
		}
		if c.code == 0 && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: err = %v, want flag.ErrHelp", c.args, err)
		}
		if stdout.Len() > 0 {
			t.Errorf("%q: stdout %q", c.args, stdout.String())
		}
	}
}

// A failed run's error is printed once, with the command's name.
func TestExitCodePrints(t *testing.T) {
	var stderr bytes.Buffer
	if code := exitCode(errors.New("boom"), &stderr); code != 1 || stderr.String() != "nullblk-bench: boom\n" {
		t.Errorf("exit code %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := exitCode(nil, &stderr); code != 0 || stderr.Len() > 0 {
		t.Errorf("nil: exit code %d, stderr %q", code, stderr.String())
	}
}
