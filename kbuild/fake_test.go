package kbuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
)

// fake is a Builder on the fake kernel in testdata/fakekernel, with fake
// compilers on PATH and a make wrapper that counts its runs.
type fake struct {
	b       *Builder
	bin     string
	counter string
}

func newFake(t testing.TB) *fake {
	t.Helper()
	src, err := filepath.Abs("testdata/fakekernel")
	if err != nil {
		t.Fatal(err)
	}
	realMake, err := osutil.LookPath("make", os.Environ())
	if err != nil {
		t.Fatalf("make not found: %v", err)
	}
	bin := t.TempDir()
	counter := filepath.Join(bin, "make-runs")
	writeExe(t, filepath.Join(bin, "make"), fmt.Sprintf("#!/bin/sh\n[ \"$1\" = --version ] || echo run >> %s\nexec %s \"$@\"\n", counter, realMake))
	for _, tool := range []string{"clang", "ld.lld", "rustc", "rustdoc", "bindgen"} {
		writeExe(t, filepath.Join(bin, tool), fmt.Sprintf("#!/bin/sh\necho '%s version 1.0'\n", tool))
	}
	env := []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "MAKEFLAGS=-k", "LC_ALL=C"}
	return &fake{
		b: &Builder{
			Src:      src,
			Arch:     "x86_64",
			Jobs:     2,
			Env:      env,
			CacheDir: t.TempDir(),
			MakeVars: map[string]string{"LLVM": "1", "RUSTC": "rustc"},
		},
		bin:     bin,
		counter: counter,
	}
}

func writeExe(t testing.TB, path, script string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (f *fake) makeRuns(t *testing.T) int {
	data, err := os.ReadFile(f.counter)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "run")
}

func tinySpec(helpers bool) BuildSpec {
	h := "# CONFIG_INLINE_HELPERS is not set\n"
	if helpers {
		h = "CONFIG_INLINE_HELPERS=y\n"
	}
	return BuildSpec{Config: ConfigSpec{Base: "tinyconfig", Inline: []string{"CONFIG_CONFIGFS=y\nCONFIG_RUST_NULL=y\n" + h}}, Targets: []string{"bzImage"}}
}

