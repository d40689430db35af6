package qemu

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/sysroot"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// arm64CPU is the -cpu of the arm64 integration tests: a fixed, plain
// ARMv8.0 core (QEMU's default on virt is cortex-a15, 32-bit only).
const arm64CPU = "cortex-a57"

// A real arm64 guest under TCG: qemu-system-aarch64 -M virt, the tiny arm64
// Rust kernel, the agent cross-compiled for arm64 and busybox-static:arm64
// from the distribution. Commands run, with their output and exit codes.
func TestIntegrationArm64Run(t *testing.T) {
	testenv.Integration(t)
	testenv.LookPath(t, "qemu-system-aarch64")
	kernel := testkernel.TinyRustArm64(t, true).BzImage
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	initrd, err := BuildInitramfs(ctx, InitramfsSpec{Arch: "arm64", CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	m := Machine{Arch: "arm64", Kernel: kernel, Initramfs: initrd, Accel: AccelTCG, CPU: arm64CPU}
	t0 := time.Now()
	vm, err := Start(ctx, m, StartOptions{Console: &testWriter{t: t}, CacheDir: testenv.CacheDir(t),
		ConsoleLog: filepath.Join(t.TempDir(), "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = vm.Stop(context.Background())
		assertGone(t, vm)
	})
	t.Logf("arm64 booted in %v (guest uptime %v): %s", vm.BootTime(), vm.GuestUptime(), ShellCommand(vm.Argv()))

	res, err := vm.Run(ctx, "uname", "-m")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first command answered %v after Start was called", time.Since(t0))
	if res.ExitCode != 0 || string(res.Stdout) != "aarch64\n" {
		t.Errorf("uname -m: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err = vm.Run(ctx, "cat", "/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.HasPrefix(string(res.Stdout), "Linux version 7.2") {
		t.Errorf("cat /proc/version: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err = vm.Run(ctx, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 42")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 42 || string(res.Stdout) != "to-stdout\n" || string(res.Stderr) != "to-stderr\n" {
		t.Errorf("failing command: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	// Both null-block drivers are built in; null_blk's default device
	// is there.
	res, err = vm.Run(ctx, "sh", "-c", "ls -d /dev/nullb0 && ls /sys/module")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Errorf("null-block drivers: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	t.Logf("drivers: %s", res.Stdout)
}

// fio:arm64 from the distribution in the arm64 guest: its library closure
// (internal/sysroot.Closure) unpacked into a sysroot, the ELF closure of
// /usr/bin/fio resolved against it, and the libraries of bench.FioStubs
// replaced by aarch64 stubs (written for the machine of the library they
// replace). fio starts and runs an io_uring job; an engine whose library
// is stubbed reaches the aarch64 stub code, which prints its message and
// exits 127.
func TestIntegrationArm64Fio(t *testing.T) {
	testenv.Integration(t)
	testenv.LookPath(t, "qemu-system-aarch64")
	kernel := testkernel.TinyRustArm64(t, true).BzImage
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	pkgs, err := sysroot.CachedClosure(ctx, "arm64", []string{"fio"}, sysroot.ClosureOptions{CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	root, err := sysroot.Ensure(ctx, sysroot.Options{CacheDir: testenv.CacheDir(t), Arch: "arm64", Packages: pkgs})
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := BuildInitramfs(ctx, InitramfsSpec{Arch: "arm64", CacheDir: testenv.CacheDir(t), Sysroot: root,
		Binaries: []string{"/usr/bin/fio"}, Stubs: fioStubs()})
	if err != nil {
		t.Fatal(err)
	}
	stubs := 0
	for path, e := range readInitramfs(t, initrd) {
		if bytes.Contains(e.Data, []byte("is a stub in this initramfs")) {
			stubs++
			if !bytes.HasPrefix(e.Data, []byte("\x7fELF")) || binary.LittleEndian.Uint16(e.Data[18:]) != uint16(elf.EM_AARCH64) {
				t.Errorf("stub %s is not an aarch64 ELF", path)
			}
		}
	}
	if stubs != len(fioStubs()) {
		t.Errorf("%d aarch64 stubs in the initramfs, want %d", stubs, len(fioStubs()))
	}
	fi, err := os.Stat(initrd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initramfs %s with stubs: %.1f MiB", initrd, float64(fi.Size())/(1<<20))
	m := Machine{Arch: "arm64", Kernel: kernel, Initramfs: initrd, Accel: AccelTCG, CPU: arm64CPU, MemoryMiB: 1024}
	vm, err := Start(ctx, m, StartOptions{Console: &testWriter{t: t}, CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = vm.Stop(context.Background())
		assertGone(t, vm)
	})
	t.Logf("arm64 booted in %v", vm.BootTime())
	res, err := vm.Run(ctx, "/usr/bin/fio", "--version")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.HasPrefix(string(res.Stdout), "fio-3.") {
		t.Fatalf("fio --version: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err = vm.Run(ctx, "/usr/bin/fio", "--name=r", "--filename=/dev/nullb0", "--rw=randread", "--bs=4k",
		"--ioengine=io_uring", "--direct=1", "--iodepth=4", "--size=4m", "--output-format=terse")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("fio job: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	t.Logf("fio job (terse): %s", res.Stdout)
	// The nbd engine calls into libnbd, a stub: its aarch64 code runs.
	res, err = vm.Run(ctx, "/usr/bin/fio", "--name=n", "--ioengine=nbd", "--uri=nbd://localhost", "--rw=read", "--size=1m")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 127 || !strings.Contains(string(res.Stderr), "rflkit: libnbd.so.0 is a stub") {
		t.Errorf("fio with the stubbed nbd engine: exit %d, stderr %q; want 127 and the stub's message", res.ExitCode, res.Stderr)
	}
}
