package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/fragment"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/kconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// rustupRustc returns the rustup proxy rustc on PATH (~/.cargo/bin): the
// rustc on LLVM 22 without rust-src that the explain goldens are about.
func rustupRustc(t *testing.T) string {
	t.Helper()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "rustc")
		if strings.Contains(dir, ".cargo") {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cargo/bin/rustc")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no rustup rustc on PATH or in ~/.cargo/bin: %v", err)
	}
	return p
}

// tinyInput writes tinyconfig (+ the Rust fragment and extra lines when
// rust is set) to a file and returns its path.
func tinyInput(t *testing.T, src string, vars map[string]string, rust bool, extra string) string {
	t.Helper()
	tr, err := kconfig.Load(context.Background(), kconfig.LoadOptions{SrcDir: src, MakeVars: vars, CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := tr.TinyConfig()
	if err != nil {
		t.Fatal(err)
	}
	data := tiny.Bytes()
	if rust {
		data = append(data, fragment.TinyRust(true)...)
		data = append(data, extra...)
	}
	p := filepath.Join(t.TempDir(), "input.config")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// normalise keeps machine-specific paths out of a golden file.
func normalise(out, src string) string {
	home, _ := os.UserHomeDir()
	out = strings.ReplaceAll(out, src, "$SRCTREE")
	if home != "" {
		out = strings.ReplaceAll(out, home, "$HOME")
	}
	return out
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got:\n%s--- want:\n%s", name, got, want)
	}
}

// TestIntegrationExplainGoldenRustupRustc: with the rustup rustc (LLVM
// 22, no rust-src) beside clang 19, RUST_INLINE_HELPERS=y is blocked by
// RUST_IS_AVAILABLE (what rust_is_available.sh said) and by
// RUSTC_CLANG_LLVM_COMPATIBLE (22 against 19); the doctor names the fix.
func TestIntegrationExplainGoldenRustupRustc(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	rustc := rustupRustc(t)
	vars := map[string]string{"LLVM": "1", "RUSTC": rustc, "HOSTRUSTC": rustc}
	in := tinyInput(t, src, vars, true, "CONFIG_RUST_INLINE_HELPERS=y\n")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"explain", "-src", src, "-cache", testenv.CacheDir(t),
		"-var", "LLVM=1", "-var", "RUSTC=" + rustc, "-var", "HOSTRUSTC=" + rustc,
		"-config", in, "RUST_INLINE_HELPERS=y"}, &stdout, &stderr)
	if err == nil {
		t.Fatalf("explain took:\n%s", stdout.String())
	}
	checkGolden(t, "explain-rustup-rustc.golden", normalise(stdout.String(), src))
}

// TestIntegrationExplainGoldenRustNullTiny: on plain tinyconfig,
// BLK_DEV_RUST_NULL=m is blocked by MODULES, BLK_DEV, RUST and
// CONFIGFS_FS, each a root cause.
func TestIntegrationExplainGoldenRustNullTiny(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	vars := map[string]string{"LLVM": "1", "RUSTC": "/usr/bin/rustc", "HOSTRUSTC": "/usr/bin/rustc",
		"RUSTDOC": "/usr/bin/rustdoc", "BINDGEN": "/usr/bin/bindgen"}
	in := tinyInput(t, src, vars, false, "")
	args := []string{"explain", "-src", src, "-cache", testenv.CacheDir(t)}
	for _, k := range []string{"LLVM", "RUSTC", "HOSTRUSTC", "RUSTDOC", "BINDGEN"} {
		args = append(args, "-var", k+"="+vars[k])
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append(args, "-config", in, "BLK_DEV_RUST_NULL=m"), &stdout, &stderr)
	if err == nil {
		t.Fatalf("explain took:\n%s", stdout.String())
	}
	got := normalise(stdout.String(), src)
	for _, want := range []string{"MODULES=n", "BLK_DEV=n", "RUST=n", "CONFIGFS_FS=n"} {
		if !strings.Contains(got, "BLK_DEV_RUST_NULL=n -> "+want) {
			t.Errorf("root causes lack %s:\n%s", want, got)
		}
	}
	checkGolden(t, "explain-rust-null-tiny.golden", got)
}
