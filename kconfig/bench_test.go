package kconfig

import (
	"context"
	"testing"

	"github.com/rflkit/rflkit/internal/fragment"
	"github.com/rflkit/rflkit/internal/testenv"
)

func evalBenchInput(b *testing.B, tr *Tree) *Config {
	b.Helper()
	tiny, err := tr.TinyConfig()
	if err != nil {
		b.Fatal(err)
	}
	return parseLenient(b, "input", mergeText(b, tiny.Bytes(), []byte(fragment.TinyRust(true))))
}

// BenchmarkOldDefconfig is what `make olddefconfig` does, for x86_64 7.2
// with a warm macro cache: load (parse the whole tree), evaluate
// tinyconfig + the Rust fragment, write the .config. Compare with
// scripts/kconfig-ratio's make timing.
func BenchmarkOldDefconfig(b *testing.B) {
	src := testenv.KernelSource(b)
	opts := LoadOptions{SrcDir: src, MakeVars: toolVars(b), CacheDir: testenv.CacheDir(b)}
	tr, err := Load(context.Background(), opts) // warm the cache
	if err != nil {
		b.Fatal(err)
	}
	in := evalBenchInput(b, tr)
	b.ResetTimer()
	for b.Loop() {
		tr, err := Load(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(tr.OldDefconfig(in).Bytes()) == 0 {
			b.Fatal("empty output")
		}
	}
}

// BenchmarkEvaluate is the evaluation and writing alone, on a loaded tree.
func BenchmarkEvaluate(b *testing.B) {
	tr := loadReal(b, "", toolVars(b))
	in := evalBenchInput(b, tr)
	for b.Loop() {
		if len(tr.OldDefconfig(in).Bytes()) == 0 {
			b.Fatal("empty output")
		}
	}
}

// BenchmarkLoad is parsing the x86_64 tree with a warm macro cache.
func BenchmarkLoad(b *testing.B) {
	src := testenv.KernelSource(b)
	opts := LoadOptions{SrcDir: src, MakeVars: toolVars(b), CacheDir: testenv.CacheDir(b)}
	if _, err := Load(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}
