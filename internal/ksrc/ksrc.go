package ksrc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/flock"
)

// Default bounds of an unpack (see [UnpackOptions]). A Linux 7.x tree holds
// about 1.5 GB in fewer than 100,000 entries.
const (
	// DefaultMaxBytes bounds the total size of the regular files unpacked.
	DefaultMaxBytes = 8 << 30
	// DefaultMaxEntries bounds the number of entries in the archive.
	DefaultMaxEntries = 1 << 20
)

// Tree is an unpacked kernel source tree.
type Tree struct {
	// Dir is the top directory of the tree (the one holding Makefile).
	Dir string
	// SHA256 is the hex SHA-256 of the tarball the tree came from.
	SHA256 string
	// Tarball is the path of that tarball.
	Tarball string
}

// UnpackOptions bounds what [UnpackWith] accepts. The zero value gives the
// defaults. The bounds apply when a tarball is unpacked; a tree already in
// the cache is returned whatever they are.
type UnpackOptions struct {
	// MaxBytes bounds the total size of the regular files in the archive;
	// zero or less means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries bounds the number of entries in the archive (files,
	// directories, links, headers), counting the directories made for
	// entries whose parents the archive does not list; zero or less means
	// DefaultMaxEntries.
	MaxEntries int64
}

func (o UnpackOptions) withDefaults() UnpackOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o
}

// IsTarball reports whether path names a file Unpack can read, judged by its
// name: .tar.xz, .txz, .tar.gz, .tgz or .tar.
func IsTarball(path string) bool {
	for _, s := range []string{".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar"} {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return false
}

// Unpack is [UnpackWith] with the default options.
func Unpack(ctx context.Context, tarball, cacheDir string) (*Tree, error) {
	return UnpackWith(ctx, tarball, cacheDir, UnpackOptions{})
}

// UnpackWith unpacks tarball below cacheDir (cacheDir/src/<sha256>/) unless
// an earlier call already did, and returns the tree. The context cancels a
// running unpack; nothing partial is left behind. An archive that is
// damaged is refused with a [*CorruptError], one that is too large with a
// [*LimitError], and one holding an unsafe entry with an [*EntryError].
func UnpackWith(ctx context.Context, tarball, cacheDir string, opts UnpackOptions) (*Tree, error) {
	return unpack(ctx, tarball, cacheDir, opts.withDefaults(), time.Now())
}

func unpack(ctx context.Context, tarball, cacheDir string, opts UnpackOptions, now time.Time) (*Tree, error) {
	sum, memo, err := fileSHA256(tarball, cacheDir, now)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(cacheDir, "src")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	reapStale(base, now)
	final := filepath.Join(base, sum[:32])
	lock, err := lockFile(ctx, final+".lock")
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	if dir, err := topDir(final); err == nil {
		return &Tree{Dir: dir, SHA256: sum, Tarball: tarball}, nil
	}
	tmp, err := newTempDir(base)
	if err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	defer tmp.remove()
	got, err := extractFile(ctx, tarball, tmp.dir, opts)
	if err != nil {
		return nil, fmt.Errorf("ksrc: %s: %w", tarball, err)
	}
	if got != sum {
		// The file changed between hashing and unpacking: whatever was
		// unpacked is not the content sum names.
		if memo != "" {
			_ = os.Remove(memo)
		}
		return nil, fmt.Errorf("ksrc: %s: the tarball changed while it was unpacked (SHA-256 %s, then %s)", tarball, sum, got)
	}
	if _, err := topDir(tmp.dir); err != nil {
		return nil, fmt.Errorf("ksrc: %s: %w", tarball, err)
	}
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	if err := os.Rename(tmp.dir, final); err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	dir, err := topDir(final)
	if err != nil {
		return nil, fmt.Errorf("ksrc: %s: %w", tarball, err)
	}
	return &Tree{Dir: dir, SHA256: sum, Tarball: tarball}, nil
}

// topDir returns the directory below root that holds a kernel Makefile:
// root itself or its single top-level directory.
func topDir(root string) (string, error) {
	if isKernelDir(root) {
		return root, nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if e.IsDir() && isKernelDir(filepath.Join(root, e.Name())) {
			return filepath.Join(root, e.Name()), nil
		}
	}
	return "", errors.New("no kernel tree (Makefile and Kconfig) in the tarball")
}

func isKernelDir(d string) bool {
	for _, f := range []string{"Makefile", "Kconfig"} {
		if fi, err := os.Lstat(filepath.Join(d, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// lockFile takes an exclusive flock on path, waiting for another process
// that holds it (one unpacking the same tarball) until ctx is done.
func lockFile(ctx context.Context, path string) (*flock.Lock, error) {
	l, err := flock.Acquire(ctx, path, flock.Options{})
	if err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	return l, nil
}
