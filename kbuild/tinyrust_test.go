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
