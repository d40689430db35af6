package toolchain

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultSetIsAvailable(t *testing.T) {
	m := newFake(t)
	m.standard()
	r := m.detect()
	expectSuccess(t, r)
	if !r.InlineHelpers || !r.ClangLLVMCompatible || !r.BuildOK {
		t.Fatalf("InlineHelpers=%v ClangLLVMCompatible=%v BuildOK=%v; problems %v", r.InlineHelpers, r.ClangLLVMCompatible, r.BuildOK, r.Problems)
	}
	if len(r.Problems) != 0 {
		t.Fatalf("problems: %v", r.Problems)
	}
	want := map[string]string{
		"RUSTC": filepath.Join(m.bin, "rustc"), "HOSTRUSTC": filepath.Join(m.bin, "rustc"),
		"BINDGEN": filepath.Join(m.bin, "bindgen"), "LLVM": "1",
	}
	for k, v := range want {
		if r.MakeVars[k] != v {
			t.Errorf("MakeVars[%s] = %q, want %q", k, r.MakeVars[k], v)
		}
	}
	if _, ok := r.MakeVars["RUST_LIB_SRC"]; ok {
		t.Errorf("RUST_LIB_SRC set although the sysroot has rust-src")
	}
	if !r.Minimums.Fallback || r.Minimums.Rustc.String() != "1.85.0" {
		t.Errorf("minimums without a tree: %+v", r.Minimums)
	}
	if c := r.Chosen[Libclang]; c.Version != "19.1.7" {
		t.Errorf("chosen libclang = %+v", c)
	}
}

// failureCase is one of the kernel test's failure cases.
type failureCase struct {
	name  string
	env   []string
	check Check
	tool  Tool
	found string // substring of Found
}

// kernelFailureCases returns the failure cases of the kernel's
// rust_is_available_test.py (and a few more) on the standard fake machine m.
func kernelFailureCases(m *fakeMachine) []failureCase {
	nonexec := filepath.Join(m.dir, "nonexecutable")
	if err := os.WriteFile(nonexec, []byte("nonexecutable"), 0o644); err != nil {
		m.t.Fatal(err)
	}
	missing := filepath.Join(m.dir, "missing")
	m.write("true", "exit 0\n")

	return []failureCase{
		{"rustc-missing", []string{"RUSTC=" + missing}, CheckExists, Rustc, "could not be found"},
		{"bindgen-missing", []string{"BINDGEN=" + missing}, CheckExists, Bindgen, "could not be found"},
		{"rustc-nonexecutable", []string{"RUSTC=" + nonexec}, CheckRustcVersion, Rustc, "failed with code"},
		{"rustc-unexpected-binary", []string{"RUSTC=true"}, CheckRustcVersion, Rustc, "not an expected version output"},
		{"rustc-unexpected-name", []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{version: "unexpected 1.85.0 (a8314ef7d 2022-06-27)", src: true})}, CheckRustcVersion, Rustc, "unexpected 1.85.0"},
		{"rustc-unexpected-version", []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{version: "rustc unexpected (a8314ef7d 2022-06-27)", src: true})}, CheckRustcVersion, Rustc, "rustc unexpected"},
		{"rustc-no-minor", []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{version: "rustc 1.85 (a8314ef7d 2022-06-27)", src: true})}, CheckRustcVersion, Rustc, "rustc 1.85"},
		{"rustc-old-version", []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{version: "rustc 1.60.0 (a8314ef7d 2022-06-27)", src: true})}, CheckRustcVersion, Rustc, "1.60.0"},
		{"rustc-fails", []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{exit: 3, src: true})}, CheckRustcVersion, Rustc, "code 3"},
		{"bindgen-nonexecutable", []string{"BINDGEN=" + nonexec}, CheckBindgenVersion, Bindgen, "failed with code"},
		{"bindgen-unexpected-binary", []string{"BINDGEN=true"}, CheckBindgenVersion, Bindgen, "not an expected version output"},
		{"bindgen-unexpected-name", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: "unexpected 0.71.1"})}, CheckBindgenVersion, Bindgen, "unexpected 0.71.1"},
		{"bindgen-unexpected-version", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: "bindgen unexpected"})}, CheckBindgenVersion, Bindgen, "bindgen unexpected"},
		{"bindgen-no-minor", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: "bindgen 0.71"})}, CheckBindgenVersion, Bindgen, "bindgen 0.71"},
		{"bindgen-old-version", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: "bindgen 0.50.0"})}, CheckBindgenVersion, Bindgen, "0.50.0"},
		{"bindgen-cli-form", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: "bindgen-cli 0.71.1"})}, CheckBindgenVersion, Bindgen, "bindgen-cli"},
		{"bindgen-libclang-failure", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{fail: 42})}, CheckLibclangFound, Libclang, "code 42"},
		{"bindgen-libclang-unexpected-version", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{libclang: "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version unexpected [-W#pragma-messages], err: false"})}, CheckLibclangVersion, Libclang, "clang version unexpected"},
		{"bindgen-libclang-old-version", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{libclang: "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 10.0.0 [-W#pragma-messages], err: false"})}, CheckLibclangVersion, Libclang, "10.0.0"},
		{"rustc-src-core-krustflags", []string{"KRUSTFLAGS=--sysroot=" + missing}, CheckRustSrc, Rustc, missing},
		{"rustc-src-core-rustlibsrc", []string{"RUST_LIB_SRC=" + missing}, CheckRustSrc, Rustc, missing},
	}
}

