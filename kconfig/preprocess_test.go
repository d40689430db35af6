package kconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func macroNew(shell func(string) (string, error)) (*preprocessor, *[]string) {
	var msgs []string
	m := &preprocessor{vars: map[string]*macroVar{}, env: map[string]string{"HOME": "/home/x", "CC": "clang"},
		shell: shell, file: "Kconfig", line: 7}
	m.info = func(s string) { msgs = append(msgs, "info:"+s) }
	m.warn = func(s string) { msgs = append(msgs, "warn:"+s) }
	return m, &msgs
}

func TestMacroExpansion(t *testing.T) {
	var ran []string
	m, msgs := macroNew(func(cmd string) (string, error) {
		ran = append(ran, cmd)
		return "out(" + cmd + ")", nil
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.addVariable("simple", "$(shell,echo 1)", macroSimple))
	must(m.addVariable("rec", "$(shell,echo 2)", macroRecursive))
	must(m.addVariable("fn", "[$(1)|$(2)|$(3)]", macroRecursive))
	must(m.addVariable("list", "a", macroAppend))
	must(m.addVariable("list", "b $(HOME)", macroAppend))
	must(m.addVariable("slist", "x", macroSimple))
	must(m.addVariable("slist", "$(CC)", macroAppend))
	if len(ran) != 1 {
		t.Fatalf("a := variable must run its command once at definition; ran %q", ran)
	}
	cases := map[string]string{
		"$(simple)":             "out(echo 1)",
		"$(rec)$(rec)":          "out(echo 2)out(echo 2)",
		"$(fn,a,b)":             "[a|b|]",
		"$(fn,$(CC),(x,y))":     "[clang|(x,y)|]",
		"$(list)":               "a b /home/x",
		"$(slist)":              "x clang",
		"$(HOME)":               "/home/x",
		"$(UNDEFINED)":          "",
		"a$$b $x":               "a$$b $x",
		"$(filename):$(lineno)": "Kconfig:7",
		"$(info,hello)$(warning-if,y,careful)$(warning-if,n,quiet)": "",
		"$(error-if,n,fine)": "",
	}
	for in, want := range cases {
		got, err := m.expandString(in, nil)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %q, want %q", in, got, want)
		}
	}
	if strings.Join(*msgs, ";") != "info:hello;warn:Kconfig:7: careful" {
		t.Errorf("messages %q", *msgs)
	}
	for _, bad := range []string{"$(error-if,y,boom)", "$(foo", "$(shell)", "$(info,a,b)"} {
		_, err := m.expandString(bad, nil)
		var ke *LoadError
		if !errors.As(err, &ke) || ke.File != "Kconfig" || ke.Line != 7 {
			t.Errorf("%s: got %v, want an error at Kconfig:7", bad, err)
		}
	}
	must(m.addVariable("self", "$(self)", macroRecursive))
	if _, err := m.expandString("$(self)", nil); err == nil || !strings.Contains(err.Error(), "references itself") {
		t.Errorf("self reference: %v", err)
	}
	must(m.addVariable("boom", "$(boom)$(boom)", macroRecursive))
	if _, err := m.expandString("$(boom,x)", nil); err == nil {
		t.Errorf("unbounded recursion did not fail")
	}
}

func TestMacroShellOutput(t *testing.T) {
	cases := map[string]string{
		"a\nb\n\n":                "a b",
		"":                        "",
		strings.Repeat("x", 5000): strings.Repeat("x", 4095),
		"no newline":              "no newline",
	}
	for in, want := range cases {
		if got := shellOutput([]byte(in)); got != want {
			t.Errorf("%q -> %q, want %q", in[:min(len(in), 20)], got[:min(len(got), 20)], want[:min(len(want), 20)])
		}
	}
}

