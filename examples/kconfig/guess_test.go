package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rflkit/rflkit/kconfig"
)

// fakeLoads records the loads overlapLoad starts: the guess each was
// given, and whether its context was cancelled when it returned. Each
// load writes a message naming its tools. The first one (the guessed
// load, when there is a guess) waits until release is closed (by detect,
// when its answer is the guess) or its context is cancelled, so that a
// discarded load is seen to be cancelled.
type fakeLoads struct {
	mu        sync.Mutex
	vars      []string
	cancelled []bool
	release   chan struct{}
	fail      map[string]bool // loads with these RUSTC values fail
	guessed   bool            // there is a guess: the first load is the guessed one
}

func (f *fakeLoads) load(ctx context.Context, g toolGuess, out io.Writer) (*kconfig.Tree, error) {
	f.mu.Lock()
	first := f.guessed && len(f.vars) == 0
	f.vars = append(f.vars, g.MakeVars["RUSTC"])
	f.mu.Unlock()
	if first {
		select {
		case <-f.release:
		case <-ctx.Done():
		}
	}
	fmt.Fprintf(out, "loaded with %s\n", g.MakeVars["RUSTC"])
	f.mu.Lock()
	f.cancelled = append(f.cancelled, ctx.Err() != nil)
	f.mu.Unlock()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if f.fail[g.MakeVars["RUSTC"]] {
		return nil, errors.New("load failed")
	}
	return &kconfig.Tree{Env: maps.Clone(g.MakeVars)}, nil
}

func TestOverlapLoad(t *testing.T) {
	rustc := func(p, fp string) toolGuess {
		return toolGuess{MakeVars: map[string]string{"LLVM": "1", "RUSTC": p}, Fingerprint: fp}
	}
	cases := []struct {
		name      string
		guess     *toolGuess // the guess file before (nil: none)
		chosen    toolGuess  // what detect answers
		detectErr error
		fail      map[string]bool
		loads     []string // RUSTC of each load started
		cancelled []bool
		wantOut   string
		wantGuess *toolGuess // the guess file after
	}{
		{name: "no guess", chosen: rustc("/usr/bin/rustc", "f1"),
			loads: []string{"/usr/bin/rustc"}, cancelled: []bool{false},
			wantOut: "loaded with /usr/bin/rustc\n", wantGuess: ptr(rustc("/usr/bin/rustc", "f1"))},
		{name: "guess right", guess: ptr(rustc("/usr/bin/rustc", "f1")), chosen: rustc("/usr/bin/rustc", "f1"),
			loads: []string{"/usr/bin/rustc"}, cancelled: []bool{false},
			wantOut: "loaded with /usr/bin/rustc\n", wantGuess: ptr(rustc("/usr/bin/rustc", "f1"))},
		{name: "other tools", guess: ptr(rustc("/opt/rustc", "f0")), chosen: rustc("/usr/bin/rustc", "f1"),
			loads: []string{"/opt/rustc", "/usr/bin/rustc"}, cancelled: []bool{true, false},
			wantOut: "loaded with /usr/bin/rustc\n", wantGuess: ptr(rustc("/usr/bin/rustc", "f1"))},
		{name: "same variables, new fingerprint", guess: ptr(rustc("/usr/bin/rustc", "f0")), chosen: rustc("/usr/bin/rustc", "f1"),
			loads: []string{"/usr/bin/rustc", "/usr/bin/rustc"}, cancelled: []bool{true, false},
			wantOut: "loaded with /usr/bin/rustc\n", wantGuess: ptr(rustc("/usr/bin/rustc", "f1"))},
		{name: "guessed load failed", guess: ptr(rustc("/usr/bin/rustc", "f1")), chosen: rustc("/usr/bin/rustc", "f1"),
			fail:  map[string]bool{"/usr/bin/rustc": true},
			loads: []string{"/usr/bin/rustc", "/usr/bin/rustc"}, cancelled: []bool{false, false},
			wantOut: "loaded with /usr/bin/rustc\n", wantGuess: ptr(rustc("/usr/bin/rustc", "f1"))},
		{name: "doctor failed", guess: ptr(rustc("/usr/bin/rustc", "f1")), detectErr: errors.New("no tools"),
			loads: []string{"/usr/bin/rustc"}, cancelled: []bool{true},
			wantOut: "", wantGuess: ptr(rustc("/usr/bin/rustc", "f1"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "kconfig-macros", "doctor-x.json")
			if c.guess != nil {
				saveGuess(file, *c.guess)
			}
			f := &fakeLoads{release: make(chan struct{}), fail: c.fail, guessed: c.guess != nil}
			detect := func(ctx context.Context) (toolGuess, error) {
				if c.guess != nil && c.detectErr == nil && maps.Equal(c.guess.MakeVars, c.chosen.MakeVars) && c.guess.Fingerprint == c.chosen.Fingerprint {
					close(f.release)
				}
				return c.chosen, c.detectErr
			}
			var out bytes.Buffer
			tr, err := overlapLoad(context.Background(), &out, file, detect, f.load)
			switch {
			case c.detectErr != nil:
				if !errors.Is(err, c.detectErr) {
					t.Fatalf("err = %v, want the doctor's", err)
				}
			case c.fail != nil:
				if err == nil {
					t.Fatal("a failing load succeeded")
				}
			case err != nil:
				t.Fatal(err)
			case !maps.Equal(tr.Env, c.chosen.MakeVars):
				t.Errorf("tree read with %v, want %v", tr.Env, c.chosen.MakeVars)
			}
			if fmt.Sprint(f.vars) != fmt.Sprint(c.loads) || fmt.Sprint(f.cancelled) != fmt.Sprint(c.cancelled) {
				t.Errorf("loads %v cancelled %v, want %v %v", f.vars, f.cancelled, c.loads, c.cancelled)
			}
			if out.String() != c.wantOut {
				t.Errorf("output %q, want %q (a discarded load's messages must not show)", out.String(), c.wantOut)
			}
			g := readGuess(file)
			if g == nil || !maps.Equal(g.MakeVars, c.wantGuess.MakeVars) || g.Fingerprint != c.wantGuess.Fingerprint {
				t.Errorf("guess after: %+v, want %+v", g, c.wantGuess)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// guessPath keys the guess by the absolute tree and ARCH, and needs a
// cache.
func TestGuessPath(t *testing.T) {
	if p := guessPath("", "/src", "x86_64"); p != "" {
		t.Errorf("no cache: %q", p)
	}
	a, b := guessPath("/c", "/src", "x86_64"), guessPath("/c", "/src", "arm64")
	if a == b || filepath.Dir(a) != "/c/kconfig-macros" {
		t.Errorf("paths %q %q", a, b)
	}
}
