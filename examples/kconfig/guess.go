package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/kconfig"
)

// toolGuess is what the toolchain doctor chose the last time for one tree
// and ARCH: the make variables and the fingerprint. It is only a guess
// (overlapLoad checks it against the doctor's new answer), so it needs no
// precise key and no lock.
type toolGuess struct {
	MakeVars    map[string]string `json:"make_vars"`
	Fingerprint string            `json:"fingerprint"`
}

// guessPath is the file of the guess for src and arch below the cache
// root (in kconfig-macros/, beside the macro results it pairs with); ""
// without a cache.
func guessPath(cacheRoot, src, arch string) string {
	if cacheRoot == "" {
		return ""
	}
	if abs, err := filepath.Abs(src); err == nil {
		src = abs
	}
	h := sha256.Sum256([]byte("rflkit-kconfig-cli-tools-v1\x00" + src + "\x00" + arch))
	return filepath.Join(cacheRoot, "kconfig-macros", "doctor-"+hex.EncodeToString(h[:12])+".json")
}

// readGuess returns the guess in path, or nil.
func readGuess(path string) *toolGuess {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var g toolGuess
	if json.Unmarshal(data, &g) != nil || g.MakeVars == nil {
		return nil
	}
	return &g
}

// saveGuess writes g to path (best effort: a failure costs the overlap
// next time, nothing else).
func saveGuess(path string, g toolGuess) {
	if path == "" {
		return
	}
	data, err := json.Marshal(g)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	_ = atomicfile.WriteFile(path, data, 0o644)
}

// detectFunc runs the toolchain doctor: the make variables it chose and
// their fingerprint.
type detectFunc func(ctx context.Context) (toolGuess, error)

// loadFunc reads the tree with the tools of g, writing its messages to
// out.
type loadFunc func(ctx context.Context, g toolGuess, out io.Writer) (*kconfig.Tree, error)

// overlapLoad is detect, then load with what it chose, with the two
// overlapped: the doctor spends most of its time waiting for the tools it
// probes (a rustup proxy first on PATH is run every time, by design), and
// reading the tree does not need to wait when the doctor chooses what it
// chose last time. So, while detect runs, the tree is read with the
// previous choice (the guess in guessFile), its messages held back. When
// detect's choice equals the guess (make variables and fingerprint), that
// tree is the one load would return and is used, its messages printed;
// otherwise, or if that read failed, it is cancelled and the tree is read
// again with detect's choice, which becomes the new guess. The result is
// always that of load with detect's choice.
func overlapLoad(ctx context.Context, out io.Writer, guessFile string, detect detectFunc, load loadFunc) (*kconfig.Tree, error) {
	guess := readGuess(guessFile)
	type result struct {
		tree *kconfig.Tree
		err  error
	}
	var spec chan result
	var held bytes.Buffer
	cancel := func() {}
	if guess != nil {
		var sctx context.Context
		sctx, cancel = context.WithCancel(ctx)
		spec = make(chan result, 1)
		go func() {
			tr, err := load(sctx, *guess, &held)
			spec <- result{tr, err}
		}()
	}
	// stop ends the speculative read and waits for it: nothing of it
	// outlives this call (its $(shell) children are killed by the
	// cancel).
	stop := func() {
		cancel()
		if spec != nil {
			<-spec
			spec = nil
		}
	}
	defer stop()
	chosen, err := detect(ctx)
	if err != nil {
		return nil, err
	}
	if guess != nil && maps.Equal(guess.MakeVars, chosen.MakeVars) && guess.Fingerprint == chosen.Fingerprint {
		r := <-spec
		spec = nil
		if r.err == nil {
			if out != nil {
				_, _ = out.Write(held.Bytes())
			}
			return r.tree, nil
		}
	} else {
		saveGuess(guessFile, chosen)
	}
	stop()
	return load(ctx, chosen, out)
}