// TestMacroCache checks that $(shell) results are cached on disk, keyed by
// the command and the environment, and that NoMacroCache disables it.
func TestMacroCache(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "count")
	cmd := "echo x >> " + counter + "; echo result"
	run := func(opts LoadOptions, env []string) (string, MacroStats) {
		r, err := newShellRunner(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		r.setEnv(env)
		out, err := r.runSync(cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out, r.stats
	}
	runs := func() int {
		b, _ := os.ReadFile(counter)
		return strings.Count(string(b), "x")
	}
	opts := LoadOptions{CacheDir: filepath.Join(dir, "cache")}
	env := []string{"PATH=" + os.Getenv("PATH"), "CC=clang"}
	if out, st := run(opts, env); out != "result" || st.Runs != 1 {
		t.Fatalf("first run: %q %+v", out, st)
	}
	if _, st := run(opts, env); st.Runs != 0 || st.Hits != 1 || runs() != 1 {
		t.Errorf("second run was not a cache hit: %+v, ran %d times", st, runs())
	}
	if _, st := run(opts, append(env, "CC2=gcc")); st.Runs != 1 {
		t.Errorf("another environment must not hit: %+v", st)
	}
	opts.Fingerprint = "other toolchain"
	if _, st := run(opts, env); st.Runs != 1 {
		t.Errorf("another toolchain fingerprint must not hit: %+v", st)
	}
	if _, st := run(LoadOptions{CacheDir: opts.CacheDir, NoMacroCache: true}, env); st.Runs != 1 {
		t.Errorf("NoMacroCache must run the command: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(opts.CacheDir, "kconfig-macros")); err != nil {
		t.Errorf("cache not under kconfig-macros/: %v", err)
	}
}

// fakeTree writes a tree with a Makefile and fake tools on PATH.
func fakeTree(t *testing.T) (src string, env []string) {
	t.Helper()
	src = t.TempDir()
	os.WriteFile(filepath.Join(src, "Makefile"), []byte("VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 12\nEXTRAVERSION =\n"), 0o644)
	bin := t.TempDir()
	for name, out := range map[string]string{
		"clang-19": "Debian clang version 19.1.7 (3+b1)", "clang": "clang version 18.0.0",
		"aarch64-linux-gnu-gcc": "aarch64-linux-gnu-gcc (Debian 14.2.0) 14.2.0", "myrustc": "rustc 1.85.1 (4eb161250 2025-03-15)",
		"gcc": "gcc (Debian 14.2.0-19) 14.2.0",
	} {
		os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755)
	}
	return src, []string{"PATH=" + bin + ":/usr/bin:/bin"}
}

func TestMakeEnv(t *testing.T) {
	src, base := fakeTree(t)
	r, err := newShellRunner(context.Background(), LoadOptions{NoMacroCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	shell := func(cmd string, env []string) string {
		out, err := r.runSync(cmd, env)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(name string, opts LoadOptions, want map[string]string) {
		t.Helper()
		opts.SrcDir = src
		env, _, err := makeEnv(opts, base, shell)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, env[k], v)
			}
		}
	}
	check("LLVM=-19", LoadOptions{Arch: "x86_64", MakeVars: map[string]string{"LLVM": "-19", "RUSTC": "myrustc"}}, map[string]string{
		"CC": "clang-19", "LD": "ld.lld-19", "AR": "llvm-ar-19", "HOSTCC": "clang-19", "ARCH": "x86_64", "SRCARCH": "x86",
		"CC_VERSION_TEXT": "Debian clang version 19.1.7 (3+b1)", "RUSTC": "myrustc", "HOSTRUSTC": "rustc",
		"RUSTC_VERSION_TEXT": "rustc 1.85.1 (4eb161250 2025-03-15)", "KERNELVERSION": "7.2.12", "LLVM": "-19",
		"CLANG_FLAGS": "--target=x86_64-linux-gnu -fintegrated-as -Werror=unknown-warning-option -Werror=ignored-optimization-argument -Werror=option-ignored -Werror=unused-command-line-argument",
	})
	check("LLVM=/path/", LoadOptions{Arch: "arm64", MakeVars: map[string]string{"LLVM": "/opt/llvm/bin/"}}, map[string]string{
		"CC": "/opt/llvm/bin/clang", "LD": "/opt/llvm/bin/ld.lld", "SRCARCH": "arm64", "srctree": src,
	})
	check("LLVM=1", LoadOptions{Arch: "riscv", MakeVars: map[string]string{"LLVM": "1", "CC": "clang-19"}}, map[string]string{
		"CC": "clang-19", "LD": "ld.lld", "CC_VERSION_TEXT": "Debian clang version 19.1.7 (3+b1)",
	})
	check("gcc cross", LoadOptions{Arch: "arm64", MakeVars: map[string]string{"CROSS_COMPILE": "aarch64-linux-gnu-"}}, map[string]string{
		"CC": "aarch64-linux-gnu-gcc", "LD": "aarch64-linux-gnu-ld", "CLANG_FLAGS": "",
		"CC_VERSION_TEXT": "aarch64-linux-gnu-gcc (Debian 14.2.0) 14.2.0",
	})
	_, _, err = makeEnv(LoadOptions{SrcDir: src, MakeVars: map[string]string{"LLVM": "yes"}}, base, shell)
	if err == nil {
		t.Errorf("LLVM=yes must be rejected as make does")
	}
}

// TestLoadFakeTree loads a tree whose macros run commands: they run
// concurrently in speculative rounds, results feed later commands, and
// an $(error-if) that fires is an error at its file:line.
func TestLoadFakeTree(t *testing.T) {
	src, env := fakeTree(t)
	kconf := `mainmenu "Fake $(ARCH)"
cc-info := $(shell,echo "Clang 190107")
cc-name := $(shell,set -- $(cc-info) && echo $1)
ok = $(shell,{ $(1); } >/dev/null 2>&1 && echo y || echo n)

config CC_IS_CLANG
	def_bool $(ok,test "$(cc-name)" = Clang)

config CC_VERSION_TEXT
	string
	default "$(CC_VERSION_TEXT)"
`
	os.WriteFile(filepath.Join(src, "Kconfig"), []byte(kconf), 0o644)
	opts := LoadOptions{SrcDir: src, Arch: "x86_64", MakeVars: map[string]string{"LLVM": "-19"}, Env: env, CacheDir: t.TempDir()}
	tr, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	r := tr.OldDefconfig(nil)
	if v, _ := r.Value("CC_IS_CLANG"); v != "y" {
		t.Errorf("CC_IS_CLANG = %s", v)
	}
	if v, _ := r.Value("CC_VERSION_TEXT"); v != "Debian clang version 19.1.7 (3+b1)" {
		t.Errorf("CC_VERSION_TEXT = %q", v)
	}
	if !strings.HasPrefix(string(r.Bytes()), "#\n# Automatically generated file; DO NOT EDIT.\n# Fake x86_64\n#\n") {
		t.Errorf("header:\n%s", r.Bytes())
	}
	if tr.MacroStats.Rounds < 2 || tr.MacroStats.Runs == 0 {
		t.Errorf("cold load stats %+v", tr.MacroStats)
	}
	tr, err = Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tr.MacroStats.Runs != 0 || tr.MacroStats.Rounds != 1 {
		t.Errorf("warm load stats %+v", tr.MacroStats)
	}

	os.WriteFile(filepath.Join(src, "Kconfig"), []byte(kconf+"\n$(error-if,$(shell,echo y),compiler too old)\n"), 0o644)
	_, err = Load(context.Background(), opts)
	var ke *LoadError
	if !errors.As(err, &ke) || ke.File != "Kconfig" || ke.Line != 13 || !strings.Contains(ke.Msg, "compiler too old") {
		t.Errorf("error-if: got %v, want Kconfig:13: compiler too old", err)
	}
}
