package kbuild

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// testSym is a symbol for writeELF: defined in .text, or undefined.
type testSym struct {
	name    string
	defined bool
}

// writeELF writes a minimal x86_64 ELF relocatable object with a .text
// section and the given symbols (global functions), as debug/elf reads
// them.
func writeELF(t *testing.T, path string, syms []testSym) {
	t.Helper()
	le := binary.LittleEndian
	strtab := []byte{0}
	var symtab bytes.Buffer
	symtab.Write(make([]byte, 24)) // the null symbol
	for _, s := range syms {
		off := uint32(len(strtab))
		strtab = append(append(strtab, s.name...), 0)
		shndx := uint16(elf.SHN_UNDEF)
		if s.defined {
			shndx = 1
		}
		_ = binary.Write(&symtab, le, elf.Sym64{Name: off, Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC), Shndx: shndx})
	}
	shstr := []byte("\x00.text\x00.symtab\x00.strtab\x00.shstrtab\x00")
	text := []byte{0xc3, 0xc3, 0xc3, 0xc3}
	var body bytes.Buffer
	body.Write(make([]byte, 64))
	offText := body.Len()
	body.Write(text)
	offSym := body.Len()
	body.Write(symtab.Bytes())
	offStr := body.Len()
	body.Write(strtab)
	offShstr := body.Len()
	body.Write(shstr)
	for body.Len()%8 != 0 {
		body.WriteByte(0)
	}
	shoff := body.Len()
	shdrs := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC | elf.SHF_EXECINSTR), Off: uint64(offText), Size: uint64(len(text)), Addralign: 1},
		{Name: 7, Type: uint32(elf.SHT_SYMTAB), Off: uint64(offSym), Size: uint64(symtab.Len()), Link: 3, Info: 1, Addralign: 8, Entsize: 24},
		{Name: 15, Type: uint32(elf.SHT_STRTAB), Off: uint64(offStr), Size: uint64(len(strtab)), Addralign: 1},
		{Name: 23, Type: uint32(elf.SHT_STRTAB), Off: uint64(offShstr), Size: uint64(len(shstr)), Addralign: 1},
	}
	for _, sh := range shdrs {
		_ = binary.Write(&body, le, sh)
	}
	out := body.Bytes()
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: uint64(shoff), Ehsize: 64, Shentsize: 64, Shnum: uint16(len(shdrs)), Shstrndx: 4,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var h bytes.Buffer
	_ = binary.Write(&h, le, hdr)
	copy(out, h.Bytes())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHelperSymbols(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rnull_mod.ko")
	writeELF(t, p, []testSym{
		{"rust_helper_blk_mq_rq_to_pdu", false},
		{"rust_helper_spin_lock", false},
		{"rust_helper_spin_lock", false},
		{"rust_helper_local_copy", true},
		{"blk_mq_start_request", false},
		{"init_module", true},
	})
	got, err := HelperSymbols(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rust_helper_blk_mq_rq_to_pdu", "rust_helper_spin_lock"}; !reflect.DeepEqual(got, want) {
		t.Errorf("HelperSymbols = %q, want %q", got, want)
	}
	if _, err := HelperSymbols(filepath.Join(t.TempDir(), "missing.ko")); err == nil {
		t.Error("a missing file gave no error")
	}
	notELF := filepath.Join(t.TempDir(), "x.ko")
	os.WriteFile(notELF, []byte("not an ELF file"), 0o644)
	if _, err := HelperSymbols(notELF); err == nil {
		t.Error("a non-ELF file gave no error")
	}
}

