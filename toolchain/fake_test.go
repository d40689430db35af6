package toolchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fakes follow the kernel's scripts/rust_is_available_test.py: small
// executables (here /bin/sh scripts) that print canned output, dispatching
// on their arguments the way the real tools are called.

// The defaults of a fake machine: the kernel 7.2 minimums, LLVM 19.
const (
	defRustc    = "rustc 1.85.0 (a8314ef7d 2022-06-27)"
	defRustLLVM = "19.1.7"
	defBindgen  = "bindgen 0.71.1"
	defLibclang = "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 [-W#pragma-messages], err: false"
	defClang    = "clang version 19.1.7"
)

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fakeMachine is a temporary directory with a bin/ for PATH, a HOME and an
// LLVM root, and the environment that points at them only.
type fakeMachine struct {
	t        testing.TB
	dir, bin string
	home     string
	llvmRoot string
	path     []string
	extra    []string // extra environment
	n        int
}

func newFake(t testing.TB) *fakeMachine {
	t.Helper()
	d := t.TempDir()
	m := &fakeMachine{t: t, dir: d, bin: filepath.Join(d, "bin"), home: filepath.Join(d, "home"), llvmRoot: filepath.Join(d, "usrlib")}
	for _, p := range []string{m.bin, m.home, m.llvmRoot} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m.path = []string{m.bin}
	return m
}

