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

// TestIntegrationTinyRustModules builds (or finds) both module kernels,
// seeded from the built-in ones, and checks their configuration and
// modules.
func TestIntegrationTinyRustModules(t *testing.T) {
	for _, helpers := range []bool{true, false} {
		TinyRust(t, helpers) // the seed
		k := TinyRustModules(t, helpers)
		t.Logf("helpers=%v: cache hit %v, seeded from %q, make %s, modules %v", helpers, k.Result.CacheHit, k.Result.SeededFrom, k.Result.BuildTime.Round(time.Second), k.Modules)
		cfg, err := os.ReadFile(k.Config)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"CONFIG_MODULES=y", "CONFIG_MODULE_UNLOAD=y", "CONFIG_KALLSYMS=y", "# CONFIG_MODVERSIONS is not set", "CONFIG_BLK_DEV_RUST_NULL=m", "CONFIG_BLK_DEV_NULL_BLK=m"} {
			if !strings.Contains(string(cfg), w+"\n") {
				t.Errorf("helpers=%v: %s lacks %q", helpers, k.Config, w)
			}
		}
		for _, name := range []string{"null_blk", "rnull_mod"} {
			if _, err := os.Stat(k.Modules[name]); err != nil {
				t.Errorf("helpers=%v: module %s: %v", helpers, name, err)
			}
		}
		if !k.Result.CacheHit && k.Result.SeededFrom == "" {
			t.Errorf("helpers=%v: the module kernel was built from scratch, not seeded", helpers)
		}
	}
}

// TestIntegrationTinyRustArm64 builds (or finds) both tiny arm64 kernels:
// an arm64 Image with Rust and both null-block drivers built in; the
// helpers-off one is seeded from the helpers-on one's objects.
func TestIntegrationTinyRustArm64(t *testing.T) {
	for _, helpers := range []bool{true, false} {
		t0 := time.Now()
		k := TinyRustArm64(t, helpers)
		t.Logf("arm64 helpers=%v: %s", helpers, time.Since(t0).Round(time.Millisecond))
		if !strings.HasSuffix(k.BzImage, "arch/arm64/boot/Image") {
			t.Errorf("boot image %s, want arch/arm64/boot/Image", k.BzImage)
		}
		b, err := os.ReadFile(k.BzImage)
		if err != nil {
			t.Fatal(err)
		}
		// The arm64 Image header: magic "ARM\x64" at offset 56.
		if len(b) < 64 || string(b[56:60]) != "ARM\x64" {
			t.Fatalf("%s is not an arm64 Image", k.BzImage)
		}
		cfg, err := os.ReadFile(k.Config)
		if err != nil {
			t.Fatal(err)
		}
		want := "# CONFIG_RUST_INLINE_HELPERS is not set"
		if helpers {
			want = "CONFIG_RUST_INLINE_HELPERS=y"
		}
		for _, w := range []string{want, "CONFIG_ARM64=y", "CONFIG_RUST=y", "CONFIG_BLK_DEV_RUST_NULL=y", "CONFIG_BLK_DEV_NULL_BLK=y", "CONFIG_SERIAL_AMBA_PL011_CONSOLE=y", "CONFIG_VIRTIO_MMIO=y"} {
			if !strings.Contains(string(cfg), w+"\n") {
				t.Errorf("helpers=%v: .config lacks %q", helpers, w)
			}
		}
	}
}
