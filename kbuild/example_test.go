package kbuild_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rflkit/rflkit/kbuild"
)

// The make command line is data: it can be checked, logged or run by hand
// without building anything.
func ExampleBuilder_Command() {
	b := &kbuild.Builder{
		Arch: "x86_64",
		Jobs: 2,
		MakeVars: map[string]string{
			"LLVM":    "1",
			"RUSTC":   "/usr/bin/rustc",
			"BINDGEN": "/usr/bin/bindgen",
		},
		Env: []string{"PATH=/usr/bin:/bin", "MAKEFLAGS=-j64"},
	}
	inv, err := b.Command("/src/linux", "/tmp/out", "bzImage")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inv)
	fmt.Println(inv.Env) // MAKEFLAGS from an outer make is dropped

	// Contradictory variables are refused before anything runs.
	b.ExtraVars = map[string]string{"CC": "gcc"}
	_, err = b.Command("/src/linux", "/tmp/out")
	var ue *kbuild.UsageError
	fmt.Println(errors.As(err, &ue), err)
	// Output:
	// make -C /src/linux O=/tmp/out -j2 ARCH=x86_64 BINDGEN=/usr/bin/bindgen LLVM=1 RUSTC=/usr/bin/rustc bzImage
	// [PATH=/usr/bin:/bin]
	// true kbuild: CC: CC=gcc contradicts LLVM=1 (rflkit builds with clang/LLVM)
}

// Building the tiny Rust kernel (kbuild.TinyRust) through the cache: the second
// call is a cache hit.
func ExampleBuilder_Build() {
	b := &kbuild.Builder{
		Src:  "/usr/src/linux-source-7.2.tar.xz",
		Arch: "x86_64",
		MakeVars: map[string]string{
			"LLVM": "1", "RUSTC": "/usr/bin/rustc", "HOSTRUSTC": "/usr/bin/rustc",
			"RUSTDOC": "/usr/bin/rustdoc", "BINDGEN": "/usr/bin/bindgen",
		},
		Progress: func(e kbuild.Event) {
			if e.Phase == kbuild.PhaseBuild && e.Percent >= 0 {
				fmt.Printf("\r%3.0f%% %s %s", e.Percent, e.Kind, e.Path)
			}
		},
	}
	res, err := b.Build(context.Background(), kbuild.BuildSpec{
		Config:  kbuild.TinyRust(true),
		Targets: []string{"bzImage"},
	})
	var ke *kbuild.KernelError
	switch {
	case errors.As(err, &ke):
		fmt.Println("does not build:", ke.Diagnostics[0])
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(res.Artifacts["kernel"], res.CacheHit)
	}
}
