package tcgplugin

import (
	"reflect"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	tab := testTable(t)
	snaps, err := ParseOutput(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}
	p, err := tab.Diff(snaps[0], snaps[1])
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{
		Funcs: map[string]Count{"vfs_read": {250, 5}, "ksys_sync": {9, 1}, "foo_exit": {3, 1}},
		User:  500,
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if p.Kernel() != 262 || p.Total() != 762 {
		t.Errorf("Kernel %d Total %d", p.Kernel(), p.Total())
	}
	top := p.Top(2)
	if len(top) != 2 || top[0].Key != "vfs_read" || top[1].Key != "ksys_sync" || top[1].Insns != 9 {
		t.Errorf("Top(2) = %+v", top)
	}
	if all := p.Top(-1); len(all) != 3 {
		t.Errorf("Top(-1) = %+v", all)
	}
	// Same snapshot: an empty window.
	if p, err := tab.Diff(snaps[1], snaps[1]); err != nil || len(p.Funcs) != 0 || p.Total() != 0 {
		t.Errorf("empty window: %+v, %v", p, err)
	}
	// Swapped: counters go down.
	if _, err := tab.Diff(snaps[1], snaps[0]); err == nil || !strings.Contains(err.Error(), "went down") {
		t.Errorf("swapped: %v", err)
	}
	// A function present before and absent after went down too.
	b := Snapshot{Index: 2, Counts: map[int]Count{}, User: 2000, Unknown: 5}
	if _, err := tab.Diff(snaps[1], b); err == nil || !strings.Contains(err.Error(), "went down") {
		t.Errorf("vanished counter: %v", err)
	}
	// An id from another kernel's map.
	c := Snapshot{Index: 2, Counts: map[int]Count{99: {1, 1}}}
	if _, err := tab.Diff(Snapshot{Counts: map[int]Count{}}, c); err == nil || !strings.Contains(err.Error(), "id 99") {
		t.Errorf("unknown id: %v", err)
	}
}

func TestPerOp(t *testing.T) {
	// A workload with a fixed cost F per window and a cost per op:
	// vfs_read 40 instructions and 1 entry, ksys_read 10 and 1; setup
	// runs once per window (cancels); noise ran only in the N window.
	const n = 1000
	window := func(ops uint64, noise bool) Profile {
		p := Profile{Funcs: map[string]Count{
			"vfs_read":  {5000 + 40*ops, 3 + ops},
			"ksys_read": {10 * ops, ops},
			"setup":     {777, 1},
		}, User: 100 + 7*ops, Unknown: 12}
		if noise {
			p.Funcs["noise"] = Count{2000, 4}
		}
		return p
	}
	op, err := PerOp(window(n, true), window(2*n, false), n)
	if err != nil {
		t.Fatal(err)
	}
	want := OpProfile{
		N: n,
		Funcs: map[string]OpCount{
			"vfs_read":  {40, 1},
			"ksys_read": {10, 1},
			"noise":     {-2, -0.004},
		},
		User: 7, Unknown: 0, Kernel: 48,
	}
	if !reflect.DeepEqual(op, want) {
		t.Errorf("got  %+v\nwant %+v", op, want)
	}
	if top := op.Top(1); len(top) != 1 || top[0].Key != "vfs_read" || top[0].Insns != 40 {
		t.Errorf("Top(1) = %+v", top)
	}
	if all := op.Top(-1); len(all) != 3 || all[2].Key != "noise" {
		t.Errorf("Top(-1) = %+v", all)
	}
	for _, bad := range []int{0, -1} {
		if _, err := PerOp(window(n, false), window(2*n, false), bad); err == nil {
			t.Errorf("PerOp with n=%d: no error", bad)
		}
	}
}
