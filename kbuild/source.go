package kbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rflkit/rflkit/internal/ksrc"
	"github.com/rflkit/rflkit/internal/osutil"
)

// Source is a resolved kernel source tree.
type Source struct {
	// Dir is the tree (the directory holding the top-level Makefile).
	Dir string
	// ID identifies the tree's content for the cache: "tarball:<sha256>",
	// "git:<HEAD>[+dirty:<hash>]" or "files:<hash of paths, sizes, mtimes>".
	ID string
}

// ResolveSource turns src (a kernel directory or a tarball) into a Source:
// a tarball is unpacked once into cacheDir/src (internal/ksrc) and
// identified by its SHA-256; a directory by its git state, or else by a
// hash of every file's relative path, size and modification time.
func ResolveSource(ctx context.Context, src, cacheDir string) (*Source, error) {
	if src == "" {
		return nil, &UsageError{"Src", "no kernel source given"}
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("kbuild: source: %w", err)
	}
	if !fi.IsDir() {
		if !ksrc.IsTarball(src) {
			return nil, &UsageError{"Src", fmt.Sprintf("%s is neither a directory nor a .tar.xz/.tar.gz/.tar tarball", src)}
		}
		tree, err := ksrc.Unpack(ctx, src, cacheDir)
		if err != nil {
			return nil, fmt.Errorf("kbuild: source %s: %w", src, err)
		}
		return &Source{Dir: tree.Dir, ID: "tarball:" + tree.SHA256}, nil
	}
	dir, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("kbuild: source: %w", err)
	}
	for _, f := range []string{"Makefile", "Kconfig"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, &UsageError{"Src", fmt.Sprintf("%s is not a kernel tree (no %s)", dir, f)}
		}
	}
	id, err := dirIdentity(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Source{Dir: dir, ID: id}, nil
}

// dirIdentity identifies a directory's content cheaply: git HEAD plus the
// hash of `git status --porcelain` and of the dirty files' sizes and mtimes
// when dir is the top of a git work tree, else a walk of the tree.
func dirIdentity(ctx context.Context, dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		if id, err := gitIdentity(ctx, dir); err == nil {
			return id, nil
		}
	}
	return walkIdentity(ctx, dir)
}

func gitIdentity(ctx context.Context, dir string) (string, error) {
	run := func(args ...string) ([]byte, error) {
		res, err := osutil.Run(ctx, osutil.Options{Timeout: time.Minute}, append([]string{"git", "-C", dir}, args...)...)
		return res.Stdout, err
	}
	head, err := run("rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	st, err := run("status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return "", err
	}
	id := "git:" + strings.TrimSpace(string(head))
	if len(st) == 0 {
		return id, nil
	}
	h := sha256.New()
	h.Write(st)
	// The status says which files differ, not how: add their size and
	// mtime, so that editing a dirty file again changes the identity.
	for _, ent := range bytes.Split(st, []byte{0}) {
		if len(ent) < 4 {
			continue
		}
		p := filepath.Join(dir, string(ent[3:]))
		if fi, err := os.Lstat(p); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", ent[3:], fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return id + "+dirty:" + hex.EncodeToString(h.Sum(nil))[:32], nil
}

// walkIdentity hashes the relative path, size, mode and modification time
// of every file below dir. Top-level directories are walked concurrently.
func walkIdentity(ctx context.Context, dir string) (string, error) {
	top, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("kbuild: identifying source %s: %w", dir, err)
	}
	parts := make([][]string, len(top))
	errs := make([]error, len(top))
	sem := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, e := range top {
		if e.Name() == ".git" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			parts[i], errs[i] = walkLines(ctx, dir, filepath.Join(dir, e.Name()))
		}()
	}
	wg.Wait()
	var lines []string
	for i := range top {
		if errs[i] != nil {
			return "", fmt.Errorf("kbuild: identifying source %s: %w", dir, errs[i])
		}
		lines = append(lines, parts[i]...)
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return "files:" + hex.EncodeToString(h.Sum(nil)), nil
}

// walkLines returns one "path NUL size NUL mode NUL mtime" line per file
// below root (or for root itself when it is a file).
func walkLines(ctx context.Context, dir, root string) ([]string, error) {
	var lines []string
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel := p[len(dir)+1:]
		lines = append(lines, rel+"\x00"+strconv.FormatInt(fi.Size(), 10)+"\x00"+strconv.FormatUint(uint64(fi.Mode()), 8)+"\x00"+strconv.FormatInt(fi.ModTime().UnixNano(), 10)+"\n")
		return nil
	})
	return lines, err
}