func TestFakeBuildThenCacheHit(t *testing.T) {
	f := newFake(t)
	var events []Event
	f.b.Progress = func(e Event) { events = append(events, e) }
	var log strings.Builder
	f.b.Log = &log
	ctx := context.Background()

	res, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheHit {
		t.Fatal("first build is a cache hit")
	}
	for _, name := range []string{"kernel", "vmlinux", "System.map", "config", "metadata.json", "build.log"} {
		p, ok := res.Artifacts[name]
		if !ok {
			t.Fatalf("artifact %s missing: %v", name, res.Artifacts)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("artifact %s: %v", name, err)
		}
	}
	if !strings.HasSuffix(res.Artifacts["kernel"], "arch/x86/boot/bzImage") {
		t.Errorf("kernel = %s", res.Artifacts["kernel"])
	}
	cfg, _ := os.ReadFile(res.Artifacts["config"])
	if sha256Hex(cfg) != res.ConfigHash {
		t.Errorf("ConfigHash %s is not the sha256 of %s", res.ConfigHash, res.Artifacts["config"])
	}
	for _, w := range []string{"CONFIG_RUST_NULL=y", "CONFIG_INLINE_HELPERS=y", "CONFIG_CC_IS_CLANG=y"} {
		if !strings.Contains(string(cfg), w) {
			t.Errorf(".config lacks %s:\n%s", w, cfg)
		}
	}
	vars, _ := os.ReadFile(filepath.Join(res.OutDir, "fake-vars"))
	if got := strings.TrimSpace(string(vars)); got != "ARCH=x86_64 LLVM=1 RUSTC=rustc CC=cc" {
		t.Errorf("the fake saw %q", got)
	}
	if !strings.Contains(log.String(), "  RUSTC L rust/core.o") {
		t.Errorf("log lacks make's output:\n%s", log.String())
	}
	var md Metadata
	data, _ := os.ReadFile(res.Artifacts["metadata.json"])
	if err := json.Unmarshal(data, &md); err != nil {
		t.Fatal(err)
	}
	if md.ConfigSHA256 != res.ConfigHash || md.CacheKey != res.Key || md.MakeArgv[0] != "make" ||
		!strings.Contains(md.Reproduce, "cp "+res.Artifacts["config"]) || !strings.Contains(md.Reproduce, " O=/tmp/rflkit-build-"+res.Key[:12]+" ") || md.Tools["CC"] == "" || md.QuietLines != 17 {
		t.Errorf("metadata: %+v", md)
	}
	var sawCC bool
	for _, e := range events {
		if e.Phase == PhaseBuild && e.Kind == "CC" && e.Path == "init/obj1.o" {
			sawCC = true
		}
	}
	if !sawCC {
		t.Errorf("no progress event for init/obj1.o in %v", events)
	}
	runs := f.makeRuns(t)

	// Again: a cache hit, make does not run at all.
	events = nil
	res2, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if !res2.CacheHit || res2.Key != res.Key || res2.Artifacts["kernel"] != res.Artifacts["kernel"] {
		t.Errorf("second build: hit=%v key %s vs %s", res2.CacheHit, res2.Key, res.Key)
	}
	if n := f.makeRuns(t); n != runs {
		t.Errorf("make ran %d more time(s) for a cache hit", n-runs)
	}
	if last := events[len(events)-1]; last.Phase != PhaseDone || !last.CacheHit {
		t.Errorf("last event %+v", last)
	}

	// A new compiler version is another key.
	writeExe(t, filepath.Join(f.bin, "clang"), "#!/bin/sh\necho 'clang version 2.0'\n")
	res3, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if res3.CacheHit || res3.Key == res.Key {
		t.Errorf("a different clang gave a cache hit (key %s)", res3.Key)
	}
}

func TestFakeVariantSeeded(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	on, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	f.b.Progress = func(e Event) {
		if e.Phase == PhaseBuild && e.Kind != "" {
			kinds = append(kinds, e.Kind+" "+e.Path)
		}
	}
	off, err := f.b.Build(ctx, tinySpec(false))
	if err != nil {
		t.Fatal(err)
	}
	if off.CacheHit || off.Key == on.Key {
		t.Fatal("helpers off is not a separate entry")
	}
	if off.SeededFrom != on.Key {
		t.Errorf("SeededFrom = %q, want %q", off.SeededFrom, on.Key)
	}
	// Only the Rust side rebuilt.
	sort.Strings(kinds)
	want := "LD vmlinux,NM System.map,OBJCOPY arch/x86/boot/bzImage,RUSTC L rust/core.o,RUSTC L rust/kernel.o"
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("the variant rebuilt %s, want %s", got, want)
	}
	// The seed is untouched.
	if res, err := f.b.Build(ctx, tinySpec(true)); err != nil || !res.CacheHit {
		t.Errorf("seed after copy: hit=%v err=%v", res != nil && res.CacheHit, err)
	}
}

func TestFakeProgressPercent(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	res, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	// Drop the entry: the next build of the same configuration runs make
	// again and knows how many lines to expect.
	if err := os.RemoveAll(filepath.Join(f.b.CacheDir, "builds", "entries", res.Key)); err != nil {
		t.Fatal(err)
	}
	var pcts []float64
	f.b.Progress = func(e Event) {
		if e.Phase == PhaseBuild && e.Kind != "" {
			if e.Expected != 17 {
				t.Errorf("Expected = %d, want 17", e.Expected)
			}
			pcts = append(pcts, e.Percent)
		}
		if e.Phase == PhaseDone && e.Percent != 100 {
			t.Errorf("done at %v%%", e.Percent)
		}
	}
	if _, err := f.b.Build(ctx, tinySpec(true)); err != nil {
		t.Fatal(err)
	}
	if len(pcts) != 17 {
		t.Fatalf("%d build events, want 17", len(pcts))
	}
	for i := 1; i < len(pcts); i++ {
		if pcts[i] <= pcts[i-1] || pcts[i] > 99 {
			t.Errorf("percentages not increasing within 0..99: %v", pcts)
			break
		}
	}
}

