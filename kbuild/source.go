package kbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rflkit/rflkit/internal/ksrc"
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
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		return cmd.Output()
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
// of every file below dir.
func walkIdentity(ctx context.Context, dir string) (string, error) {
	type ent struct {
		rel  string
		line string
	}
	var ents []ent
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		rel, _ := filepath.Rel(dir, p)
		ents = append(ents, ent{rel, fmt.Sprintf("%s\x00%d\x00%o\x00%d\n", rel, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("kbuild: identifying source %s: %w", dir, err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].rel < ents[j].rel })
	h := sha256.New()
	for _, e := range ents {
		h.Write([]byte(e.line))
	}
	return "files:" + hex.EncodeToString(h.Sum(nil)), nil
}
