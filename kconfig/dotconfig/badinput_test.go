package dotconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The lines conf ignores (merge_config.sh reports them as not in the final
// .config) stay in a lenient parse as text, and Unparsed lists them.
func TestConfigUnparsed(t *testing.T) {
	text := "# comment\n\nCONFIG_OK=y\nCONFIG_FOO= y\nCONFIG_BAR=\"x\nCONFIG_YES=yes\noops\n# CONFIG_OFF is not set\n"
	c := mustParse(t, "req.config", text, ParseOptions{Lenient: true})
	if c.String() != text {
		t.Fatalf("round trip: %q", c.String())
	}
	got := c.Unparsed()
	want := []struct {
		line, col int
		text, msg string
	}{
		{4, 12, "CONFIG_FOO= y", `invalid value " y"`},
		{5, 14, `CONFIG_BAR="x`, "unterminated string"},
		{7, 1, "oops", "unexpected data"},
	}
	if len(got) != len(want) {
		t.Fatalf("Unparsed = %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.File != "req.config" || g.Line != w.line || g.Col != w.col || g.Text != w.text || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("Unparsed[%d] = %+v, want line %d col %d %q %q", i, g, w.line, w.col, w.text, w.msg)
		}
	}
	// Line numbers follow edits.
	c.Delete("OK")
	if u := c.Unparsed(); len(u) != 3 || u[0].Line != 3 {
		t.Errorf("after Delete: %+v", u)
	}
	if u := mustParse(t, "good", "CONFIG_A=y\n# x\n", ParseOptions{Lenient: true}).Unparsed(); len(u) != 0 {
		t.Errorf("a good file has unparsed lines: %+v", u)
	}
}

// A fragment read with another prefix is re-read by Merge: its lines that
// do not fit the base's prefix are unparsed there.
func TestMergeUnparsedOtherPrefix(t *testing.T) {
	base := mustParse(t, "base", "CONFIG_A=y\n", ParseOptions{})
	frag := mustParse(t, "frag", "FOO_B=y\n", ParseOptions{Prefix: "FOO_"})
	merged, _ := Merge(base, frag)
	if u := merged.Unparsed(); len(u) != 1 || u[0].Text != "FOO_B=y" {
		t.Errorf("merged.Unparsed = %+v", u)
	}
}

func TestExcerpt(t *testing.T) {
	if got := Excerpt("CONFIG_A=\"x\""); got != `"CONFIG_A=\"x\""` {
		t.Errorf("short: %s", got)
	}
	exact := strings.Repeat("a", ExcerptLen)
	if got := Excerpt(exact); got != `"`+exact+`"` {
		t.Errorf("ExcerptLen bytes are quoted whole: %s", got)
	}
	long := strings.Repeat("b", 10<<20)
	if got, want := Excerpt(long), `"`+strings.Repeat("b", ExcerptLen)+`"... (10485760 bytes)`; got != want {
		t.Errorf("long: %s", got)
	}
	// A cut never splits a UTF-8 character.
	utf := strings.Repeat("a", ExcerptLen-1) + "é" + strings.Repeat("c", 50)
	if got := Excerpt(utf); !strings.HasPrefix(got, `"`+strings.Repeat("a", ExcerptLen-1)+`"...`) {
		t.Errorf("utf-8: %s", got)
	}
}

// TestBoundedMessages: a 10 MB malformed line, name or value gives errors
// and warnings of a few hundred bytes that still say where and what.
func TestBoundedMessages(t *testing.T) {
	const limit = 600
	big := strings.Repeat("x", 10<<20)
	for _, line := range []string{
		"CONFIG_A=" + big,       // invalid value
		"CONFIG_A=\"" + big,     // unterminated string
		"CONFIG_A=1" + big,      // bad decimal
		"CONFIG_" + big + "-=y", // invalid name
		"# CONFIG_" + big + "- is not set",
		" " + big, // no prefix
	} {
		text := "CONFIG_OK=y\n" + line + "\n"
		_, err := Parse(strings.NewReader(text), "big.config", ParseOptions{})
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 {
			t.Fatalf("%.20q: err = %.200v", line, err)
		}
		if msg := err.Error(); len(msg) > limit || !strings.HasPrefix(msg, "kconfig: big.config:2:") || !strings.Contains(msg, "bytes)") {
			t.Errorf("%.20q: error of %d bytes: %.300s", line, len(msg), msg)
		}
		c, err := Parse(strings.NewReader(text), "big.config", ParseOptions{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Warnings() {
			if len(w.Msg) > limit {
				t.Errorf("%.20q: warning of %d bytes", line, len(w.Msg))
			}
		}
		for _, m := range Verify(c, NewConfig("final", ParseOptions{})) {
			if s := m.String(); len(s) > 2*limit {
				t.Errorf("%.20q: mismatch of %d bytes", line, len(s))
			}
		}
	}
	c := NewConfig(".config", ParseOptions{})
	for _, rhs := range []string{big, "\"" + big, "0x" + big} {
		if err := c.SetString("A", rhs); err == nil || len(err.Error()) > limit {
			t.Errorf("SetString(%.20q): %d bytes: %.300v", rhs, len(err.Error()), err)
		}
		if _, err := ParseValue(rhs); err == nil || len(err.Error()) > limit {
			t.Errorf("ParseValue(%.20q): %.300v", rhs, err)
		}
	}
	if err := c.Set("A", StringValue("a\n"+big)); err == nil || len(err.Error()) > limit {
		t.Errorf("Set with a line break: %.300v", err)
	}
	if err := c.Set(big+"-", IntValue(1)); err == nil || len(err.Error()) > limit {
		t.Errorf("Set with a bad name: %.300v", err)
	}
}

// Values as set takes them: the message names the type the spelling
// points to, and the *ValueError carries it for the caller.
func TestValueErrorMessages(t *testing.T) {
	for _, tc := range []struct{ rhs, msg string }{
		{"0x", `not a valid hex value: "0x" has no digits`},
		{"0X", `not a valid hex value: "0X" has no digits`},
		{"0x1g", `not a valid hex value: invalid hexadecimal digit 'g'`},
		{"12a", `not a valid int value: invalid decimal digit 'a'`},
		{"-", `not a valid int value: missing digits after '-'`},
		{`"abc`, `not a valid string value: unterminated string (no closing '"')`},
		{`"abc"d`, `not a valid string value: unexpected text after string`},
		{"maybe", `invalid value "maybe" (want y, m, n, "string" or a number)`},
		{"", `missing value after '='`},
	} {
		_, err := ParseValue(tc.rhs)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Msg != tc.msg || ve.Value != tc.rhs {
			t.Errorf("ParseValue(%q) = %v, want a *ValueError with %q", tc.rhs, err, tc.msg)
		}
	}
	err := NewConfig(".config", ParseOptions{}).SetString("A", "0x")
	if want := `kconfig: .config: A: value "0x": column 3: not a valid hex value: "0x" has no digits`; err == nil || err.Error() != want {
		t.Errorf("SetString(A, 0x) = %v, want %s", err, want)
	}
}

// TestConfigWriteFileRule: Config.WriteFile follows the atomicfile rule
// (dangling links written through, owner kept, loops refused).
func TestConfigWriteFileRule(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, "c", "CONFIG_A=y\n", ParseOptions{})

	link := filepath.Join(dir, "out")
	if err := os.Symlink("target.config", link); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("dangling link replaced: %v %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "target.config")); string(got) != "CONFIG_A=y\n" {
		t.Errorf("target = %q", got)
	}

	loop := filepath.Join(dir, "loop")
	if err := os.Symlink("loop", loop); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(loop); !errors.Is(err, syscall.ELOOP) || !strings.HasPrefix(err.Error(), "kconfig: writing "+loop) {
		t.Errorf("loop: %v", err)
	}

	p := filepath.Join(dir, "user.config")
	if err := os.WriteFile(p, []byte("CONFIG_A=m\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(p, 12345, 12345); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v; want 0640 kept", fi.Mode().Perm(), err)
	}
	// Giving a file to another user takes root; without it there is no
	// other owner to keep (the mode is checked above either way).
	if root {
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 12345 || st.Gid != 12345 {
			t.Errorf("owner %d:%d, want 12345:12345 kept", st.Uid, st.Gid)
		}
	}
}
