package toolchain

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
)

// scriptCase is a fake machine configuration to compare against the
// kernel's own script.
type scriptCase struct {
	name string
	env  []string
}

// scriptCases are every failure, warning and success case of the unit
// tests, on the standard fake machine m.
func scriptCases(m *fakeMachine) []scriptCase {
	cases := []scriptCase{{"default", nil}}
	for _, f := range kernelFailureCases(m) {
		cases = append(cases, scriptCase{f.name, f.env})
	}
	lib := func(v string) string {
		return "scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version " + v + " [-W#pragma-messages], err: false"
	}
	cases = append(cases,
		scriptCase{"libclang-differs", []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{libclang: lib("999.0.0")})}},
		scriptCase{"clang-differs", []string{"CC=" + m.clang(m.unique("clang"), "clang version 999.0.0", "999.0.0")}},
		scriptCase{"cc-unknown", []string{"CC=" + filepath.Join(m.dir, "missing")}},
		scriptCase{"cc-gcc", []string{"CC=" + m.gcc(m.unique("gcc"), "12.2.0")}},
		scriptCase{"cc-ccache", []string{"CC=" + m.clang(m.unique("clang"), "Ubuntu clang version 19.1.7-1ubuntu1\nTarget: x86_64-pc-linux-gnu", "19.1.7") + " clang"}},
	)
	for _, tc := range []struct{ bindgen, libclang string }{{"0.71.1", "21.1.0"}, {"0.71.1", "22.1.0"}, {"0.72.0", "22.0.0"}, {"0.72.1", "22.0.0"}} {
		cc := m.clang(m.unique("clang"), "clang version "+tc.libclang, tc.libclang)
		for _, patched := range []bool{false, true} {
			bg := m.bindgen(m.unique("bindgen"), bindgenSpec{version: "bindgen " + tc.bindgen, libclang: lib(tc.libclang), patched: patched})
			name := "libclang22/" + tc.bindgen + "/" + tc.libclang
			if patched {
				name += "/patched"
			}
			cases = append(cases, scriptCase{name, []string{"BINDGEN=" + bg, "CC=" + cc}})
		}
	}
	for i, v := range []string{"rustc 1.85.0-dev (a8314ef7d 2022-06-27)", "rustc 1.85.0-1.60.0 (a8314ef7d 2022-06-27)", "rustc 1.86.0-nightly (a8314ef7d 2025-01-05)", "rustc 1.78.0-beta.3 (4147533e0 2024-03-28)"} {
		cases = append(cases, scriptCase{"rustc-form-" + string(rune('a'+i)), []string{"RUSTC=" + m.rustc(m.unique("rustc"), rustcSpec{version: v, src: true})}})
	}
	for i, v := range []string{"bindgen 0.71.1-dev", "bindgen 0.71.1-0.999.0", "bindgen 0.72.1"} {
		cases = append(cases, scriptCase{"bindgen-form-" + string(rune('a'+i)), []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{version: v})}})
	}
	for i, v := range []string{
		"clang diag: /src/scripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 (3+b1) [-W#pragma-messages]",
		"\n/nix/store/x-bash-5.1-p16/bin/bash: warning: setlocale: LC_ALL: cannot change locale (c)\nscripts/rust_is_available_bindgen_libclang.h:2:9: warning: clang version 19.1.7 (Fedora 13.0.0-3.fc35) [-W#pragma-messages], err: false\n",
	} {
		cases = append(cases, scriptCase{"libclang-form-" + string(rune('a'+i)), []string{"BINDGEN=" + m.bindgen(m.unique("bindgen"), bindgenSpec{libclang: v})}})
	}
	for i, v := range []string{"Debian clang version 19.1.7 (3+b1)", "clang version 19.1.7-2~ubuntu20.04.1", "clang version 19.1.7 (Fedora 19.1.7-3.fc41)", "Homebrew clang version 19.1.7", "clang version 19.1.70"} {
		cases = append(cases, scriptCase{"clang-form-" + string(rune('a'+i)), []string{"CC=" + m.clang(m.unique("clang"), v, "19.1.7")}})
	}
	return cases
}

