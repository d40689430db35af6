package kbuild

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/osutil"
)

func TestCommand(t *testing.T) {
	env := []string{"PATH=/usr/bin", "MAKEFLAGS=-j8 --jobserver-auth=3,4", "MAKELEVEL=1", "KBUILD_OUTPUT=/elsewhere", "HOME=/root"}
	for _, tc := range []struct {
		name string
		b    Builder
		tgts []string
		want string // argv joined by spaces
	}{
		{"defaults", Builder{Arch: "x86_64", Jobs: 2}, nil,
			"make -C /src O=/out -j2 ARCH=x86_64 LLVM=1"},
		{"toolchain vars", Builder{Arch: "x86_64", Jobs: 4, MakeVars: map[string]string{"LLVM": "-19", "RUSTC": "/usr/bin/rustc", "BINDGEN": "/usr/bin/bindgen"}},
			[]string{"bzImage", "modules"},
			"make -C /src O=/out -j4 ARCH=x86_64 BINDGEN=/usr/bin/bindgen LLVM=-19 RUSTC=/usr/bin/rustc bzImage modules"},
		{"llvm dir", Builder{Arch: "arm64", Jobs: 1, LLVM: "/usr/lib/llvm-19/bin/"}, []string{"Image"},
			"make -C /src O=/out -j1 ARCH=arm64 LLVM=/usr/lib/llvm-19/bin/ Image"},
		{"arch from vars", Builder{Jobs: 1, ExtraVars: map[string]string{"ARCH": "riscv", "W": "1"}}, nil,
			"make -C /src O=/out -j1 ARCH=riscv LLVM=1 W=1"},
		{"same LLVM twice", Builder{Arch: "x86_64", Jobs: 1, LLVM: "1", MakeVars: map[string]string{"LLVM": "1"}}, nil,
			"make -C /src O=/out -j1 ARCH=x86_64 LLVM=1"},
		{"ccache LLVM=1", Builder{Arch: "x86_64", Jobs: 1, CCache: "/usr/bin/ccache"}, nil,
			"make -C /src O=/out -j1 ARCH=x86_64 CC=/usr/bin/ccache clang HOSTCC=/usr/bin/ccache clang LLVM=1"},
		{"ccache LLVM=-19", Builder{Arch: "x86_64", Jobs: 1, CCache: "ccache", LLVM: "-19"}, nil,
			"make -C /src O=/out -j1 ARCH=x86_64 CC=ccache clang-19 HOSTCC=ccache clang-19 LLVM=-19"},
		{"ccache LLVM=/path/", Builder{Arch: "x86_64", Jobs: 1, CCache: "ccache", LLVM: "/opt/llvm/bin/"}, nil,
			"make -C /src O=/out -j1 ARCH=x86_64 CC=ccache /opt/llvm/bin/clang HOSTCC=ccache /opt/llvm/bin/clang LLVM=/opt/llvm/bin/"},
		{"clang by name is fine", Builder{Arch: "x86_64", Jobs: 1, ExtraVars: map[string]string{"CC": "clang-19", "AR": "llvm-ar"}}, nil,
			"make -C /src O=/out -j1 AR=llvm-ar ARCH=x86_64 CC=clang-19 LLVM=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.Env = env
			inv, err := tc.b.Command("/src", "/out", tc.tgts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(inv.Argv, " "); got != tc.want {
				t.Errorf("argv\n got %s\nwant %s", got, tc.want)
			}
			if want := []string{"PATH=/usr/bin", "HOME=/root"}; !reflect.DeepEqual(inv.Env, want) {
				t.Errorf("env %v, want %v", inv.Env, want)
			}
		})
	}
}

func TestCommandConflicts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     Builder
		tgts  []string
		field string
		msg   string
	}{
		{"O in extra vars", Builder{ExtraVars: map[string]string{"O": "/x"}}, nil, "ExtraVars", "set Builder.OutDir"},
		{"KBUILD_OUTPUT", Builder{MakeVars: map[string]string{"KBUILD_OUTPUT": "/x"}}, nil, "MakeVars", "out of tree"},
		{"LLVM differs", Builder{LLVM: "1", MakeVars: map[string]string{"LLVM": "-19"}}, nil, "LLVM", `Builder.LLVM="1" but make variable LLVM="-19"`},
		{"bad LLVM", Builder{LLVM: "yes"}, nil, "LLVM", "bad LLVM value"},
		{"relative LLVM dir", Builder{LLVM: "llvm/bin/"}, nil, "LLVM", "bad LLVM value"},
		{"gcc with LLVM", Builder{ExtraVars: map[string]string{"CC": "gcc"}}, nil, "CC", "contradicts LLVM=1"},
		{"cross gcc", Builder{ExtraVars: map[string]string{"CC": "ccache aarch64-linux-gnu-gcc"}}, nil, "CC", "contradicts LLVM"},
		{"bfd", Builder{ExtraVars: map[string]string{"LD": "ld.bfd"}}, nil, "LD", "contradicts LLVM"},
		{"ARCH differs", Builder{Arch: "x86_64", MakeVars: map[string]string{"ARCH": "arm64"}}, nil, "Arch", `Builder.Arch="x86_64" but make variable ARCH="arm64"`},
		{"bad ARCH", Builder{Arch: "X86 64"}, nil, "Arch", "bad ARCH"},
		{"vars disagree", Builder{MakeVars: map[string]string{"RUSTC": "/a"}, ExtraVars: map[string]string{"RUSTC": "/b"}}, nil, "ExtraVars", "contradicts the toolchain's"},
		{"ccache and CC", Builder{CCache: "ccache", ExtraVars: map[string]string{"CC": "clang"}}, nil, "CCache", "CC is set"},
		{"bad var name", Builder{ExtraVars: map[string]string{"A B": "1"}}, nil, "ExtraVars", "bad make variable name"},
		{"newline", Builder{ExtraVars: map[string]string{"KCFLAGS": "a\nb"}}, nil, "ExtraVars", "newline"},
		{"MAKEFLAGS", Builder{ExtraVars: map[string]string{"MAKEFLAGS": "-j9"}}, nil, "ExtraVars", "Builder.Jobs"},
		{"negative jobs", Builder{Jobs: -1}, nil, "Jobs", "negative"},
		{"option as target", Builder{}, []string{"-k"}, "Targets", "bad make target"},
		{"var as target", Builder{}, []string{"W=1"}, "Targets", "ExtraVars"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Command("/src", "/out", tc.tgts...)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("want *UsageError, got %v", err)
			}
			if ue.Field != tc.field || !strings.Contains(ue.Msg, tc.msg) {
				t.Errorf("got %s: %s; want field %s containing %q", ue.Field, ue.Msg, tc.field, tc.msg)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	got := osutil.ShellJoin([]string{"make", "KCFLAGS=-O2 -g", "it's", "", "O=/a/b"})
	want := `make 'KCFLAGS=-O2 -g' 'it'\''s' '' O=/a/b`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
