package kconfig

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/testenv"
)

// sweepEnv turns TestIntegrationKconfigSweep on; it is off by default (and
// so in scripts/test): cold, it runs make once per defconfig of the tree,
// which costs more CI time than it is worth on every run.
const sweepEnv = "RFLKIT_KCONFIG_SWEEP"

// sweepDefconfig is one file make's %_defconfig rule accepts: the target
// (relative to arch/SRCARCH/configs/) and its path.
type sweepDefconfig struct {
	target, path string
}

// sweepDefconfigs lists arch/SRCARCH/configs/*defconfig and
// arch/SRCARCH/configs/*/*defconfig, sorted.
func sweepDefconfigs(t *testing.T, src, srcArch string) []sweepDefconfig {
	t.Helper()
	dir := filepath.Join(src, "arch", srcArch, "configs")
	var out []sweepDefconfig
	for _, pat := range []string{"*defconfig", "*/*defconfig"} {
		files, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			rel, _ := filepath.Rel(dir, f)
			out = append(out, sweepDefconfig{target: rel, path: f})
		}
	}
	slices.SortFunc(out, func(a, b sweepDefconfig) int { return strings.Compare(a.target, b.target) })
	return out
}

// archRule reports whether arch/SRCARCH/Makefile has an explicit rule
// for target ("target:" at the start of a line), which make prefers to
// scripts/kconfig's %_defconfig pattern rule. In 7.2 only mips'
// generic_defconfig has one: a rule that refuses it ("not intended for
// direct use": it is the base of the ISA-specific targets).
func archRule(t *testing.T, src, srcArch, target string) bool {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(src, "arch", srcArch, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mk), "\n") {
		if rest, ok := strings.CutPrefix(line, target); ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), ":") {
			return true
		}
	}
	return false
}

// TestIntegrationKconfigSweep compares rflkit's defconfig target (the
// defconfig file read, then olddefconfig: conf --defconfig) with
// `make ARCH=SRCARCH O=... FILE_defconfig` for every defconfig of every
// architecture of the tree: with the toolchain's LLVM=1 where
// scripts/Makefile.clang knows the architecture, else with make's default
// (gcc) tools, so that both sides evaluate the same macros. make's results
// are cached by tree, toolchain and target (kconfig-ref/ in the cache).
// A defconfig whose name the arch Makefile has a rule of its own for
// (archRule) is compared with `make KBUILD_DEFCONFIG=FILE defconfig`,
// which runs conf --defconfig on the file.
//
// It runs only with RFLKIT_KCONFIG_SWEEP=1. RFLKIT_KCONFIG_SWEEP_ARCHES
// (comma-separated SRCARCHes) narrows it; RFLKIT_KCONFIG_SWEEP_PER_ARCH=N
// takes the first N defconfigs of each architecture (breadth first).
// scripts/kconfig-sweep runs it and prints the count.
func TestIntegrationKconfigSweep(t *testing.T) {
	testenv.Integration(t)
	if os.Getenv(sweepEnv) != "1" {
		t.Skip("set " + sweepEnv + "=1 (scripts/kconfig-sweep): runs make for every defconfig of every architecture")
	}
	src := testenv.KernelSource(t)
	arches := karch.SrcArches()
	if s := os.Getenv(sweepEnv + "_ARCHES"); s != "" {
		arches = strings.Split(s, ",")
	}
	perArch := 0
	if s := os.Getenv(sweepEnv + "_PER_ARCH"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s_PER_ARCH=%q: %v", sweepEnv, s, err)
		}
		perArch = n
	}
	llvmVars := toolVars(t)
	var same, total int
	var differ []string
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			vars := maps.Clone(llvmVars)
			if in, _ := karch.Lookup(arch); in.ClangTarget == "" {
				delete(vars, "LLVM")
			}
			defs := sweepDefconfigs(t, src, arch)
			if perArch > 0 && len(defs) > perArch {
				defs = defs[:perArch]
			}
			tr := loadReal(t, arch, vars)
			ref := newRefMaker(t, tr, src, arch, vars)
			for _, d := range defs {
				total++
				name := arch + "/" + d.target
				ok := t.Run(strings.ReplaceAll(d.target, "/", "_"), func(t *testing.T) {
					in, err := os.ReadFile(d.path)
					if err != nil {
						t.Fatal(err)
					}
					got := tr.Defconfig(parseLenient(t, d.path, in))
					var want []byte
					if archRule(t, src, arch, d.target) {
						// make's FILE_defconfig is the arch's own rule, not
						// conf --defconfig=FILE: the kernel's defconfig
						// target with KBUILD_DEFCONFIG=FILE is.
						kv := maps.Clone(vars)
						kv["KBUILD_DEFCONFIG"] = d.target
						t.Logf("arch/%s/Makefile has its own %s rule: reference is make KBUILD_DEFCONFIG=%s defconfig", arch, d.target, d.target)
						want = newRefMaker(t, tr, src, arch, kv).make(t, "defconfig", nil)
					} else {
						want = ref.make(t, d.target, nil)
					}
					compareWithMake(t, name, got.Bytes(), want)
				})
				if ok {
					same++
				} else {
					differ = append(differ, name)
				}
			}
		})
	}
	t.Logf("sweep: %d/%d byte-identical", same, total)
	for _, d := range differ {
		t.Log("sweep: differs: " + d)
	}
}

// archRule finds explicit rules only: not variables named after the
// target, not indented recipe lines, not pattern or computed targets.
func TestArchRule(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "arch", "mips"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk := ".PHONY: generic_defconfig\ngeneric_defconfig:\n\t$(Q)false\nsead3_defconfig-y := 32r2el_defconfig\n" +
		"$(generic_defconfigs):\n\techo ip22_defconfig: x\nmulti_v7_lpae_defconfig :\n"
	if err := os.WriteFile(filepath.Join(src, "arch", "mips", "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{
		"generic_defconfig": true, "multi_v7_lpae_defconfig": true,
		"sead3_defconfig": false, "ip22_defconfig": false, "32r2el_defconfig": false,
	} {
		if got := archRule(t, src, "mips", target); got != want {
			t.Errorf("archRule(%s) = %v, want %v", target, got, want)
		}
	}
}
