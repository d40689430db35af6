package fragment

import (
	"strings"
	"testing"
)

func TestTinyRust(t *testing.T) {
	for _, h := range []bool{true, false} {
		f := TinyRust(h)
		for _, want := range []string{"CONFIG_RUST=y\n", "CONFIG_BLK_DEV_NULL_BLK=y\n", "CONFIG_BLK_DEV_RUST_NULL=y\n", "CONFIG_SYSVIPC=y\n", "CONFIG_TIMERFD=y\n", "# CONFIG_MODVERSIONS is not set\n"} {
			if !strings.Contains(f, want) {
				t.Errorf("helpers=%v: fragment lacks %q", h, want)
			}
		}
		if strings.Contains(f, "CONFIG_TMPFS") {
			t.Errorf("fragment requests TMPFS, which tinyconfig's SHMEM=n drops")
		}
		last := f[strings.LastIndex(strings.TrimSuffix(f, "\n"), "\n")+1:]
		want := "# CONFIG_RUST_INLINE_HELPERS is not set\n"
		if h {
			want = "CONFIG_RUST_INLINE_HELPERS=y\n"
		}
		if last != want {
			t.Errorf("helpers=%v: last line %q, want %q", h, last, want)
		}
	}
}

func TestTinyRustModules(t *testing.T) {
	for _, h := range []bool{true, false} {
		f := TinyRustModules(h)
		if !strings.HasPrefix(f, TinyRust(h)) {
			t.Errorf("helpers=%v: the module fragment does not build on TinyRust", h)
		}
		mods := f[len(TinyRust(h)):]
		if mods != Modules() {
			t.Errorf("helpers=%v: module part %q, want Modules()", h, mods)
		}
		for _, want := range []string{"CONFIG_MODULES=y\n", "CONFIG_MODULE_UNLOAD=y\n", "CONFIG_KALLSYMS=y\n", "# CONFIG_MODVERSIONS is not set\n", "CONFIG_BLK_DEV_NULL_BLK=m\n", "CONFIG_BLK_DEV_RUST_NULL=m\n"} {
			if !strings.Contains(mods, want) {
				t.Errorf("module fragment lacks %q", want)
			}
		}
		// Later lines win: the drivers' last values are =m.
		for _, sym := range []string{"CONFIG_BLK_DEV_NULL_BLK=", "CONFIG_BLK_DEV_RUST_NULL="} {
			i := strings.LastIndex(f, sym)
			if i < 0 || f[i+len(sym)] != 'm' {
				t.Errorf("helpers=%v: last %s is not m", h, sym)
			}
		}
	}
}

func TestTinyRustArm64(t *testing.T) {
	for _, h := range []bool{true, false} {
		f := TinyRustArm64(h)
		for _, want := range []string{"CONFIG_RUST=y\n", "CONFIG_BLK_DEV_NULL_BLK=y\n", "CONFIG_BLK_DEV_RUST_NULL=y\n", "CONFIG_SERIAL_AMBA_PL011_CONSOLE=y\n", "CONFIG_VIRTIO_MMIO=y\n", "CONFIG_VIRTIO_CONSOLE=y\n", "# CONFIG_MODVERSIONS is not set\n"} {
			if !strings.Contains(f, want) {
				t.Errorf("helpers=%v: arm64 fragment lacks %q", h, want)
			}
		}
		for _, bad := range []string{"CONFIG_SERIAL_8250", "CONFIG_VIRTIO_PCI", "CONFIG_TMPFS"} {
			if strings.Contains(f, bad) {
				t.Errorf("helpers=%v: arm64 fragment has %s", h, bad)
			}
		}
		if got, ok := TinyRustFor("arm64", h); !ok || got != f {
			t.Errorf("TinyRustFor(arm64) differs from TinyRustArm64")
		}
		if got, ok := TinyRustFor("x86_64", h); !ok || got != TinyRust(h) {
			t.Errorf("TinyRustFor(x86_64) differs from TinyRust")
		}
	}
	if _, ok := TinyRustFor("riscv", true); ok {
		t.Error("TinyRustFor(riscv) ok")
	}
}

func TestTinyRustModulesFor(t *testing.T) {
	for _, h := range []bool{true, false} {
		if f, ok := TinyRustModulesFor("x86_64", h); !ok || f != TinyRustModules(h) {
			t.Errorf("x86_64 helpers=%v: not TinyRustModules", h)
		}
		f, ok := TinyRustModulesFor("arm64", h)
		if !ok || f != TinyRustArm64(h)+Modules() {
			t.Errorf("arm64 helpers=%v: not TinyRustArm64 + Modules", h)
		}
	}
	if _, ok := TinyRustModulesFor("riscv", true); ok {
		t.Error("riscv: ok")
	}
}
