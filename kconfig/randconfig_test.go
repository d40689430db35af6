package kconfig

import "testing"

// glibc: srand(1); rand() gives 1804289383, 846930886, 1681692777, ...
func TestConfRandMatchesGlibc(t *testing.T) {
	g := newGlibcRandom(1)
	for i, want := range []int{1804289383, 846930886, 1681692777, 1714636915, 1957747793} {
		if got := g.next(); got != want {
			t.Fatalf("rand() #%d = %d, want %d", i, got, want)
		}
	}
	// Checked against this machine's glibc (python3 ctypes srand/rand).
	for seed, want := range map[uint32][]int{42: {71876166, 708592740, 1483128881}, 0xdeadbeef: {352217057, 918588210, 499345174}} {
		g := newGlibcRandom(seed)
		for i, w := range want {
			if got := g.next(); got != w {
				t.Errorf("srand(%d): rand() #%d = %d, want %d", seed, i, got, w)
			}
		}
	}
	g = newGlibcRandom(0) // srand(0) is srand(1)
	if got := g.next(); got != 1804289383 {
		t.Errorf("srand(0): %d", got)
	}
}
