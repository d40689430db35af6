package qemu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

func TestModuleError(t *testing.T) {
	err := error(&ModuleError{Op: "load", Module: "null_blk", Errno: syscall.EINVAL, Reason: "invalid argument",
		Dmesg: "[    1.000000] null_blk: `bogus' invalid for parameter `nr_devices'\n"})
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("errors.Is(EINVAL) false for %v", err)
	}
	var me *ModuleError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &me) || me.Module != "null_blk" {
		t.Errorf("errors.As failed")
	}
	for _, want := range []string{"qemu: load module null_blk: invalid argument", "dmesg:", "invalid for parameter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Error() = %q lacks %q", err.Error(), want)
		}
	}
	if (&ModuleError{Op: "load", Module: "x", Reason: "no module file given"}).Unwrap() != nil {
		t.Error("Unwrap without an errno is not nil")
	}
}

// moduleDeviceScript creates a configfs device (the steps and fair
// parameters of bench/device.go's SetupScript, duplicated here as a few
// shell lines: qemu's tests do not import bench), runs a short fio on it,
// and removes it unless keep is set.
func moduleDeviceScript(sub, name, attrs string, keep bool) string {
	dir := "/sys/kernel/config/" + sub + "/" + name
	s := fmt.Sprintf(`set -e
mkdir %[1]s
for a in %[3]s; do echo "${a#*=}" > %[1]s/"${a%%%%=*}"; done
echo 1 > %[1]s/power
i=0; while [ ! -b /dev/%[2]s ]; do i=$((i+1)); [ $i -le 100 ]; sleep 0.05; done
echo none > /sys/block/%[2]s/queue/scheduler
fio --name=t --filename=/dev/%[2]s --ioengine=io_uring --direct=1 --rw=randread --bs=4k --iodepth=8 \
    --size=16M --io_size=16M --output-format=terse --terse-version=3 | cut -d';' -f1-3,6-8
`, dir, name, attrs)
	if !keep {
		s += fmt.Sprintf("echo 0 > %[1]s/power\nrmdir %[1]s\n", dir)
	}
	return s
}

// TestIntegrationModules boots the helpers-on module kernel under TCG,
// loads null_blk (nr_devices=0) and rnull_mod, runs a short fio on a
// configfs device of each, unloads both, and checks that refusals (a bogus
// parameter, a second load, unloading a module in use (EAGAIN) or not
// loaded (ENOENT)) come
// back as *ModuleError with errno and the kernel's lines.
func TestIntegrationModules(t *testing.T) {
	testenv.Integration(t)
	fio := testenv.LookPath(t, "fio")
	mk := testkernel.TinyRustModules(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{Binaries: []string{fio}, Stubs: fioStubs(), Modules: []string{mk.NullBlk, mk.RustNull}},
		func(m *Machine) { m.Kernel = mk.BzImage })
	sh := func(script string) string {
		t.Helper()
		res, err := vm.Run(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("%s: exit %d\n%s%s", script, res.ExitCode, res.Stdout, res.Stderr)
		}
		return string(res.Stdout)
	}
	wantModErr := func(err error, op, mod string, errno syscall.Errno) *ModuleError {
		t.Helper()
		var me *ModuleError
		if !errors.As(err, &me) || me.Op != op || me.Module != mod || !errors.Is(err, errno) {
			t.Fatalf("%s %s: err = %v, want a *ModuleError with %v", op, mod, err, errno)
		}
		t.Logf("%s %s refused as expected: %v", op, mod, err)
		return me
	}

	// A bogus parameter: EINVAL, with the kernel's reason.
	_, err := vm.LoadModule(ctx, "null_blk", "nr_devices=bogus")
	if me := wantModErr(err, "load", "null_blk", syscall.EINVAL); !strings.Contains(me.Dmesg, "nr_devices") {
		t.Errorf("dmesg of the bogus load lacks the parameter: %q", me.Dmesg)
	}
	// Not loaded: ENOENT.
	_, err = vm.UnloadModule(ctx, "null_blk")
	wantModErr(err, "unload", "null_blk", syscall.ENOENT)

	for _, m := range []struct{ name, params string }{{"null_blk", "nr_devices=0"}, {"rnull_mod", ""}} {
		res, err := vm.LoadModule(ctx, m.name, m.params)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded %s in %s (wall %s); dmesg: %q", m.name, res.Duration, res.Wall.Round(time.Millisecond), res.Dmesg)
	}
	_, err = vm.LoadModule(ctx, "rnull_mod", "")
	wantModErr(err, "load", "rnull_mod", syscall.EEXIST)
	// KALLSYMS gives the modules' section addresses (what maps a module's
	// code to its functions) and their symbols in /proc/kallsyms.
	// The section files are binary attributes that answer only a read at
	// offset 0 (busybox's read builtin reads byte by byte): cat them.
	out := sh(`for m in null_blk rnull_mod; do echo "$m $(cat /sys/module/$m/sections/.text)"; done
grep -c '\[rnull_mod\]' /proc/kallsyms; [ ! -e /dev/nullb0 ]`)
	t.Logf("sections and kallsyms: %s", out)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[:2] {
		if f := strings.Fields(l); len(f) != 2 || !strings.HasPrefix(f[1], "0xffffffff") {
			t.Errorf("module .text address %q: want a kernel address", l)
		}
	}

	out = sh(moduleDeviceScript("nullb", "nb0", "blocksize=4096 irqmode=0 hw_queue_depth=256 completion_nsec=0 memory_backed=0 size=4096", true))
	t.Logf("null_blk fio: %s", out)
	checkFio(t, out)
	// The configfs device holds a reference on its module: delete_module
	// with O_NONBLOCK says EAGAIN (EWOULDBLOCK) until it is removed.
	_, err = vm.UnloadModule(ctx, "null_blk")
	wantModErr(err, "unload", "null_blk", syscall.EAGAIN)
	sh("echo 0 > /sys/kernel/config/nullb/nb0/power && rmdir /sys/kernel/config/nullb/nb0")
	out = sh(moduleDeviceScript("rnull", "rn0", "blocksize=4096 irqmode=0 size=4096", false))
	t.Logf("rnull fio: %s", out)
	checkFio(t, out)

	for _, name := range []string{"rnull_mod", "null_blk"} {
		res, err := vm.UnloadModule(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("unloaded %s in %s; dmesg: %q", name, res.Duration, res.Dmesg)
	}
	sh("[ ! -e /sys/module/null_blk ] && [ ! -e /sys/module/rnull_mod ] && [ ! -d /sys/kernel/config/rnull ] && [ ! -d /sys/kernel/config/nullb ]")
	// Reloading works (the per-sample cycle of the published method).
	if _, err := vm.LoadModule(ctx, "rnull_mod", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.UnloadModule(ctx, "rnull_mod"); err != nil {
		t.Fatal(err)
	}
	if p := vm.Problems(); len(p) > 0 {
		t.Errorf("kernel problems: %v", p)
	}
}

// checkFio checks a terse v3 line cut to fields 1-3,6-8: 16 MiB read.
func checkFio(t *testing.T, out string) {
	t.Helper()
	f := strings.Split(strings.TrimSpace(out), ";")
	if len(f) < 6 || f[3] != "16384" {
		t.Errorf("fio read %q, want 16384 KiB", out)
	}
}
