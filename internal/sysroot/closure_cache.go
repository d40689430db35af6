package sysroot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/cachedir"
)

// ClosureOptions configures CachedClosure.
type ClosureOptions struct {
	// CacheDir is rflkit's cache root ("" = the default).
	CacheDir string
	// AptCache is the apt-cache command ("" = apt-cache on PATH).
	AptCache string
	// ListsDir and PrefsDir are what decides apt's candidates: the
	// package lists ("" = /var/lib/apt/lists) and the pins ("" =
	// /etc/apt/preferences.d).
	ListsDir, PrefsDir string
}

// CachedClosure is Closure, remembered in the cache (sysroot/closure-KEY.json)
// under a key of the architecture, the packages and the identity (name,
// size, modification time) of every file in the package lists and the
// pins: an `apt-get update` or a new pin computes it again. Each apt-cache
// call reads every list, which costs seconds to tens of seconds on a
// loaded machine.
func CachedClosure(ctx context.Context, arch string, pkgs []string, opts ClosureOptions) ([]string, error) {
	key, err := closureKey(arch, pkgs, opts)
	if err != nil {
		return Closure(ctx, arch, pkgs, opts.AptCache)
	}
	root, err := cachedir.Resolve(opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("sysroot: %w", err)
	}
	path := filepath.Join(root, "sysroot", "closure-"+key+".json")
	if b, err := os.ReadFile(path); err == nil {
		var out []string
		if json.Unmarshal(b, &out) == nil && len(out) > 0 {
			return out, nil
		}
	}
	out, err := Closure(ctx, arch, pkgs, opts.AptCache)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("sysroot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sysroot: %w", err)
	}
	if err := atomicfile.Update(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("sysroot: %w", err)
	}
	return out, nil
}

// closureKey hashes what Closure's answer depends on; an error means the
// lists cannot be identified (then nothing is cached).
func closureKey(arch string, pkgs []string, opts ClosureOptions) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "rflkit-closure v1\narch %s\napt-cache %s\n", arch, cmdOr(opts.AptCache, "apt-cache"))
	for _, p := range normalize(pkgs) {
		fmt.Fprintf(h, "pkg %s\n", p)
	}
	for _, d := range []string{cmdOr(opts.ListsDir, "/var/lib/apt/lists"), cmdOr(opts.PrefsDir, "/etc/apt/preferences.d")} {
		ents, err := os.ReadDir(d)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		var names []string
		for _, e := range ents {
			if e.Type().IsRegular() && e.Name() != "lock" {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fi, err := os.Stat(filepath.Join(d, n))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "file %s/%s %d %d\n", d, n, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}