func TestFakeFailures(t *testing.T) {
	for _, tc := range []struct {
		fail  string
		check func(t *testing.T, err error)
	}{
		{"clang", func(t *testing.T, err error) {
			var ke *KernelError
			if !errors.As(err, &ke) {
				t.Fatalf("want *KernelError, got %T %v", err, err)
			}
			d := ke.Diagnostics[0]
			if d.File != "init/obj3.c" || d.Line != 12 || d.Col != 5 || d.Message != "use of undeclared identifier 'foo'" {
				t.Errorf("first diagnostic %+v", d)
			}
			if len(ke.Diagnostics) != 2 || ke.Diagnostics[1].Line != 20 {
				t.Errorf("diagnostics %+v", ke.Diagnostics)
			}
			if ke.Log == "" {
				t.Error("no log path")
			}
		}},
		{"rustc", func(t *testing.T, err error) {
			var ke *KernelError
			if !errors.As(err, &ke) {
				t.Fatalf("want *KernelError, got %T %v", err, err)
			}
			want := Diagnostic{Tool: "rustc", File: "rust/kernel/lib.rs", Line: 7, Col: 5, Code: "E0425", Message: "cannot find value `x` in this scope"}
			if len(ke.Diagnostics) != 1 || ke.Diagnostics[0] != want {
				t.Errorf("diagnostics %+v", ke.Diagnostics)
			}
		}},
		{"ld", func(t *testing.T, err error) {
			var ke *KernelError
			if !errors.As(err, &ke) || ke.Diagnostics[0].Tool != "ld.lld" || ke.Diagnostics[0].Message != "undefined symbol: fake_missing" {
				t.Fatalf("got %T %v", err, err)
			}
		}},
		{"disk", func(t *testing.T, err error) {
			var ie *InfraError
			if !errors.As(err, &ie) || ie.Reason != ReasonDiskFull {
				t.Fatalf("want disk-full *InfraError, got %T %v", err, err)
			}
		}},
		{"signal", func(t *testing.T, err error) {
			var ie *InfraError
			if !errors.As(err, &ie) || ie.Reason != ReasonKilled {
				t.Fatalf("want killed *InfraError, got %T %v", err, err)
			}
		}},
	} {
		t.Run(tc.fail, func(t *testing.T) {
			f := newFake(t)
			f.b.ExtraVars = map[string]string{"FAKE_FAIL": tc.fail}
			_, err := f.b.Build(context.Background(), tinySpec(true))
			tc.check(t, err)
			if keys := (&session{root: filepath.Join(f.b.CacheDir, "builds")}).listEntries(); len(keys) != 0 {
				t.Errorf("a failed build left cache entries %v", keys)
			}
			ents, _ := os.ReadDir(filepath.Join(f.b.CacheDir, "builds", "entries"))
			for _, e := range ents {
				if e.IsDir() {
					t.Errorf("a failed build left %s", e.Name())
				}
			}
		})
	}
}

func TestFakeMissingMake(t *testing.T) {
	f := newFake(t)
	f.b.Env = []string{"PATH=" + t.TempDir()}
	_, err := f.b.Build(context.Background(), tinySpec(true))
	var ie *InfraError
	if !errors.As(err, &ie) || ie.Reason != ReasonToolMissing {
		t.Fatalf("want tool-missing *InfraError, got %T %v", err, err)
	}
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] != 'Z'
}

// procPgid returns the process group of pid.
func procPgid(pid int) (int, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return 0, false
	}
	g, err := strconv.Atoi(f[2])
	return g, err == nil
}

