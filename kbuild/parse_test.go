package kbuild

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseQuietLine(t *testing.T) {
	for _, tc := range []struct{ line, kind, target string }{
		{"  CC      init/main.o", "CC", "init/main.o"},
		{"  RUSTC L rust/core.o", "RUSTC L", "rust/core.o"},
		{"  RUSTC P rust/libmacros.so", "RUSTC P", "rust/libmacros.so"},
		{"  BINDGEN rust/bindings/bindings_generated.rs", "BINDGEN", "rust/bindings/bindings_generated.rs"},
		{"  HOSTCC  scripts/basic/fixdep", "HOSTCC", "scripts/basic/fixdep"},
		{"  LD [M]  drivers/block/null_blk.ko", "LD", "[M]  drivers/block/null_blk.ko"},
		{"  AR      lib/lib.a", "AR", "lib/lib.a"},
		{"  CC      /tmp/o/tools/objtool/str_error_r.o", "CC", "/tmp/o/tools/objtool/str_error_r.o"},
		{"  GEN     Makefile", "GEN", "Makefile"},
		{"  UPD     include/config/kernel.release", "UPD", "include/config/kernel.release"},
	} {
		k, tg, ok := ParseQuietLine(tc.line)
		if !ok || k != tc.kind || tg != tc.target {
			t.Errorf("%q: got %q %q %v", tc.line, k, tg, ok)
		}
	}
	for _, l := range []string{"make[1]: Entering directory '/x'", "Kernel: arch/x86/boot/bzImage is ready  (#1)", "", "   12 |     foo(1);", "#", "CC init/main.o"} {
		if k, tg, ok := ParseQuietLine(l); ok {
			t.Errorf("%q parsed as %q %q", l, k, tg)
		}
	}
}

// A real-looking failed build log: clang, then rustc, then ld.lld.
const mixedLog = `  CC      drivers/block/null_blk/main.o
drivers/block/null_blk/main.c:1234:9: error: call to undeclared function 'nullb_foo'; ISO C99 and later do not support implicit function declarations [-Wimplicit-function-declaration]
 1234 |         nullb_foo(dev);
      |         ^
drivers/block/null_blk/main.c:40:2: warning: unused variable 'x' [-Wunused-variable]
include/linux/blkdev.h:77:1: fatal error: 'missing.h' file not found
make[4]: *** [scripts/Makefile.build:203: drivers/block/null_blk/main.o] Error 1
  RUSTC [M] drivers/block/rnull/rnull.o
error[E0425]: cannot find value ` + "`queue`" + ` in this scope
  --> drivers/block/rnull/rnull.rs:59:13
   |
59 |             queue,
   |             ^^^^^ not found in this scope

error: unused import: ` + "`kernel::prelude`" + `
 --> rust/kernel/block.rs:3:5
  |
error: aborting due to 2 previous errors

Some errors have detailed explanations: E0425.
make[4]: *** [scripts/Makefile.rust:100: drivers/block/rnull/rnull.o] Error 1
ld.lld: error: undefined symbol: rnull_init
vmlinux.o: error: objtool: missing symbol table
arch/x86/entry/entry_64.S:100: Error: no such instruction: 'foo'
make[1]: *** [/src/Makefile:2003: .] Error 2
make: *** [Makefile:248: __sub-make] Error 2
`

