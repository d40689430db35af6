package sysroot

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A fake apt-cache that counts its calls: the second CachedClosure is
// served from the cache, and a changed package list asks again.
func TestCachedClosure(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "apt-cache")
	script := "#!/bin/sh\necho x >> " + calls + "\n" +
		"for a; do case $a in prog:arm64) printf 'Package: prog\\nDepends: libfoo1 (>= 1)\\n\\n';; libfoo1:arm64) printf 'Package: libfoo1\\n\\n';; esac; done\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	lists, prefs := filepath.Join(dir, "lists"), filepath.Join(dir, "prefs")
	for _, d := range []string{lists, prefs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(lists, "deb_dists_bookworm_main_binary-arm64_Packages")
	if err := os.WriteFile(list, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := ClosureOptions{CacheDir: filepath.Join(dir, "cache"), AptCache: fake, ListsDir: lists, PrefsDir: prefs}
	n := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "x")
	}
	want := []string{"libfoo1", "prog"}
	for i := range 2 {
		got, err := CachedClosure(context.Background(), "arm64", []string{"prog"}, opts)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("call %d: %v %v, want %v", i, got, err, want)
		}
	}
	if n() != 2 {
		t.Errorf("%d apt-cache calls for two CachedClosure calls, want 2 (one walk of two rounds)", n())
	}
	// apt-get update: the lists change, the closure is computed again.
	if err := os.WriteFile(list, []byte("v2, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(list, time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := CachedClosure(context.Background(), "arm64", []string{"prog"}, opts); err != nil {
		t.Fatal(err)
	}
	if n() != 4 {
		t.Errorf("%d apt-cache calls after the lists changed, want 4", n())
	}
	// A failing apt-cache is an error, and nothing is cached.
	opts.AptCache = filepath.Join(dir, "missing-apt-cache")
	if _, err := CachedClosure(context.Background(), "arm64", []string{"other"}, opts); err == nil {
		t.Error("missing apt-cache: no error")
	}
}