// The kernel test's failure cases, one by one (rust_is_available_test.py).
func TestKernelFailureCases(t *testing.T) {
	m := newFake(t)
	m.standard()
	cases := kernelFailureCases(m)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := m.detect(tc.env...)
			p := expectFailure(t, r, tc.check, tc.tool)
			if p.Severity != SeverityError || p.Scope != ScopeRust {
				t.Errorf("%v: want a rust-scope error", p)
			}
			if !strings.Contains(p.Found, tc.found) {
				t.Errorf("found = %q, want it to mention %q", p.Found, tc.found)
			}
		})
	}
}

func TestNothingInstalled(t *testing.T) {
	m := newFake(t)
	r := m.detect()
	if r.RustAvailable || r.InlineHelpers || r.BuildOK {
		t.Fatalf("verdicts on an empty machine: %+v", r)
	}
	var tools []Tool
	for _, p := range r.Problems {
		if p.Check == CheckVarsSet {
			tools = append(tools, p.Tool)
		}
	}
	if strings.Join(toolStrings(tools), ",") != "rustc,bindgen,cc" {
		t.Errorf("check 1 problems for %v, want rustc, bindgen, cc", tools)
	}
	if len(r.MakeVars) != 0 {
		t.Errorf("MakeVars on an empty machine: %v", r.MakeVars)
	}
}

func toolStrings(ts []Tool) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}

func TestUnparseableIsTypedError(t *testing.T) {
	m := newFake(t)
	m.standard()
	bad := m.rustc(m.unique("rustc"), rustcSpec{version: "rustc unexpected", src: true})
	r := m.detect("RUSTC=" + bad)
	for _, c := range r.Candidates {
		if c.Path != bad {
			continue
		}
		var ve *VersionError
		if !errors.As(c.Err, &ve) || ve.Tool != Rustc || ve.Path != bad || !strings.Contains(c.Error, `"rustc unexpected`) {
			t.Fatalf("candidate error = %#v (%q); want a *VersionError naming rustc and quoting its output", c.Err, c.Error)
		}
		return
	}
	t.Fatalf("no candidate %s", bad)
}

func TestBindgenLibclang22(t *testing.T) {
	for _, tc := range []struct {
		bindgen, libclang string
		warn              bool
	}{
		{"0.71.1", "21.1.0", false},
		{"0.71.1", "22.0.0", true},
		{"0.71.1", "22.1.0", true},
		{"0.72.0", "22.0.0", true},
		{"0.72.1", "22.0.0", false},
	} {
		for _, patched := range []bool{false, true} {
			name := tc.bindgen + "/" + tc.libclang
			if patched {
				name += "/patched"
			}
			t.Run(name, func(t *testing.T) {
				m := newFake(t)
				m.rustc("rustc", rustcSpec{src: true, llvm: tc.libclang})
				m.llvm(m.bin, "", tc.libclang)
				m.bindgen("bindgen", bindgenSpec{version: "bindgen " + tc.bindgen, patched: patched,
					libclang: "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version " + tc.libclang + " [-W#pragma-messages], err: false"})
				r := m.detect()
				expectSuccess(t, r)
				if tc.warn && !patched {
					p := expectWarning(t, r, CheckLibclang22)
					if !strings.Contains(p.Found, tc.bindgen) || !strings.Contains(p.Found, tc.libclang) {
						t.Errorf("found = %q", p.Found)
					}
				} else {
					noProblem(t, r, CheckLibclang22)
				}
			})
		}
	}
}