func TestParseDiagnostics(t *testing.T) {
	got := ParseDiagnostics(mixedLog)
	want := []Diagnostic{
		{Tool: "cc", File: "drivers/block/null_blk/main.c", Line: 1234, Col: 9, Message: "call to undeclared function 'nullb_foo'; ISO C99 and later do not support implicit function declarations [-Wimplicit-function-declaration]"},
		{Tool: "cc", File: "include/linux/blkdev.h", Line: 77, Col: 1, Message: "'missing.h' file not found"},
		{Tool: "rustc", File: "drivers/block/rnull/rnull.rs", Line: 59, Col: 13, Code: "E0425", Message: "cannot find value `queue` in this scope"},
		{Tool: "rustc", File: "rust/kernel/block.rs", Line: 3, Col: 5, Message: "unused import: `kernel::prelude`"},
		{Tool: "ld.lld", Message: "undefined symbol: rnull_init"},
		{Tool: "vmlinux.o", Message: "objtool: missing symbol table"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	ke := &KernelError{Diagnostics: got}
	if s := ke.Error(); !strings.Contains(s, "drivers/block/null_blk/main.c:1234:9: call to undeclared") || !strings.Contains(s, "and 5 more") {
		t.Errorf("KernelError: %s", s)
	}
	if s := got[2].String(); s != "drivers/block/rnull/rnull.rs:59:13: error[E0425]: cannot find value `queue` in this scope" {
		t.Errorf("String: %s", s)
	}
}

func TestInfraReasons(t *testing.T) {
	for l, want := range map[string]InfraReason{
		"init/main.o: No space left on device":                  ReasonDiskFull,
		"/bin/sh: 1: clang: not found":                          ReasonToolMissing,
		"make[2]: clang: No such file or directory":             ReasonToolMissing,
		"scripts/foo.sh: line 3: bindgen: command not found":    ReasonToolMissing,
		"cp: error writing 'x': Input/output error":             ReasonIO,
		"init/main.c:1:1: error: expected identifier or '('":    "",
		"make: *** No rule to make target 'frobnicate'.  Stop.": "",
	} {
		if got, _ := infraReasonForLine(l); got != want {
			t.Errorf("%q: %q, want %q", l, got, want)
		}
	}
}

func TestDotConfig(t *testing.T) {
	a, err := parseDotConfig("a", []byte("#\n# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x y\"\nCONFIG_64BIT=y\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseDotConfig("b", []byte("CONFIG_A=y\nCONFIG_S=\"x\"\nCONFIG_64BIT=y\nCONFIG_N=0x10\n"))
	if err != nil {
		t.Fatal(err)
	}
	// S changed, N added; B absent in b counts as n, the same.
	if n := diffCount(a, b); n != 2 {
		t.Errorf("diffCount = %d, want 2", n)
	}
	if n := diffCount(b, a); n != 2 {
		t.Errorf("diffCount reversed = %d, want 2", n)
	}
	for _, bad := range []string{"CONFIG_=y\n", "CONFIG_A\n", "CONFIG_A B=y\n"} {
		if _, err := parseDotConfig("bad.config", []byte("CONFIG_OK=y\n"+bad)); err == nil || !strings.Contains(err.Error(), "bad.config:2:") {
			t.Errorf("%q: error %v, want one naming bad.config:2", bad, err)
		}
	}
}

func FuzzParseDiagnostics(f *testing.F) {
	f.Add(mixedLog)
	f.Add("error[E0001]: x\n  --> a.rs:1:2\n")
	f.Add("a.c:1:2: error: b\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range ParseDiagnostics(s) {
			if d.Line < 0 || d.Col < 0 || d.Message == "" && d.Code == "" && d.Tool == "" {
				t.Errorf("bad diagnostic %+v", d)
			}
			_ = d.String()
		}
	})
}

func FuzzParseDotConfig(f *testing.F) {
	f.Add([]byte("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x\"\n"))
	f.Add([]byte("# comment\n\nCONFIG_64BIT=y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseDotConfig("fuzz", data)
		if err != nil {
			return
		}
		if diffCount(c, c) != 0 {
			t.Errorf("a config differs from itself")
		}
		for s := range c.All() {
			if !c.Has(s) {
				t.Errorf("listed symbol %s has no value", s)
			}
		}
	})
}

func FuzzParseQuietLine(f *testing.F) {
	f.Add("  CC      init/main.o")
	f.Add("  RUSTC L rust/core.o")
	f.Fuzz(func(t *testing.T, s string) {
		if k, tg, ok := ParseQuietLine(s); ok && (k == "" || tg == "") {
			t.Errorf("%q: empty kind or target", s)
		}
	})
}
