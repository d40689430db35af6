package toolchain

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// privateTmp points TMPDIR (where Detect's scratch directory goes) at a
// fresh directory and returns it.
func privateTmp(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	t.Setenv("TMPDIR", d)
	return d
}

// scratchDirs lists the scratch directories in dir.
func scratchDirs(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, scratchPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// groupMembers returns the live processes whose process group is pgid.
func groupMembers(pgid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			out = append(out, e.Name())
		}
	}
	return out
}

// readPid waits (generously) for a fake to record its pid in path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %q", path, b)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the hanging fake never wrote %s", path)
	return 0
}

// killOnCleanup makes sure a test that fails leaves no process behind.
func killOnCleanup(t *testing.T, pid int) {
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
}

// A rustc that hangs costs one timeout, not one per command: it is run
// once, killed with its process group (its child included), reported as a
// problem naming rustc, the command and the timeout, and no scratch
// directory stays behind.
func TestHangingRustcIsProbedOnce(t *testing.T) {
	tmp := privateTmp(t)
	m := newFake(t)
	m.standard()
	runs := filepath.Join(m.dir, "runs")
	child := filepath.Join(m.dir, "child.pid")
	hang := m.write(m.unique("rustc"), "echo $$ >> "+shq(runs)+"\n/bin/sleep 1000 &\necho $! > "+shq(child)+"\nwait\n")

	start := time.Now()
	r, err := Detect(t.Context(), Options{Env: m.env("RUSTC=" + hang), LLVMRoot: m.llvmRoot, Arch: "x86_64", Timeout: 300 * time.Millisecond})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	p := expectFailure(t, r, CheckRustcVersion, Rustc)
	for _, want := range []string{"rustc did not finish in time", "`" + hang + " --version`", "killed after 300ms", "probe timeout"} {
		if !strings.Contains(p.Found, want) {
			t.Errorf("found = %q, want it to say %q", p.Found, want)
		}
	}
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	pids := strings.Fields(string(b))
	if len(pids) != 1 {
		t.Errorf("the hanging rustc ran %d times, want once (it timed out the first time)", len(pids))
	}
	leader, _ := strconv.Atoi(pids[0])
	childPid := readPid(t, child)
	killOnCleanup(t, childPid)
	if !procGone(strconv.Itoa(leader)) || !procGone(strconv.Itoa(childPid)) {
		t.Errorf("the hanging rustc (%d) or its child (%d) survived Detect", leader, childPid)
	}
	if left := groupMembers(leader); len(left) != 0 {
		t.Errorf("processes %v of the probe's group %d survived Detect", left, leader)
	}
	if d := scratchDirs(t, tmp); len(d) != 0 {
		t.Errorf("Detect left %v", d)
	}
	// Three commands would have hung 300ms each before; a generous bound
	// (10x the one timeout it costs now) only catches a regression to
	// the old 60 s per command.
	if took > 10*time.Second {
		t.Errorf("Detect took %s with a 300ms probe timeout", took)
	}
}

