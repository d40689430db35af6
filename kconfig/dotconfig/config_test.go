package dotconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t testing.TB, name, text string, opts ParseOptions) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(text), name, opts)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return c
}

func TestConfigRoundTripOddFiles(t *testing.T) {
	for name, text := range map[string]string{
		"empty":           "",
		"one newline":     "\n",
		"no final nl":     "CONFIG_A=y\n# CONFIG_B is not set",
		"crlf":            "CONFIG_A=y\r\n# comment\r\nCONFIG_S=\"x\"\r\n",
		"mixed eol":       "CONFIG_A=y\r\nCONFIG_B=m\n\r\n\n",
		"lone cr":         "# a\rb\nCONFIG_A=y\n",
		"blank and tabs":  "\n\n# \t odd   comment \t\n#\n#CONFIG_X is not set\n",
		"duplicates":      "CONFIG_A=y\nCONFIG_A=m\nCONFIG_A=y\n",
		"not-set variant": "# CONFIG_A is not set \n# CONFIG_B  is not set\n",
		"strings":         "CONFIG_S=\"a \\\"q\\\" \\\\ b\"\nCONFIG_E=\"\"\n",
		"numbers":         "CONFIG_I=-12\nCONFIG_H=0xFFff\nCONFIG_Z=0\n",
		"utf8 comment":    "# café ☕\nCONFIG_A=y\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, name, text, ParseOptions{})
			if got := string(c.Bytes()); got != text {
				t.Errorf("round trip:\n got %q\nwant %q", got, text)
			}
			var sb strings.Builder
			n, err := c.WriteTo(&sb)
			if err != nil || int(n) != len(text) || sb.String() != text {
				t.Errorf("WriteTo = %d, %v, %q", n, err, sb.String())
			}
		})
	}
}

func TestConfigValues(t *testing.T) {
	c := mustParse(t, "v", strings.Join([]string{
		"CONFIG_Y=y", "CONFIG_M=m", "CONFIG_N=n", "# CONFIG_NS is not set",
		`CONFIG_S="a \"q\" \\ b"`, "CONFIG_I=-12", "CONFIG_H=0x1F", "",
	}, "\n"), ParseOptions{})
	for _, tc := range []struct {
		sym  string
		kind ValueKind
		text string
	}{
		{"Y", KindTristate, "y"}, {"M", KindTristate, "m"}, {"N", KindTristate, "n"},
		{"NS", KindNotSet, "n"}, {"S", KindString, `"a \"q\" \\ b"`},
		{"I", KindNumber, "-12"}, {"H", KindNumber, "0x1F"},
	} {
		v, ok := c.Get(tc.sym)
		if !ok || v.Kind() != tc.kind || v.String() != tc.text {
			t.Errorf("Get(%s) = %v %q %v, want %v %q", tc.sym, v.Kind(), v.String(), ok, tc.kind, tc.text)
		}
	}
	if s, ok := mustGet(t, c, "S").Str(); !ok || s != `a "q" \ b` {
		t.Errorf("Str = %q, %v", s, ok)
	}
	if n, ok := mustGet(t, c, "H").Int(); !ok || n != 31 || !mustGet(t, c, "H").IsHex() {
		t.Errorf("H Int = %d, %v", n, ok)
	}
	if n, ok := mustGet(t, c, "I").Int(); !ok || n != -12 || mustGet(t, c, "I").IsHex() {
		t.Errorf("I Int = %d, %v", n, ok)
	}
	if tr, ok := mustGet(t, c, "M").Tristate(); !ok || tr != Mod {
		t.Errorf("M Tristate = %v, %v", tr, ok)
	}
	if tr, ok := mustGet(t, c, "NS").Tristate(); !ok || tr != No {
		t.Errorf("NS Tristate = %v, %v", tr, ok)
	}
	if _, ok := mustGet(t, c, "S").Tristate(); ok {
		t.Error("a string is not a tristate")
	}
	if !mustGet(t, c, "N").Equal(mustGet(t, c, "NS")) {
		t.Error("CONFIG_N=n should Equal not set")
	}
	if _, ok := c.Get("MISSING"); ok {
		t.Error("Get(MISSING) found something")
	}
	if c.Len() != 7 {
		t.Errorf("Len = %d", c.Len())
	}
}

func mustGet(t testing.TB, c *Config, sym string) Value {
	t.Helper()
	v, ok := c.Get(sym)
	if !ok {
		t.Fatalf("Get(%s): missing", sym)
	}
	return v
}

