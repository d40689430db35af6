package toolchain

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// countCalls makes every fake script of the machine append its name and
// arguments to a log before doing its job, and returns a function that
// reads the log (one line a run) and empties it. Calling it again after
// rewriting a fake counts the new one too.
func (m *fakeMachine) countCalls(dirs ...string) func() []string {
	m.t.Helper()
	log := filepath.Join(m.dir, "calls")
	for _, dir := range append([]string{m.bin}, dirs...) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			m.t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if !e.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				m.t.Fatal(err)
			}
			body, ok := strings.CutPrefix(string(b), "#!/bin/sh\n")
			line := `echo "${0##*/} $*" >> ` + shq(log) + "\n"
			if !ok || strings.HasPrefix(body, line) {
				continue
			}
			m.write(p, line+body)
		}
	}
	return func() []string {
		m.t.Helper()
		b, err := os.ReadFile(log)
		if err != nil && !os.IsNotExist(err) {
			m.t.Fatal(err)
		}
		_ = os.Remove(log)
		return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
	}
}

func (m *fakeMachine) detectCached(cache string, kv ...string) *Report {
	m.t.Helper()
	r, err := Detect(context.Background(), Options{Env: m.env(kv...), LLVMRoot: m.llvmRoot, Arch: "x86_64", CacheDir: cache})
	if err != nil {
		m.t.Fatalf("Detect: %v", err)
	}
	return r
}

// touch gives p a modification time an hour ahead (and a new ctime).
func touch(t *testing.T, p string) {
	t.Helper()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
}

func calledTool(calls []string, name string) int {
	n := 0
	for _, c := range calls {
		if c == name || strings.HasPrefix(c, name+"_") {
			n++
		}
	}
	return n
}

func TestProbeCacheSecondDetectRunsNothing(t *testing.T) {
	m := newFake(t)
	m.standard()
	calls := m.countCalls()
	cache := t.TempDir()
	first := m.detectCached(cache)
	expectSuccess(t, first)
	if n := len(calls()); n == 0 {
		t.Fatal("the first Detect ran no tool")
	}
	second := m.detectCached(cache)
	if c := calls(); len(c) != 0 {
		t.Errorf("the second Detect ran %d tools: %v", len(c), c)
	}
	if first.Fingerprint != second.Fingerprint {
		t.Errorf("fingerprint %s from the cache, %s probed", second.Fingerprint, first.Fingerprint)
	}
	expectSuccess(t, second)
	if second.Chosen[Rustdoc].Version == "" || second.Chosen[Libclang].Version != first.Chosen[Libclang].Version {
		t.Errorf("chosen from the cache: %+v, probed: %+v", second.Chosen, first.Chosen)
	}
	// Without a cache directory, nothing is remembered.
	m.detect()
	if len(calls()) == 0 {
		t.Error("Detect without CacheDir ran no tool")
	}
}

func TestProbeCacheChangedToolIsProbedAgain(t *testing.T) {
	m := newFake(t)
	m.standard()
	calls := m.countCalls()
	cache := t.TempDir()
	m.detectCached(cache)
	calls()

	// touch: same content, new times.
	touch(t, filepath.Join(m.bin, "ld.lld"))
	m.detectCached(cache)
	if c := calls(); calledTool(c, "ld.lld") != 1 || len(c) != 1 {
		t.Errorf("after touching ld.lld, ran %v; want ld.lld --version only", c)
	}

	// rewrite: a new rustc in place.
	m.rustc("rustc", rustcSpec{version: "rustc 1.86.0 (05f9846f8 2025-03-31)", src: true})
	m.countCalls()
	r := m.detectCached(cache)
	if c := calls(); calledTool(c, "rustc") != 3 {
		t.Errorf("after rewriting rustc, ran %v; want its three probes", c)
	}
	if v := r.Chosen[Rustc].Version; v != "1.86.0" {
		t.Errorf("rustc %s after the rewrite, want 1.86.0", v)
	}
}

func TestProbeCacheRustupProxyAlwaysRuns(t *testing.T) {
	m := newFake(t)
	m.rustc("rustup", rustcSpec{src: true})
	if err := os.Symlink("rustup", filepath.Join(m.bin, "rustc")); err != nil {
		t.Fatal(err)
	}
	m.bindgen("bindgen", bindgenSpec{})
	m.llvm(m.bin, "", "19.1.7")
	calls := m.countCalls()
	cache := t.TempDir()
	expectSuccess(t, m.detectCached(cache))
	calls()
	expectSuccess(t, m.detectCached(cache))
	c := calls()
	// The proxy runs as rustc: --version, --version --verbose, --print sysroot.
	if n := calledTool(c, "rustc"); n != 3 {
		t.Errorf("second Detect ran the rustup proxy %d times (%v), want 3", n, c)
	}
	if len(c) != 3 {
		t.Errorf("second Detect ran %v; want only the proxy", c)
	}
}

func TestProbeCacheKeyedByEnvironment(t *testing.T) {
	m := newFake(t)
	m.standard()
	calls := m.countCalls()
	cache := t.TempDir()
	m.detectCached(cache)
	calls()
	// bindgen's libclang search reads LIBCLANG_PATH: a new value re-probes
	// every tool (the variables key every entry).
	m.detectCached(cache, "LIBCLANG_PATH=/elsewhere")
	if c := calls(); calledTool(c, "bindgen") == 0 {
		t.Errorf("with a new LIBCLANG_PATH, ran %v; want bindgen probed again", c)
	}
	// RUST_LIB_SRC is not a probe: it is looked at on every call.
	lib := filepath.Join(m.dir, "rustlib")
	if err := os.MkdirAll(filepath.Join(lib, "core", "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := m.detectCached(cache, "RUST_LIB_SRC="+lib)
	if c := calls(); len(c) != 0 {
		t.Errorf("with RUST_LIB_SRC, ran %v", c)
	}
	problem(t, r, CheckRustSrc) // no lib.rs there
}

func TestProbeCacheFailuresAreNotCached(t *testing.T) {
	m := newFake(t)
	m.standard()
	m.bindgen("bindgen", bindgenSpec{fail: 1})
	calls := m.countCalls()
	cache := t.TempDir()
	expectFailure(t, m.detectCached(cache), CheckLibclangFound, Libclang)
	calls()
	expectFailure(t, m.detectCached(cache), CheckLibclangFound, Libclang)
	if c := calls(); calledTool(c, "bindgen") != 1 || len(c) != 1 {
		t.Errorf("second Detect ran %v; want the failing libclang probe again, nothing else", c)
	}
}
