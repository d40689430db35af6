package kbuild

import (
	"context"
	"testing"

	"github.com/rflkit/rflkit/toolchain"
)

// Two callers that hand kbuild the same tools under different toolchain
// fingerprints (examples/build, internal/testkernel, nullblk-bench) share
// one cache entry: the second build is a hit.
func TestUseToolchainSharesCacheEntries(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	vars := map[string]string{"LLVM": "1", "RUSTC": "rustc", "HOSTRUSTC": "rustc", "RUSTDOC": "rustdoc", "BINDGEN": "bindgen"}

	a := *f.b
	a.UseToolchain(&toolchain.Report{MakeVars: vars, Fingerprint: "one"})
	ra, err := a.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if ra.CacheHit {
		t.Fatal("first build was a hit: the test proves nothing")
	}
	b := *f.b
	b.UseToolchain(&toolchain.Report{MakeVars: vars, Fingerprint: "two"})
	rb, err := b.Build(ctx, tinySpec(true))
	if err != nil {
		t.Fatal(err)
	}
	if !rb.CacheHit || rb.Key != ra.Key {
		t.Fatalf("same tools, other fingerprint: hit=%v key %s vs %s", rb.CacheHit, rb.Key, ra.Key)
	}
}

func TestUseToolchainPrecedence(t *testing.T) {
	rep := &toolchain.Report{MakeVars: map[string]string{"LLVM": "1", "RUSTC": "/usr/bin/rustc"}, Fingerprint: "fp"}
	b := (&Builder{LLVM: "-19", ExtraVars: map[string]string{"RUSTC": "/opt/rustc"}}).UseToolchain(rep)
	if _, ok := b.MakeVars["LLVM"]; ok {
		t.Errorf("Builder.LLVM set, but MakeVars keeps LLVM: %v", b.MakeVars)
	}
	if _, ok := b.MakeVars["RUSTC"]; ok {
		t.Errorf("ExtraVars RUSTC set, but MakeVars keeps RUSTC: %v", b.MakeVars)
	}
	if b.Fingerprint != "fp" {
		t.Errorf("Fingerprint = %q", b.Fingerprint)
	}
	rep.MakeVars["BINDGEN"] = "x"
	if _, ok := b.MakeVars["BINDGEN"]; ok {
		t.Error("MakeVars aliases the report's map")
	}
	if (&Builder{}).UseToolchain(nil).MakeVars != nil {
		t.Error("nil report changed MakeVars")
	}
}