func TestConfigDuplicatesLastWins(t *testing.T) {
	c := mustParse(t, "dup", "CONFIG_A=y\nCONFIG_B=y\nCONFIG_A=m\n", ParseOptions{})
	if v := mustGet(t, c, "A"); v.String() != "m" {
		t.Errorf("Get(A) = %v, want the last assignment m", v)
	}
	w := c.Warnings()
	if len(w) != 1 || w[0].Line != 3 || !strings.Contains(w[0].Msg, "override: reassigning to symbol A") {
		t.Errorf("Warnings = %+v", w)
	}
	var syms []string
	for s, v := range c.All() {
		syms = append(syms, s+"="+v.String())
	}
	if got := strings.Join(syms, ","); got != "A=y,B=y,A=m" {
		t.Errorf("All = %s", got)
	}
	if err := c.SetString("A", "n"); err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != "CONFIG_A=y\nCONFIG_B=y\nCONFIG_A=n\n" {
		t.Errorf("Set rewrote the wrong line: %q", got)
	}
}

func TestConfigEdits(t *testing.T) {
	c := mustParse(t, "e", "# head\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"", ParseOptions{})
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { return c.SetString("B", "m") }, "# head\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C=\"x\""},
		{func() error { return c.Set("C", StringValue(`q"\`)) }, "# head\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C=\"q\\\"\\\\\""},
		{func() error { return c.Set("D", HexValue(255)) }, "# head\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C=\"q\\\"\\\\\"\nCONFIG_D=0xff\n"},
		{func() error { return c.Unset("A") }, "# head\n# CONFIG_A is not set\nCONFIG_B=m\nCONFIG_C=\"q\\\"\\\\\"\nCONFIG_D=0xff\n"},
		{func() error { c.Delete("C"); return nil }, "# head\n# CONFIG_A is not set\nCONFIG_B=m\nCONFIG_D=0xff\n"},
		{func() error { return c.Set("E", IntValue(-3)) }, "# head\n# CONFIG_A is not set\nCONFIG_B=m\nCONFIG_D=0xff\nCONFIG_E=-3\n"},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := c.String(); got != s.want {
			t.Fatalf("step %d:\n got %q\nwant %q", i, got, s.want)
		}
	}
	if s, _ := mustGet(t, c, "D").Int(); s != 255 {
		t.Errorf("D = %d", s)
	}
	if c.Delete("C") {
		t.Error("Delete of a missing symbol returned true")
	}
	if c.Has("C") {
		t.Error("C still there")
	}
	e := c.Entries()
	if len(e) != 4 || e[3].Symbol != "E" || e[3].Line != 5 {
		t.Errorf("Entries = %+v", e)
	}
}

func TestConfigSetKeepsCRLF(t *testing.T) {
	c := mustParse(t, "crlf", "CONFIG_A=y\r\n", ParseOptions{})
	if err := c.SetString("B", `"s"`); err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != "CONFIG_A=y\r\nCONFIG_B=\"s\"\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestConfigSetRejects(t *testing.T) {
	c := NewConfig("new", ParseOptions{})
	for _, bad := range []struct{ sym, rhs string }{
		{"", "y"}, {"A B", "y"}, {"A=B", "y"}, {"A", "yes"}, {"A", `"open`}, {"A", "0xg"}, {"A", ""}, {"A", "1-2"},
	} {
		if err := c.SetString(bad.sym, bad.rhs); err == nil {
			t.Errorf("SetString(%q, %q) succeeded", bad.sym, bad.rhs)
		}
	}
	if err := c.Set("A", StringValue("two\nlines")); err == nil {
		t.Error("Set with a newline in the string succeeded")
	}
	if c.String() != "" {
		t.Errorf("rejected edits changed the file: %q", c.String())
	}
}

func TestConfigPrefix(t *testing.T) {
	c := mustParse(t, "p", "FOO_A=y\n# FOO_B is not set\n# CONFIG_C is not set\n", ParseOptions{Prefix: "FOO_"})
	if mustGet(t, c, "A").String() != "y" || mustGet(t, c, "B").Kind() != KindNotSet || c.Has("C") {
		t.Errorf("prefix FOO_: %v", c.Entries())
	}
	if err := c.SetString("D", "m"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c.String(), "\nFOO_D=m\n") || c.Prefix() != "FOO_" {
		t.Errorf("got %q", c.String())
	}
	if _, err := Parse(strings.NewReader("CONFIG_A=y\n"), "p", ParseOptions{Prefix: "FOO_"}); err == nil {
		t.Error("CONFIG_A=y parsed with prefix FOO_")
	}
}

// TestConfigBadInput covers each kind of malformed line: a *ParseError with
// file, line and column in strict mode; a skipped line and a warning in
// lenient mode.
func TestConfigBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		col        int
		msg        string
		lenientOK  bool // lenient mode still uses the line (as conf does)
	}{
		{"no prefix", "FOO=y", 1, "unexpected data", false},
		{"leading space", " CONFIG_A=y", 1, "white space at start", false},
		{"only spaces", "   ", 1, "only white space", false},
		{"no equals", "CONFIG_A", 9, "missing '='", false},
		{"empty name", "CONFIG_=y", 8, "invalid symbol name", false},
		{"bad name", "CONFIG_A-B=y", 9, "invalid symbol name", false},
		{"space in name", "CONFIG_A =y", 9, "invalid symbol name", false},
		{"bad notset name", "# CONFIG_A.B is not set", 11, "invalid symbol name", false},
		{"empty value", "CONFIG_A=", 10, "missing value", false},
		{"word", "CONFIG_A=foo", 10, "invalid value", false},
		{"tristate junk", "CONFIG_A=y # on", 10, "invalid value", true},
		{"yes", "CONFIG_A=yes", 10, "invalid value", true},
		{"unterminated", `CONFIG_A="abc`, 14, "unterminated string", false},
		{"backslash end", `CONFIG_A="abc\"`, 16, "unterminated string", false},
		{"after string", `CONFIG_A="abc" x`, 15, "unexpected text after string", true},
		{"bad decimal", "CONFIG_A=12a", 12, "invalid decimal digit", false},
		{"bad hex", "CONFIG_A=0x1g", 13, "invalid hexadecimal digit", false},
		{"lone minus", "CONFIG_A=-", 11, "missing digits", false},
		{"trailing tab", "CONFIG_A=y\t", 10, "invalid value", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "# first\nCONFIG_OK=y\n" + tc.line + "\nCONFIG_LAST=m\n"
			_, err := Parse(strings.NewReader(text), "frag.config", ParseOptions{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("strict: err = %v, want *ParseError", err)
			}
			if pe.File != "frag.config" || pe.Line != 3 || pe.Col != tc.col || !strings.Contains(pe.Msg, tc.msg) || pe.Text != tc.line {
				t.Errorf("strict: %+v, want line 3 col %d msg %q", *pe, tc.col, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "kconfig: frag.config:3:") {
				t.Errorf("error text %q", err)
			}
			c, err := Parse(strings.NewReader(text), "frag.config", ParseOptions{Lenient: true})
			if err != nil {
				t.Fatalf("lenient: %v", err)
			}
			if c.String() != text {
				t.Errorf("lenient round trip: %q", c.String())
			}
			w := c.Warnings()
			if len(w) != 1 || w[0].Line != 3 || w[0].Col != tc.col || w[0].File != "frag.config" {
				t.Errorf("lenient warnings = %+v", w)
			}
			if _, ok := c.Get("A"); ok != tc.lenientOK {
				t.Errorf("lenient: line used = %v, want %v", ok, tc.lenientOK)
			}
			if !c.Has("OK") || !c.Has("LAST") {
				t.Error("lenient: the good lines around the bad one were lost")
			}
		})
	}
}

func TestConfigLenientTristateIsFirstLetter(t *testing.T) {
	c := mustParse(t, "l", "CONFIG_A=yes\nCONFIG_B=m # module\n", ParseOptions{Lenient: true})
	if tr, _ := mustGet(t, c, "A").Tristate(); tr != Yes {
		t.Errorf("A = %v", tr)
	}
	if tr, _ := mustGet(t, c, "B").Tristate(); tr != Mod {
		t.Errorf("B = %v", tr)
	}
}

func TestConfigCommentsThatLookLikeNotSet(t *testing.T) {
	// conf_read_simple treats these as comments: no symbol is assigned.
	c := mustParse(t, "c", "#CONFIG_A is not set\n# CONFIG_B is not set \n# CONFIG_C is unset\n# CONFIG_D\n", ParseOptions{})
	if c.Len() != 0 || len(c.Warnings()) != 0 {
		t.Errorf("entries %v warnings %v", c.Entries(), c.Warnings())
	}
}

func TestConfigWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".config")
	if err := os.WriteFile(path, []byte("CONFIG_A=y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ReadFile(path, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != path {
		t.Errorf("Name = %q", c.Name())
	}
	if err := c.SetString("B", "m"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "CONFIG_A=y\nCONFIG_B=m\n" {
		t.Errorf("file = %q", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("permissions %v, want 0600 kept", fi.Mode().Perm())
	}
	// Through a symlink: the link stays a link, its target is replaced.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(".config", link); err != nil {
		t.Fatal(err)
	}
	c.Unset("A")
	if err := c.WriteFile(link); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("symlink replaced by a file")
	}
	got, _ = os.ReadFile(path)
	if string(got) != "# CONFIG_A is not set\nCONFIG_B=m\n" {
		t.Errorf("target = %q", got)
	}
	// A failing write (directory gone) leaves no temp files and reports.
	if err := c.WriteFile(filepath.Join(dir, "missing", "x")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	// A new file gets 0644; no temporary files are left behind.
	if err := c.WriteFile(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new")); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("directory has %d entries, want 3 (.config, link, new)", len(ents))
	}
}

func TestConfigWriteFileReadOnlyDirKeepsOriginal(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a directory as the target
		// to make the rename fail instead.
		dir := t.TempDir()
		target := filepath.Join(dir, "cfg")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		c := mustParse(t, "x", "CONFIG_A=y\n", ParseOptions{})
		if err := c.WriteFile(target); err == nil {
			t.Fatal("writing over a directory succeeded")
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("temp file left behind: %v", ents)
		}
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg")
	os.WriteFile(path, []byte("CONFIG_A=y\n"), 0o644)
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	c := mustParse(t, "x", "CONFIG_A=m\n", ParseOptions{})
	if err := c.WriteFile(path); err == nil {
		t.Fatal("write in a read-only directory succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != "CONFIG_A=y\n" {
		t.Errorf("original changed: %q", got)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope"), ParseOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestParseValue(t *testing.T) {
	for rhs, kind := range map[string]ValueKind{
		"y": KindTristate, "m": KindTristate, "n": KindTristate, `""`: KindString,
		`"a\\b"`: KindString, "0": KindNumber, "-1": KindNumber, "0X1f": KindNumber,
	} {
		v, err := ParseValue(rhs)
		if err != nil || v.Kind() != kind || v.String() != rhs {
			t.Errorf("ParseValue(%q) = %v %q, %v", rhs, v.Kind(), v.String(), err)
		}
	}
	if _, ok := (Value{}).Int(); ok {
		t.Error("not set has no Int")
	}
	if _, ok := mustValue(t, "0xffffffffffffffff").Int(); ok {
		t.Error("overflowing hex gave an int64")
	}
	if _, ok := mustValue(t, "99999999999999999999").Int(); ok {
		t.Error("overflowing decimal gave an int64")
	}
}

func mustValue(t testing.TB, rhs string) Value {
	t.Helper()
	v, err := ParseValue(rhs)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConfigZeroValue(t *testing.T) {
	var c Config
	if err := c.SetString("A", "y"); err != nil {
		t.Fatal(err)
	}
	if err := c.Unset("B"); err != nil {
		t.Fatal(err)
	}
	if c.String() != "CONFIG_A=y\n# CONFIG_B is not set\n" || c.Prefix() != "CONFIG_" {
		t.Errorf("zero Config: %q", c.String())
	}
	d := Diff(&Config{}, &c)
	if len(d.Added) != 2 || d.MergeStyle() != "CONFIG_A=y\n# CONFIG_B is not set\n" {
		t.Errorf("diff from zero Config: %+v", d)
	}
	if (MergeWarning{Kind: MergeRedundant, Symbol: "X", File: "f"}).String() != "Value of CONFIG_X is redundant by fragment f:" {
		t.Error("zero-prefix MergeWarning")
	}
}

func TestConfigLenientBareHex(t *testing.T) {
	text := "CONFIG_H=ff\nCONFIG_W=fg\n"
	if _, err := Parse(strings.NewReader(text), "h", ParseOptions{}); err == nil {
		t.Error("strict accepted a hex value without 0x")
	}
	c := mustParse(t, "h", text, ParseOptions{Lenient: true})
	if v := mustGet(t, c, "H"); v.Kind() != KindNumber || v.String() != "ff" {
		t.Errorf("H = %v %v", v.Kind(), v)
	}
	if c.Has("W") || len(c.Warnings()) != 2 {
		t.Errorf("W: %v, warnings %v", c.Has("W"), c.Warnings())
	}
}

func TestSetStringErrorText(t *testing.T) {
	c := NewConfig(".config", ParseOptions{})
	err := c.SetString("B", "maybe")
	if err == nil || err.Error() != `kconfig: .config: B: value "maybe": column 1: invalid value "maybe" (want y, m, n, "string" or a number)` {
		t.Errorf("err = %v", err)
	}
}