// Every tool hangs: each executable is run once, and the report names each.
func TestEveryToolHangs(t *testing.T) {
	privateTmp(t)
	m := newFake(t)
	runs := filepath.Join(m.dir, "runs")
	body := "echo \"$0\" >> " + shq(runs) + "\nexec /bin/sleep 1000\n"
	for _, name := range []string{"rustc", "rustdoc", "bindgen", "clang", "ld.lld", "llvm-ar", "llvm-nm", "llvm-objcopy"} {
		m.write(name, body)
	}
	r, err := Detect(t.Context(), Options{Env: m.env(), LLVMRoot: m.llvmRoot, Arch: "x86_64", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		count[filepath.Base(l)]++
	}
	for name, n := range count {
		if n != 1 {
			t.Errorf("%s ran %d times, want once", name, n)
		}
	}
	if len(count) != 8 {
		t.Errorf("ran %v, want each of the 8 fakes once", count)
	}
	for _, c := range []Check{CheckRustcVersion, CheckBindgenVersion, CheckLLVMTools} {
		if p := problem(t, r, c); !strings.Contains(p.Found, "did not finish in time") {
			t.Errorf("%s: found = %q", c, p.Found)
		}
	}
}

// Probes of different tools run at the same time: four LLVM tools that
// each wait until all four have started pass only if they are probed
// together (one after the other, the first would time out).
func TestProbesRunConcurrently(t *testing.T) {
	privateTmp(t)
	m := newFake(t)
	m.standard()
	meet := filepath.Join(m.dir, "meet")
	if err := os.Mkdir(meet, 0o755); err != nil {
		t.Fatal(err)
	}
	rendezvous := func(name, out string) {
		m.write(name, `: > `+shq(filepath.Join(meet, name))+`
while set -- `+shq(meet)+`/*; [ $# -lt 4 ]; do /bin/sleep 0.02; done
echo '`+out+`'
`)
	}
	rendezvous("ld.lld", "Debian LLD 19.1.7 (compatible with GNU linkers)")
	for _, tool := range []string{"llvm-ar", "llvm-nm", "llvm-objcopy"} {
		rendezvous(tool, "Debian LLVM version 19.1.7")
	}
	r, err := Detect(t.Context(), Options{Env: m.env(), LLVMRoot: m.llvmRoot, Arch: "x86_64", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !r.BuildOK || !r.InlineHelpers || len(r.Problems) != 0 {
		t.Fatalf("BuildOK=%v InlineHelpers=%v problems %v", r.BuildOK, r.InlineHelpers, r.Problems)
	}
}

// TestHelperDetect is not a test: it is the process TestKilledDetectLeavesNoProbe
// runs (the test binary re-executed), a Detect that hangs in a probe until
// it is SIGKILLed.
func TestHelperDetect(t *testing.T) {
	if os.Getenv("TOOLCHAIN_TEST_HELPER") != "detect" {
		t.Skip("helper process for TestKilledDetectLeavesNoProbe")
	}
	var env []string
	if err := json.Unmarshal([]byte(os.Getenv("TOOLCHAIN_TEST_ENV")), &env); err != nil {
		t.Fatal(err)
	}
	_, err := Detect(context.Background(), Options{Env: env, LLVMRoot: os.Getenv("TOOLCHAIN_TEST_LLVMROOT"), Timeout: time.Hour})
	t.Fatalf("Detect returned (%v); it should have been killed", err)
}

// A process SIGKILLed in the middle of Detect leaves no probe running (the
// kernel kills it: Pdeathsig), and the scratch directory it could not
// remove is removed by the next Detect (its lock is free).
func TestKilledDetectLeavesNoProbe(t *testing.T) {
	tmp := privateTmp(t)
	m := newFake(t)
	m.standard()
	pidfile := filepath.Join(m.dir, "probe.pid")
	hang := m.write(m.unique("rustc"), "echo $$ > "+shq(pidfile)+"\nexec /bin/sleep 1000\n")
	envJSON, err := json.Marshal(m.env("RUSTC=" + hang))
	if err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperDetect$", "-test.count=1")
	helper.Env = append(os.Environ(), "TOOLCHAIN_TEST_HELPER=detect", "TOOLCHAIN_TEST_ENV="+string(envJSON),
		"TOOLCHAIN_TEST_LLVMROOT="+m.llvmRoot, "TMPDIR="+tmp)
	var out strings.Builder
	helper.Stdout, helper.Stderr = &out, &out
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	killOnCleanup(t, helper.Process.Pid)
	probe := readPid(t, pidfile)
	killOnCleanup(t, probe)
	if procGone(strconv.Itoa(probe)) {
		t.Fatalf("the probe %d is not running", probe)
	}
	if d := scratchDirs(t, tmp); len(d) != 1 {
		t.Fatalf("scratch directories during Detect: %v, want one", d)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	// The kernel sends SIGKILL at once; reaping the orphan takes a moment.
	for i := 0; i < 500 && !procGone(strconv.Itoa(probe)); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !procGone(strconv.Itoa(probe)) {
		t.Fatalf("probe %d outlived the SIGKILLed Detect (helper output: %s)", probe, out.String())
	}
	stale := scratchDirs(t, tmp)
	if len(stale) != 1 {
		t.Fatalf("after SIGKILL: scratch directories %v, want the one it could not remove", stale)
	}
	m.detect()
	if d := scratchDirs(t, tmp); len(d) != 0 {
		t.Errorf("the next Detect left %v (stale: %v)", d, stale)
	}
}

// The reaper removes what no live process holds, and nothing else.
func TestReapScratch(t *testing.T) {
	parent := t.TempDir()
	mk := func(name string, lock bool, age time.Duration) string {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "ld-0.123"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(d, scratchLock), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	live, err := newScratch(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer live.remove()
	freeLock := mk(scratchPrefix+"dead", true, 0)
	oldNoLock := mk(scratchPrefix+"old", false, 2*staleUnlocked)
	newNoLock := mk(scratchPrefix+"new", false, 0)
	other := mk("rflkit-other-x", true, 2*staleUnlocked)
	target := mk("target", true, 0)
	link := filepath.Join(parent, scratchPrefix+"link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}

	reapScratch(parent, time.Now(), discardLogger())
	for _, d := range []string{freeLock, oldNoLock} {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not reaped: %v", d, err)
		}
	}
	for _, d := range []string{live.dir, newNoLock, other, target, link, filepath.Join(target, "ld-0.123")} {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("%s reaped: %v", d, err)
		}
	}
	if err := live.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("remove left %s", live.dir)
	}
}

// A 5 MB version line (or any huge output) is quoted as a bounded excerpt
// in problems and errors, and kept bounded in the report.
func TestHugeOutputIsBounded(t *testing.T) {
	privateTmp(t)
	m := newFake(t)
	m.standard()
	huge := m.dir + "/huge"
	if err := os.WriteFile(huge, []byte(strings.Repeat("x", 5<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A rustc whose version has a 5 MB pre-release tag, a bindgen whose
	// version line is 5 MB of garbage, a clang whose vendor is 5 MB and an
	// ld.lld that prints 5 MB on failing.
	m.write("rustc", "case \"$*\" in\n*sysroot*) echo /nonexistent ;;\n*) printf 'rustc 1.85.0-nightly'; /bin/cat "+shq(huge)+"; echo ;;\nesac\n")
	m.write("bindgen", "/bin/cat "+shq(huge)+"\n")
	m.write("clang", "case \"$*\" in\n*-E*) echo 'Clang 19 1 7' ;;\n*) /bin/cat "+shq(huge)+"; echo ' clang version 19.1.7' ;;\nesac\n")
	m.write("ld.lld", "/bin/cat "+shq(huge)+" >&2; exit 1\n")
	r := m.detect()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64<<10 {
		t.Errorf("the report is %d bytes of JSON", len(b))
	}
	for _, p := range r.Problems {
		if n := len(p.String()); n > 2000 {
			t.Errorf("problem of %d bytes: %.300s...", n, p.String())
		}
	}
	for _, c := range r.Candidates {
		for _, err := range []error{c.Err, c.LibclangErr, c.SysrootErr, c.LLVMErr} {
			if err != nil && len(err.Error()) > 2000 {
				t.Errorf("%s: error of %d bytes", c.Path, len(err.Error()))
			}
		}
	}
	p := problem(t, r, CheckBindgenVersion)
	if !strings.Contains(p.Found, "bytes in all") {
		t.Errorf("found = %.400q, want it to mark the cut", p.Found)
	}
}

func TestExcerpt(t *testing.T) {
	if got := excerpt("  short\n"); got != "short" {
		t.Errorf("excerpt = %q", got)
	}
	long := strings.Repeat("é", 1000) // 2 bytes each
	got := excerpt(long)
	if len(got) > maxExcerpt+40 || !strings.HasSuffix(got, "... (2000 bytes in all)") || !strings.HasPrefix(long, strings.TrimSuffix(got, "... (2000 bytes in all)")) {
		t.Errorf("excerpt = %q", got)
	}
	if q := quote(strings.Repeat("\x00", 1<<20)); len(q) > 8*maxExcerpt {
		t.Errorf("quote of 1 MB of NULs is %d bytes", len(q))
	}
	if got := bounded(strings.Repeat("a", 10), 4); got != "aaaa..." {
		t.Errorf("bounded = %q", got)
	}
}

// A rustc whose version is unknown gets a rustdoc fix with no empty field.
func TestRustdocFixWithUnknownRustc(t *testing.T) {
	privateTmp(t)
	m := newFake(t)
	m.standard()
	bad := m.write(m.unique("rustc"), "exit 3\n")
	r := m.detect("RUSTC=" + bad)
	p := problem(t, r, CheckRustdoc)
	if strings.Contains(p.Fix, "rustc ;") || strings.Contains(p.Fix, " ;") || !strings.Contains(p.Fix, bad) {
		t.Errorf("fix = %q", p.Fix)
	}
	// With a version, it names it.
	good := m.rustc(m.unique("rustc"), rustcSpec{src: true, noRustdoc: true})
	if p := problem(t, m.detect("RUSTC="+good), CheckRustdoc); !strings.Contains(p.Fix, "(the one of rustc 1.85.0;") {
		t.Errorf("fix = %q", p.Fix)
	}
}

// When rustc's LLVM version is unknown the problem says so and why, and
// the fix is not the LLVM= that is already in use.
func TestLLVMUnknownFix(t *testing.T) {
	privateTmp(t)
	for _, tc := range []struct {
		name, verbose, why string
	}{
		{"no-llvm-line", "printf 'rustc 1.85.0 (a 2025-01-01)\\nbinary: rustc\\n'", `printed no "LLVM version: X.Y.Z" line`},
		{"fails", "echo 'error: unknown flag' >&2; exit 2", "failed with code 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newFake(t)
			m.bindgen("bindgen", bindgenSpec{})
			m.llvm(m.bin, "", "19.1.7")
			sysroot := filepath.Join(m.dir, "sysroot")
			if err := os.MkdirAll(filepath.Join(sysroot, "lib", "rustlib", "src", "rust", "library", "core", "src"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sysroot, "lib", "rustlib", "src", "rust", "library", "core", "src", "lib.rs"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			rustc := m.write("rustc", "case \"$*\" in\n*sysroot*) echo "+shq(sysroot)+" ;;\n*--verbose*) "+tc.verbose+" ;;\n*) echo 'rustc 1.85.0 (a 2025-01-01)' ;;\nesac\n")
			r := m.detect("LLVM=1")
			expectSuccess(t, r)
			p := problem(t, r, CheckLLVMMajor)
			if !strings.Contains(p.Found, "LLVM version is unknown") || !strings.Contains(p.Found, tc.why) || strings.Contains(p.Found, "LLVM unknown") {
				t.Errorf("found = %q", p.Found)
			}
			if strings.HasPrefix(p.Fix, "LLVM=") || !strings.Contains(p.Fix, rustc+" --version --verbose") || !strings.Contains(p.Fix, "LLVM version: 19") {
				t.Errorf("fix = %q", p.Fix)
			}

			// A rustc that reports LLVM 19 is the fix when there is one.
			other := m.rustc(m.unique("rustc"), rustcSpec{src: true})
			m.path = append(m.path, filepath.Dir(other))
			r = m.detect("LLVM=1", "RUSTC="+rustc)
			if p := problem(t, r, CheckLLVMMajor); p.Fix != "RUSTC="+other+" HOSTRUSTC="+other {
				t.Errorf("fix = %q, want the rustc with LLVM 19", p.Fix)
			}
		})
	}
}
