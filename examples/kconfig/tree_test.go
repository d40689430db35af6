package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/testenv"
)

// The tree subcommands on the small example tree of package kconfig,
// without the toolchain doctor (-no-detect).
func TestTreeCommandsExampleTree(t *testing.T) {
	src, err := filepath.Abs("../../kconfig/testdata/lang/example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := writeT(t, dir, "in.config", "CONFIG_NET=y\nCONFIG_RNULL=y\n")
	common := []string{"-src", src, "-no-detect", "-no-macro-cache"}

	out := filepath.Join(dir, "out.config")
	code, stdout, stderr := runT(t, nil, append([]string{"olddefconfig"}, append(common, "-config", in, "-o", out)...)...)
	if code != 0 {
		t.Fatalf("olddefconfig: exit %d: %s %s", code, stdout, stderr)
	}
	got, _ := os.ReadFile(out)
	for _, want := range []string{"# Example 1.2.3\n", "CONFIG_NET=y\n", "# CONFIG_CONFIGFS_FS is not set\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("olddefconfig output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "RNULL") {
		t.Errorf("RNULL has unmet dependencies and must not be written:\n%s", got)
	}

	code, stdout, _ = runT(t, nil, append([]string{"explain"}, append(common, "-config", in, "RNULL=y")...)...)
	if code != 1 || !strings.Contains(stdout, "CONFIG_CONFIGFS_FS=y") || !strings.Contains(stdout, "[n] CONFIGFS_FS") {
		t.Errorf("explain: exit %d, output:\n%s", code, stdout)
	}
	code, stdout, _ = runT(t, nil, append([]string{"explain"}, append(common, "-config", in, "NET")...)...)
	if code != 0 {
		t.Errorf("explain of a symbol that took: exit %d\n%s", code, stdout)
	}

	all := filepath.Join(dir, "all.config")
	if code, o, e := runT(t, nil, append([]string{"allyesconfig"}, append(common, "-o", all)...)...); code != 0 {
		t.Fatalf("allyesconfig: exit %d %s %s", code, o, e)
	}
	got, _ = os.ReadFile(all)
	if !strings.Contains(string(got), "CONFIG_RNULL=y\n") {
		t.Errorf("allyesconfig:\n%s", got)
	}
	code, stdout, _ = runT(t, nil, append([]string{"savedefconfig"}, append(common, "-config", all)...)...)
	if code != 0 || stdout != "CONFIG_MODULES=y\nCONFIG_NET=y\nCONFIG_CONFIGFS_FS=y\nCONFIG_RNULL=y\n" {
		t.Errorf("savedefconfig: exit %d:\n%s", code, stdout)
	}
	// A reassignment is reported once, in conf's words (the target's
	// warning), not a second time by the file layer.
	twice := writeT(t, dir, "twice.config", "CONFIG_NET=y\nCONFIG_NET=n\n")
	for _, sub := range []string{"olddefconfig", "savedefconfig"} {
		code, _, stderr := runT(t, nil, append([]string{sub}, append(common, "-config", twice, "-o", filepath.Join(dir, sub+".out"))...)...)
		want := twice + ":2:warning: override: reassigning to symbol NET\n"
		if code != 0 || stderr != want {
			t.Errorf("%s of a file assigning NET twice: exit %d, stderr %q, want %q", sub, code, stderr, want)
		}
	}
	if code, _, _ := runT(t, nil, "olddefconfig", "-src", src); code != 2 {
		t.Errorf("missing -config: exit %d, want 2", code)
	}
}

// The real tree with the toolchain doctor's variables.
func TestIntegrationTreeCommands(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	dir := t.TempDir()
	in := writeT(t, dir, "in.config", "CONFIG_RUST=y\nCONFIG_MODULES=y\nCONFIG_MODVERSIONS=y\n# CONFIG_GENDWARFKSYMS is not set\n")
	code, stdout, stderr := runT(t, nil, "explain", "-src", src, "-config", in, "RUST")
	if code != 1 || !strings.Contains(stdout, "MODVERSIONS") {
		t.Errorf("explain RUST: exit %d\n%s\n%s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "out.config")
	if code, o, e := runT(t, nil, "olddefconfig", "-src", src, "-config", in, "-o", out); code != 0 {
		t.Fatalf("olddefconfig: exit %d %s %s", code, o, e)
	}
	got, _ := os.ReadFile(out)
	if !strings.Contains(string(got), "CONFIG_CC_IS_CLANG=y") {
		t.Errorf("the doctor's LLVM=1 was not used: no CONFIG_CC_IS_CLANG=y")
	}

	// The tree is read while the doctor runs, with the tools it chose
	// last time (overlapLoad): the guess is now the doctor's choice, and
	// a wrong guess (gcc instead of LLVM=1) changes nothing in the output.
	cache, err := cachedir.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	gp := guessPath(cache, src, "")
	g := readGuess(gp)
	if g == nil || g.MakeVars["LLVM"] != "1" || g.Fingerprint == "" {
		t.Fatalf("guess after a run: %+v, want the doctor's choice (LLVM=1)", g)
	}
	for _, wrong := range []toolGuess{{MakeVars: map[string]string{"CC": "gcc"}, Fingerprint: "wrong"}, *g} {
		saveGuess(gp, wrong)
		again := filepath.Join(dir, "again.config")
		if code, o, e := runT(t, nil, "olddefconfig", "-src", src, "-config", in, "-o", again); code != 0 {
			t.Fatalf("olddefconfig with guess %v: exit %d %s %s", wrong.MakeVars, code, o, e)
		}
		if a, _ := os.ReadFile(again); string(a) != string(got) {
			t.Errorf("olddefconfig with guess %v differs from the first run", wrong.MakeVars)
		}
		if ng := readGuess(gp); ng == nil || ng.Fingerprint != g.Fingerprint {
			t.Errorf("guess after a run with guess %v: %+v, want the doctor's", wrong.MakeVars, ng)
		}
	}
}