func TestClangMatchesLibclang(t *testing.T) {
	t.Run("different-bindgen", func(t *testing.T) {
		m := newFake(t)
		m.standard()
		bg := m.bindgen(m.unique("bindgen"), bindgenSpec{libclang: "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 999.0.0 [-W#pragma-messages], err: false"})
		p := expectWarning(t, m.detect("BINDGEN="+bg), CheckClangLibclang)
		if !strings.Contains(p.Found, "999.0.0") || !strings.Contains(p.Found, "19.1.7") {
			t.Errorf("found = %q", p.Found)
		}
	})
	t.Run("different-clang", func(t *testing.T) {
		m := newFake(t)
		m.standard()
		cc := m.clang(m.unique("clang"), "clang version 999.0.0", "999.0.0")
		p := expectWarning(t, m.detect("CC="+cc), CheckClangLibclang)
		if !strings.Contains(p.Found, "999.0.0") {
			t.Errorf("found = %q", p.Found)
		}
	})
}

func TestKernelSuccessCases(t *testing.T) {
	run := func(t *testing.T, setup func(m *fakeMachine) []string) *Report {
		m := newFake(t)
		m.standard()
		r := m.detect(setup(m)...)
		expectSuccess(t, r)
		for _, p := range r.Problems {
			if p.Severity == SeverityWarning {
				t.Errorf("unexpected warning %v", p)
			}
		}
		return r
	}
	t.Run("cc-unknown", func(t *testing.T) {
		var missing string
		r := run(t, func(m *fakeMachine) []string {
			missing = filepath.Join(m.dir, "missing")
			return []string{"CC=" + missing}
		})
		if r.InlineHelpers {
			t.Errorf("InlineHelpers with an unknown C compiler")
		}
		if p := problem(t, r, CheckCCIsClang); !strings.Contains(p.Found, missing) {
			t.Errorf("found = %q", p.Found)
		}
	})
	t.Run("cc-multiple-arguments-ccache", func(t *testing.T) {
		r := run(t, func(m *fakeMachine) []string {
			cc := m.clang(m.unique("clang"), "Ubuntu clang version 19.1.7-1ubuntu1\nTarget: x86_64-pc-linux-gnu\nThread model: posix\nInstalledDir: /usr/bin\n", "19.1.7")
			return []string{"CC=" + cc + " clang"}
		})
		if !r.InlineHelpers || r.MakeVars["CC"] == "" || !strings.HasSuffix(r.MakeVars["CC"], " clang") {
			t.Errorf("InlineHelpers=%v MakeVars=%v problems=%v", r.InlineHelpers, r.MakeVars, r.Problems)
		}
	})
	for _, v := range []string{"rustc 1.85.0 (a8314ef7d 2022-06-27)", "rustc 1.85.0-dev (a8314ef7d 2022-06-27)", "rustc 1.85.0-1.60.0 (a8314ef7d 2022-06-27)", "rustc 1.86.0-nightly (a8314ef7d 2025-01-05)", "rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)"} {
		t.Run("rustc/"+v, func(t *testing.T) {
			run(t, func(m *fakeMachine) []string {
				return []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{version: v, src: true})}
			})
		})
	}
	for _, v := range []string{"bindgen 0.71.1", "bindgen 0.71.1-dev", "bindgen 0.71.1-0.999.0"} {
		t.Run("bindgen/"+v, func(t *testing.T) {
			run(t, func(m *fakeMachine) []string {
				return []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: v})}
			})
		})
	}
	for i, v := range []string{
		"scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 (https://github.com/llvm/llvm-project.git 4a2c05b05ed07f1f620e94f6524a8b4b2760a0b1) [-W#pragma-messages], err: false",
		"/home/jd/linux-6.1/outputs/dev/lib/modules/6.1.0-development/source/scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7  [-W#pragma-messages], err: false",
		"scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 (Fedora 13.0.0-3.fc35) [-W#pragma-messages], err: false",
		"\n/nix/store/dsd5gz46hdbdk2rfdimqddhq6m8m8fqs-bash-5.1-p16/bin/bash: warning: setlocale: LC_ALL: cannot change locale (c)\nscripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7  [-W#pragma-messages], err: false\n",
		"clang diag: /src/scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 (3+b1) [-W#pragma-messages]",
	} {
		t.Run("libclang/"+string(rune('a'+i)), func(t *testing.T) {
			run(t, func(m *fakeMachine) []string {
				return []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{libclang: v})}
			})
		})
	}
	for i, v := range []string{
		"clang version 19.1.7 (https://github.com/llvm/llvm-project.git 4a2c05b05ed07f1f620e94f6524a8b4b2760a0b1)",
		"clang version 19.1.7-dev",
		"clang version 19.1.7-2~ubuntu20.04.1",
		"Ubuntu clang version 19.1.7-2~ubuntu20.04.1",
		"Debian clang version 19.1.7 (3+b1)",
		"clang version 19.1.7 (Fedora 19.1.7-3.fc41)",
		"Homebrew clang version 19.1.7",
	} {
		t.Run("clang/"+string(rune('a'+i)), func(t *testing.T) {
			r := run(t, func(m *fakeMachine) []string {
				return []string{"CC=" + m.clang(m.unique("clang"), v, "19.1.7")}
			})
			if !r.InlineHelpers {
				t.Errorf("InlineHelpers false: %v", r.Problems)
			}
		})
	}
}

