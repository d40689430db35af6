package kconfig

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// parseString parses Kconfig text (with "source" resolved in files)
// with a preprocessor whose $(shell) echoes nothing.
func parseString(top string, files map[string]string) (*Tree, error) {
	read := func(name string) (string, error) {
		if d, ok := files[name]; ok {
			return d, nil
		}
		return "", os.ErrNotExist
	}
	files["Kconfig"] = top
	return parseTree("Kconfig", map[string]string{"ARCH": "x"}, read, func(string) (string, error) { return "", nil })
}

func FuzzKconfigParse(f *testing.F) {
	seeds := []string{
		"config A\n\tbool \"a\"\n",
		"mainmenu \"m\"\nmenu \"x\"\nconfig B\n\ttristate \"b\" if A\n\tdefault m\nendmenu\n",
		"choice\n\tprompt \"c\"\nconfig X\n\tbool \"x\"\nendchoice\n",
		"if A\nconfig C\n\tint \"c\"\n\trange 1 2\nendif\n",
		"v := $(shell,echo 1)\nf = $(1)$(2)\nconfig D\n\tstring\n\tdefault \"$(f,a,b)$(v)\"\n",
		"config E\n\tbool\n\thelp\n\t  text\n\n\t  more\nconfig F\n\tdef_bool y\n\tdepends on E if !E\n",
		"source \"Kconfig\"\n",
		"config G\n\tbool \"g\"\n\tselect H if (A || B) && !C\n\timply I\n\tdepends on J = \"k\" || L <= 3\n",
		"x = $(x)\nconfig A\n\tbool \"$(x)\"\n",
		"config A\n\ttransitional\n",
		"menu \"a\"\n\tvisible if A\nendmenu\ncomment \"c\"\n\tdepends on B\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	if b, err := os.ReadFile("testdata/lang/basic/Kconfig"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		tr, err := parseString(src, map[string]string{})
		if err != nil {
			var ke *LoadError
			if !errors.As(err, &ke) {
				t.Fatalf("error without file:line: %v", err)
			}
			if ke.File == "" || !strings.Contains(err.Error(), ":") {
				t.Fatalf("error without a file name: %v", err)
			}
			return
		}
		// Whatever parses must evaluate and write without panicking.
		r := tr.OldDefconfig(nil)
		_ = r.Bytes()
		_ = r.Savedefconfig()
		_ = tr.AllConfig(AllYes, nil).Bytes()
		for i, s := range tr.Symbols() {
			if i >= 3 {
				break
			}
			want := "y"
			switch s.Type {
			case TypeInt, TypeHex:
				want = "1"
			case TypeString:
				want = "x"
			case TypeUnknown:
				continue
			}
			if _, err := tr.Explain(nil, s.Name, want); err != nil {
				t.Fatalf("explain %s: %v", s.Name, err)
			}
		}
	})
}

func TestParseErrorsHaveFileLine(t *testing.T) {
	cases := map[string]string{
		"unknown statement": "config A\n\tbool \"a\"\nfoo bar\n",
		"missing endmenu":   "menu \"m\"\nconfig A\n\tbool \"a\"\n",
		"bad endif":         "menu \"m\"\nendif\n",
		"source loop":       "source \"Kconfig\"\n",
		"missing file":      "source \"nope\"\n",
		"choice no prompt":  "choice\nconfig A\n\tbool \"a\"\nendchoice\n",
		"unterminated $(":   "config A\n\tbool \"$(foo\"\n",
		"error-if":          "$(error-if,y,boom)\n",
		"recursive var":     "x = $(x)\nconfig A\n\tbool \"$(x)\"\n",
		"deep parens":       "config A\n\tbool\n\tdepends on " + strings.Repeat("(", 5000) + "B" + strings.Repeat(")", 5000) + "\n",
		"menuconfig prompt": "menuconfig A\n\tbool\n",
		"dependency loop":   "config A\n\tbool \"a\"\n\tdepends on B\nconfig B\n\tbool \"b\"\n\tdefault A\n",
		"select loop":       "config A\n\tbool \"a\"\n\tdepends on B\n\tselect B\nconfig B\n\tbool \"b\"\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseString(src, map[string]string{})
			var ke *LoadError
			if !errors.As(err, &ke) {
				t.Fatalf("got %v, want a *LoadError", err)
			}
			if ke.File != "Kconfig" || ke.Line < 1 {
				t.Errorf("error %q lacks file:line", err)
			}
		})
	}
}
