package toolchain

import (
	"errors"
	"strings"
	"testing"
)

type parseCase struct {
	name, out             string
	want, vendor, channel string // want "" = must fail
	kernelRejects         bool
}

func runParseCases(t *testing.T, tool Tool, parse func(string) (Parsed, error), cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parse(tc.out)
			if tc.want == "" {
				var ve *VersionError
				if !errors.As(err, &ve) {
					t.Fatalf("parse(%q) = %v, %v; want a *VersionError", tc.out, p.Version, err)
				}
				if ve.Tool != tool || !strings.Contains(err.Error(), string(tool)) {
					t.Errorf("error %q does not name %s", err, tool)
				}
				if q := strings.TrimSpace(tc.out); q != "" && len(q) < 100 && !strings.Contains(err.Error(), strings.Trim(quote(q), `"`)) {
					t.Errorf("error %q does not quote the output %q", err, tc.out)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.out, err)
			}
			if got := p.Version.String(); got != tc.want {
				t.Errorf("version = %s, want %s", got, tc.want)
			}
			if p.Vendor != tc.vendor {
				t.Errorf("vendor = %q, want %q", p.Vendor, tc.vendor)
			}
			if p.Channel != tc.channel {
				t.Errorf("channel = %q, want %q", p.Channel, tc.channel)
			}
			if p.KernelAccepts == tc.kernelRejects {
				t.Errorf("KernelAccepts = %v, want %v", p.KernelAccepts, !tc.kernelRejects)
			}
		})
	}
}

func TestParseRustc(t *testing.T) {
	runParseCases(t, Rustc, ParseRustc, []parseCase{
		{"debian", "rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)\n", "1.85.1", "distribution (built from a source tarball)", "stable", false},
		{"rustup-stable", "rustc 1.95.0 (59807616e 2026-04-14)", "1.95.0", "", "stable", false},
		{"nightly", "rustc 1.86.0-nightly (a8314ef7d 2025-01-05)", "1.86.0-nightly", "", "nightly", false},
		{"beta", "rustc 1.78.0-beta.3 (4147533e0 2024-03-28)", "1.78.0-beta.3", "", "beta", false},
		{"dev", "rustc 1.85.0-dev (a8314ef7d 2022-06-27)", "1.85.0-dev", "", "dev", false},
		{"kernel-test-suffix", "rustc 1.85.0-1.60.0 (a8314ef7d 2022-06-27)", "1.85.0", "", "stable", false},
		{"fedora", "rustc 1.85.0 (4d91de4e4 2025-02-17) (Fedora 1.85.0-1.fc41)", "1.85.0", "Fedora", "stable", false},
		{"ubuntu", "rustc 1.80.1 (3f5fd8dd4 2024-08-06) (built from a source tarball)", "1.80.1", "distribution (built from a source tarball)", "stable", false},
		{"ubuntu-versioned", "rustc 1.84.1 (e71f9a9a9 2025-01-27) (Ubuntu 1.84.1-0ubuntu1~24.04)", "1.84.1", "Ubuntu", "stable", false},
		{"verbose", "rustc 1.85.1 (4eb161250 2025-03-15)\nbinary: rustc\nLLVM version: 19.1.7\n", "1.85.1", "", "stable", false},
		{"unexpected-name", "unexpected 1.85.0 (a8314ef7d 2022-06-27)", "", "", "", false},
		{"unexpected-version", "rustc unexpected (a8314ef7d 2022-06-27)", "", "", "", false},
		{"no-minor", "rustc 1.85 (a8314ef7d 2022-06-27)", "", "", "", false},
		{"empty", "", "", "", "", false},
		{"second-line-only", "warning: something\nrustc 1.85.0", "", "", "", false},
	})
}

func TestParseBindgen(t *testing.T) {
	runParseCases(t, Bindgen, ParseBindgen, []parseCase{
		{"plain", "bindgen 0.71.1\n", "0.71.1", "", "", false},
		{"old", "bindgen 0.56.0", "0.56.0", "", "", false},
		{"dev", "bindgen 0.71.1-dev", "0.71.1-dev", "", "", false},
		{"kernel-test-suffix", "bindgen 0.71.1-0.999.0", "0.71.1", "", "", false},
		{"cli", "bindgen-cli 0.65.1", "0.65.1", "", "", true},
		{"unexpected-name", "unexpected 0.71.1", "", "", "", false},
		{"unexpected-version", "bindgen unexpected", "", "", "", false},
		{"no-minor", "bindgen 0.71", "", "", "", false},
		{"0.71.0-regression", "error: the following required arguments were not provided:\n  <HEADER>\n", "", "", "", false},
	})
}

