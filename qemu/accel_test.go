package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// accelFixture is a fake QEMU with a fake KVM device (a file that opens),
// a private cache and a log of the fake's runs.
type accelFixture struct {
	t     *testing.T
	exe   string
	dir   string
	log   string
	opts  ProbeOptions
	cache string
}

func newAccelFixture(t *testing.T) *accelFixture {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &accelFixture{t: t, exe: exe, dir: dir, log: filepath.Join(dir, "runs.log"), cache: filepath.Join(dir, "cache")}
	t.Setenv("RFLKIT_FAKE_QEMU", "ok")
	t.Setenv("RFLKIT_FAKE_QEMU_LOG", f.log)
	t.Setenv("TMPDIR", t.TempDir())
	kvm := filepath.Join(dir, "kvm")
	if err := os.WriteFile(kvm, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.opts = ProbeOptions{CacheDir: f.cache, KVMDevice: kvm, Timeout: 300 * time.Millisecond, ConfirmTimeout: 20 * time.Second}
	return f
}

// kernel writes a fake kernel that makes the fake QEMU behave as mode.
func (f *accelFixture) kernel(name, mode string) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte("fake-mode:"+mode+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *accelFixture) machine(kernel string) Machine {
	return Machine{QEMU: f.exe, Kernel: kernel, Initramfs: kernel}
}

// runs returns the fake QEMU's runs so far ("accel=kvm mode=ok") and
// forgets them.
func (f *accelFixture) runs() []string {
	f.t.Helper()
	b, err := os.ReadFile(f.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	os.Remove(f.log)
	return strings.Fields(strings.ReplaceAll(string(b), " mode=", "/"))
}

func (f *accelFixture) choose(kernel string) AccelChoice {
	f.t.Helper()
	c, err := ChooseAccel(context.Background(), f.machine(kernel), f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// A kernel that fails under KVM and under TCG is broken: its failure is
// not a verdict on KVM, is not cached, and does not decide the
// accelerator of another kernel.
func TestChooseAccelBrokenKernelNotCached(t *testing.T) {
	f := newAccelFixture(t)
	garbage := f.kernel("garbage", "garbage")
	good := f.kernel("good", "ok")

	c := f.choose(garbage)
	if c.Accel != AccelTCG || c.Cached || !strings.Contains(c.Reason, "fails under TCG too") || !strings.Contains(c.Reason, "not cached") {
		t.Errorf("garbage kernel: %+v", c)
	}
	if got := f.runs(); strings.Join(got, " ") != "accel=kvm/garbage accel=tcg/garbage" {
		t.Errorf("garbage kernel: runs %q, want a KVM probe and a TCG check", got)
	}
	// Not cached: the next call probes again.
	if c := f.choose(garbage); c.Cached || c.Accel != AccelTCG {
		t.Errorf("garbage kernel, second call: %+v", c)
	}
	if got := f.runs(); len(got) != 2 {
		t.Errorf("garbage kernel, second call: runs %q, want a new probe", got)
	}

	// The good kernel gets KVM (one probe), then from the cache.
	if c := f.choose(good); c.Accel != AccelKVM || c.Cached {
		t.Errorf("good kernel after a garbage one: %+v", c)
	}
	if got := f.runs(); strings.Join(got, " ") != "accel=kvm/ok" {
		t.Errorf("good kernel: runs %q", got)
	}
	if c := f.choose(good); c.Accel != AccelKVM || !c.Cached {
		t.Errorf("good kernel, second call: %+v, want the cached KVM", c)
	}
	if got := f.runs(); len(got) != 0 {
		t.Errorf("good kernel, second call: runs %q, want none", got)
	}
}

// A kernel that hangs under KVM but boots under TCG (a stock kernel on a
// PVM host) is a KVM verdict: TCG, cached for that kernel only.
func TestChooseAccelKVMHangCachedPerKernel(t *testing.T) {
	f := newAccelFixture(t)
	pvm := f.kernel("pvm", "kvm-hang")
	good := f.kernel("good", "ok")

	c := f.choose(pvm)
	if c.Accel != AccelTCG || c.Cached || !strings.Contains(c.Reason, "boots under TCG") || !strings.Contains(c.Reason, "Linux version 7.2.12-fake") {
		t.Errorf("kvm-hang kernel: %+v", c)
	}
	if got := f.runs(); strings.Join(got, " ") != "accel=kvm/kvm-hang accel=tcg/kvm-hang" {
		t.Errorf("kvm-hang kernel: runs %q", got)
	}
	if c := f.choose(pvm); c.Accel != AccelTCG || !c.Cached {
		t.Errorf("kvm-hang kernel, second call: %+v, want the cached TCG", c)
	}
	// Another kernel is probed on its own.
	if c := f.choose(good); c.Accel != AccelKVM || c.Cached {
		t.Errorf("good kernel after a kvm-hang one: %+v", c)
	}
	if got := f.runs(); strings.Join(got, " ") != "accel=kvm/ok" {
		t.Errorf("runs %q", got)
	}

	// The verdict follows the kernel's content, not its path.
	if err := os.WriteFile(pvm, []byte("fake-mode:ok\nrebuilt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := f.choose(pvm); c.Accel != AccelKVM || c.Cached {
		t.Errorf("rebuilt kernel at the same path: %+v, want a new probe", c)
	}
}

// Start with Accel auto: when the KVM probe fails, Start's own boot under
// TCG is the check (no third boot); it caches TCG if that boot works and
// nothing if it fails, and then returns the TCG boot's error.
func TestStartAutoAccelConfirmsWithItsOwnBoot(t *testing.T) {
	f := newAccelFixture(t)
	pvm := f.kernel("pvm", "kvm-hang")
	opts := StartOptions{CacheDir: f.cache, Probe: f.opts, BootTimeout: 20 * time.Second}
	ctx := context.Background()
	vm, err := Start(ctx, f.machine(pvm), opts)
	if err != nil {
		t.Fatal(err)
	}
	if a := vm.Accel(); a.Accel != AccelTCG || !strings.Contains(a.Reason, "boots under TCG") {
		t.Errorf("Start chose %+v", a)
	}
	if err := vm.Stop(ctx); err != nil {
		t.Error(err)
	}
	if got := f.runs(); strings.Join(got, " ") != "accel=kvm/kvm-hang accel=tcg/kvm-hang" {
		t.Errorf("runs %q, want the probe and one boot", got)
	}
	if c := f.choose(pvm); !c.Cached || c.Accel != AccelTCG {
		t.Errorf("after Start: %+v, want the cached TCG", c)
	}

	garbage := f.kernel("garbage", "garbage")
	_, err = Start(ctx, f.machine(garbage), opts)
	var ge *GuestError
	if !errors.As(err, &ge) || !ge.Exited || !strings.Contains(err.Error(), "the kernel is garbage") {
		t.Errorf("Start of a garbage kernel: %v, want QEMU's message", err)
	}
	if got := f.runs(); strings.Join(got, " ") != "accel=kvm/garbage accel=tcg/garbage" {
		t.Errorf("garbage: runs %q", got)
	}
	if c := f.choose(garbage); c.Cached {
		t.Errorf("a garbage kernel's verdict was cached: %+v", c)
	}
}

// A QEMU binary that changes is a new host key.
func TestHostKeyQEMUIdentity(t *testing.T) {
	f := newAccelFixture(t)
	ctx := context.Background()
	k1, err := HostKey(ctx, f.exe)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(k1, f.exe) || !strings.Contains(k1, "QEMU emulator version 7.2.99 (fake)") {
		t.Errorf("HostKey %q lacks the binary or its version", k1)
	}
	// A copy elsewhere (another build) is another key.
	b, err := os.ReadFile(f.exe)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(f.dir, "qemu-system-x86_64")
	if err := os.WriteFile(other, b, 0o755); err != nil {
		t.Fatal(err)
	}
	k2, err := HostKey(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 {
		t.Errorf("two QEMU binaries share the key %q", k1)
	}
	var me *MachineError
	if _, err := HostKey(ctx, filepath.Join(f.dir, "no-such-qemu")); !errors.As(err, &me) || me.Field != "QEMU" {
		t.Errorf("HostKey of a missing binary: %v, want a *MachineError for QEMU", err)
	}
}

// ICount needs TCG: no probe.
func TestChooseAccelICount(t *testing.T) {
	f := newAccelFixture(t)
	m := f.machine(f.kernel("good", "ok"))
	m.ICount = &ICount{}
	c, err := ChooseAccel(context.Background(), m, f.opts)
	if err != nil || c.Accel != AccelTCG {
		t.Errorf("ICount: %+v %v", c, err)
	}
	if got := f.runs(); len(got) != 0 {
		t.Errorf("ICount: runs %q, want none", got)
	}
}
