package qemu

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// The arm64 module kernels (kbuild.TinyRustModulesFor "arm64", helpers on
// and off, built from the built-in arm64 kernels' objects) in an arm64
// guest: null_blk (nr_devices=0) and rnull_mod load, a configfs device of
// each reads 1 MiB, both unload, and rnull_mod loads again; /proc/kallsyms
// lists rnull_mod's symbols at kernel addresses.
func TestIntegrationArm64Modules(t *testing.T) {
	testenv.Integration(t)
	testenv.LookPath(t, "qemu-system-aarch64")
	for _, helpers := range []bool{true, false} {
		mk := testkernel.TinyRustModulesArm64(t, helpers)
		t.Logf("arm64 module kernel helpers=%v: seeded from %q, make %s, cache hit %v", helpers, mk.Result.SeededFrom, mk.Result.BuildTime.Round(time.Second), mk.Result.CacheHit)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		initrd, err := BuildInitramfs(ctx, InitramfsSpec{Arch: "arm64", CacheDir: testenv.CacheDir(t), Modules: []string{mk.NullBlk, mk.RustNull}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		m := Machine{Arch: "arm64", Kernel: mk.BzImage, Initramfs: initrd, Accel: AccelTCG, CPU: arm64CPU}
		vm, err := Start(ctx, m, StartOptions{Console: &testWriter{t: t}, CacheDir: testenv.CacheDir(t)})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
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
		for _, mod := range []struct{ name, params string }{{"null_blk", "nr_devices=0"}, {"rnull_mod", ""}} {
			res, err := vm.LoadModule(ctx, mod.name, mod.params)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("helpers=%v: loaded %s in %s; dmesg: %q", helpers, mod.name, res.Duration, res.Dmesg)
		}
		out := sh(`grep -c '\[rnull_mod\]' /proc/kallsyms; cat /sys/module/rnull_mod/sections/.text; [ ! -e /dev/nullb0 ]`)
		if f := strings.Fields(out); len(f) != 2 || f[0] == "0" || !strings.HasPrefix(f[1], "0xffff") {
			t.Errorf("rnull_mod symbols and .text: %q, want a count and a kernel address", out)
		}
		for _, d := range []struct{ sub, name, attrs string }{
			{"nullb", "nb0", "blocksize=4096 irqmode=0 hw_queue_depth=256 completion_nsec=0 memory_backed=0 size=4096"},
			{"rnull", "rn0", "blocksize=4096 irqmode=0 size=4096"},
		} {
			dir := "/sys/kernel/config/" + d.sub + "/" + d.name
			out := sh(`set -e
mkdir ` + dir + `
for a in ` + d.attrs + `; do echo "${a#*=}" > ` + dir + `/"${a%%=*}"; done
echo 1 > ` + dir + `/power
i=0; while [ ! -b /dev/` + d.name + ` ]; do i=$((i+1)); [ $i -le 100 ]; sleep 0.05; done
dd if=/dev/` + d.name + ` of=/dev/null bs=4096 count=256 2>&1
echo 0 > ` + dir + `/power
rmdir ` + dir)
			if !strings.Contains(out, "256+0 records in") {
				t.Errorf("helpers=%v: %s: dd read %q, want 256 blocks", helpers, d.name, out)
			}
		}
		for _, name := range []string{"rnull_mod", "null_blk"} {
			if _, err := vm.UnloadModule(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		sh("[ ! -e /sys/module/null_blk ] && [ ! -e /sys/module/rnull_mod ]")
		if _, err := vm.LoadModule(ctx, "rnull_mod", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := vm.UnloadModule(ctx, "rnull_mod"); err != nil {
			t.Fatal(err)
		}
		if p := vm.Problems(); len(p) > 0 {
			t.Errorf("helpers=%v: kernel problems: %v", helpers, p)
		}
		_ = vm.Stop(context.Background())
		assertGone(t, vm)
		cancel()
	}
}