func TestParseLibclang(t *testing.T) {
	runParseCases(t, Libclang, ParseLibclang, []parseCase{
		{"debian-bindgen-0.71", "clang diag: /src/scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 (3+b1) [-W#pragma-messages]\n", "19.1.7", "", "", false},
		{"kernel-default", "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 17.0.1 [-W#pragma-messages], err: false", "17.0.1", "", "", false},
		{"git", "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 17.0.1 (https://github.com/llvm/llvm-project.git 4a2c05b05ed07f1f620e94f6524a8b4b2760a0b1) [-W#pragma-messages], err: false", "17.0.1", "", "", false},
		{"fedora", "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 17.0.1 (Fedora 13.0.0-3.fc35) [-W#pragma-messages], err: false", "17.0.1", "", "", false},
		{"nix-locale-line", "\n/nix/store/x-bash-5.1-p16/bin/bash: warning: setlocale: LC_ALL: cannot change locale (c)\n/home/jd/linux-6.1/scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 17.0.1  [-W#pragma-messages], err: false\n", "17.0.1", "", "", false},
		{"unexpected", "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version unexpected [-W#pragma-messages], err: false", "", "", "", false},
		{"nothing", "", "", "", "", false},
	})
}

func TestParseClang(t *testing.T) {
	runParseCases(t, Clang, ParseClang, []parseCase{
		{"debian", "Debian clang version 19.1.7 (3+b1)\nTarget: x86_64-pc-linux-gnu\nThread model: posix\nInstalledDir: /usr/lib/llvm-19/bin\n", "19.1.7", "Debian", "", false},
		{"ubuntu", "Ubuntu clang version 18.1.3 (1ubuntu1)\nTarget: x86_64-pc-linux-gnu", "18.1.3", "Ubuntu", "", false},
		{"ubuntu-old", "Ubuntu clang version 17.0.1-2~ubuntu20.04.1", "17.0.1", "Ubuntu", "", false},
		{"fedora", "clang version 19.1.7 (Fedora 19.1.7-3.fc41)\nTarget: x86_64-redhat-linux-gnu", "19.1.7", "Fedora", "", false},
		{"apple", "Apple clang version 15.0.0 (clang-1500.3.9.4)\nTarget: arm64-apple-darwin23.4.0", "15.0.0", "Apple", "", false},
		{"android", "Android (11349228, +pgo, +bolt, +lto, -mlgo, based on r522817) clang version 18.0.1 (https://android.googlesource.com/toolchain/llvm-project d8003a456d14a3deb8054cdaa529ffbf02d9b262)", "18.0.1", "Android", "", false},
		{"git", "clang version 20.0.0git (https://github.com/llvm/llvm-project 1a2b3c4d)", "20.0.0-git", "", "", false},
		{"upstream", "clang version 17.0.1", "17.0.1", "", "", false},
		{"dev", "clang version 17.0.1-dev", "17.0.1-dev", "", "", false},
		{"homebrew", "Homebrew clang version 19.1.7\nTarget: arm64-apple-darwin24.2.0", "19.1.7", "Homebrew", "", false},
		{"gcc", "gcc (Debian 12.2.0-14+deb12u1) 12.2.0", "", "", "", false},
		{"garbage", "what?", "", "", "", false},
	})
	p, err := ParseClang("Apple clang version 15.0.0 (clang-1500.3.9.4)")
	if err != nil || !strings.Contains(p.Note, "not LLVM's") {
		t.Errorf("Apple clang: note %q, %v; want a note that its numbering is not LLVM's", p.Note, err)
	}
}

func TestParseLLD(t *testing.T) {
	runParseCases(t, LLD, ParseLLD, []parseCase{
		{"upstream", "LLD 19.1.7 (compatible with GNU linkers)", "19.1.7", "", "", false},
		{"debian", "Debian LLD 19.1.7 (compatible with GNU linkers)", "19.1.7", "Debian", "", false},
		{"homebrew", "Homebrew LLD 19.1.7", "19.1.7", "Homebrew", "", false},
		{"two-fields", "LLD 18.1", "18.1.0", "", "", false},
		{"gnu-ld", "GNU ld (GNU Binutils for Debian) 2.40", "", "", "", false},
		{"empty", "", "", "", "", false},
	})
}