// A rustup layout like this machine's: a proxy first on PATH and rustup
// toolchains with a newer rustc (LLVM 22, no rust-src), a distribution
// rustc (LLVM 19, rust-src) later on PATH, LLVM 19 as plain names.
func TestChoosesConsistentSetOverPathOrder(t *testing.T) {
	m := newFake(t)
	rustup := filepath.Join(m.home, ".rustup", "toolchains")
	stable := m.rustc(filepath.Join(rustup, "stable-x86_64-unknown-linux-gnu", "bin", "rustc"),
		rustcSpec{version: "rustc 1.95.0 (59807616e 2026-04-14)", llvm: "22.1.2", sysroot: filepath.Join(rustup, "stable-x86_64-unknown-linux-gnu")})
	m.rustc(filepath.Join(rustup, "nightly-x86_64-unknown-linux-gnu", "bin", "rustc"),
		rustcSpec{version: "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)", llvm: "22.1.4", sysroot: filepath.Join(rustup, "nightly-x86_64-unknown-linux-gnu")})
	m.write(filepath.Join(rustup, "stable-x86_64-unknown-linux-gnu", "bin", "rustdoc"), "echo 'rustdoc 1.95.0 (59807616e 2026-04-14)'\n")
	cargo := filepath.Join(m.home, ".cargo", "bin")
	if err := os.MkdirAll(cargo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stable, filepath.Join(cargo, "rustc")); err != nil {
		t.Fatal(err)
	}
	usr := filepath.Join(m.dir, "usr", "bin")
	distro := m.rustc(filepath.Join(usr, "rustc"), rustcSpec{version: "rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)", llvm: "19.1.7", src: true})
	m.write(filepath.Join(usr, "rustdoc"), "echo 'rustdoc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)'\n")
	m.bindgen(filepath.Join(usr, "bindgen"), bindgenSpec{})
	m.llvm(usr, "", "19.1.7")
	m.path = []string{cargo, usr}
	r := m.detect()
	expectSuccess(t, r)
	if !r.InlineHelpers {
		t.Fatalf("InlineHelpers false: %v", r.Problems)
	}
	if r.MakeVars["RUSTC"] != distro || r.MakeVars["HOSTRUSTC"] != distro || r.MakeVars["RUSTDOC"] != filepath.Join(usr, "rustdoc") || r.MakeVars["LLVM"] != "1" {
		t.Fatalf("MakeVars = %v, want the distribution rustc and LLVM=1", r.MakeVars)
	}
	var rustcs []string
	for _, c := range r.Candidates {
		if c.Tool == Rustc {
			rustcs = append(rustcs, c.Path)
			if c.Path == filepath.Join(cargo, "rustc") && c.Resolved != stable {
				t.Errorf("proxy resolved to %q, want %q", c.Resolved, stable)
			}
			if strings.Contains(c.Path, "nightly") && (c.Channel != "nightly" || c.Rustup != "nightly-x86_64-unknown-linux-gnu" || c.HasRustSrc) {
				t.Errorf("nightly candidate: %+v", c)
			}
		}
	}
	if len(rustcs) != 4 {
		t.Errorf("rustc candidates %v, want the proxy, the distribution one and two rustup toolchains", rustcs)
	}

	// Forcing the rustup rustc: not available, for the rust-src reason,
	// with rustup's own fix or the working rustc.
	r = m.detect("RUSTC=" + filepath.Join(cargo, "rustc"))
	p := expectFailure(t, r, CheckRustSrc, Rustc)
	if p.Fix != "RUSTC="+distro+" HOSTRUSTC="+distro {
		t.Errorf("fix = %q", p.Fix)
	}
	if r.InlineHelpers || r.ClangLLVMCompatible {
		t.Errorf("inline helpers with rustc LLVM 22 and clang 19")
	}
	problem(t, r, CheckLLVMMajor)

	// Without the distribution rustc the fix is rustup's.
	m.path = []string{cargo}
	m.llvm(cargo, "", "19.1.7")
	m.bindgen(filepath.Join(cargo, "bindgen"), bindgenSpec{})
	r = m.detect()
	p = expectFailure(t, r, CheckRustSrc, Rustc)
	if p.Fix != "rustup component add rust-src --toolchain stable-x86_64-unknown-linux-gnu" {
		t.Errorf("fix = %q", p.Fix)
	}
}

