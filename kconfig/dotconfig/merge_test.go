package dotconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenMerges are the merges whose merge_config.sh -m results are in
// testdata/merge (NAME.config.golden, NAME.log.golden, made by the
// 7.2 tree's script; TestIntegrationMergeGolden runs the script again and
// compares).
var goldenMerges = []struct {
	name      string
	redundant bool // -r
	builtin   bool // -y
	files     []string
}{
	{"none", false, false, []string{"base.config", "frag1.config", "frag2.config", "frag1.config"}},
	{"r", true, false, []string{"base.config", "frag1.config", "frag2.config", "frag1.config"}},
	{"y", false, true, []string{"base.config", "frag1.config", "frag2.config", "frag1.config"}},
	{"ry", true, true, []string{"base.config", "frag1.config", "frag2.config", "frag1.config"}},
	{"crlf-lf", true, false, []string{"crlf.config", "lf-nonl.config"}},
	{"lf-crlf", true, false, []string{"lf-nonl.config", "crlf.config"}},
}

func readTestConfig(t testing.TB, path string) *Config {
	t.Helper()
	c, err := ReadFile(path, ParseOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mergeFiles merges files the way the test's merge_config.sh command line
// does and returns the merged file and the log.
func mergeFiles(t testing.TB, dir string, files []string, builtin, redundant bool, out string) (string, string) {
	t.Helper()
	var cfgs []*Config
	for _, f := range files {
		c, err := ReadFile(filepath.Join(dir, f), ParseOptions{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		// The script names fragments as given on its command line.
		c.name = f
		cfgs = append(cfgs, c)
	}
	merged, warns := MergeOptions{Builtin: builtin}.Merge(cfgs[0], cfgs[1:]...)
	var log strings.Builder
	if err := WriteMergeLog(&log, cfgs[0], cfgs[1:], warns, MergeLogOptions{Redundant: redundant, Output: out}); err != nil {
		t.Fatal(err)
	}
	return merged.String(), log.String()
}

func TestMergeGolden(t *testing.T) {
	dir := filepath.Join("testdata", "merge")
	for _, tc := range goldenMerges {
		t.Run(tc.name, func(t *testing.T) {
			got, log := mergeFiles(t, dir, tc.files, tc.builtin, tc.redundant, "OUT")
			want, err := os.ReadFile(filepath.Join(dir, tc.name+".config.golden"))
			if err != nil {
				t.Fatal(err)
			}
			wantLog, err := os.ReadFile(filepath.Join(dir, tc.name+".log.golden"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("merged file:\n%q\nwant:\n%q", got, want)
			}
			if log != string(wantLog) {
				t.Errorf("log:\n%s\nwant:\n%s", log, wantLog)
			}
		})
	}
}

func TestMergeWarnings(t *testing.T) {
	base := mustParse(t, "base", "CONFIG_A=y\nCONFIG_B=m\nCONFIG_C=n\nCONFIG_D=y", ParseOptions{})
	frag := mustParse(t, "f.config", "# f\nCONFIG_A=m\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_E=\"s\"\n", ParseOptions{})
	merged, warns := Merge(base, frag)
	want := []MergeWarning{
		{Kind: MergeRedefined, Symbol: "A", Old: "CONFIG_A=y", New: "CONFIG_A=m", File: "f.config", Line: 2},
		{Kind: MergeRedundant, Symbol: "B", Old: "CONFIG_B=m", New: "CONFIG_B=m", File: "f.config", Line: 3},
	}
	if len(warns) != len(want) {
		t.Fatalf("warnings = %+v", warns)
	}
	for i := range want {
		w := warns[i]
		w.prefix = ""
		if w != want[i] {
			t.Errorf("warning %d = %+v, want %+v", i, w, want[i])
		}
	}
	if s := warns[0].String(); s != "Value of CONFIG_A is redefined by fragment f.config:\nPrevious value: CONFIG_A=y\nNew value: CONFIG_A=m" {
		t.Errorf("String = %q", s)
	}
	wantText := "CONFIG_C=n\nCONFIG_D=y\n\n# f\nCONFIG_A=m\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_E=\"s\"\n"
	if merged.String() != wantText {
		t.Errorf("merged:\n%q\nwant\n%q", merged.String(), wantText)
	}
	// The merged Config is a working Config: last wins, C is "is not set".
	for sym, want := range map[string]string{"A": "m", "B": "m", "C": "n", "D": "y", "E": `"s"`} {
		if v, ok := merged.Get(sym); !ok || v.String() != want {
			t.Errorf("merged %s = %v, %v", sym, v, ok)
		}
	}
	if v, _ := merged.Get("C"); v.Kind() != KindNotSet {
		t.Errorf("C kind %v, want the later not-set line", v.Kind())
	}
	// Inputs are not changed.
	if base.String() != "CONFIG_A=y\nCONFIG_B=m\nCONFIG_C=n\nCONFIG_D=y" {
		t.Errorf("base changed: %q", base.String())
	}
}

func TestMergeNoFragments(t *testing.T) {
	base := mustParse(t, "base", "CONFIG_A=y", ParseOptions{})
	merged, warns := Merge(base)
	// As the script: with no fragment the base is copied unchanged.
	if merged.String() != "CONFIG_A=y" || len(warns) != 0 {
		t.Errorf("merged %q, warnings %v", merged.String(), warns)
	}
}

func TestMergeCRLFAndPrefix(t *testing.T) {
	// awk sees the \r of a CRLF line: "CONFIG_A=y\r" differs from
	// "CONFIG_A=y" (redefined), and a CRLF "is not set" line is not one.
	base := mustParse(t, "b", "CONFIG_A=y\r\n", ParseOptions{})
	frag := mustParse(t, "f", "CONFIG_A=y\n", ParseOptions{})
	merged, warns := Merge(base, frag)
	if len(warns) != 1 || warns[0].Kind != MergeRedefined || warns[0].Old != "CONFIG_A=y\r" {
		t.Errorf("warnings %+v", warns)
	}
	if merged.String() != "\nCONFIG_A=y\n" {
		t.Errorf("merged %q", merged.String())
	}

	base = mustParse(t, "b", "FOO_A=y\n# CONFIG_A is not set\n", ParseOptions{Prefix: "FOO_"})
	frag = mustParse(t, "f", "# FOO_A is not set\n", ParseOptions{Prefix: "FOO_"})
	merged, warns = Merge(base, frag)
	if len(warns) != 1 || warns[0].String() != "Value of FOO_A is redefined by fragment f:\nPrevious value: FOO_A=y\nNew value: # FOO_A is not set" {
		t.Errorf("warnings %v", warns)
	}
	if v, ok := merged.Get("A"); !ok || v.Kind() != KindNotSet {
		t.Errorf("A = %v %v", v, ok)
	}
}

func TestWriteMergeLogQuiet(t *testing.T) {
	base := mustParse(t, "b", "CONFIG_A=y\n", ParseOptions{})
	frag := mustParse(t, "f", "CONFIG_A=m\n", ParseOptions{})
	_, warns := Merge(base, frag, frag)
	var sb strings.Builder
	WriteMergeLog(&sb, base, []*Config{frag, frag}, warns, MergeLogOptions{Quiet: true})
	if sb.String() != "Using b as base\nMerging f\nMerging f\n" {
		t.Errorf("quiet log %q", sb.String())
	}
	if len(warns) != 3 || warns[1].Kind != MergeDuplicateFile || warns[2].Kind != MergeRedundant {
		t.Errorf("warnings %+v", warns)
	}
}
