package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/internal/testenv"
)

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-nosuchflag"},
		{"extra"},
		{"-src", filepath.Join(t.TempDir(), "missing")},
	} {
		var out, errb bytes.Buffer
		if code := runCLI(args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

// A machine with no tools at all: exit 1, every check 1 problem listed,
// the fallback minimums announced.
func TestNoToolchain(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("HOME", empty)
	t.Setenv("RUSTUP_HOME", empty)
	for _, v := range []string{"RUSTC", "BINDGEN", "CC", "LLVM", "RUST_LIB_SRC", "ARCH"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	var out, errb bytes.Buffer
	if code := runCLI(nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{"built-in fallback", "no rustc in PATH", "no bindgen in PATH", "Rust can be enabled (make rustavailable):      NO", "RUST_INLINE_HELPERS can be enabled:            NO"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

// On the real machine and the real 7.2 tree: exit 0, and the JSON object
// has the keys the issue names.
func TestIntegrationDoctorJSON(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	var out, errb bytes.Buffer
	code := runCLI([]string{"-src", src, "-arch", "x86_64", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stderr %q\n%s", code, errb.String(), out.String())
	}
	var obj struct {
		RustAvailable *bool                        `json:"rust_available"`
		InlineHelpers *bool                        `json:"inline_helpers"`
		Chosen        map[string]map[string]string `json:"chosen"`
		Candidates    []map[string]any             `json:"candidates"`
		Problems      []map[string]any             `json:"problems"`
		MakeVars      map[string]string            `json:"make_vars"`
	}
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	if obj.RustAvailable == nil || !*obj.RustAvailable || obj.InlineHelpers == nil || !*obj.InlineHelpers {
		t.Errorf("verdicts %v %v", obj.RustAvailable, obj.InlineHelpers)
	}
	for _, tool := range []string{"rustc", "bindgen", "clang", "ld.lld", "libclang"} {
		if c := obj.Chosen[tool]; c["path"] == "" || c["version"] == "" {
			t.Errorf("chosen[%s] = %v", tool, c)
		}
	}
	if len(obj.Candidates) < 5 || obj.Problems == nil {
		t.Errorf("%d candidates; problems %v", len(obj.Candidates), obj.Problems)
	}
	if obj.MakeVars["RUSTC"] == "" || obj.MakeVars["LLVM"] == "" || obj.MakeVars["BINDGEN"] == "" {
		t.Errorf("make_vars %v", obj.MakeVars)
	}

	// Forced to the rustup rustc (no rust-src): exit 1, with the problem.
	t.Setenv("RUSTC", filepath.Join(os.Getenv("HOME"), ".cargo", "bin", "rustc"))
	out.Reset()
	if code := runCLI([]string{"-src", src}, &out, &errb); code != 1 {
		t.Fatalf("exit %d with the rustup rustc, want 1\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "(rust, rust-src)") {
		t.Errorf("no rust-src problem:\n%s", out.String())
	}
}

// runCLI runs the command as main does and returns its exit code.
func runCLI(args []string, stdout, stderr io.Writer) int {
	return cli.Run(context.Background(), "doctor", run, args, stdout, stderr)
}
