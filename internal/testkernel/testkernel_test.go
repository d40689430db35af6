package testkernel

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestIntegrationTinyRust builds (or finds) both tiny kernels and checks
// that they are what they claim to be.
func TestIntegrationTinyRust(t *testing.T) {
	for _, helpers := range []bool{true, false} {
		t0 := time.Now()
		k := TinyRust(t, helpers)
		t.Logf("helpers=%v: %s", helpers, time.Since(t0).Round(time.Millisecond))
		fi, err := os.Stat(k.BzImage)
		if err != nil || fi.Size() < 100<<10 {
			t.Fatalf("bzImage %s: %v (size %v)", k.BzImage, err, fi)
		}
		cfg, err := os.ReadFile(k.Config)
		if err != nil {
			t.Fatal(err)
		}
		want := "# CONFIG_RUST_INLINE_HELPERS is not set"
		if helpers {
			want = "CONFIG_RUST_INLINE_HELPERS=y"
		}
		for _, w := range []string{want, "CONFIG_RUST=y", "CONFIG_BLK_DEV_RUST_NULL=y", "CONFIG_BLK_DEV_NULL_BLK=y"} {
			if !strings.Contains(string(cfg), w+"\n") {
				t.Errorf("helpers=%v: %s lacks %q", helpers, k.Config, w)
			}
		}
	}
}