func TestLLVMSuffixAndPrefix(t *testing.T) {
	t.Run("suffix", func(t *testing.T) {
		m := newFake(t)
		m.rustc("rustc", rustcSpec{src: true, llvm: "19.1.7"})
		m.bindgen("bindgen", bindgenSpec{})
		m.llvm(m.bin, "", "22.1.0")    // plain names: LLVM 22
		m.llvm(m.bin, "-19", "19.1.7") // clang-19, ld.lld-19, ...
		r := m.detect()
		if r.MakeVars["LLVM"] != "-19" || !r.InlineHelpers {
			t.Fatalf("LLVM=%q InlineHelpers=%v problems %v; want LLVM=-19", r.MakeVars["LLVM"], r.InlineHelpers, r.Problems)
		}
		if c := r.Chosen[Clang]; c.Path != filepath.Join(m.bin, "clang-19") {
			t.Errorf("chosen clang %v", c)
		}
	})
	t.Run("prefix", func(t *testing.T) {
		m := newFake(t)
		m.rustc("rustc", rustcSpec{src: true, llvm: "19.1.7"})
		m.bindgen("bindgen", bindgenSpec{})
		m.llvm(filepath.Join(m.llvmRoot, "llvm-19", "bin"), "", "19.1.7")
		m.llvm(filepath.Join(m.llvmRoot, "llvm-22", "bin"), "", "22.1.0")
		r := m.detect()
		want := filepath.Join(m.llvmRoot, "llvm-19", "bin") + "/"
		if r.MakeVars["LLVM"] != want || !r.InlineHelpers || !r.BuildOK {
			t.Fatalf("LLVM=%q InlineHelpers=%v problems %v; want LLVM=%s", r.MakeVars["LLVM"], r.InlineHelpers, r.Problems, want)
		}
	})
	t.Run("pinned-incomplete", func(t *testing.T) {
		m := newFake(t)
		m.standard()
		r := m.detect("LLVM=-18")
		expectSuccess(t, r) // rustavailable does not look at LLVM's tools
		if r.BuildOK || r.MakeVars["LLVM"] != "-18" {
			t.Fatalf("BuildOK=%v LLVM=%q", r.BuildOK, r.MakeVars["LLVM"])
		}
		problem(t, r, CheckLLVMTools)
		problem(t, r, CheckCCIsClang)
	})
	t.Run("missing-llvm-strip", func(t *testing.T) {
		m := newFake(t)
		m.standard()
		if err := os.Remove(filepath.Join(m.bin, "llvm-strip")); err != nil {
			t.Fatal(err)
		}
		r := m.detect()
		expectSuccess(t, r)
		if r.BuildOK {
			t.Fatalf("BuildOK without llvm-strip")
		}
		if p := problem(t, r, CheckLLVMTools); !strings.Contains(p.Found, "llvm-strip") {
			t.Errorf("found = %q", p.Found)
		}
	})
	t.Run("old-clang", func(t *testing.T) {
		m := newFake(t)
		m.rustc("rustc", rustcSpec{src: true, llvm: "16.0.0"})
		m.bindgen("bindgen", bindgenSpec{})
		m.llvm(m.bin, "", "16.0.6")
		r := m.detect()
		if r.BuildOK {
			t.Fatalf("BuildOK with clang 16 < 17.0.1")
		}
		p := problem(t, r, CheckLLVMTools)
		if !strings.Contains(p.Want, "17.0.1") {
			t.Errorf("want = %q", p.Want)
		}
	})
}

