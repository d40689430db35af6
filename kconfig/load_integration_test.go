package kconfig

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/toolchain"
)

// detectToolchain returns the make variables and fingerprint of the
// toolchain rflkit's doctor (toolchain.Detect) picks on this machine:
// the toolchain the integration tests compare against.
func detectToolchain(t testing.TB) (map[string]string, string) {
	t.Helper()
	rep, err := toolchain.Detect(context.Background(), toolchain.Options{SrcDir: testenv.KernelSource(t)})
	if err != nil {
		t.Fatalf("toolchain.Detect: %v", err)
	}
	if rep.MakeVars["LLVM"] == "" || rep.MakeVars["RUSTC"] == "" {
		t.Fatalf("toolchain.Detect chose no LLVM/Rust toolchain: %v", rep.MakeVars)
	}
	return rep.MakeVars, rep.Fingerprint
}

// toolVars returns the toolchain's make variables.
func toolVars(t testing.TB) map[string]string {
	t.Helper()
	v, _ := detectToolchain(t)
	return v
}

func loadReal(t testing.TB, arch string, vars map[string]string) *Tree {
	t.Helper()
	src := testenv.KernelSource(t)
	start := time.Now()
	tr, err := Load(context.Background(), LoadOptions{
		SrcDir: src, Arch: arch, MakeVars: vars, CacheDir: testenv.CacheDir(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load %s: %v, %d files, %d symbols, macros %+v", arch, time.Since(start), len(tr.Files), len(tr.Symbols()), tr.MacroStats)
	return tr
}

func TestIntegrationLoadX86(t *testing.T) {
	testenv.Integration(t)
	tr := loadReal(t, "", toolVars(t))
	for _, w := range tr.Warnings {
		t.Log(w)
	}
}

func TestIntegrationMacroCacheWarm(t *testing.T) {
	testenv.Integration(t)
	loadReal(t, "", toolVars(t))
	tr := loadReal(t, "", toolVars(t))
	if tr.MacroStats.Runs != 0 || tr.MacroStats.Rounds != 1 {
		t.Errorf("second load ran %d commands in %d rounds, want 0 in 1", tr.MacroStats.Runs, tr.MacroStats.Rounds)
	}
}

// TestIntegrationLoadEveryArch parses the Kconfig tree of every
// architecture of the 7.2 tree (through the top Kconfig with SRCARCH),
// with LLVM=1 where scripts/Makefile.clang knows the target and with the
// default (gcc) tools elsewhere.
func TestIntegrationLoadEveryArch(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	entries, err := os.ReadDir(filepath.Join(src, "arch"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		arch := ent.Name()
		n++
		t.Run(arch, func(t *testing.T) {
			vars := map[string]string{}
			if clangTarget(arch) != "" || arch == "um" {
				vars = toolVars(t)
			}
			tr := loadReal(t, arch, vars)
			if tr.Env["SRCARCH"] != arch {
				t.Errorf("SRCARCH = %q", tr.Env["SRCARCH"])
			}
			if len(tr.Symbols()) < 5000 {
				t.Errorf("only %d symbols", len(tr.Symbols()))
			}
			found := false
			for _, f := range tr.Files {
				if f == "arch/"+arch+"/Kconfig" {
					found = true
				}
			}
			if !found {
				t.Errorf("arch/%s/Kconfig was not read", arch)
			}
			// Every architecture's tree evaluates and writes.
			if b := tr.OldDefconfig(nil).Bytes(); !bytes.Contains(b, []byte("# Automatically generated file")) {
				t.Errorf("alldefconfig output has no header")
			}
		})
	}
	if n < 20 {
		t.Errorf("only %d architectures", n)
	}
}