// groupMembers lists the live processes of group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, ok := procPgid(pid); ok && g == pgid && procAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func TestFakeCancelKillsEverything(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := BuildSpec{Config: ConfigSpec{Base: "tinyconfig"}, Targets: []string{"slow"}}
	var pidsFile string
	var pgid int
	var once sync.Once
	f.b.Progress = func(e Event) {
		if e.Phase == PhaseBuild && e.Path == "slow/one.o" {
			once.Do(func() {
				go func() {
					// Wait for the three processes to record themselves.
					for i := 0; i < 500; i++ {
						data, _ := os.ReadFile(pidsFile)
						if f := strings.Fields(string(data)); len(f) == 3 {
							pid, _ := strconv.Atoi(f[2])
							pgid, _ = procPgid(pid)
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				}()
			})
		}
	}
	// The O= directory is the cache's work directory.
	cfg, err := f.b.Configure(context.Background(), spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.b.newSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pidsFile = filepath.Join(s.workDir(), "out", "pids")
	_ = cfg

	_, err = f.b.Build(ctx, spec)
	var ie *InfraError
	if !errors.As(err, &ie) || ie.Reason != ReasonCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("want cancelled *InfraError wrapping context.Canceled, got %T %v", err, err)
	}
	if pgid == 0 {
		t.Fatal("the slow target never started its processes")
	}
	if pgid == syscall.Getpgrp() {
		t.Fatal("make ran in the test's own process group")
	}
	// SIGKILL is immediate, but the kernel reaps orphans asynchronously.
	var left []int
	for i := 0; i < 200; i++ {
		if left = groupMembers(pgid); len(left) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Errorf("processes %v of make's group %d survived the cancel", left, pgid)
	}
	if keys := s.listEntries(); len(keys) != 0 {
		t.Errorf("the cancelled build left entries %v", keys)
	}
	if _, err := os.Stat(filepath.Dir(pidsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cancelled build's directory is still there: %v", err)
	}
}

func TestFakeConfigureRejected(t *testing.T) {
	f := newFake(t)
	_, err := f.b.Configure(context.Background(), ConfigSpec{Base: "tinyconfig", Inline: []string{"CONFIG_RUST_NULL=y\nCONFIG_INLINE_HELPERS=y\n"}})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConfigError, got %T %v", err, err)
	}
	if m := ce.Mismatches; len(m) != 1 || m[0].Symbol != "RUST_NULL" || m[0].Requested.String() != "y" || m[0].Final.String() != "n" || m[0].Absent {
		t.Errorf("mismatches %+v", ce.Mismatches)
	}
	if data, err := os.ReadFile(ce.Config); err != nil || !strings.Contains(string(data), "# CONFIG_RUST_NULL is not set") {
		t.Errorf("final config %s: %v", ce.Config, err)
	}
	if !strings.Contains(err.Error(), "CONFIG_RUST_NULL requested y, final n") {
		t.Errorf("error text: %v", err)
	}
}

func TestFakeConfigureOutDirAndFragmentFile(t *testing.T) {
	f := newFake(t)
	f.b.OutDir = t.TempDir()
	frag := filepath.Join(t.TempDir(), "frag.config")
	if err := os.WriteFile(frag, []byte("CONFIG_CONFIGFS=y\n# comment\nCONFIG_RUST_NULL=y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := f.b.Configure(context.Background(), ConfigSpec{Base: "tinyconfig", Fragments: []string{frag}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != filepath.Join(f.b.OutDir, ".config") || res.Requested != 2 || res.FromCache {
		t.Errorf("result %+v", res)
	}
	// Again: from the cache, same content.
	res2, err := f.b.Configure(context.Background(), ConfigSpec{Base: "tinyconfig", Fragments: []string{frag}})
	if err != nil || !res2.FromCache || res2.Hash != res.Hash {
		t.Errorf("second configure %+v %v", res2, err)
	}
	// A malformed fragment names its file and line.
	if err := os.WriteFile(frag, []byte("CONFIG_CONFIGFS=y\nCONFIGFS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = f.b.Configure(context.Background(), ConfigSpec{Base: "tinyconfig", Fragments: []string{frag}})
	if err == nil || !strings.Contains(err.Error(), frag+":2:") {
		t.Errorf("malformed fragment: %v", err)
	}
	// Build in OutDir: no cache entry, artifacts in OutDir.
	res3, err := f.b.Build(context.Background(), BuildSpec{Config: ConfigSpec{Base: "defconfig"}})
	if err != nil {
		t.Fatal(err)
	}
	if res3.Key != "" || !strings.HasPrefix(res3.Artifacts["kernel"], f.b.OutDir) || res3.Artifacts["modules/drivers/block/null_blk.ko"] == "" {
		t.Errorf("OutDir build: %+v", res3)
	}
}

func TestFakeEviction(t *testing.T) {
	f := newFake(t)
	f.b.CacheLimit = 1 // everything but the newest entry goes
	ctx := context.Background()
	a, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	// An entry in use (locked by a reader) is never evicted.
	s, _ := f.b.newSession(ctx)
	inUse := tryLock(s.entryDir(a.Key)+".lock", syscall.LOCK_SH)
	if inUse == nil {
		t.Fatal("cannot lock entry")
	}
	b, err := f.b.Build(ctx, tinySpec(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.readEntry(a.Key); err != nil {
		t.Errorf("an entry in use was evicted: %v", err)
	}
	inUse.Unlock()
	c, err := f.b.Build(ctx, BuildSpec{Config: ConfigSpec{Base: "allnoconfig"}, Targets: []string{"vmlinux"}})
	if err != nil {
		t.Fatal(err)
	}
	keys := s.listEntries()
	if len(keys) != 1 || keys[0] != c.Key {
		t.Errorf("entries after eviction %v, want only %s (a=%s b=%s)", keys, c.Key, a.Key, b.Key)
	}
}

func TestFakeConcurrentBuildsShareOneBuild(t *testing.T) {
	f := newFake(t)
	var wg sync.WaitGroup
	results := make([]*Result, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := *f.b
			results[i], errs[i] = b.Build(context.Background(), tinySpec(true))
		}()
	}
	wg.Wait()
	built := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !r.CacheHit {
			built++
		}
	}
	if built != 1 {
		t.Errorf("%d builds ran make, want 1", built)
	}
}

func TestFakeIncompleteEntryIsNotAHit(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	res, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Dir(res.OutDir)
	// An interrupted build: objects but no entry.json.
	if err := os.Remove(filepath.Join(entry, entryFile)); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(res.OutDir, "stale-object")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var lines int
	f.b.Progress = func(e Event) {
		if e.Phase == PhaseBuild && e.Kind != "" {
			lines++
		}
	}
	res2, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if res2.CacheHit || lines != 17 {
		t.Errorf("an incomplete entry was used: hit=%v, %d lines rebuilt (want a full rebuild, 17)", res2.CacheHit, lines)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the interrupted build's files survived: %v", err)
	}

	// An entry whose make succeeded but whose bookkeeping did not is
	// resumed: make runs and finds nothing to do.
	if err := os.Remove(filepath.Join(entry, entryFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(entry, makeOKFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lines = 0
	res3, err := f.b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if res3.CacheHit || lines != 0 {
		t.Errorf("resume: hit=%v, %d lines rebuilt, want 0", res3.CacheHit, lines)
	}
	if _, err := os.Stat(filepath.Join(entry, makeOKFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("make.ok left in a complete entry")
	}
}

// BenchmarkFakeCacheHit measures kbuild's own cost of a cache hit: source
// identity (a walk of the small fake tree), tool versions (memoized),
// configuration cache, entry lookup.
func BenchmarkFakeCacheHit(b *testing.B) {
	f := newFake(b)
	ctx := context.Background()
	if _, err := f.b.Build(ctx, tinySpec(true)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := f.b.Build(ctx, tinySpec(true))
		if err != nil || !res.CacheHit {
			b.Fatalf("hit=%v err=%v", res != nil && res.CacheHit, err)
		}
	}
}
