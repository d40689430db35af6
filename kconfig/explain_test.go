package kconfig

import (
	"bytes"
	"strings"
	"testing"
)

func explainSmall(t *testing.T, input, sym, want string) *Explanation {
	t.Helper()
	tr := loadGoldenTree(t, "testdata/lang/basic")
	in, err := Parse(bytes.NewReader([]byte(input)), "in", ParseOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	x, err := tr.Explain(in, sym, want)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExplainSmallTree(t *testing.T) {
	// B depends on A.
	x := explainSmall(t, "# CONFIG_A is not set\n", "B", "y")
	if x.Takes || len(x.Fix) != 2 || x.Fix[0].String() != "CONFIG_A=y" && x.Fix[1].String() != "CONFIG_A=y" {
		t.Errorf("B without A:\n%s", x)
	}
	// E is selected by SEL_BOOL: turning it off needs SEL_BOOL off.
	x = explainSmall(t, "CONFIG_SEL_BOOL=y\n", "E", "n")
	if x.Takes || len(x.SelectedBy) == 0 || !x.SelectedBy[0].Blocks {
		t.Errorf("E selected:\n%s", x)
	}
	found := false
	for _, a := range x.Fix {
		if a.Symbol == "SEL_BOOL" && a.Value == "n" {
			found = true
		}
	}
	if !found {
		t.Errorf("fix %v does not unset SEL_BOOL", x.Fix)
	}
	// Range: I is 1..10.
	x = explainSmall(t, "", "I", "50")
	if x.Takes || x.Range != "1 10" || !strings.Contains(x.Unfixable, "range") {
		t.Errorf("I=50:\n%s", x)
	}
	x = explainSmall(t, "", "I", "7")
	if len(x.Fix) != 1 || x.Fix[0].String() != "CONFIG_I=7" {
		t.Errorf("I=7:\n%s", x)
	}
	// Choice: CH1 is not the default.
	x = explainSmall(t, "", "CH1", "y")
	if x.Choice != "Pick one" || x.Chosen != "CH2" || len(x.Fix) != 1 {
		t.Errorf("CH1:\n%s", x)
	}
	// A symbol that took.
	if x = explainSmall(t, "", "A", "y"); !x.Takes || !strings.Contains(x.String(), "as wanted") {
		t.Errorf("A:\n%s", x)
	}
	// m needs MODULES.
	x = explainSmall(t, "# CONFIG_MODULES is not set\nCONFIG_E=y\n", "E", "m")
	if x.Takes || !explainHasChain(x, "E=y", "MODULES=n") || len(x.Fix) != 2 {
		t.Errorf("E=m without modules:\n%s", x)
	}
	tr := loadGoldenTree(t, "testdata/lang/basic")
	if _, err := tr.Explain(nil, "NOPE", "y"); err == nil {
		t.Errorf("unknown symbol: no error")
	}
	if _, err := tr.Explain(nil, "A", "m"); err == nil {
		t.Errorf("m for a bool: no error")
	}
}

// The expected text is what scripts/kconfig/conf prints for this tree.
func TestUnmetDependencyWarning(t *testing.T) {
	tr := loadGoldenTree(t, "testdata/lang/basic")
	r := tr.OldDefconfig(nil)
	var got string
	for _, w := range r.Warnings {
		if strings.Contains(w, "T_UNMET") {
			got = w
		}
	}
	want := "\nWARNING: unmet direct dependencies detected for T_UNMET\n  Depends on [n]: n [=n]\n  Selected by [m]:\n  - T_SELECTOR [=m] && A [=y]\n"
	if got != want {
		t.Errorf("warning:\n%q\nwant\n%q", got, want)
	}
}
