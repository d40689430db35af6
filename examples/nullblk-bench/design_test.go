package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/bench"
)

// The preset the flags ask for: a pilot's advice, then the explicit
// overrides, and the stopping rule.
func TestDesignFlags(t *testing.T) {
	parse := func(args ...string) options {
		t.Helper()
		o, err := parseFlags(args, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	p, until, err := design(parse("-preset", "pilot"), &bytes.Buffer{})
	if err != nil || until != nil || p.Name != "pilot" || p.Instances != 2 || p.ICountRuns != 2 || p.ICountBoots != 3 {
		t.Fatalf("pilot: %+v %v %v", p, until, err)
	}
	var out bytes.Buffer
	pilot := "../../bench/testdata/results-quick-aa.json"
	p, _, err = design(parse("-design-from", pilot), &out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bench.ReadResults(pilot)
	if err != nil {
		t.Fatal(err)
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := a.Design.Cheapest
	if d.Boots == 0 {
		d = a.Design.Recommended
	}
	want := d.Apply(bench.DefaultPreset())
	if p.Instances != want.Instances || p.ICountRuns != want.ICountRuns || p.ICountBoots != want.ICountBoots {
		t.Errorf("-design-from: %d x %d x %d, want the advice's %d x %d x %d", p.ICountBoots, p.Instances, p.ICountRuns,
			want.ICountBoots, want.Instances, want.ICountRuns)
	}
	if !strings.Contains(out.String(), "design from "+pilot) {
		t.Errorf("stdout %q", out.String())
	}
	p, until, err = design(parse("-design-from", pilot, "-instances", "7", "-boots", "9", "-until", "0.05", "-until-each", "-budget", "1h"), &bytes.Buffer{})
	if err != nil || p.Instances != 7 || p.ICountBoots != 9 {
		t.Fatalf("overrides: %+v %v", p, err)
	}
	if until == nil || until.HalfWidth != 0.0005 || !until.Each || until.Budget != time.Hour {
		t.Errorf("stop rule %+v", until)
	}
	if _, _, err := design(parse("-design-from", "/nonexistent/results.json"), &bytes.Buffer{}); err == nil {
		t.Error("-design-from a missing file: no error")
	}
}
