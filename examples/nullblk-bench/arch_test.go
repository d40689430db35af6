package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench"
)

// -arch takes x86_64 and arm64 only; -compare-arch needs its second file.
func TestArchFlags(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-arch", "riscv"}, `-arch "riscv": want x86_64 or arm64`},
		{[]string{"-compare-arch", "a.json"}, "-compare-arch a.json needs the second results.json"},
		{[]string{"-compare-arch", "a.json", "b.json", "c.json"}, "-compare-arch a.json needs the second results.json"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), c.args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 2 || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("%q: exit code %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.stderr)
		}
	}
	o, err := parseFlags([]string{"-arch", "arm64"}, &bytes.Buffer{})
	if err != nil || o.arch != "arm64" {
		t.Errorf("-arch arm64: %+v, %v", o, err)
	}
	if o, _ := parseFlags(nil, &bytes.Buffer{}); o.arch != "x86_64" {
		t.Errorf("default -arch %q", o.arch)
	}
}

// -compare-arch prints a real quick run beside a copy of it recorded as
// arm64, and refuses two runs of one architecture.
func TestCompareArch(t *testing.T) {
	const x86 = "../../bench/testdata/results-quick-aa.json"
	r, err := bench.ReadResults(x86)
	if err != nil {
		t.Fatal(err)
	}
	r.Arch = "arm64"
	arm := filepath.Join(t.TempDir(), "arm64.json")
	if err := r.WriteFile(arm); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-compare-arch", x86, arm}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"# x86_64 vs arm64", "| x86_64 | arm64 |", "rnull vs null_blk"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	err = run(context.Background(), []string{"-compare-arch", x86, x86}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "both runs are x86_64") {
		t.Errorf("same architecture: err = %v", err)
	}
}
