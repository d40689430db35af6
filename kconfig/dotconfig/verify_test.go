package dotconfig

import "testing"

func TestVerify(t *testing.T) {
	req := mustParse(t, "req.config", `CONFIG_OK=y
CONFIG_GONE=y
# CONFIG_OFF_ABSENT is not set
CONFIG_N_ABSENT=n
# CONFIG_OFF_BUT_ON is not set
CONFIG_MOD=y
CONFIG_STR="a"
CONFIG_HEX=0x10
CONFIG_TWICE=m
CONFIG_TWICE=y
CONFIG_N_NOTSET=n
`, ParseOptions{})
	final := mustParse(t, ".config", `CONFIG_OK=y
CONFIG_OFF_BUT_ON=y
CONFIG_MOD=m
CONFIG_STR="b"
CONFIG_HEX=0x010
CONFIG_TWICE=y
# CONFIG_N_NOTSET is not set
`, ParseOptions{})
	ms := Verify(req, final)
	want := []struct {
		sym     string
		missing bool
		line    int
		text    string
	}{
		{"GONE", true, 2, "Value requested for CONFIG_GONE not in final .config\nRequested value: CONFIG_GONE=y\nActual value:    "},
		{"OFF_BUT_ON", false, 5, "CONFIG_OFF_BUT_ON differs:\nRequested value: # CONFIG_OFF_BUT_ON is not set\nActual value:    CONFIG_OFF_BUT_ON=y"},
		{"MOD", false, 6, "CONFIG_MOD differs:\nRequested value: CONFIG_MOD=y\nActual value:    CONFIG_MOD=m"},
		{"STR", false, 7, ""},
		{"HEX", false, 8, ""},
	}
	if len(ms) != len(want) {
		t.Fatalf("Verify = %v", ms)
	}
	for i, w := range want {
		m := ms[i]
		if m.Symbol != w.sym || m.Absent != w.missing || m.Line != w.line {
			t.Errorf("mismatch %d = %+v, want %+v", i, m, w)
		}
		if w.text != "" && m.String() != w.text {
			t.Errorf("String = %q, want %q", m.String(), w.text)
		}
	}
	if ms := Verify(final, final); len(ms) != 0 {
		t.Errorf("a config verifies against itself: %v", ms)
	}
	if ms := Verify(NewConfig("empty", ParseOptions{}), final); len(ms) != 0 {
		t.Errorf("nothing requested: %v", ms)
	}
}
