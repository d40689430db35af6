package tcgplugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
	"github.com/rflkit/rflkit/qemu"
	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// kernelTable returns the tiny Rust kernel and its symbol table (from the
// System.map beside vmlinux), after checking that the kernel is not
// relocated at boot (so System.map's addresses are the run-time ones).
func kernelTable(t testing.TB) (testkernel.Kernel, *tcgplugin.SymbolTable) {
	t.Helper()
	k := testkernel.TinyRust(t, true)
	if k.Vmlinux == "" {
		t.Fatalf("the tiny kernel build has no vmlinux, so no System.map: %+v", k)
	}
	cfg, err := os.ReadFile(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte("\nCONFIG_RANDOMIZE_BASE=y")) {
		t.Fatal("the tiny kernel has RANDOMIZE_BASE: System.map addresses are not the run-time ones")
	}
	f, err := os.Open(filepath.Join(filepath.Dir(k.Vmlinux), "System.map"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := tcgplugin.ReadSystemMap(f)
	if err != nil {
		t.Fatal(err)
	}
	return k, tab
}

// readSnapshots parses the plugin's output file.
func readSnapshots(t *testing.T, path string) []tcgplugin.Snapshot {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snaps, err := tcgplugin.ParseOutput(f)
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

// buildPlugin builds the plugin into the test cache.
func buildPlugin(t *testing.T, ctx context.Context) string {
	t.Helper()
	so, err := tcgplugin.Build(ctx, tcgplugin.BuildOptions{CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	return so
}

// TestIntegrationSystemMap reads the real System.map of the cached tiny
// kernel: the functions the known-answer test needs are there, once, with
// sane ranges, and the map file it makes reads back as the plugin reads it.
func TestIntegrationSystemMap(t *testing.T) {
	testenv.Integration(t)
	_, tab := kernelTable(t)
	t.Logf("%d functions, text %#x..%#x", tab.Len(), tab.Start(), tab.End())
	if tab.Len() < 10000 {
		t.Errorf("only %d functions", tab.Len())
	}
	for _, name := range []string{"ksys_sync", "vfs_read", "ksys_read", "read_iter_zero", "do_syscall_64", "entry_SYSCALL_64"} {
		f, ok := tab.ByName(name)
		if !ok {
			t.Errorf("%s: not in the table (or not unique)", name)
			continue
		}
		if f.End <= f.Start || f.End-f.Start > 1<<16 {
			t.Errorf("%s: range %#x..%#x", name, f.Start, f.End)
		}
		if g, ok := tab.Lookup(f.Start); !ok || g.ID != f.ID {
			t.Errorf("Lookup(%s's start) = %+v, %v", name, g, ok)
		}
		if g, ok := tab.Lookup(f.End - 1); !ok || g.ID != f.ID {
			t.Errorf("Lookup(%s's last byte) = %+v, %v", name, g, ok)
		}
	}
	// _stext and x86_verw_sel share the first address: the function wins.
	if f, ok := tab.Lookup(tab.Start()); !ok || f.Name != "x86_verw_sel" {
		t.Errorf("first function = %+v, want x86_verw_sel", f)
	}
	// _etext ends the text, __inittext_end the init text: no function
	// holds the address right after either.
	for _, m := range []string{"_etext", "__inittext_end"} {
		if _, ok := tab.Addr(m); ok {
			t.Errorf("end marker %s names a function", m)
		}
	}
	var b bytes.Buffer
	if err := tab.WriteMap(&b); err != nil {
		t.Fatal(err)
	}
	rs, err := tcgplugin.ReadMap(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != tab.Len() {
		t.Fatalf("map round trip: %d ranges for %d functions", len(rs), tab.Len())
	}
	dups := 0
	for _, f := range tab.Funcs() {
		if f.Key != f.Name {
			dups++
		}
	}
	t.Logf("%d functions share their name with another (keyed name@address)", dups)
}

// TestIntegrationPluginLoads starts QEMU with the plugin and no guest
// (-M none), then quits through the monitor: the plugin passes its API
// version check in this QEMU, and its exit snapshot is written. A map
// that does not exist makes QEMU fail with the plugin's message.
func TestIntegrationPluginLoads(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := testkernel.Context(t)
	defer cancel()
	so := buildPlugin(t, ctx)
	qemuBin := testenv.LookPath(t, "qemu-system-x86_64")
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "a,b.map") // a comma, escaped by QEMUArgs
	if err := os.WriteFile(mapPath, []byte("rflkit-insncount-map 1 1\nffffffff81000000 ffffffff81000010 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	p := tcgplugin.Plugin{Path: so, Map: mapPath, Out: out, Trigger: 0xffffffff81000000}
	argv := append([]string{qemuBin, "-M", "none", "-display", "none", "-nodefaults", "-accel", "tcg", "-monitor", "stdio"}, p.QEMUArgs()...)
	res, err := osutil.Run(ctx, osutil.Options{Stdin: strings.NewReader("quit\n"), Timeout: time.Minute}, argv...)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := tcgplugin.ParseOutput(bytes.NewReader(data))
	if err != nil || len(snaps) != 1 || snaps[0].Reason != "exit" || len(snaps[0].Counts) != 0 {
		t.Fatalf("output %q: %+v, %v", data, snaps, err)
	}

	p.Map = filepath.Join(dir, "missing.map")
	argv = append([]string{qemuBin, "-M", "none", "-display", "none", "-nodefaults", "-accel", "tcg"}, p.QEMUArgs()...)
	res, err = osutil.Run(ctx, osutil.Options{Timeout: time.Minute}, argv...)
	var ee *osutil.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("QEMU with a missing map: %v", err)
	}
	want := "insncount: map " + p.Map + ": No such file or directory"
	if !strings.Contains(string(res.Stderr), want) {
		t.Errorf("stderr %q lacks %q", res.Stderr, want)
	}

	// Through qemu.Start, the message is in its error.
	k := testkernel.TinyRust(t, true)
	m := qemu.Machine{Kernel: k.BzImage, Accel: qemu.AccelTCG, ICount: &qemu.ICount{Shift: 0}, ExtraArgs: p.QEMUArgs()}
	vm, err := qemu.Start(ctx, m, qemu.StartOptions{CacheDir: testenv.CacheDir(t)})
	if err == nil {
		_ = vm.Stop(ctx)
		t.Fatal("qemu.Start with a missing map: no error")
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("qemu.Start: %v\nwant %q in it", err, want)
	}
}

// TestIntegrationKnownAnswer boots the tiny Rust kernel under TCG with
// -icount shift=0,sleep=off and a pinned CPU model, with the plugin
// triggered by ksys_sync, and runs in the guest
//
//	sleep 1; sync; dd bs=512 count=N; sync; dd count=2N; sync; dd count=4N; sync
//
// (dd from /dev/zero to /dev/null, N = 50000). The four syncs make three
// windows of N, 2N and 4N reads and writes; each window also holds one
// dd start-up and exit and the shell's fork and wait, which cancel in the
// differences. What it checks:
//
//   - entries: vfs_read and ksys_read are entered exactly N (2N) times more
//     in the 2N (4N) window than in the N (2N) window, one call per read;
//   - per-read cost, from two differencings ((W_2N - W_N)/N and
//     (W_4N - W_2N)/2N): the read path's functions (__x64_sys_read,
//     ksys_read, vfs_read, rw_verify_area, fdget_pos, read_zero) agree
//     within 1 instruction per read (measured: exactly equal, vfs_read
//     47.00, ksys_read 54.00); the whole kernel agrees within 1% (measured:
//     ~709.5 vs ~707.9 per read+write pair): fixed costs such as exec's
//     page faults and timer ticks (HZ=250 of guest time, one every 4M
//     instructions) are not exactly the same in every window.
//
// It logs the top functions per operation.
func TestIntegrationKnownAnswer(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := testkernel.Context(t)
	defer cancel()
	k, tab := kernelTable(t)
	so := buildPlugin(t, ctx)
	trigger, ok := tab.Addr("ksys_sync")
	if !ok {
		t.Fatal("no ksys_sync in System.map")
	}
	dir := t.TempDir()
	p := tcgplugin.Plugin{Path: so, Map: filepath.Join(dir, "kernel.map"), Out: filepath.Join(dir, "counts.txt"), Trigger: trigger}
	if err := tab.WriteMapFile(p.Map); err != nil {
		t.Fatal(err)
	}
	cache := testenv.CacheDir(t)
	initrd, err := qemu.BuildInitramfs(ctx, qemu.InitramfsSpec{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	m := qemu.Machine{
		Kernel: k.BzImage, Initramfs: initrd, Accel: qemu.AccelTCG,
		ICount: &qemu.ICount{Shift: 0}, CPU: "qemu64",
		ExtraArgs: p.QEMUArgs(),
	}
	t0 := time.Now()
	vm, err := qemu.Start(ctx, m, qemu.StartOptions{CacheDir: cache, ConsoleLog: filepath.Join(dir, "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted with the plugin in %v (guest uptime %v): %s", vm.BootTime(), vm.GuestUptime(), qemu.ShellCommand(vm.Argv()))
	defer vm.Stop(context.Background())

	// Let the clocksource switch (~1 s of guest time) pass first.
	if res, err := vm.Run(ctx, "sleep", "3"); err != nil || res.ExitCode != 0 {
		t.Fatalf("sleep: %+v %v", res, err)
	}
	const n = 50000
	dd := func(count int) string {
		return fmt.Sprintf("dd if=/dev/zero of=/dev/null bs=512 count=%d 2>/dev/null", count)
	}
	// The agent's own reads of the command's pipes come just after it
	// starts the shell: sleep (guest time, free under sleep=off) lets
	// them pass before the first window opens.
	script := strings.Join([]string{"sleep 1", "sync", dd(n), "sync", dd(2 * n), "sync", dd(4 * n), "sync"}, "; ")
	t1 := time.Now()
	res, err := vm.Run(ctx, "sh", "-c", script)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s: %+v %v", script, res, err)
	}
	t.Logf("workload: %v wall, %v guest", time.Since(t1).Round(time.Millisecond), res.Duration)
	// The plugin flushes each snapshot: the file holds the four now.
	trig := readSnapshots(t, p.Out)
	if len(trig) != 4 {
		t.Fatalf("%d snapshots after the workload, want 4 (one per sync)", len(trig))
	}
	for i, s := range trig {
		if s.Reason != "trigger" || s.Index != i {
			t.Fatalf("snapshot %d: %+v", i, s)
		}
	}
	if err := vm.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("boot, workload and exit with the plugin: %v wall", time.Since(t0).Round(time.Millisecond))
	// The agent syncs before powering off; QEMU's exit writes the last.
	if all := readSnapshots(t, p.Out); len(all) < 5 || all[len(all)-1].Reason != "exit" {
		t.Errorf("after exit: %d snapshots, the last %+v: want one at exit", len(all), all[len(all)-1])
	}
	var w [3]tcgplugin.Profile
	for i := range w {
		if w[i], err = tab.Diff(trig[i], trig[i+1]); err != nil {
			t.Fatal(err)
		}
		t.Logf("window %d (%d reads): kernel %d, user %d, unknown %d instructions", i, n<<i, w[i].Kernel(), w[i].User, w[i].Unknown)
	}
	for _, fn := range []string{"vfs_read", "ksys_read", "vfs_write", "ksys_sync"} {
		e := [3]uint64{w[0].Funcs[fn].Entries, w[1].Funcs[fn].Entries, w[2].Funcs[fn].Entries}
		t.Logf("%s entries per window: %v", fn, e)
	}
	for _, fn := range []string{"vfs_read", "ksys_read"} {
		e := [3]int64{int64(w[0].Funcs[fn].Entries), int64(w[1].Funcs[fn].Entries), int64(w[2].Funcs[fn].Entries)}
		if e[1]-e[0] != n || e[2]-e[1] != 2*n {
			t.Errorf("%s entries per window %v: want differences of exactly %d and %d", fn, e, n, 2*n)
		}
	}
	a, err := tcgplugin.PerOp(w[0], w[1], n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tcgplugin.PerOp(w[1], w[2], 2*n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("per read+write, kernel: %.2f (N=%d) vs %.2f (N=%d) instructions; user %.2f vs %.2f", a.Kernel, n, b.Kernel, 2*n, a.User, b.User)
	for _, f := range a.Top(25) {
		t.Logf("  %-28s %9.2f insns %6.3f entries per op (N=%d); %9.2f %6.3f (N=%d)", f.Key, f.Insns, f.Entries, n, b.Funcs[f.Key].Insns, b.Funcs[f.Key].Entries, 2*n)
	}
	// What the two differencings disagree on: fixed costs (exec, page
	// faults, page allocation) that are not the same in every window.
	for _, f := range a.Top(-1) {
		if y := b.Funcs[f.Key]; math.Abs(f.Insns-y.Insns) > 0.05 {
			t.Logf("  differs: %-28s %7.2f vs %7.2f insns per op", f.Key, f.Insns, y.Insns)
		}
	}
	for _, f := range b.Top(-1) {
		if _, ok := a.Funcs[f.Key]; !ok && math.Abs(f.Insns) > 0.05 {
			t.Logf("  differs: %-28s %7.2f vs %7.2f insns per op", f.Key, 0.0, f.Insns)
		}
	}
	for _, fn := range []string{"__x64_sys_read", "ksys_read", "vfs_read", "rw_verify_area", "fdget_pos", "read_zero"} {
		x, y := a.Funcs[fn], b.Funcs[fn]
		if x.Insns <= 0 || math.Abs(x.Insns-y.Insns) > 1 {
			t.Errorf("%s: %.2f instructions per read (N=%d) vs %.2f (N=%d): want > 0 and within 1", fn, x.Insns, n, y.Insns, 2*n)
		}
	}
	if a.Kernel <= 0 || math.Abs(a.Kernel-b.Kernel) > 0.01*a.Kernel {
		t.Errorf("kernel: %.2f instructions per op (N=%d) vs %.2f (N=%d): want within 1%%", a.Kernel, n, b.Kernel, 2*n)
	}
}
