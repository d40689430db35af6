package kconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSymCheckProp loads testdata/symcheck, a small tree with every
// warning of sym_check_prop (menu.c) and the "defined without type" one,
// and compares the warnings and the olddefconfig output with those of the
// 7.2 tree's scripts/kconfig/conf (`srctree=. conf --olddefconfig
// Kconfig`, its stderr and .config kept in conf.stderr and conf.config).
// The order is conf's too: menu_finalize checks the symbols an automatic
// submenu takes in (X and Y below A, Q below the promptless P) before the
// symbol itself, and a symbol's second definition (S at line 105) with
// its first.
func TestSymCheckProp(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("testdata", "symcheck"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc, err := os.ReadFile(filepath.Join(src, "Kconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Kconfig"), kc, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := loadSmall(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(src, "conf.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, w := range tr.Warnings {
		got.WriteString(strings.ReplaceAll(w, dir+"/", "") + "\n")
	}
	if got.String() != string(want) {
		t.Errorf("warnings differ from conf's\ngot:\n%s\nwant:\n%s", got.String(), want)
	}
	wantConfig, err := os.ReadFile(filepath.Join(src, "conf.config"))
	if err != nil {
		t.Fatal(err)
	}
	if out := tr.OldDefconfig(nil).Bytes(); string(out) != string(wantConfig) {
		t.Errorf("olddefconfig differs from conf's\ngot:\n%s\nwant:\n%s", out, wantConfig)
	}
}

// TestSymCheckPropClean: a tree whose properties are all well typed
// gets no warning (the checks do not fire on valid input).
func TestSymCheckPropClean(t *testing.T) {
	dir := t.TempDir()
	kc := `config MODULES
	bool "modules"
	modules

config A
	bool "a"
	select B
	imply C

config B
	tristate "b"

config C
	bool "c"

config N
	int "n"
	range 1 N2
	default 3
	default N2 if A

config N2
	int "n2"
	default -4

config H
	hex "h"
	range 0x0 0xff
	default "0x10"

config S
	string "s"
	default "x"

choice
	prompt "c"
	default C2

config C1
	bool "c1"

config C2
	bool "c2"

endchoice
`
	if err := os.WriteFile(filepath.Join(dir, "Kconfig"), []byte(kc), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := loadSmall(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Warnings) != 0 {
		t.Errorf("warnings on a well-typed tree: %q", tr.Warnings)
	}
}
