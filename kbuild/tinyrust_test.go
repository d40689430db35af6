package kbuild

import (
	"reflect"
	"strings"
	"testing"
)

// TinyRustFor gives x86_64 exactly TinyRust (its cache keys must not
// move), arm64 its own fragment, and an error elsewhere.
func TestTinyRustFor(t *testing.T) {
	for _, h := range []bool{true, false} {
		for _, arch := range []string{"x86_64", "x86"} {
			got, err := TinyRustFor(arch, h)
			if err != nil || !reflect.DeepEqual(got, TinyRust(h)) {
				t.Errorf("TinyRustFor(%s, %v) = %+v, %v; want TinyRust", arch, h, got, err)
			}
		}
		a, err := TinyRustFor("arm64", h)
		if err != nil || a.Base != "tinyconfig" || len(a.Inline) != 1 || !strings.Contains(a.Inline[0], "CONFIG_SERIAL_AMBA_PL011=y") {
			t.Errorf("TinyRustFor(arm64, %v) = %+v, %v", h, a, err)
		}
	}
	if _, err := TinyRustFor("riscv", true); err == nil {
		t.Error("TinyRustFor(riscv): no error")
	}
}

// TinyRustModulesFor gives x86_64 exactly TinyRustModules, arm64 its
// fragment plus the module one (the drivers' last lines =m), and an error
// elsewhere.
func TestTinyRustModulesFor(t *testing.T) {
	for _, h := range []bool{true, false} {
		got, err := TinyRustModulesFor("x86_64", h)
		if err != nil || !reflect.DeepEqual(got, TinyRustModules(h)) {
			t.Errorf("TinyRustModulesFor(x86_64, %v) = %+v, %v; want TinyRustModules", h, got, err)
		}
		a, err := TinyRustModulesFor("arm64", h)
		if err != nil || a.Base != "tinyconfig" || len(a.Inline) != 2 {
			t.Fatalf("TinyRustModulesFor(arm64, %v) = %+v, %v", h, a, err)
		}
		all := strings.Join(a.Inline, "")
		for _, want := range []string{"CONFIG_SERIAL_AMBA_PL011=y\n", "CONFIG_MODULES=y\n", "CONFIG_KALLSYMS=y\n"} {
			if !strings.Contains(all, want) {
				t.Errorf("arm64 module config lacks %q", want)
			}
		}
		for _, sym := range []string{"CONFIG_BLK_DEV_NULL_BLK=", "CONFIG_BLK_DEV_RUST_NULL="} {
			if i := strings.LastIndex(all, sym); i < 0 || all[i+len(sym)] != 'm' {
				t.Errorf("arm64 module config: last %s is not m", sym)
			}
		}
	}
	if _, err := TinyRustModulesFor("riscv", true); err == nil {
		t.Error("TinyRustModulesFor(riscv): no error")
	}
}

func TestBootTarget(t *testing.T) {
	for arch, want := range map[string]string{"x86_64": "bzImage", "x86": "bzImage", "arm64": "Image", "riscv": "", "nonsense": ""} {
		if got := BootTarget(arch); got != want {
			t.Errorf("BootTarget(%q) = %q, want %q", arch, got, want)
		}
	}
}
