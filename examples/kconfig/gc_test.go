package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// tuneGC turns the collector off below gcLimit, unless the user chose
// with GOGC or GOMEMLIMIT.
func TestTuneGC(t *testing.T) {
	pct := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	})
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		tuneGC(func(k string) string {
			if k == v {
				return "200"
			}
			return ""
		})
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("with %s set: GC percent %d, want it left at 100", v, got)
		}
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("with %s set: memory limit %d, want it left alone", v, got)
		}
	}
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != -1 {
		t.Errorf("GC percent %d, want -1 (off)", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != gcLimit {
		t.Errorf("memory limit %d, want %d", got, gcLimit)
	}
}