func TestParseLLVMTool(t *testing.T) {
	parse := func(s string) (Parsed, error) { return ParseLLVMTool(LLVMAr, s) }
	runParseCases(t, LLVMAr, parse, []parseCase{
		{"debian", "Debian LLVM version 19.1.7\n  Optimized build.\n", "19.1.7", "Debian", "", false},
		{"nm-second-line", "llvm-nm, compatible with GNU nm\nDebian LLVM version 19.1.7\n  Optimized build.\n", "19.1.7", "Debian", "", false},
		{"upstream", "LLVM (http://llvm.org/):\n  LLVM version 17.0.1\n  Optimized build.", "17.0.1", "", "", false},
		{"ubuntu", "Ubuntu LLVM version 18.1.3\n  Optimized build.", "18.1.3", "Ubuntu", "", false},
		{"gnu-ar", "GNU ar (GNU Binutils for Debian) 2.40", "", "", "", false},
	})
}

func TestParseRustcLLVM(t *testing.T) {
	v, err := ParseRustcLLVM("rustc 1.85.1 (4eb161250 2025-03-15)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.85.1\nLLVM version: 19.1.7\n")
	if err != nil || v.String() != "19.1.7" {
		t.Fatalf("ParseRustcLLVM = %v, %v; want 19.1.7", v, err)
	}
	if _, err := ParseRustcLLVM("rustc 1.85.1\nrelease: 1.85.1\n"); err == nil {
		t.Fatal("ParseRustcLLVM without an LLVM line succeeded")
	}
}

func TestCanonicalMatchesKernel(t *testing.T) {
	// The kernel compares X.Y.Z only: a nightly meets the minimum of its
	// own number, which semantic versioning would deny.
	n, _ := ParseRustc("rustc 1.85.0-nightly (abc 2025-01-01)")
	min, _ := ParseRustc("rustc 1.85.0")
	if !atLeast(n.Version, min.Version) {
		t.Errorf("1.85.0-nightly does not meet 1.85.0; the kernel says it does")
	}
	if canonical(n.Version) != 108500 {
		t.Errorf("canonical(1.85.0) = %d, want 108500", canonical(n.Version))
	}
	old, _ := ParseBindgen("bindgen 0.71.0")
	want, _ := ParseBindgen("bindgen 0.71.1")
	if atLeast(old.Version, want.Version) {
		t.Errorf("0.71.0 meets 0.71.1")
	}
}

// FuzzParsers checks that no parser panics, that a failure is a
// *VersionError, and that a version read back from its own canonical
// string is the same.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		"rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)",
		"rustc 1.86.0-nightly (a 2025-01-05)", "rustc 1.78.0-beta.3",
		"bindgen 0.71.1", "bindgen-cli 0.65.1", "bindgen 0.56.0",
		"Debian clang version 19.1.7 (3+b1)", "Apple clang version 15.0.0 (clang-1500.3.9.4)",
		"Android (11349228, +pgo, +bolt, +lto, -mlgo, based on r522817) clang version 18.0.1 (x)",
		"clang version 20.0.0git (https://github.com/llvm/llvm-project abc)",
		"LLD 19.1.7 (compatible with GNU linkers)", "Debian LLVM version 19.1.7",
		"x: warning: clang version 19.1.7 [-W#pragma-messages]",
		"rustc 99999999999999999999.1.1", "LLD 1.2.3.4.5", "", "\x00\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parsers := map[Tool]func(string) (Parsed, error){
			Rustc: ParseRustc, Bindgen: ParseBindgen, Libclang: ParseLibclang,
			Clang: ParseClang, LLD: ParseLLD,
			LLVMAr: func(s string) (Parsed, error) { return ParseLLVMTool(LLVMAr, s) },
		}
		for tool, parse := range parsers {
			p, err := parse(s)
			if err != nil {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Tool != tool {
					t.Fatalf("%s: error %v is not a *VersionError for %s", tool, err, tool)
				}
				_ = err.Error()
				continue
			}
			if p.Version == nil {
				t.Fatalf("%s: nil version without error for %q", tool, s)
			}
			if len(p.Version.Segments()) < 3 {
				t.Fatalf("%s: version %s has fewer than 3 segments", tool, p.Version)
			}
			if canonical(p.Version) < 0 {
				t.Fatalf("%s: negative canonical version for %q", tool, s)
			}
		}
		_, _ = ParseRustcLLVM(s)
	})
}