// write writes an executable script at path (relative paths are under bin/).
func (m *fakeMachine) write(path, body string) string {
	m.t.Helper()
	if !filepath.IsAbs(path) {
		path = filepath.Join(m.bin, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		m.t.Fatal(err)
	}
	return path
}

// unique returns a fresh path under dir/gen for one-off fakes (as the
// kernel's test numbers its generated executables).
func (m *fakeMachine) unique(name string) string {
	m.n++
	return filepath.Join(m.dir, "gen", fmt.Sprint(m.n), name)
}

type rustcSpec struct {
	version string // --version output; "" = defRustc
	llvm    string // LLVM version in -vV; "-" = no LLVM line
	sysroot string // "" = a fresh one
	src     bool   // create sysroot/lib/rustlib/src/rust/library/core/src/lib.rs
	exit    int    // exit code of --version

	noRustdoc bool // do not write a rustdoc beside it
}

// rustc writes a fake rustc at path and returns it.
func (m *fakeMachine) rustc(path string, s rustcSpec) string {
	m.t.Helper()
	if s.version == "" {
		s.version = defRustc
	}
	if s.llvm == "" {
		s.llvm = defRustLLVM
	}
	if s.sysroot == "" {
		s.sysroot = m.unique("sysroot")
	}
	if s.src {
		core := filepath.Join(s.sysroot, "lib", "rustlib", "src", "rust", "library", "core", "src")
		if err := os.MkdirAll(core, 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(core, "lib.rs"), []byte("// core\n"), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
	verbose := s.version + "\nbinary: rustc\nrelease: x\n"
	if s.llvm != "-" {
		verbose += "LLVM version: " + s.llvm + "\n"
	}
	if !s.noRustdoc {
		dir := m.bin
		if filepath.IsAbs(path) {
			dir = filepath.Dir(path)
		}
		m.write(filepath.Join(dir, "rustdoc"), "printf '%s\\n' "+shq(strings.Replace(s.version, "rustc", "rustdoc", 1))+"\n")
	}
	return m.write(path, fmt.Sprintf(`sysroot=%s
for a in "$@"; do case "$a" in --sysroot=*) sysroot="${a#--sysroot=}";; esac; done
case "$*" in
*"--print sysroot"*) printf '%%s\n' "$sysroot" ;;
*"--version --verbose"*) printf '%%s' %s ;;
*--version*) printf '%%s\n' %s; exit %d ;;
esac
`, shq(s.sysroot), shq(verbose), shq(s.version), s.exit))
}

type bindgenSpec struct {
	version  string // --version output; "" = defBindgen
	libclang string // stderr on the libclang header; "" = defLibclang
	fail     int    // non-zero: exit code on the libclang header
	patched  bool   // prints the field on the _22 header
}

func (m *fakeMachine) bindgen(path string, s bindgenSpec) string {
	m.t.Helper()
	if s.version == "" {
		s.version = defBindgen
	}
	if s.libclang == "" {
		s.libclang = defLibclang
	}
	lib := fmt.Sprintf("printf '%%s\\n' %s >&2", shq(s.libclang))
	if s.fail != 0 {
		lib = fmt.Sprintf("echo 'error: libclang not found' >&2; exit %d", s.fail)
	}
	p22 := ":"
	if s.patched {
		p22 = "echo 'pub foo: ::std::os::raw::c_int,'"
	}
	return m.write(path, fmt.Sprintf(`case "$*" in
*rust_is_available_bindgen_libclang.h*) %s ;;
*rust_is_available_bindgen_libclang_22.h*) %s ;;
*) printf '%%s\n' %s ;;
esac
`, lib, p22, shq(s.version)))
}

// clang writes a fake clang: --version prints out, the preprocessor
// prints "Clang MAJ MIN PATCH" of ver (as scripts/cc-version.sh expects).
func (m *fakeMachine) clang(path, out, ver string) string {
	m.t.Helper()
	f := strings.Split(ver, ".")
	return m.write(path, fmt.Sprintf(`case "$*" in
*-E*) echo 'Clang %s %s %s' ;;
*) printf '%%s\n' %s ;;
esac
`, f[0], f[1], f[2], shq(out)))
}

func (m *fakeMachine) gcc(path, ver string) string {
	f := strings.Split(ver, ".")
	return m.write(path, fmt.Sprintf(`case "$*" in
*-E*) echo 'GCC %s %s %s' ;;
*) echo 'gcc (Debian %s-14) %s' ;;
esac
`, f[0], f[1], f[2], ver, ver))
}

// llvm writes clang, ld.lld, llvm-ar, llvm-nm and llvm-objcopy of version
// ver into dir, with suffix appended to each name.
func (m *fakeMachine) llvm(dir, suffix, ver string) {
	m.t.Helper()
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(m.dir, dir)
	}
	m.clang(filepath.Join(dir, "clang"+suffix), "Debian clang version "+ver+" (3+b1)", ver)
	m.write(filepath.Join(dir, "ld.lld"+suffix), "echo 'Debian LLD "+ver+" (compatible with GNU linkers)'\n")
	m.clang(filepath.Join(dir, "clang++"+suffix), "Debian clang version "+ver+" (3+b1)", ver)
	for _, t := range []string{"llvm-ar", "llvm-nm", "llvm-objcopy", "llvm-objdump", "llvm-readelf", "llvm-strip"} {
		m.write(filepath.Join(dir, t+suffix), "echo 'Debian LLVM version "+ver+"'; echo '  Optimized build.'\n")
	}
}

// standard installs the kernel test's default set: a rustc with rust-src,
// bindgen, and LLVM 19 under plain names in bin/.
func (m *fakeMachine) standard() {
	m.rustc("rustc", rustcSpec{src: true})
	m.bindgen("bindgen", bindgenSpec{})
	m.llvm(m.bin, "", "19.1.7")
}

func (m *fakeMachine) env(kv ...string) []string {
	env := []string{"PATH=" + strings.Join(m.path, string(os.PathListSeparator)), "HOME=" + m.home}
	env = append(env, m.extra...)
	return append(env, kv...)
}

func (m *fakeMachine) detect(kv ...string) *Report {
	m.t.Helper()
	r, err := Detect(context.Background(), Options{Env: m.env(kv...), LLVMRoot: m.llvmRoot, Arch: "x86_64"})
	if err != nil {
		m.t.Fatalf("Detect: %v", err)
	}
	return r
}

// problem returns the report's problem of check c, or fails.
func problem(t *testing.T, r *Report, c Check) Problem {
	t.Helper()
	for _, p := range r.Problems {
		if p.Check == c {
			if p.Found == "" || p.Want == "" || p.Fix == "" {
				t.Errorf("problem %v lacks found/want/fix", p)
			}
			return p
		}
	}
	t.Fatalf("no %s problem; problems: %v", c, r.Problems)
	return Problem{}
}

func noProblem(t *testing.T, r *Report, c Check) {
	t.Helper()
	for _, p := range r.Problems {
		if p.Check == c {
			t.Fatalf("unexpected problem %v", p)
		}
	}
}

// expectFailure checks that Rust is not available and that the first
// error (the kernel's script stops at it) is check c.
func expectFailure(t *testing.T, r *Report, c Check, tool Tool) Problem {
	t.Helper()
	if r.RustAvailable {
		t.Fatalf("RustAvailable = true; problems: %v", r.Problems)
	}
	errs := r.Errors(ScopeRust)
	if len(errs) == 0 || errs[0].Check != c || errs[0].Tool != tool {
		t.Fatalf("first error = %v, want %s on %s", errs, c, tool)
	}
	return problem(t, r, c)
}

func expectSuccess(t *testing.T, r *Report) {
	t.Helper()
	if !r.RustAvailable {
		t.Fatalf("RustAvailable = false; problems: %v", r.Problems)
	}
	if errs := r.Errors(ScopeRust); len(errs) != 0 {
		t.Fatalf("unexpected errors %v", errs)
	}
}

func expectWarning(t *testing.T, r *Report, c Check) Problem {
	t.Helper()
	if !r.RustAvailable {
		t.Fatalf("RustAvailable = false; problems: %v", r.Problems)
	}
	p := problem(t, r, c)
	if p.Severity != SeverityWarning {
		t.Fatalf("%v: severity %s, want warning", p, p.Severity)
	}
	return p
}

// kernelReason maps rust_is_available.sh's message to the check it made.
func kernelReason(stderr string) Check {
	s := strings.ReplaceAll(stderr, "\n*** ", " ")
	switch {
	case strings.Contains(s, "Environment variable"):
		return CheckVarsSet
	case strings.Contains(s, "could not be found.") && !strings.Contains(s, "Source code for the 'core'"):
		return CheckExists
	case strings.Contains(s, "to check the Rust compiler version"), strings.Contains(s, "Rust compiler '") && strings.Contains(s, "is too old"):
		return CheckRustcVersion
	case strings.Contains(s, "to check the libclang version") && strings.Contains(s, "failed with code"):
		return CheckLibclangFound
	case strings.Contains(s, "to check the libclang version"), strings.Contains(s, "libclang (used by the Rust bindings generator") && strings.Contains(s, "is too old"):
		return CheckLibclangVersion
	case strings.Contains(s, "bindings generator version"), strings.Contains(s, "Rust bindings generator '") && strings.Contains(s, "is too old"):
		return CheckBindgenVersion
	case strings.Contains(s, "Source code for the 'core' standard library could not be found"):
		return CheckRustSrc
	}
	return 0
}
