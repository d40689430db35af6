package toolchain_test

import (
	"context"
	"fmt"

	"github.com/rflkit/rflkit/toolchain"
)

// Parsing the version lines of vendor clangs and distribution rustc.
func ExampleParseClang() {
	for _, out := range []string{
		"Debian clang version 19.1.7 (3+b1)",
		"Android (11349228, +pgo, +bolt, +lto, -mlgo, based on r522817) clang version 18.0.1 (https://android.googlesource.com/toolchain/llvm-project d8003a456d14)",
		"clang version 20.0.0git (https://github.com/llvm/llvm-project 1a2b3c4d)",
		"Apple clang version 15.0.0 (clang-1500.3.9.4)",
	} {
		p, err := toolchain.ParseClang(out)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %s\n", p.Vendor, p.Version)
	}
	r, _ := toolchain.ParseRustc("rustc 1.86.0-nightly (a8314ef7d 2025-01-05)")
	fmt.Println(r.Version, r.Channel)
	_, err := toolchain.ParseBindgen("bindgen unexpected")
	fmt.Println(err)
	// Output:
	// Debian 19.1.7
	// Android 18.0.1
	//  20.0.0-git
	// Apple 15.0.0
	// 1.86.0-nightly nightly
	// toolchain: cannot parse the version printed by bindgen: want "bindgen X.Y.Z" on the first line; it printed "bindgen unexpected"
}

// Detecting the toolchain for a kernel tree and handing the chosen set to
// make. (Not run as a test: its output depends on the machine.)
func ExampleDetect() {
	ctx := context.Background()
	r, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: "/path/to/linux"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Rust available:", r.RustAvailable, "inline helpers:", r.InlineHelpers)
	for _, p := range r.Problems {
		fmt.Printf("%s %s: found %s, want %s; fix: %s\n", p.Severity, p.Tool, p.Found, p.Want, p.Fix)
	}
	fmt.Println("make", r.MakeArgs())
}

// The built-in minimums, used when no tree is given.
func ExampleFallbackMinimums() {
	m := toolchain.FallbackMinimums()
	fmt.Println(m.Rustc, m.Bindgen, m.LLVM, m.Fallback)
	fmt.Println(toolchain.SrcArch("x86_64"), toolchain.SrcArch("arm64"))
	// Output:
	// 1.85.0 0.71.1 17.0.1 true
	// x86 arm64
}
