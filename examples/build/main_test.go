package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, code, errb.String())
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
	if code := run([]string{"-base", "tinyconfig"}, &bytes.Buffer{}, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Errorf("no -src: exit %d\n%s", code, errb.String())
	}
}
