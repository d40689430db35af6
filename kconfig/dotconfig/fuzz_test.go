package dotconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks, for any input, that parsing never panics, that lenient
// parsing always succeeds and gives the input back byte for byte, that a
// strict parse agrees with the lenient one, and that edits, merges and
// diffs keep the file well formed.
//
// Seeds: the test data, and (when not under -short and the 7.2 tree is
// unpacked) the small configs and fragments of its kernel/configs,
// arch/x86/configs and arch/powerpc/configs/44x. Run it with
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 5m ./kconfig/dotconfig/
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*", "*"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{"", "\n", "CONFIG_A=y", "CONFIG_A=\"x\\\"\"\r\n", "# CONFIG_A is not set\nCONFIG_A=0x1f\n", " CONFIG_=\n"} {
		f.Add([]byte(s))
	}
	if !testing.Short() {
		// The tree's configs, so the fuzzer starts from real files.
		tree := os.Getenv("RFLKIT_KERNEL_SRC")
		if tree == "" {
			tree = fuzzTree()
		}
		if tree != "" {
			// Small files only: the fuzzer minimizes every new input, which
			// is slow on big ones, and lines are independent anyway.
			for _, dir := range []string{"arch/x86/configs", "kernel/configs", "arch/powerpc/configs/44x"} {
				files, _ := filepath.Glob(filepath.Join(tree, dir, "*"))
				for _, p := range files {
					if data, err := os.ReadFile(p); err == nil && len(data) <= 4096 {
						f.Add(data)
					}
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lenient, err := Parse(bytes.NewReader(data), "fuzz", ParseOptions{Lenient: true})
		if err != nil {
			t.Fatalf("lenient parse failed: %v", err)
		}
		if !bytes.Equal(lenient.Bytes(), data) {
			t.Fatalf("lenient round trip differs")
		}
		strict, serr := Parse(bytes.NewReader(data), "fuzz", ParseOptions{})
		if serr == nil {
			if !bytes.Equal(strict.Bytes(), data) {
				t.Fatalf("strict round trip differs")
			}
			if strict.Len() != lenient.Len() {
				t.Fatalf("strict has %d symbols, lenient %d", strict.Len(), lenient.Len())
			}
			for sym, v := range strict.All() {
				// Every strictly parsed value re-parses to itself.
				if v.Kind() != KindNotSet {
					w, err := ParseValue(v.String())
					if err != nil || w != v {
						t.Fatalf("value %q of %s does not re-parse: %v", v.String(), sym, err)
					}
				}
			}
		} else {
			for _, w := range lenient.Warnings() {
				if w.Line < 1 || w.Col < 1 {
					t.Fatalf("warning without a position: %+v", w)
				}
			}
			// Messages quote excerpts: bounded whatever the line.
			if n := len(serr.Error()); n > 2000 {
				t.Fatalf("error of %d bytes", n)
			}
		}
		// Every line the lenient parse could not read is one Verify
		// reports against an empty configuration.
		unparsed := lenient.Unparsed()
		if len(unparsed) > 0 && serr == nil {
			t.Fatalf("strict parse succeeded, but lines are unparsed: %+v", unparsed)
		}
		reported := 0
		for _, m := range Verify(lenient, NewConfig("empty", ParseOptions{})) {
			if m.Unparsed != nil {
				reported++
			}
		}
		if reported != len(unparsed) {
			t.Fatalf("Verify reports %d unparsed lines, Unparsed lists %d", reported, len(unparsed))
		}

		// Edits keep the file readable and do what they say.
		c := lenient.Clone()
		var first string
		for sym := range c.All() {
			first = sym
			break
		}
		if first != "" {
			if err := c.SetString(first, `"fu\"zz"`); err != nil {
				t.Fatal(err)
			}
			c.Delete(first)
			if c.Has(first) {
				t.Fatal("Delete left the symbol")
			}
		}
		if err := c.Set("FUZZ_NEW", HexValue(0xff)); err != nil {
			t.Fatal(err)
		}
		if err := c.Unset("FUZZ_OFF"); err != nil {
			t.Fatal(err)
		}
		re, err := Parse(bytes.NewReader(c.Bytes()), "edited", ParseOptions{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := re.Get("FUZZ_NEW"); !ok || v.String() != "0xff" {
			t.Fatalf("FUZZ_NEW = %v %v after re-parse of %q", v, ok, c.Bytes())
		}
		if v, ok := re.Get("FUZZ_OFF"); !ok || v.Kind() != KindNotSet {
			t.Fatalf("FUZZ_OFF = %v %v after re-parse", v, ok)
		}
		if !bytes.Equal(re.Bytes(), c.Bytes()) {
			t.Fatal("edited file does not round trip")
		}

		// Merge and Diff do not panic; a config is its own subset.
		merged, _ := Merge(lenient, lenient, c)
		if _, err := Parse(bytes.NewReader(merged.Bytes()), "merged", ParseOptions{Lenient: true}); err != nil {
			t.Fatal(err)
		}
		if d := Diff(lenient, lenient.Clone()); !d.Empty() {
			t.Fatalf("self diff: %s", d)
		}
		_ = Diff(lenient, c).String()
		if ms := Verify(lenient, lenient); len(ms) != 0 {
			t.Fatalf("a config does not verify against itself: %v", ms)
		}
	})
}

// fuzzTree finds the unpacked 7.2 tree in the cache without unpacking
// it (the fuzz target must not fail when it is absent).
func fuzzTree() string {
	cache := os.Getenv("RFLKIT_CACHE_DIR")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(d, "rflkit")
	}
	m, _ := filepath.Glob(filepath.Join(cache, "src", "*", "linux-source-7.2"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}
