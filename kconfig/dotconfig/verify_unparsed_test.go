package dotconfig

import (
	"strings"
	"testing"
)

func TestVerifyUnparsed(t *testing.T) {
	req := mustParse(t, "req.config", "CONFIG_OK=y\nCONFIG_FOO= y\nCONFIG_BAR=\"x\n  CONFIG_SP=y\n", ParseOptions{Lenient: true})
	final := mustParse(t, ".config", "CONFIG_OK=y\nCONFIG_FOO=y\n", ParseOptions{})
	ms := Verify(req, final)
	if len(ms) != 3 {
		t.Fatalf("Verify = %v", ms)
	}
	foo, bar, sp := ms[0], ms[1], ms[2]
	if foo.Unparsed == nil || foo.Symbol != "FOO" || foo.Line != 2 || foo.Absent || foo.Final.String() != "y" || foo.Unparsed.Col != 12 {
		t.Errorf("FOO: %+v", foo)
	}
	if want := "Value requested for CONFIG_FOO not in final .config: the line cannot be read: " +
		`invalid value " y" (want y, m, n, "string" or a number)` +
		"\nRequested value: \"CONFIG_FOO= y\"\nActual value:    CONFIG_FOO=y"; foo.String() != want {
		t.Errorf("FOO: %s\nwant\n%s", foo, want)
	}
	if bar.Unparsed == nil || bar.Symbol != "BAR" || bar.Line != 3 || !bar.Absent || !strings.Contains(bar.String(), "unterminated string") {
		t.Errorf("BAR: %+v\n%s", bar, bar)
	}
	if sp.Unparsed == nil || sp.Symbol != "" || sp.Line != 4 ||
		sp.String() != "Requested line cannot be read: unexpected white space at start of line\nRequested value: \"  CONFIG_SP=y\"" {
		t.Errorf("SP: %+v\n%s", sp, sp)
	}
	// The same lines in final satisfy them, as merge_config.sh's text
	// comparison does: a configuration verifies against itself.
	if ms := Verify(req, req); len(ms) != 0 {
		t.Errorf("Verify(req, req) = %v", ms)
	}
	// A strict parse never has such lines.
	if ms := Verify(final, final); len(ms) != 0 {
		t.Errorf("Verify(final, final) = %v", ms)
	}
	for text, want := range map[string]string{
		"CONFIG_A= y": "A", "CONFIG_A =y": "A", "# CONFIG_A= is not set": "A",
		"CONFIG_A-B=y": "", "CONFIG_=y": "", "oops": "", "CONFIG_A": "",
	} {
		if got := unparsedSymbol(text, "CONFIG_"); got != want {
			t.Errorf("unparsedSymbol(%q) = %q, want %q", text, got, want)
		}
	}
}