func TestInlineHelpersNeeds(t *testing.T) {
	t.Run("gcc", func(t *testing.T) {
		m := newFake(t)
		m.standard()
		gcc := m.gcc("gcc", "12.2.0")
		r := m.detect("CC=" + gcc)
		expectSuccess(t, r)
		if r.InlineHelpers || r.ClangLLVMCompatible {
			t.Fatalf("inline helpers with gcc")
		}
		p := problem(t, r, CheckCCIsClang)
		if !strings.Contains(p.Found, "GCC 12.2.0") || p.Fix != "LLVM=1 (and unset CC)" {
			t.Errorf("%v", p)
		}
		if _, ok := r.MakeVars["LLVM"]; ok || r.MakeVars["CC"] != gcc {
			t.Errorf("MakeVars %v", r.MakeVars)
		}
	})
	t.Run("no-clang-falls-back-to-gcc", func(t *testing.T) {
		m := newFake(t)
		m.rustc("rustc", rustcSpec{src: true})
		m.bindgen("bindgen", bindgenSpec{})
		m.gcc("gcc", "12.2.0")
		r := m.detect()
		expectSuccess(t, r)
		if r.InlineHelpers || !r.BuildOK {
			t.Fatalf("InlineHelpers=%v BuildOK=%v %v", r.InlineHelpers, r.BuildOK, r.Problems)
		}
		if _, ok := r.MakeVars["LLVM"]; ok {
			t.Errorf("LLVM set without clang: %v", r.MakeVars)
		}
	})
	t.Run("llvm-major-mismatch", func(t *testing.T) {
		m := newFake(t)
		m.rustc("rustc", rustcSpec{src: true, llvm: "22.1.2"})
		m.bindgen("bindgen", bindgenSpec{})
		m.llvm(m.bin, "", "19.1.7")
		r := m.detect()
		expectSuccess(t, r)
		p := problem(t, r, CheckLLVMMajor)
		if r.InlineHelpers || !strings.Contains(p.Found, "22.1.2") || p.Fix != "apt-get install clang-22 lld-22 llvm-22, then LLVM=-22" {
			t.Errorf("InlineHelpers=%v %v", r.InlineHelpers, p)
		}
	})
	t.Run("rustc-without-llvm-line", func(t *testing.T) {
		m := newFake(t)
		m.rustc("rustc", rustcSpec{src: true, llvm: "-"})
		m.bindgen("bindgen", bindgenSpec{})
		m.llvm(m.bin, "", "19.1.7")
		r := m.detect()
		if r.ClangLLVMCompatible {
			t.Errorf("compatible without rustc's LLVM version (Kconfig gets 0)")
		}
	})
	t.Run("arch", func(t *testing.T) {
		m := newFake(t)
		m.standard()
		r, err := Detect(t.Context(), Options{Env: m.env(), LLVMRoot: m.llvmRoot, Arch: "riscv"})
		if err != nil {
			t.Fatal(err)
		}
		expectSuccess(t, r)
		if r.InlineHelpers {
			t.Errorf("inline helpers on riscv")
		}
		problem(t, r, CheckArch)
	})
}