// TestInlineCheck runs the check on a fake build tree: a vmlinux with two
// helpers left, a built-in Rust object calling one out of line, a C object
// (ignored), and two modules, one of them Rust.
func TestInlineCheck(t *testing.T) {
	out := t.TempDir()
	w := func(rel string, data string) {
		p := filepath.Join(out, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeELF(t, filepath.Join(out, "vmlinux"), []testSym{{"rust_helper_a", true}, {"rust_helper_b", true}, {"start_kernel", true}})
	writeELF(t, filepath.Join(out, "rust/kernel.o"), []testSym{{"rust_helper_b", false}, {"printk", false}})
	w("rust/.kernel.o.cmd", "savedcmd_rust/kernel.o := OBJTREE=/x /usr/bin/rustc --edition=2021 ...\n")
	writeELF(t, filepath.Join(out, "rust/core.o"), []testSym{{"memcpy", false}})
	w("rust/.core.o.cmd", "savedcmd_rust/core.o := /usr/bin/rustc --crate-type rlib ...\n")
	writeELF(t, filepath.Join(out, "rust/helpers/helpers.o"), []testSym{{"rust_helper_a", true}, {"rust_helper_x", false}})
	w("rust/helpers/.helpers.o.cmd", "savedcmd_rust/helpers/helpers.o := clang -c helpers.c\n")
	writeELF(t, filepath.Join(out, "drivers/block/rnull/rnull.o"), []testSym{{"rust_helper_c", false}})
	w("drivers/block/rnull/.rnull.o.cmd", "savedcmd_drivers/block/rnull/rnull.o := RUST_MODFILE=drivers/block/rnull/rnull_mod /usr/bin/rustc ...\n")
	w("drivers/block/rnull/rnull_mod.mod", "drivers/block/rnull/rnull.o\n")
	w("modules.order", "drivers/block/null_blk/null_blk.o\ndrivers/block/rnull/rnull_mod.o\n")
	writeELF(t, filepath.Join(out, "drivers/block/rnull/rnull_mod.ko"), []testSym{{"rust_helper_c", false}, {"rust_helper_d", true}})
	writeELF(t, filepath.Join(out, "drivers/block/null_blk/null_blk.ko"), []testSym{{"blk_mq_alloc_tag_set", false}})
	w(".config", "CONFIG_RUST=y\nCONFIG_RUST_INLINE_HELPERS=y\n")

	res := &Result{OutDir: out, Artifacts: collectArtifacts(out, "x86_64")}
	if res.Artifacts[ModuleRustNull] == "" || res.Artifacts[ModuleNullBlk] == "" {
		t.Fatalf("artifacts lack the modules: %v", res.Artifacts)
	}
	r, err := InlineCheck(res)
	if err != nil {
		t.Fatal(err)
	}
	want := &InlineReport{
		InlineHelpers:   true,
		Vmlinux:         []string{"rust_helper_a", "rust_helper_b"},
		RustObjects:     map[string][]string{"rust/kernel.o": {"rust_helper_b"}},
		RustObjectCount: 2,
		Modules:         map[string][]string{"null_blk": {}, "rnull_mod": {"rust_helper_c"}},
		ModuleDefined:   map[string][]string{"rnull_mod": {"rust_helper_d"}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("InlineCheck =\n%+v\nwant\n%+v", r, want)
	}
	if r.Inlined() {
		t.Error("Inlined() with helpers called out of line")
	}
	if (&InlineReport{Modules: map[string][]string{"rnull_mod": {}}}).Inlined() == false {
		t.Error("not Inlined() without any out-of-line call")
	}
	if _, err := InlineCheck(nil); err == nil {
		t.Error("InlineCheck(nil) gave no error")
	}
}

// TestTinyRustModulesSpec: the module configuration is TinyRust's plus the
// module fragment, which requests the drivers as modules.
func TestTinyRustModulesSpec(t *testing.T) {
	for _, h := range []bool{true, false} {
		spec := TinyRustModules(h)
		base := TinyRust(h)
		if spec.Base != "tinyconfig" || len(spec.Inline) != 2 || spec.Inline[0] != base.Inline[0] {
			t.Fatalf("helpers=%v: spec %+v", h, spec)
		}
		_, req, err := spec.fragments()
		if err != nil {
			t.Fatal(err)
		}
		for sym, want := range map[string]string{"MODULES": "y", "MODULE_UNLOAD": "y", "KALLSYMS": "y", "BLK_DEV_NULL_BLK": "m", "BLK_DEV_RUST_NULL": "m", "RUST": "y"} {
			v, ok := req.Get(sym)
			if !ok || v.String() != want {
				t.Errorf("helpers=%v: requested %s = %v (%v), want %s", h, sym, v, ok, want)
			}
		}
		if d1, _ := spec.digest(); d1 == "" {
			t.Error("empty digest")
		} else if d2, _ := base.digest(); d1 == d2 {
			t.Error("the module and built-in specs share a digest")
		}
	}
}
