package tcgplugin

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testTable reads testdata/System.map, a hand-written map with the cases
// a real one has: aliases at one address, section markers, weak symbols,
// a repeated local name, holes between text sections, data after text.
func testTable(t testing.TB) *SymbolTable {
	t.Helper()
	f, err := os.Open("testdata/System.map")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := ReadSystemMap(f)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestReadSystemMap(t *testing.T) {
	tab := testTable(t)
	const k = 0xffffffff81000000
	want := []Func{
		{0, "x86_verw_sel", "x86_verw_sel", []string{"__entry_text_start", "__pi__text", "_stext", "_text"}, 'T', k, k + 0x40},
		{1, "entry_SYSCALL_64", "entry_SYSCALL_64", nil, 'T', k + 0x40, k + 0x100},
		// __entry_text_end alone at 0x100: a hole up to 0x200, where a
		// function shares the address of __irqentry_text_end.
		{2, "swapgs_restore_regs_and_return_to_usermode", "swapgs_restore_regs_and_return_to_usermode",
			[]string{"__irqentry_text_end", "common_interrupt_return"}, 'T', k + 0x200, k + 0x800},
		// Only markers, one a start: the code is the start marker's.
		{3, "__hot_text_start", "__hot_text_start", []string{"__hot_text_end"}, 'T', k + 0x800, k + 0x1000},
		{4, "vfs_read", "vfs_read", nil, 'T', k + 0x1000, k + 0x1100},
		{5, "sys_ni_syscall", "sys_ni_syscall", []string{"compat_sys_read", "compat_sys_write"}, 'T', k + 0x1100, k + 0x1200},
		{6, "cleanup", "cleanup@ffffffff81001200", nil, 't', k + 0x1200, k + 0x1280},
		{7, "ksys_sync", "ksys_sync", nil, 'T', k + 0x1280, k + 0x1300},
		{8, "cleanup", "cleanup@ffffffff81001300", nil, 't', k + 0x1300, k + 0x1400},
		// _etext, then rodata: a hole until the init text.
		{9, "set_reset_devices", "set_reset_devices", []string{"_sinittext"}, 't', k + 0x300000, k + 0x300100},
		// Exit text right after __inittext_end, ended by per-CPU data.
		{10, "foo_exit", "foo_exit", []string{"__inittext_end"}, 't', k + 0x301000, k + 0x302000},
	}
	got := tab.Funcs()
	if len(got) != len(want) {
		t.Fatalf("%d functions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("function %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if tab.Start() != k || tab.End() != k+0x302000 || tab.Len() != len(want) {
		t.Errorf("Start %#x End %#x Len %d", tab.Start(), tab.End(), tab.Len())
	}
}

func TestLookupAndAddr(t *testing.T) {
	tab := testTable(t)
	const k = 0xffffffff81000000
	for _, c := range []struct {
		addr uint64
		want string // "" = no function
	}{
		{0, ""},
		{0x7fffffffe000, ""},
		{k - 1, ""},
		{k, "x86_verw_sel"},
		{k + 0x3f, "x86_verw_sel"},
		{k + 0x40, "entry_SYSCALL_64"},
		{k + 0x100, ""}, // after __entry_text_end
		{k + 0x1ff, ""},
		{k + 0x200, "swapgs_restore_regs_and_return_to_usermode"},
		{k + 0x1010, "vfs_read"},
		{k + 0x1250, "cleanup@ffffffff81001200"},
		{k + 0x13ff, "cleanup@ffffffff81001300"},
		{k + 0x1400, ""}, // _etext
		{k + 0x200040, ""},
		{k + 0x3000ff, "set_reset_devices"},
		{k + 0x300100, ""}, // _einittext
		{k + 0x301fff, "foo_exit"},
		{k + 0x302000, ""},
		{^uint64(0), ""},
	} {
		f, ok := tab.Lookup(c.addr)
		if ok != (c.want != "") || f.Key != c.want {
			t.Errorf("Lookup(%#x) = %q, %v; want %q", c.addr, f.Key, ok, c.want)
		}
	}
	for _, c := range []struct {
		name string
		addr uint64
		ok   bool
	}{
		{"vfs_read", k + 0x1000, true},
		{"ksys_sync", k + 0x1280, true},
		{"_stext", k, true}, // an alias
		{"compat_sys_write", k + 0x1100, true},
		{"cleanup", 0, false}, // two functions
		{"cleanup@ffffffff81001300", k + 0x1300, true},
		{"_etext", 0, false},       // a hole, not a function
		{"linux_banner", 0, false}, // data
		{"no_such_function", 0, false},
	} {
		addr, ok := tab.Addr(c.name)
		if addr != c.addr || ok != c.ok {
			t.Errorf("Addr(%q) = %#x, %v; want %#x, %v", c.name, addr, ok, c.addr, c.ok)
		}
	}
	if f, ok := tab.Func(4); !ok || f.Name != "vfs_read" {
		t.Errorf("Func(4) = %+v, %v", f, ok)
	}
	for _, id := range []int{-1, tab.Len()} {
		if _, ok := tab.Func(id); ok {
			t.Errorf("Func(%d) found", id)
		}
	}
}

func TestReadSystemMapErrors(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, c := range []struct {
		name, in string
		line     int    // for a *SystemMapError; 0 = another error
		msg      string // in the message
	}{
		{"two fields", "ffffffff81000000 T a\nffffffff81000010 T\n", 2, "want"},
		{"four fields", "ffffffff81000000 T a [mod]\n", 1, "want"},
		{"address", "ffffffff8100000g T a\n", 1, "not hexadecimal"},
		{"address too long", "1ffffffff81000000 T a\n", 1, "longer than 64 bits"},
		{"type", "ffffffff81000000 TT a\n", 1, "type"},
		{"type digit", "ffffffff81000000 1 a\n", 1, "type"},
		{"blank lines then bad", "\n\nffffffff81000000 T\n", 3, "want"},
		{"long name excerpt", "ffffffff81000000 T " + long + " x\n", 1, "(5021 bytes)"},
		{"too long a line", "ffffffff81000000 T " + strings.Repeat("x", maxLine) + "\n", 1, "longer than"},
		{"empty", "", 0, "no text symbols"},
		{"only data", "ffffffff81000000 D a\n", 0, "no text symbols"},
		{"nothing after text", "ffffffff81000000 T a\nffffffff81000010 T b\n", 0, "where text ends is unknown"},
		{"only end markers", "ffffffff81000000 T _etext\nffffffff81000010 D x\n", 0, "no functions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadSystemMap(strings.NewReader(c.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "tcgplugin: ") {
				t.Errorf("error %q lacks %q", err, c.msg)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
			var se *SystemMapError
			if errors.As(err, &se) != (c.line > 0) || (se != nil && se.Line != c.line) {
				t.Errorf("error %#v: want line %d", err, c.line)
			}
		})
	}
}

func TestMapRoundTrip(t *testing.T) {
	tab := testTable(t)
	var b bytes.Buffer
	if err := tab.WriteMap(&b); err != nil {
		t.Fatal(err)
	}
	head := "rflkit-insncount-map 1 11\n" +
		"ffffffff81000000 ffffffff81000040 0\n" +
		"ffffffff81000040 ffffffff81000100 1\n" +
		"ffffffff81000200 ffffffff81000800 2\n"
	if !strings.HasPrefix(b.String(), head) {
		t.Errorf("map starts\n%s\nwant\n%s", b.String()[:len(head)], head)
	}
	rs, err := ReadMap(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rs, tab.Ranges()) {
		t.Errorf("read back %+v\nwant %+v", rs, tab.Ranges())
	}
	path := t.TempDir() + "/kernel.map"
	if err := tab.WriteMapFile(path); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(data), head) {
		t.Errorf("map file: %v", err)
	}
}

func TestReadMapErrors(t *testing.T) {
	const hdr = "rflkit-insncount-map 1 2\n"
	for _, c := range []struct {
		name, in string
		line     int
	}{
		{"empty", "", 1},
		{"magic", "rflkit-insncount 1 2\n", 1},
		{"version", "rflkit-insncount-map 2 2\n", 1},
		{"count", "rflkit-insncount-map 1 0\n", 1},
		{"missing", hdr + "10 20 0\n", 3},
		{"fields", hdr + "10 20\n30 40 1\n", 2},
		{"hex", hdr + "1g 20 0\n30 40 1\n", 2},
		{"0x", hdr + "0x10 20 0\n30 40 1\n", 2},
		{"sign", hdr + "10 20 -1\n30 40 1\n", 2},
		{"empty range", hdr + "10 10 0\n30 40 1\n", 2},
		{"overlap", hdr + "10 20 0\n1f 40 1\n", 3},
		{"unsorted", hdr + "30 40 0\n10 20 1\n", 3},
		{"extra", hdr + "10 20 0\n30 40 1\n50 60 2\n", 4},
		{"id too big", hdr + "10 20 0\n30 40 2147483648\n", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadMap(strings.NewReader(c.in))
			var me *MapError
			if !errors.As(err, &me) || me.Line != c.line {
				t.Fatalf("error %v: want a *MapError on line %d", err, c.line)
			}
		})
	}
	if rs, err := ReadMap(strings.NewReader(hdr + "10 20 7\n20 40 3\n")); err != nil || len(rs) != 2 || rs[1] != (Range{0x20, 0x40, 3}) {
		t.Errorf("adjacent ranges, any ids: %+v, %v", rs, err)
	}
}
