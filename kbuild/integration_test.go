package kbuild_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testkernel"
	"github.com/rflkit/rflkit/kbuild"
)

type entryInfo struct {
	BuildSeconds float64 `json:"build_seconds"`
	SeededFrom   string  `json:"seeded_from"`
}

func readEntry(t *testing.T, res *kbuild.Result) entryInfo {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(filepath.Dir(res.OutDir), "entry.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e entryInfo
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestIntegrationTinyRustBuilds: the tiny Rust configuration builds a
// bzImage with LLVM=1 on the real tree; helpers off is a second entry built
// from the first's objects; repeating either is a cache hit.
func TestIntegrationTinyRustBuilds(t *testing.T) {
	ctx, cancel := testkernel.Context(t)
	defer cancel()
	build := func(helpers bool) *kbuild.Result {
		b := testkernel.Builder(t)
		t0 := time.Now()
		res, err := b.Build(ctx, kbuild.BuildSpec{Config: kbuild.TinyRust(helpers), Targets: []string{"bzImage"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("helpers=%v: hit=%v in %s, key %s", helpers, res.CacheHit, time.Since(t0).Round(time.Millisecond), res.Key)
		return res
	}
	on := build(true)
	off := build(false)
	if on.Key == off.Key || on.ConfigHash == off.ConfigHash {
		t.Fatal("helpers on and off share a cache entry")
	}
	for _, r := range []*kbuild.Result{on, off} {
		fi, err := os.Stat(r.Artifacts["kernel"])
		if err != nil || fi.Size() < 500<<10 {
			t.Fatalf("bzImage %s: %v", r.Artifacts["kernel"], err)
		}
		for _, a := range []string{"vmlinux", "System.map", "config", "metadata.json"} {
			if _, err := os.Stat(r.Artifacts[a]); err != nil {
				t.Errorf("artifact %s: %v", a, err)
			}
		}
	}
	eOn, eOff := readEntry(t, on), readEntry(t, off)
	t.Logf("make time: helpers on %.0f s (from %q), helpers off %.0f s (seeded from %q): ratio %.2f",
		eOn.BuildSeconds, eOn.SeededFrom, eOff.BuildSeconds, eOff.SeededFrom, eOff.BuildSeconds/eOn.BuildSeconds)
	if eOff.SeededFrom != on.Key && eOn.SeededFrom != off.Key {
		t.Errorf("neither variant was built from the other's objects (on from %q, off from %q)", eOn.SeededFrom, eOff.SeededFrom)
	}

	// Repeating is a cache hit, without make.
	for _, helpers := range []bool{true, false} {
		b := testkernel.Builder(t)
		t0 := time.Now()
		res, err := b.Build(ctx, kbuild.BuildSpec{Config: kbuild.TinyRust(helpers), Targets: []string{"bzImage"}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.CacheHit {
			t.Errorf("helpers=%v: repeated build is not a cache hit", helpers)
		}
		t.Logf("helpers=%v: repeated build: cache hit in %s", helpers, time.Since(t0).Round(time.Millisecond))
	}
}

// BenchmarkCacheHit measures a cache hit of the tiny Rust kernel (source
// identity, tool versions, config cache, entry lookup).
func BenchmarkCacheHit(b *testing.B) {
	bl := testkernel.Builder(b)
	for b.Loop() {
		res, err := bl.Build(context.Background(), kbuild.BuildSpec{Config: kbuild.TinyRust(true), Targets: []string{"bzImage"}})
		if err != nil {
			b.Fatal(err)
		}
		if !res.CacheHit {
			b.Fatal("not a cache hit")
		}
	}
}

// TestIntegrationVariantFromCopy: a variant differing only in
// RUST_INLINE_HELPERS starts from a copy of the other's objects and
// rebuilds only what the option touches. The pair carries its own
// LOCALVERSION so that it is built (once per machine) by this test.
func TestIntegrationVariantFromCopy(t *testing.T) {
	spec := func(helpers bool) kbuild.BuildSpec {
		c := kbuild.TinyRust(helpers)
		c.Inline = append(c.Inline, "CONFIG_LOCALVERSION=\"-kbuild-variant\"\n")
		return kbuild.BuildSpec{Config: c, Targets: []string{"bzImage"}}
	}
	var res [2]*kbuild.Result
	for i, helpers := range []bool{true, false} {
		b := testkernel.Builder(t)
		t0 := time.Now()
		ctx, cancel := testkernel.Context(t)
		r, err := b.Build(ctx, spec(helpers))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		res[i] = r
		e := readEntry(t, r)
		t.Logf("helpers=%v: hit=%v, Build call %s; its make took %.0f s, seeded from %q",
			helpers, r.CacheHit, time.Since(t0).Round(time.Second), e.BuildSeconds, e.SeededFrom)
	}
	on, off := readEntry(t, res[0]), readEntry(t, res[1])
	if off.SeededFrom != res[0].Key {
		t.Errorf("helpers off was seeded from %q, want the helpers-on build %s", off.SeededFrom, res[0].Key)
	}
	t.Logf("make time of the variant / of its seed: %.0f s / %.0f s = %.2f", off.BuildSeconds, on.BuildSeconds, off.BuildSeconds/on.BuildSeconds)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(res[1].OutDir), "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	var c, rust int
	for _, l := range strings.Split(string(data), "\n") {
		if k, _, ok := kbuild.ParseQuietLine(l); ok {
			switch {
			case k == "CC":
				c++
			case strings.HasPrefix(k, "RUSTC"):
				rust++
			}
		}
	}
	t.Logf("the variant's make compiled %d C and %d Rust units", c, rust)
}

// TestIntegrationInlineCheck: the static check of helper inlining on the
// four tiny kernels (built-in and module, helpers on and off; the module
// kernels are seeded from the nearest cached build). With helpers on, no
// built-in Rust object and not rnull_mod.ko call a helper out of line;
// with them off, both do, and vmlinux defines every helper.
func TestIntegrationInlineCheck(t *testing.T) {
	ctx, cancel := testkernel.Context(t)
	defer cancel()
	reports := map[string]*kbuild.InlineReport{}
	for _, modules := range []bool{false, true} {
		for _, helpers := range []bool{true, false} {
			spec := kbuild.BuildSpec{Config: kbuild.TinyRust(helpers), Targets: []string{"bzImage"}}
			if modules {
				spec = kbuild.BuildSpec{Config: kbuild.TinyRustModules(helpers), Targets: []string{"bzImage", "modules"}}
			}
			res, err := testkernel.Builder(t).Build(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			r, err := kbuild.InlineCheck(res)
			if err != nil {
				t.Fatal(err)
			}
			name := map[bool]string{false: "built-in", true: "modules"}[modules] + map[bool]string{false: "/helpers-off", true: "/helpers-on"}[helpers]
			reports[name] = r
			n := 0
			for _, u := range r.RustObjects {
				n += len(u)
			}
			t.Logf("%s: hit %v, seeded from %q, make %s; check %s: vmlinux defines %d rust_helper_*, %d of %d built-in Rust objects call %d out of line, modules %v, module-defined %v",
				name, res.CacheHit, res.SeededFrom, res.BuildTime.Round(time.Second), time.Since(t0).Round(time.Millisecond),
				len(r.Vmlinux), len(r.RustObjects), r.RustObjectCount, n, counts(r.Modules), counts(r.ModuleDefined))
			if r.InlineHelpers != helpers {
				t.Errorf("%s: InlineHelpers = %v", name, r.InlineHelpers)
			}
			if r.RustObjectCount == 0 {
				t.Errorf("%s: no built-in Rust object found", name)
			}
			if modules {
				if _, ok := r.Modules["rnull_mod"]; !ok {
					t.Fatalf("%s: no rnull_mod.ko in %v", name, res.Artifacts)
				}
				if len(r.Modules["null_blk"]) != 0 {
					t.Errorf("%s: the C module imports helpers: %v", name, r.Modules["null_blk"])
				}
			}
			if helpers {
				if !r.Inlined() {
					t.Errorf("%s: helpers called out of line: objects %v, modules %v", name, r.RustObjects, r.Modules)
				}
			} else {
				if r.Inlined() || len(r.Vmlinux) < 100 {
					t.Errorf("%s: helpers off, yet nothing calls them out of line (vmlinux defines %d)", name, len(r.Vmlinux))
				}
				if modules && len(r.Modules["rnull_mod"]) == 0 {
					t.Errorf("%s: rnull_mod.ko imports no helper with helpers off", name)
				}
			}
		}
	}
}

func counts(m map[string][]string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
