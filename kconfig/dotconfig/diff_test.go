package dotconfig

import (
	"os"
	"path/filepath"
	"testing"
)

// diffGoldenCases are pairs whose `scripts/diffconfig [-m] A B` output is in
// testdata/diff (made by the 7.2 tree's script;
// TestIntegrationDiffGolden runs the script again and compares).
var diffGoldenCases = []struct{ a, b, golden string }{
	{"a.config", "b.config", "ab"},
	{"b.config", "a.config", "ba"},
}

func TestDiffGolden(t *testing.T) {
	dir := filepath.Join("testdata", "diff")
	for _, tc := range diffGoldenCases {
		a := readTestConfig(t, filepath.Join(dir, tc.a))
		b := readTestConfig(t, filepath.Join(dir, tc.b))
		d := Diff(a, b)
		for suffix, got := range map[string]string{"": d.String(), "-m": d.MergeStyle()} {
			want, err := os.ReadFile(filepath.Join(dir, tc.golden+suffix+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("diff%s %s %s:\n%s\nwant:\n%s", suffix, tc.a, tc.b, got, want)
			}
		}
	}
}

func TestDiffStructure(t *testing.T) {
	a := mustParse(t, "a", "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=n\nCONFIG_D=1\n", ParseOptions{})
	b := mustParse(t, "b", "CONFIG_C=m\nCONFIG_B=n\nCONFIG_E=\"e\"\nCONFIG_D=1\n", ParseOptions{})
	d := Diff(a, b)
	if len(d.Removed) != 1 || d.Removed[0].Symbol != "A" || d.Removed[0].Old.String() != "y" {
		t.Errorf("Removed = %+v", d.Removed)
	}
	if len(d.Changed) != 1 || d.Changed[0].Symbol != "C" || d.Changed[0].New.String() != "m" {
		t.Errorf("Changed = %+v", d.Changed)
	}
	if len(d.Added) != 1 || d.Added[0].Symbol != "E" {
		t.Errorf("Added = %+v", d.Added)
	}
	if d.Empty() || !Diff(a, a.Clone()).Empty() {
		t.Error("Empty is wrong")
	}
	if got := Diff(a, a).String(); got != "" {
		t.Errorf("self diff %q", got)
	}
}
