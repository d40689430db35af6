package tcgplugin

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeCC writes a fake C compiler: it logs its arguments, answers
// --version with version, and "compiles" by writing a file at -o (or
// fails with fail on stderr when fail is not empty).
func fakeCC(t *testing.T, dir, version, fail string) (cc, log string) {
	t.Helper()
	cc = filepath.Join(dir, "fakecc-"+strings.ReplaceAll(version, " ", "_"))
	log = cc + ".log"
	script := `#!/bin/sh
echo "$*" >> '` + log + `'
if [ "$1" = --version ]; then echo '` + version + `'; exit 0; fi
if [ -n '` + fail + `' ]; then echo '` + fail + `' >&2; exit 1; fi
while [ $# -gt 0 ]; do
	if [ "$1" = -o ]; then out=$2; fi
	shift
done
sleep 0.1
printf 'fake plugin' > "$out"
`
	if err := os.WriteFile(cc, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cc, log
}

// compiles counts the compilations in a fake compiler's log.
func compiles(t *testing.T, log string) int {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "-shared -fPIC -O2 ")
}

func TestBuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	cc, log := fakeCC(t, dir, "fakecc 1.0", "")

	// Two concurrent builds compile once.
	var wg sync.WaitGroup
	paths := make([]string, 2)
	errs := make([]error, 2)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = Build(ctx, BuildOptions{CacheDir: cache, CC: cc})
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	so := paths[0]
	if paths[1] != so || filepath.Base(so) != PluginName || filepath.Dir(filepath.Dir(so)) != filepath.Join(cache, "tcgplugin") {
		t.Fatalf("paths %q", paths)
	}
	if data, err := os.ReadFile(so); err != nil || string(data) != "fake plugin" {
		t.Fatalf("plugin: %q, %v", data, err)
	}
	if n := compiles(t, log); n != 1 {
		t.Errorf("%d compilations, want 1", n)
	}
	logData, _ := os.ReadFile(log)
	if !strings.Contains(string(logData), "-fvisibility=hidden -Wall -o ") || !strings.Contains(string(logData), "insncount.c") {
		t.Errorf("compiler command lines:\n%s", logData)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(so), "work-*")); len(left) != 0 {
		t.Errorf("work directories left: %q", left)
	}

	// Cached: no compilation.
	if p, err := Build(ctx, BuildOptions{CacheDir: cache, CC: cc}); err != nil || p != so {
		t.Fatalf("second build: %q, %v", p, err)
	}
	if n := compiles(t, log); n != 1 {
		t.Errorf("%d compilations after a cached build, want 1", n)
	}

	// Another compiler version is another key.
	cc2, _ := fakeCC(t, dir, "fakecc 2.0", "")
	if p, err := Build(ctx, BuildOptions{CacheDir: cache, CC: cc2}); err != nil || p == so {
		t.Errorf("other compiler: %q, %v (first: %q)", p, err, so)
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")

	_, err := Build(ctx, BuildOptions{CacheDir: cache, CC: "no-such-cc-rflkit"})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), `"no-such-cc-rflkit"`) || !strings.HasPrefix(err.Error(), "tcgplugin: ") {
		t.Errorf("missing compiler: %v", err)
	}

	cc, _ := fakeCC(t, dir, "fakecc 3.0", "insncount.c:1: error: boom")
	_, err = Build(ctx, BuildOptions{CacheDir: cache, CC: cc})
	if err == nil || !strings.Contains(err.Error(), "error: boom") {
		t.Fatalf("failing compiler: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "tcgplugin", "*", "*"))
	for _, m := range matches {
		if filepath.Base(m) != ".lock" {
			t.Errorf("left in the cache after a failed build: %s", m)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Build(cctx, BuildOptions{CacheDir: cache, CC: cc}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
