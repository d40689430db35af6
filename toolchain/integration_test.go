package toolchain_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/toolchain"
)

// kmake runs the kernel's make in src with a fresh O= directory and the
// given variables, and returns the O= directory, stderr and exit code.
func kmake(t *testing.T, src string, env []string, vars []string, target string) (string, string, int) {
	t.Helper()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	args := append([]string{"-s", "-C", src, "O=" + out}, vars...)
	args = append(args, target)
	cmd := exec.CommandContext(ctx, "make", args...)
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
			t.Fatalf("make %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	t.Logf("make %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return out, stderr.String(), code
}

func detectReal(t *testing.T, src string, env []string) *toolchain.Report {
	t.Helper()
	r, err := toolchain.Detect(t.Context(), toolchain.Options{SrcDir: src, Arch: "x86_64", Env: env})
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	for _, p := range r.Problems {
		t.Logf("problem: %v", p)
	}
	t.Logf("make vars: %s", strings.Join(r.MakeArgs(), " "))
	return r
}

// rustupRustc returns a rustup rustc without rust-src among the candidates
// (the one first on this machine's PATH).
func rustupRustc(t *testing.T, r *toolchain.Report) string {
	t.Helper()
	for _, c := range r.Candidates {
		if c.Tool == toolchain.Rustc && c.Rustup != "" && !c.HasRustSrc && c.Source == "PATH" {
			return c.Path
		}
	}
	for _, c := range r.Candidates {
		if c.Tool == toolchain.Rustc && c.Rustup != "" && !c.HasRustSrc {
			return c.Path
		}
	}
	t.Fatalf("no rustup rustc without rust-src among %d candidates: scripts/setup installs one", len(r.Candidates))
	return ""
}

// The doctor's verdict equals `make rustavailable`'s with the chosen set,
// and with RUSTC (and HOSTRUSTC) forced to the rustup rustc, for the same
// reason.
func TestIntegrationRustAvailableAgreesWithKbuild(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	testenv.LookPath(t, "make")

	r := detectReal(t, src, nil)
	if r.Minimums.Fallback || r.Minimums.Source != filepath.Join(src, "scripts", "min-tool-version.sh") {
		t.Errorf("minimums not from the tree: %+v", r.Minimums)
	}
	if !r.RustAvailable || !r.InlineHelpers || !r.BuildOK {
		t.Fatalf("chosen set: RustAvailable=%v InlineHelpers=%v BuildOK=%v", r.RustAvailable, r.InlineHelpers, r.BuildOK)
	}
	var rustc *toolchain.Candidate
	for _, c := range r.Candidates {
		if c.Tool == toolchain.Rustc && c.Path == r.MakeVars["RUSTC"] {
			rustc = c
		}
	}
	if rustc == nil || !rustc.HasRustSrc || rustc.LLVMVersion == nil {
		t.Fatalf("chosen rustc %+v", rustc)
	}
	if first, err := exec.LookPath("rustc"); err == nil && first != rustc.Path {
		t.Logf("chosen %s over %s, first on PATH", rustc.Path, first)
	}
	clang := r.Chosen[toolchain.Clang]
	if !strings.HasPrefix(clang.Version, strings.Split(rustc.LLVMVersion.String(), ".")[0]+".") {
		t.Errorf("chosen clang %s does not share rustc's LLVM %s", clang.Version, rustc.LLVMVersion)
	}
	for _, v := range []string{"LLVM", "RUSTC", "HOSTRUSTC", "RUSTDOC", "BINDGEN"} {
		if r.MakeVars[v] == "" {
			t.Errorf("MakeVars lacks %s: %v", v, r.MakeVars)
		}
	}

	_, stderr, code := kmake(t, src, os.Environ(), r.MakeArgs(), "rustavailable")
	if (code == 0) != r.RustAvailable {
		t.Fatalf("make rustavailable exit %d, doctor says RustAvailable=%v\n%s", code, r.RustAvailable, stderr)
	}

	// RUSTC and HOSTRUSTC forced to the rustup rustc.
	forced := rustupRustc(t, r)
	env := append(os.Environ(), "RUSTC="+forced, "HOSTRUSTC="+forced)
	rf := detectReal(t, src, env)
	if rf.RustAvailable {
		t.Fatalf("RustAvailable with %s (no rust-src)", forced)
	}
	if rf.MakeVars["RUSTC"] != forced || rf.MakeVars["HOSTRUSTC"] != forced {
		t.Fatalf("forced RUSTC not handed on: %v", rf.MakeVars)
	}
	_, stderr, code = kmake(t, src, os.Environ(), rf.MakeArgs(), "rustavailable")
	if code == 0 {
		t.Fatalf("make rustavailable succeeded with %s; doctor says not available", forced)
	}
	errs := rf.Errors(toolchain.ScopeRust)
	if got, want := errs[0].Check, toolchain.KernelReason(stderr); got != want || want != toolchain.CheckRustSrc {
		t.Fatalf("doctor's reason %s, kernel's %s (want both rust-src)\n%s", got, want, stderr)
	}
	if !strings.Contains(stderr, errs[0].Found[len("no "):strings.Index(errs[0].Found, " (")]) {
		t.Errorf("kernel and doctor name different paths: %q vs %q", stderr, errs[0].Found)
	}
}

// configValue reads CONFIG_name from a .config ("" when absent or unset).
func configValue(t *testing.T, path, name string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_"+name+"="); ok {
			return v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ""
}

// The inline-helpers verdict equals CONFIG_RUSTC_CLANG_LLVM_COMPATIBLE as
// Kconfig computes it with the same variables: y with the chosen LLVM=1
// set, n with CC=gcc and no LLVM, n with rustup's LLVM 22 rustc and clang 19.
func TestIntegrationInlineHelpersAgreesWithKconfig(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	testenv.LookPath(t, "make")
	testenv.LookPath(t, "gcc")

	chosen := detectReal(t, src, nil)
	cases := []struct {
		name string
		env  []string
		want bool
	}{
		{"chosen-llvm", nil, true},
		{"gcc", append(os.Environ(), "CC=gcc"), false},
		{"rustup-rustc", append(os.Environ(), "RUSTC="+rustupRustc(t, chosen), "HOSTRUSTC="+rustupRustc(t, chosen)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := chosen
			if tc.env != nil {
				r = detectReal(t, src, tc.env)
			}
			if tc.name == "gcc" {
				if _, ok := r.MakeVars["LLVM"]; ok {
					t.Fatalf("CC=gcc but MakeVars has LLVM: %v", r.MakeVars)
				}
			}
			out, stderr, code := kmake(t, src, os.Environ(), r.MakeArgs(), "tinyconfig")
			if code != 0 {
				t.Fatalf("make tinyconfig failed: %s", stderr)
			}
			kconfig := configValue(t, filepath.Join(out, ".config"), "RUSTC_CLANG_LLVM_COMPATIBLE") == "y"
			if kconfig != r.ClangLLVMCompatible || r.ClangLLVMCompatible != tc.want {
				t.Fatalf("Kconfig RUSTC_CLANG_LLVM_COMPATIBLE=%v, doctor %v, expected %v", kconfig, r.ClangLLVMCompatible, tc.want)
			}
			if r.InlineHelpers != (kconfig && r.RustAvailable) {
				t.Errorf("InlineHelpers=%v with compatible=%v rust=%v", r.InlineHelpers, kconfig, r.RustAvailable)
			}
			// Kconfig's own view of the versions it compared.
			t.Logf("CONFIG_RUSTC_LLVM_VERSION=%s CONFIG_CLANG_VERSION=%s CONFIG_RUST_IS_AVAILABLE=%s",
				configValue(t, filepath.Join(out, ".config"), "RUSTC_LLVM_VERSION"),
				configValue(t, filepath.Join(out, ".config"), "CLANG_VERSION"),
				configValue(t, filepath.Join(out, ".config"), "RUST_IS_AVAILABLE"))
			if ria := configValue(t, filepath.Join(out, ".config"), "RUST_IS_AVAILABLE") == "y"; ria != r.RustAvailable {
				t.Errorf("Kconfig RUST_IS_AVAILABLE=%v, doctor RustAvailable=%v", ria, r.RustAvailable)
			}
		})
	}
}

// The minimums come from the tree's script, per SRCARCH.
func TestIntegrationMinimumsFromTree(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	for _, tc := range []struct{ arch, rustc, bindgen, llvm string }{
		{"x86_64", "1.85.0", "0.71.1", "17.0.1"},
		{"s390", "1.96.0", "0.71.1", "17.0.1"},
		{"loongarch", "1.85.0", "0.71.1", "18.0.0"},
	} {
		m, err := toolchain.ReadMinimums(t.Context(), src, tc.arch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rustc.String() != tc.rustc || m.Bindgen.String() != tc.bindgen || m.LLVM.String() != tc.llvm || m.Fallback {
			t.Errorf("%s: %+v, want rustc %s bindgen %s llvm %s", tc.arch, m, tc.rustc, tc.bindgen, tc.llvm)
		}
	}
}

// For ARCH=arm64 the doctor's verdicts agree with the kernel's: `make
// ARCH=arm64 rustavailable` with the chosen set, and
// CONFIG_RUSTC_CLANG_LLVM_COMPATIBLE of an arm64 tinyconfig.
func TestIntegrationArm64AgreesWithKbuild(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	testenv.LookPath(t, "make")

	r, err := toolchain.Detect(t.Context(), toolchain.Options{SrcDir: src, Arch: "arm64"})
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	for _, p := range r.Problems {
		t.Logf("problem: %v", p)
	}
	if r.Arch != "arm64" {
		t.Errorf("Report.Arch %q, want arm64", r.Arch)
	}
	if !r.RustAvailable || !r.InlineHelpers || !r.BuildOK {
		t.Fatalf("arm64: RustAvailable=%v InlineHelpers=%v BuildOK=%v", r.RustAvailable, r.InlineHelpers, r.BuildOK)
	}
	vars := append([]string{"ARCH=arm64"}, r.MakeArgs()...)
	_, stderr, code := kmake(t, src, os.Environ(), vars, "rustavailable")
	if (code == 0) != r.RustAvailable {
		t.Fatalf("make ARCH=arm64 rustavailable exit %d, doctor says RustAvailable=%v\n%s", code, r.RustAvailable, stderr)
	}
	out, stderr, code := kmake(t, src, os.Environ(), vars, "tinyconfig")
	if code != 0 {
		t.Fatalf("make ARCH=arm64 tinyconfig: %s", stderr)
	}
	if got := configValue(t, filepath.Join(out, ".config"), "RUSTC_CLANG_LLVM_COMPATIBLE") == "y"; got != r.ClangLLVMCompatible {
		t.Fatalf("arm64 Kconfig RUSTC_CLANG_LLVM_COMPATIBLE=%v, doctor %v", got, r.ClangLLVMCompatible)
	}
	if got := configValue(t, filepath.Join(out, ".config"), "ARM64"); got != "y" {
		t.Fatalf("arm64 tinyconfig has CONFIG_ARM64=%q", got)
	}
}
