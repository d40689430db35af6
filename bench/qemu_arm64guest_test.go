package bench

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// arm64 guests: qemu-system-aarch64 -M virt, -cpu cortex-a57 in every
// mode (virt's default is a 32-bit core), no PC boot words, BootArgs kept.
func TestMachineArm64(t *testing.T) {
	for _, mode := range []Mode{ModeICount, ModeWall} {
		m := QEMUOptions{Arch: "arm64"}.machine(BootRequest{Mode: mode, Kernel: KernelArm{BzImage: "/Image"}}, "/initrd")
		if m.Arch != "arm64" || m.CPU != DefaultICountCPUArm64 || m.Binary() != "qemu-system-aarch64" {
			t.Errorf("%v: arch %q cpu %q binary %q", mode, m.Arch, m.CPU, m.Binary())
		}
		cl := m.CommandLine()
		if !strings.HasPrefix(cl, "console=ttyAMA0 ") || !strings.HasSuffix(cl, " "+BootArgs) || strings.Contains(cl, "i8042") || strings.Contains(cl, "apic") {
			t.Errorf("%v: command line %q", mode, cl)
		}
		argv, err := m.Argv()
		if err != nil {
			t.Fatal(err)
		}
		if j := strings.Join(argv, " "); !strings.Contains(j, "-machine virt") || strings.Contains(j, "qemu-system-x86_64") {
			t.Errorf("%v: argv %q", mode, j)
		}
	}
	if m := (QEMUOptions{Arch: "arm64", CPU: "max"}).machine(BootRequest{Mode: ModeICount}, ""); m.CPU != "max" {
		t.Errorf("QEMUOptions.CPU not honoured: %q", m.CPU)
	}
	// x86_64 wall-clock boots keep QEMU's default CPU.
	if m := (QEMUOptions{Arch: "x86_64"}).machine(BootRequest{Mode: ModeWall}, ""); m.CPU != "" || m.Binary() != "qemu-system-x86_64" {
		t.Errorf("x86_64 wall boot: cpu %q binary %q", m.CPU, m.Binary())
	}
	for arch, want := range map[string]string{"": "qemu64", "x86_64": "qemu64", "arm64": "cortex-a57", "riscv": ""} {
		if got := DefaultICountCPUFor(arch); got != want {
			t.Errorf("DefaultICountCPUFor(%q) = %q, want %q", arch, got, want)
		}
	}
}

// The arm64 initramfs takes fio from the sysroot (the host path is not
// used), with FioStubs, for arm64; x86_64's spec is unchanged.
func TestInitramfsSpecArm64(t *testing.T) {
	o := QEMUOptions{Arch: "arm64", CacheDir: "/cache", sysroot: "/cache/sysroot/abc"}
	spec := o.initramfsSpec("/usr/local/bin/host-fio")
	if spec.Arch != "arm64" || spec.Sysroot != "/cache/sysroot/abc" || !slices.Equal(spec.Binaries, []string{"/usr/bin/fio"}) ||
		!reflect.DeepEqual(spec.Stubs, FioStubs()) || spec.FullLibraries {
		t.Errorf("arm64 spec %+v", spec)
	}
	if !o.foreign() || (QEMUOptions{}).foreign() || (QEMUOptions{Arch: "x86_64"}).foreign() {
		t.Error("foreign() wrong")
	}
	x := QEMUOptions{Arch: "x86_64"}.initramfsSpec("/usr/bin/fio")
	if x.Arch != "" || x.Sysroot != "" || !slices.Equal(x.Binaries, []string{"/usr/bin/fio"}) {
		t.Errorf("x86_64 spec %+v", x)
	}
	// withSysroot does nothing for the host's architecture.
	if got, err := (QEMUOptions{}).withSysroot(context.Background()); err != nil || got.sysroot != "" {
		t.Errorf("withSysroot on x86_64: %q, %v", got.sysroot, err)
	}
}

// A kernel's arch comes from its .config; results without Arch fall back
// to the kernels', then x86_64; RecordArch asks the arch's QEMU.
func TestArchMetadata(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "Image")
	if err := os.WriteFile(img, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	for cfg, want := range map[string]string{
		"CONFIG_ARM64=y\nCONFIG_64BIT=y\n":              "arm64",
		"CONFIG_X86=y\nCONFIG_X86_64=y\nCONFIG_64BIT=y": "x86_64",
		"CONFIG_X86=y\n":                                "i386",
		"CONFIG_RISCV=y\n":                              "riscv",
		"# CONFIG_ARM64 is not set\nCONFIG_FOO=y\n":     "",
	} {
		p := filepath.Join(dir, ".config")
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := DescribeKernel(KernelArm{Name: "k", BzImage: img, Config: p})
		if err != nil || m.Arch != want {
			t.Errorf("%q: arch %q, %v; want %q", cfg, m.Arch, err, want)
		}
	}
	r := &Results{Kernels: []KernelMeta{{Arch: "arm64"}, {Arch: "arm64"}}}
	if got := r.Architecture(); got != "arm64" {
		t.Errorf("Architecture from kernels = %q", got)
	}
	r.Kernels[1].Arch = "x86_64"
	if got := r.Architecture(); got != "x86_64" {
		t.Errorf("Architecture of mixed kernels = %q", got)
	}
	if got := (&Results{}).Architecture(); got != "x86_64" {
		t.Errorf("Architecture of an old file = %q", got)
	}

	bin := t.TempDir()
	fake := "#!/bin/sh\necho 'QEMU emulator version 9.9.9 (fake aarch64)'\necho second line\n"
	if err := os.WriteFile(filepath.Join(bin, "qemu-system-aarch64"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	r = &Results{Host: HostInfo{QEMUVersion: "QEMU emulator version 7.2 (x86_64)"}}
	RecordArch(context.Background(), r, "arm64")
	if r.Arch != "arm64" || r.Host.QEMUVersion != "QEMU emulator version 9.9.9 (fake aarch64)" || r.Architecture() != "arm64" {
		t.Errorf("RecordArch(arm64): arch %q, QEMU %q", r.Arch, r.Host.QEMUVersion)
	}
	r = &Results{Host: HostInfo{QEMUVersion: "x86 one"}}
	RecordArch(context.Background(), r, "")
	if r.Arch != "x86_64" || r.Host.QEMUVersion != "x86 one" {
		t.Errorf("RecordArch(\"\"): arch %q, QEMU %q", r.Arch, r.Host.QEMUVersion)
	}
	if h := DescribeHostFor(context.Background(), "arm64"); h.QEMUVersion != "QEMU emulator version 9.9.9 (fake aarch64)" {
		t.Errorf("DescribeHostFor(arm64).QEMUVersion = %q", h.QEMUVersion)
	}
}
