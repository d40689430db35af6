package karch

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/testenv"
)

func TestSrcArch(t *testing.T) {
	for arch, want := range map[string]string{
		"x86_64": "x86", "i386": "x86", "x86": "x86", "sparc64": "sparc", "sparc": "sparc",
		"parisc64": "parisc", "sh64": "sh", "arm64": "arm64", "riscv": "riscv", "um": "um",
	} {
		if got := SrcArch(arch); got != want {
			t.Errorf("SrcArch(%q) = %q, want %q", arch, got, want)
		}
	}
}

func TestSubarch(t *testing.T) {
	for m, want := range map[string]string{
		"x86_64": "x86", "i686": "x86", "i386": "x86", "sun4u": "sparc64", "arm64": "arm64",
		"armv7l": "arm", "sa110": "arm", "s390x": "s390", "ppc64le": "powerpc", "mips64": "mips",
		"sh4": "sh", "aarch64": "arm64", "aarch64_be": "arm64", "riscv64": "riscv",
		"loongarch64": "loongarch", "alpha": "alpha",
	} {
		if got := Subarch(m); got != want {
			t.Errorf("Subarch(%q) = %q, want %q", m, got, want)
		}
	}
}

// Every GOARCH Go targets on Linux maps to an ARCH whose SRCARCH is in the
// table: the host mapping and the Makefile mapping agree.
func TestFromGOARCHAgreesWithTable(t *testing.T) {
	for _, g := range []string{"amd64", "386", "arm", "arm64", "riscv64", "loong64", "s390x", "ppc64", "ppc64le", "mips", "mipsle", "mips64", "mips64le"} {
		arch := FromGOARCH(g)
		if _, ok := Lookup(arch); !ok {
			t.Errorf("FromGOARCH(%q) = %q, whose SRCARCH %q is not in the table", g, arch, SrcArch(arch))
		}
	}
	if _, ok := Lookup(Host()); !ok {
		t.Errorf("Host() = %q is not in the table", Host())
	}
}

// The machines rflkit boots have everything a boot needs.
func TestBootable(t *testing.T) {
	for _, a := range []string{"x86_64", "arm64"} {
		in, ok := Lookup(a)
		if !ok || in.QEMU == "" || in.QEMUMachine == "" || in.Console == "" || in.GOARCH == "" || len(in.Images) == 0 || in.ClangTarget == "" || in.BootTarget == "" {
			t.Errorf("Lookup(%q) = %+v, %v: incomplete for booting", a, in, ok)
		}
		// The boot target is one of the images kbuild collects.
		found := false
		for _, img := range in.Images {
			found = found || strings.HasSuffix(img, "/"+in.BootTarget)
		}
		if !found {
			t.Errorf("Lookup(%q): BootTarget %q is not among the images %v", a, in.BootTarget, in.Images)
		}
	}
}

// TestTableCoversTree checks the table against the real 7.2 tree: one row
// for every directory below arch/, no row for a directory that does not
// exist, and the clang targets exactly those of scripts/Makefile.clang.
func TestTableCoversTree(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	ents, err := os.ReadDir(filepath.Join(src, "arch"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	got := SrcArches()
	if len(got) != len(dirs) {
		t.Fatalf("table has %v, tree's arch/ has %v", got, dirs)
	}
	for i := range dirs {
		if got[i] != dirs[i] {
			t.Fatalf("table has %v, tree's arch/ has %v", got, dirs)
		}
	}
	mk, err := os.ReadFile(filepath.Join(src, "scripts", "Makefile.clang"))
	if err != nil {
		t.Fatal(err)
	}
	targets := parseClangTargets(string(mk))
	if targets["i386"] != ClangTargetI386 {
		t.Errorf("CLANG_TARGET_FLAGS_i386 = %q, table says %q", targets["i386"], ClangTargetI386)
	}
	delete(targets, "i386")
	for _, sa := range dirs {
		in, _ := Lookup(sa)
		if in.ClangTarget != targets[sa] {
			t.Errorf("%s: clang target %q, scripts/Makefile.clang says %q", sa, in.ClangTarget, targets[sa])
		}
		delete(targets, sa)
	}
	for k := range targets {
		t.Errorf("scripts/Makefile.clang names %q, which is no arch/ directory", k)
	}
	for _, sa := range dirs {
		in, _ := Lookup(sa)
		if len(in.Images) > 0 && sa != "um" {
			// The boot directory of an image must exist in the tree.
			if _, err := os.Stat(filepath.Join(src, filepath.Dir(in.Images[0]))); err != nil {
				t.Errorf("%s: image %s: %v", sa, in.Images[0], err)
			}
		}
	}
}