// runKernelScript runs the tree's scripts/rust_is_available.sh with sh, as
// `make rustavailable` does, with RUSTC, BINDGEN and CC taken from the
// report (the variables rflkit hands Kbuild) and the case's other
// variables.
func runKernelScript(t *testing.T, src string, m *fakeMachine, r *Report, caseEnv []string) (string, int) {
	t.Helper()
	env := []string{"PATH=" + strings.Join(m.path, ":") + ":/usr/bin:/bin", "HOME=" + m.home}
	for _, v := range []string{"RUSTC", "BINDGEN"} {
		if val, ok := r.MakeVars[v]; ok {
			env = append(env, v+"="+val)
		}
	}
	switch {
	case r.MakeVars["CC"] != "":
		env = append(env, "CC="+r.MakeVars["CC"])
	case r.Chosen[Clang].Path != "":
		env = append(env, "CC="+r.Chosen[Clang].Path)
	case r.Chosen[CC].Path != "":
		env = append(env, "CC="+r.Chosen[CC].Path)
	}
	for _, kv := range caseEnv {
		if k, _, _ := strings.Cut(kv, "="); k == "RUST_LIB_SRC" || k == "KRUSTFLAGS" {
			env = append(env, kv)
		}
	}
	cmd := exec.CommandContext(t.Context(), "sh", filepath.Join(src, "scripts", "rust_is_available.sh"))
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("rust_is_available.sh: %v", err)
		}
		code = ee.ExitCode()
	}
	if stdout.Len() != 0 {
		t.Errorf("rust_is_available.sh printed on stdout: %q", stdout.String())
	}
	return stderr.String(), code
}

// Every fake configuration of the unit tests, checked by Detect and by the
// real tree's rust_is_available.sh with the variables Detect hands on:
// same verdict, same failing check, same warnings.
func TestIntegrationChecksAgreeWithKernelScript(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	m := newFake(t)
	m.standard()
	if _, err := os.Stat(filepath.Join(src, "scripts", "rust_is_available.sh")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range scriptCases(m) {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Detect(t.Context(), Options{SrcDir: src, Arch: "x86_64", Env: m.env(tc.env...), LLVMRoot: m.llvmRoot})
			if err != nil {
				t.Fatal(err)
			}
			stderr, code := runKernelScript(t, src, m, r, tc.env)
			t.Logf("exit %d stderr %q", code, stderr)
			if (code == 0) != r.RustAvailable {
				t.Fatalf("script exit %d, Detect RustAvailable=%v; problems %v\nscript:\n%s", code, r.RustAvailable, r.Problems, stderr)
			}
			if code != 0 {
				errs := r.Errors(ScopeRust)
				if want := kernelReason(stderr); errs[0].Check != want {
					t.Fatalf("Detect's first error %v, script's reason %s\n%s", errs[0], want, stderr)
				}
				return
			}
			kernelWarned := strings.Contains(stderr, "quick-start.rst")
			var warned []Check
			for _, p := range r.Problems {
				if p.Scope == ScopeRust && p.Severity == SeverityWarning {
					warned = append(warned, p.Check)
				}
			}
			if kernelWarned != (len(warned) > 0) {
				t.Fatalf("script warned=%v, Detect warnings %v\n%s", kernelWarned, warned, stderr)
			}
			flat := strings.ReplaceAll(stderr, "\n*** ", " ")
			for _, w := range warned {
				switch w {
				case CheckClangLibclang:
					if !strings.Contains(flat, "version does not match Clang's") {
						t.Errorf("Detect warns %s, the script does not:\n%s", w, stderr)
					}
				case CheckLibclang22:
					if !strings.Contains(flat, "< 0.72.1 together with libclang >= 22") {
						t.Errorf("Detect warns %s, the script does not:\n%s", w, stderr)
					}
				}
			}
		})
	}
}
