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

// TestIntegrationKconfigSweep compares rflkit's defconfig target (the
// defconfig file read, then olddefconfig: conf --defconfig) with
// `make ARCH=SRCARCH O=... FILE_defconfig` for every defconfig of every
// architecture of the tree: with the toolchain's LLVM=1 where
// scripts/Makefile.clang knows the architecture, else with make's default
// (gcc) tools, so that both sides evaluate the same macros. make's results
// are cached by tree, toolchain and target (kconfig-ref/ in the cache).
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
					compareWithMake(t, name, got.Bytes(), ref.make(t, d.target, nil))
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
