package kconfig

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/fragment"
	"github.com/rflkit/rflkit/internal/testenv"
)

// explainInput returns tinyconfig + the Rust fragment + extra lines, as
// computed by tr itself.
func explainInput(t *testing.T, tr *Tree, extra string) *Config {
	t.Helper()
	tiny, err := tr.TinyConfig()
	if err != nil {
		t.Fatal(err)
	}
	in := mergeText(t, tiny.Bytes(), []byte(fragment.TinyRust(true)))
	in = mergeText(t, in, []byte(extra))
	c, err := Parse(bytes.NewReader(in), "input", ParseOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// explainApply applies x.Fix to in and checks that olddefconfig then
// gives the symbol the wanted value.
func explainApply(t *testing.T, tr *Tree, in *Config, x *Explanation) {
	t.Helper()
	if len(x.Fix) == 0 {
		t.Fatalf("no fix suggested:\n%s", x)
	}
	var lines []string
	for _, a := range x.Fix {
		lines = append(lines, a.String())
	}
	fixed := mergeText(t, in.Bytes(), []byte(strings.Join(lines, "\n")+"\n"))
	c, err := Parse(bytes.NewReader(fixed), "fixed", ParseOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tr.OldDefconfig(c).Value(x.Symbol)
	if got != x.Want {
		t.Errorf("after applying %v, %s = %s, want %s", x.Fix, x.Symbol, got, x.Want)
	}
}

func explainHasChain(x *Explanation, want ...string) bool {
	for _, chain := range x.Causes {
		var parts []string
		for _, c := range chain {
			parts = append(parts, c.Symbol+"="+c.Value)
		}
		if strings.Contains(strings.Join(parts, " -> "), strings.Join(want, " -> ")) {
			return true
		}
	}
	return false
}

func TestIntegrationExplainInlineHelpersWithGCC(t *testing.T) {
	testenv.Integration(t)
	vars := map[string]string{}
	for k, v := range toolVars(t) {
		if k != "LLVM" {
			vars[k] = v
		}
	}
	tr := loadReal(t, "", vars)
	in := explainInput(t, tr, "")
	x, err := tr.Explain(in, "RUST_INLINE_HELPERS", "y")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", x)
	if x.Takes || x.Current != "n" {
		t.Fatalf("RUST_INLINE_HELPERS = %s with gcc, want n", x.Current)
	}
	if !explainHasChain(x, "RUST_INLINE_HELPERS=n", "RUSTC_CLANG_LLVM_COMPATIBLE=n", "CC_IS_CLANG=n") {
		t.Errorf("root cause chain RUST_INLINE_HELPERS -> RUSTC_CLANG_LLVM_COMPATIBLE=n -> CC_IS_CLANG=n missing:\n%s", x)
	}
	if len(x.Fix) != 0 || !strings.Contains(x.Unfixable, "CC_IS_CLANG") {
		t.Errorf("with gcc no assignment can enable it; got fix %v, unfixable %q", x.Fix, x.Unfixable)
	}
}

func TestIntegrationExplainRustModversions(t *testing.T) {
	testenv.Integration(t)
	tr := loadReal(t, "", toolVars(t))
	in := explainInput(t, tr, "CONFIG_MODULES=y\nCONFIG_MODVERSIONS=y\n# CONFIG_GENDWARFKSYMS is not set\n")
	x, err := tr.Explain(in, "RUST", "y")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", x)
	if x.Takes {
		t.Fatalf("RUST took with MODVERSIONS=y GENDWARFKSYMS=n")
	}
	blocked := false
	for _, d := range x.DependsOn {
		if d.Blocks && strings.Contains(d.Expr, "MODVERSIONS") {
			blocked = true
		}
	}
	if !blocked {
		t.Errorf("the !MODVERSIONS || GENDWARFKSYMS term is not reported as blocking:\n%s", x)
	}
	if !explainHasChain(x, "RUST=n", "MODVERSIONS=y") {
		t.Errorf("root cause MODVERSIONS=y missing:\n%s", x)
	}
	explainApply(t, tr, in, x)
}

func TestIntegrationExplainRustNullWithoutConfigfs(t *testing.T) {
	testenv.Integration(t)
	tr := loadReal(t, "", toolVars(t))
	// BLK_DEV_NULL_BLK selects CONFIGFS_FS: leave both out.
	in := explainInput(t, tr, "# CONFIG_CONFIGFS_FS is not set\n# CONFIG_BLK_DEV_NULL_BLK is not set\n")
	x, err := tr.Explain(in, "BLK_DEV_RUST_NULL", "y")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", x)
	if x.Takes {
		t.Fatalf("BLK_DEV_RUST_NULL took without CONFIGFS_FS")
	}
	if !explainHasChain(x, "BLK_DEV_RUST_NULL=n", "CONFIGFS_FS=n") {
		t.Errorf("root cause CONFIGFS_FS=n missing:\n%s", x)
	}
	found := false
	for _, a := range x.Fix {
		if a.Symbol == "CONFIGFS_FS" && a.Value == "y" {
			found = true
		}
	}
	if !found {
		t.Errorf("fix %v does not set CONFIGFS_FS=y", x.Fix)
	}
	explainApply(t, tr, in, x)
}
