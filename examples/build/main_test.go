package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/kbuild"
)

// TestJSONContract builds the fake kernel of kbuild/testdata twice and
// checks the -json object's names: cache_hit, duration_s, config_hash,
// artifacts.
func TestJSONContract(t *testing.T) {
	src, err := filepath.Abs("../../kbuild/testdata/fakekernel")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	args := []string{"-src", src, "-base", "tinyconfig", "-no-detect", "-arch", "x86_64", "-cache", cache, "-json", "bzImage"}
	for i, wantHit := range []bool{false, true} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, errb.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("not one JSON object: %v\n%s", err, out.String())
		}
		if len(m) != 4 {
			t.Errorf("keys %v, want exactly cache_hit, duration_s, config_hash, artifacts", m)
		}
		if hit, ok := m["cache_hit"].(bool); !ok || hit != wantHit {
			t.Errorf("run %d: cache_hit = %v, want %v", i, m["cache_hit"], wantHit)
		}
		if d, ok := m["duration_s"].(float64); !ok || d <= 0 {
			t.Errorf("duration_s = %v", m["duration_s"])
		}
		if h, ok := m["config_hash"].(string); !ok || len(h) != 64 {
			t.Errorf("config_hash = %v", m["config_hash"])
		}
		arts, _ := m["artifacts"].(map[string]any)
		k, _ := arts["kernel"].(string)
		if _, err := os.Stat(k); err != nil || !strings.HasSuffix(k, "arch/x86/boot/bzImage") {
			t.Errorf("artifacts.kernel = %v: %v", arts["kernel"], err)
		}
		if !strings.Contains(errb.String(), "done:") {
			t.Errorf("no plain progress lines on a non-terminal:\n%s", errb.String())
		}
	}
	var errb bytes.Buffer
	if code := cli.Code(run(context.Background(), []string{"-base", "tinyconfig"}, &bytes.Buffer{}, &errb)); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Errorf("no -src: exit %d\n%s", code, errb.String())
	}
}

// TestInlineCheckFlag: -modules needs -tiny-rust; -inline-check on the
// fake kernel (whose files are not ELF) fails with the check's reason.
func TestInlineCheckFlag(t *testing.T) {
	var errb bytes.Buffer
	if code := cli.Code(run(context.Background(), []string{"-src", "x", "-modules"}, &bytes.Buffer{}, &errb)); code != 2 {
		t.Errorf("-modules without -tiny-rust: exit %d\n%s", code, errb.String())
	}
	src, err := filepath.Abs("../../kbuild/testdata/fakekernel")
	if err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	args := []string{"-src", src, "-base", "tinyconfig", "-no-detect", "-arch", "x86_64", "-cache", t.TempDir(), "-json", "-inline-check", "bzImage"}
	if code := cli.Code(run(context.Background(), args, &bytes.Buffer{}, &errb)); code != 1 || !strings.Contains(errb.String(), "inline check") {
		t.Errorf("-inline-check on a fake kernel: exit %d\n%s", code, errb.String())
	}
}

// TestInlineJSON: the inline_check object's keys, and [] for a module
// that imports no helper.
func TestInlineJSON(t *testing.T) {
	r := &kbuild.InlineReport{InlineHelpers: true, Vmlinux: []string{"rust_helper_a"}, RustObjectCount: 10,
		RustObjects: map[string][]string{}, Modules: map[string][]string{"rnull_mod": nil, "null_blk": {}}}
	b, err := json.Marshal(toInlineJSON(r))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"inline_helpers":true,"inlined":true,"vmlinux_helpers":1,"rust_objects":10,"rust_objects_out_of_line":{},"modules_out_of_line":{"null_blk":[],"rnull_mod":[]}}`
	if string(b) != want {
		t.Errorf("inline_check = %s\nwant %s", b, want)
	}
	var out bytes.Buffer
	printInline(&out, r)
	if !strings.Contains(out.String(), "module rnull_mod imports 0 rust_helper_* symbols") {
		t.Errorf("printInline:\n%s", out.String())
	}
}
