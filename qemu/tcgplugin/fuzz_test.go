package tcgplugin

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// formatOutput writes snapshots in the plugin's output format.
func formatOutput(snaps []Snapshot, vcpus int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rflkit-insncount 1 functions=1 vcpus=%d\n", vcpus)
	for _, s := range snaps {
		fmt.Fprintf(&b, "snapshot %d %s\nuser %d\nunknown %d\n", s.Index, s.Reason, s.User, s.Unknown)
		ids := make([]int, 0, len(s.Counts))
		for id := range s.Counts {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(&b, "%d %d %d\n", id, s.Counts[id].Insns, s.Counts[id].Entries)
		}
		fmt.Fprintf(&b, "end %d\n", s.Index)
	}
	return b.String()
}

func FuzzParseOutput(f *testing.F) {
	f.Add(sampleOutput)
	f.Add("rflkit-insncount 1 functions=3 vcpus=2\n")
	f.Add("rflkit-insncount 1 functions=3\nsnapshot 0 trigger\nend 0\nsnapshot 1 exit\n0 1 1\n")
	f.Add("rflkit-insncount 1 functions=3\nsnapshot 0 x\nuser 18446744073709551615\n2 0 0\nend 0\n")
	f.Fuzz(func(t *testing.T, in string) {
		snaps, err := ParseOutput(strings.NewReader(in))
		for i, s := range snaps {
			if s.Index != i || s.Counts == nil || s.VCPUs < 1 {
				t.Fatalf("snapshot %d: %+v", i, s)
			}
		}
		if err != nil {
			return
		}
		vcpus := 1
		if len(snaps) > 0 {
			vcpus = snaps[0].VCPUs
		}
		again, err := ParseOutput(strings.NewReader(formatOutput(snaps, vcpus)))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(snaps) == 0 {
			return
		}
		if !reflect.DeepEqual(again, snaps) {
			t.Fatalf("round trip:\n%+v\n%+v", snaps, again)
		}
	})
}

func FuzzReadSystemMap(f *testing.F) {
	if data, err := os.ReadFile("testdata/System.map"); err == nil {
		f.Add(string(data))
	}
	f.Add("ffffffff81000000 T a\nffffffff81000010 T b\nffffffff81000020 D c\n")
	f.Add("ffffffff81000000 T _etext\nffffffff81000000 t x\n0000000000001000 d percpu\nffffffff81000008 B _end\n")
	f.Add("10 w a\n10 W a\n20 ? b\n")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ReadSystemMap(strings.NewReader(in))
		if err != nil {
			return
		}
		keys := map[string]bool{}
		for i, fn := range tab.Funcs() {
			if fn.ID != i || fn.Start >= fn.End || (i > 0 && fn.Start < tab.funcs[i-1].End) {
				t.Fatalf("function %d: %+v", i, fn)
			}
			if keys[fn.Key] {
				t.Fatalf("key %q repeated", fn.Key)
			}
			keys[fn.Key] = true
			if g, ok := tab.Lookup(fn.Start); !ok || g.ID != i {
				t.Fatalf("Lookup(%#x) = %+v, %v", fn.Start, g, ok)
			}
			if g, ok := tab.ByName(fn.Key); !ok || g.ID != i {
				t.Fatalf("ByName(%q) = %+v, %v", fn.Key, g, ok)
			}
		}
		var b bytes.Buffer
		if err := tab.WriteMap(&b); err != nil {
			t.Fatal(err)
		}
		rs, err := ReadMap(&b)
		if err != nil || !reflect.DeepEqual(rs, tab.Ranges()) {
			t.Fatalf("map round trip: %v", err)
		}
	})
}

func FuzzReadMap(f *testing.F) {
	f.Add("rflkit-insncount-map 1 2\n10 20 0\n20 40 1\n")
	f.Add("rflkit-insncount-map 1 1\nffffffffffffff00 ffffffffffffffff 2147483647\n")
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := ReadMap(strings.NewReader(in))
		if err != nil {
			return
		}
		for i, r := range rs {
			if r.Start >= r.End || r.ID < 0 || (i > 0 && r.Start < rs[i-1].End) {
				t.Fatalf("range %d: %+v", i, r)
			}
		}
	})
}