func TestMinimumsFromTree(t *testing.T) {
	m := newFake(t)
	m.standard()
	src := filepath.Join(m.dir, "linux")
	m.write(filepath.Join(src, "scripts", "min-tool-version.sh"), `case "$1" in
rustc) if [ "$SRCARCH" = s390 ]; then echo 1.96.0; else echo 1.84.0; fi ;;
bindgen) echo 0.65.1 ;;
llvm) if [ "$SRCARCH" = loongarch ]; then echo 18.0.0; else echo 13.0.1; fi ;;
*) echo "$1: unknown tool" >&2; exit 1 ;;
esac
`)
	for _, tc := range []struct{ arch, rustc, llvm string }{
		{"x86_64", "1.84.0", "13.0.1"}, {"s390", "1.96.0", "13.0.1"}, {"loongarch", "1.84.0", "18.0.0"},
	} {
		mins, err := ReadMinimums(t.Context(), src, tc.arch, m.env())
		if err != nil {
			t.Fatal(err)
		}
		if mins.Rustc.String() != tc.rustc || mins.Bindgen.String() != "0.65.1" || mins.LLVM.String() != tc.llvm || mins.Fallback {
			t.Errorf("%s: %+v", tc.arch, mins)
		}
	}
	// The tree's minimum makes the standard rustc (1.85.0) too old on s390.
	r, err := Detect(t.Context(), Options{SrcDir: src, Arch: "s390", Env: m.env(), LLVMRoot: m.llvmRoot})
	if err != nil {
		t.Fatal(err)
	}
	p := expectFailure(t, r, CheckRustcVersion, Rustc)
	if p.Want != "rustc >= 1.96.0" {
		t.Errorf("want = %q", p.Want)
	}

	// A tree without the script: the fallback, and it says so.
	mins, err := ReadMinimums(t.Context(), m.dir, "x86_64", m.env())
	if err != nil || !mins.Fallback || !strings.Contains(mins.Source, "does not exist") {
		t.Errorf("no script: %+v, %v", mins, err)
	}
	// A broken script is an error naming it.
	m.write(filepath.Join(src, "scripts", "min-tool-version.sh"), "echo banana\n")
	if _, err := ReadMinimums(t.Context(), src, "x86_64", m.env()); err == nil || !strings.Contains(err.Error(), "min-tool-version.sh") || !strings.Contains(err.Error(), "banana") {
		t.Errorf("broken script: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	m := newFake(t)
	m.standard()
	a, b := m.detect(), m.detect()
	if a.Fingerprint == "" || a.Fingerprint != b.Fingerprint {
		t.Fatalf("fingerprints %q and %q differ for the same machine", a.Fingerprint, b.Fingerprint)
	}
	m.rustc("rustc", rustcSpec{src: true, version: "rustc 1.85.1 (4eb161250 2025-03-15)"})
	if c := m.detect(); c.Fingerprint == a.Fingerprint {
		t.Fatalf("fingerprint unchanged after a rustc upgrade")
	}
}

func TestSymlinkKeptAndDeduplicated(t *testing.T) {
	m := newFake(t)
	m.standard()
	// A second PATH entry that is a symlink to bin/ (like /bin -> usr/bin).
	alias := filepath.Join(m.dir, "alias")
	if err := os.Symlink(m.bin, alias); err != nil {
		t.Fatal(err)
	}
	m.path = append(m.path, alias)
	r := m.detect()
	n := 0
	for _, c := range r.Candidates {
		if c.Tool == Rustc {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rustc candidates, want 1 (bin and its alias are one directory)", n)
	}
}

// procGone reports whether pid has exited (absent, or a zombie).
func procGone(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

func waitGone(t *testing.T, pidfile string) {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("the hanging fake never ran: %v", err)
	}
	pid := strings.TrimSpace(string(b))
	for i := 0; i < 100 && !procGone(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if !procGone(pid) {
		t.Fatalf("child %s of the hanging fake survived: orphan", pid)
	}
}

// A probe that hangs is killed with its whole process group after
// Options.Timeout, and reported; cancelling the context stops Detect.
func TestHangingToolIsKilled(t *testing.T) {
	m := newFake(t)
	m.standard()
	pidfile := filepath.Join(m.dir, "sleep.pid")
	hang := m.write(m.unique("rustc"), "/bin/sleep 300 &\necho $! > "+shq(pidfile)+"\nwait\n")
	r, err := Detect(t.Context(), Options{Env: m.env("RUSTC=" + hang), LLVMRoot: m.llvmRoot, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := expectFailure(t, r, CheckRustcVersion, Rustc)
	if !strings.Contains(p.Found, "did not finish in time") {
		t.Errorf("found = %q", p.Found)
	}
	waitGone(t, pidfile)

	os.Remove(pidfile)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for i := 0; i < 200; i++ {
			if _, err := os.Stat(pidfile); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := Detect(ctx, Options{Env: m.env("RUSTC=" + hang), LLVMRoot: m.llvmRoot}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Detect after cancel: %v, want context.Canceled", err)
	}
	waitGone(t, pidfile)
}

func TestPinnedPrefixAndRustLibSrc(t *testing.T) {
	m := newFake(t)
	m.rustc("rustc", rustcSpec{llvm: "18.1.8"}) // no rust-src in the sysroot
	m.bindgen("bindgen", bindgenSpec{libclang: "x.h:2:9: warning: clang version 18.1.8 [-W#pragma-messages]"})
	prefix := filepath.Join(m.dir, "opt", "llvm-18", "bin")
	m.llvm(prefix, "", "18.1.8")
	m.llvm(m.bin, "", "19.1.7")
	lib := filepath.Join(m.dir, "rust-src", "library")
	if err := os.MkdirAll(filepath.Join(lib, "core", "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "core", "src", "lib.rs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := m.detect("LLVM="+prefix+"/", "RUST_LIB_SRC="+lib)
	expectSuccess(t, r)
	if !r.InlineHelpers || r.MakeVars["LLVM"] != prefix+"/" || r.MakeVars["RUST_LIB_SRC"] != lib {
		t.Fatalf("InlineHelpers=%v MakeVars=%v problems=%v", r.InlineHelpers, r.MakeVars, r.Problems)
	}
	if c := r.Chosen[Clang]; c.Path != filepath.Join(prefix, "clang") {
		t.Errorf("chosen clang %v", c)
	}
	// Without RUST_LIB_SRC the sysroot has no rust-src.
	expectFailure(t, m.detect("LLVM="+prefix+"/"), CheckRustSrc, Rustc)
}

func TestReportJSON(t *testing.T) {
	m := newFake(t)
	m.standard()
	b, err := json.Marshal(m.detect())
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rust_available", "inline_helpers", "chosen", "candidates", "problems", "make_vars", "fingerprint", "minimums"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	var chosen map[string]struct{ Path, Version string }
	if err := json.Unmarshal(obj["chosen"], &chosen); err != nil || chosen["rustc"].Version != "1.85.0" || chosen["rustc"].Path == "" {
		t.Errorf("chosen = %v, %v", chosen, err)
	}
}

// BenchmarkDetectFakes measures detection over the standard fake machine
// (a rustc, a bindgen, one LLVM set): mostly the cost of the probes.
func BenchmarkDetectFakes(b *testing.B) {
	m := newFake(b)
	m.standard()
	for b.Loop() {
		if _, err := Detect(b.Context(), Options{Env: m.env(), LLVMRoot: m.llvmRoot}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBadInput(t *testing.T) {
	m := newFake(t)
	m.standard()
	if _, err := Detect(t.Context(), Options{SrcDir: filepath.Join(m.dir, "nope"), Env: m.env()}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing tree: %v", err)
	}
	src := filepath.Join(m.dir, "linux")
	if err := os.MkdirAll(filepath.Join(src, "arch", "x86"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(t.Context(), Options{SrcDir: src, Arch: "bogus", Env: m.env()}); err == nil || !strings.Contains(err.Error(), "arch/bogus") {
		t.Errorf("bad ARCH: %v", err)
	}
	// A tree without scripts/min-tool-version.sh: the fallback, said so.
	r, err := Detect(t.Context(), Options{SrcDir: src, Arch: "x86_64", Env: m.env(), LLVMRoot: m.llvmRoot})
	if err != nil || !r.Minimums.Fallback || !strings.Contains(r.Minimums.Source, "min-tool-version.sh does not exist") {
		t.Errorf("tree without the script: %+v, %v", r.Minimums, err)
	}
}

func TestRustupHome(t *testing.T) {
	m := newFake(t)
	m.bindgen("bindgen", bindgenSpec{})
	m.llvm(m.bin, "", "19.1.7")
	home := filepath.Join(m.dir, "elsewhere")
	tc := filepath.Join(home, "toolchains", "1.85.0-x86_64-unknown-linux-gnu")
	rustc := m.rustc(filepath.Join(tc, "bin", "rustc"), rustcSpec{sysroot: tc, src: true, noRustdoc: true})
	m.write(filepath.Join(tc, "bin", "rustfmt"), "echo 'rustfmt 1.8.0-stable (4d91de4e48 2025-02-17)'\n")
	m.write(filepath.Join(tc, "bin", "clippy-driver"), "echo 'clippy 0.1.85 (4d91de4e48 2025-02-17)'\n")
	r := m.detect("RUSTUP_HOME=" + home)
	expectSuccess(t, r)
	if r.MakeVars["RUSTC"] != rustc || r.MakeVars["RUSTFMT"] != filepath.Join(tc, "bin", "rustfmt") || r.MakeVars["CLIPPY_DRIVER"] != filepath.Join(tc, "bin", "clippy-driver") {
		t.Errorf("MakeVars %v", r.MakeVars)
	}
	if _, ok := r.MakeVars["RUSTDOC"]; ok {
		t.Errorf("RUSTDOC set although there is no rustdoc beside rustc: %v", r.MakeVars)
	}
	expectWarning(t, r, CheckRustdoc)
	if c := r.Chosen[Rustfmt]; c.Version != "1.8.0-stable" {
		t.Errorf("rustfmt %+v", c)
	}
}
