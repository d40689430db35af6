// Package ksrc turns a kernel source tarball into a directory, once.
//
// Unpack streams a .tar.xz, .tar.gz or plain .tar through Go's archive/tar
// into a cache directory keyed by the tarball's content (SHA-256), so that
// every later call, from any process, returns the same tree at once. The
// unpack happens in a temporary directory that is renamed into place only
// when complete, under a file lock, so an interrupted unpack never leaves a
// half tree behind and two processes never unpack the same tarball twice.
package ksrc

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ulikunitz/xz"
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

// Unpack unpacks tarball below cacheDir (cacheDir/src/<sha256>/) unless an
// earlier call already did, and returns the tree. The context cancels a
// running unpack; nothing partial is left behind.
func Unpack(ctx context.Context, tarball, cacheDir string) (*Tree, error) {
	sum, err := FileSHA256(tarball, cacheDir)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(cacheDir, "src")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	final := filepath.Join(base, sum[:32])
	lock, err := lockFile(final + ".lock")
	if err != nil {
		return nil, err
	}
	defer lock.Close()

	if dir, err := topDir(final); err == nil {
		return &Tree{Dir: dir, SHA256: sum, Tarball: tarball}, nil
	}
	tmp, err := os.MkdirTemp(base, ".unpack-*")
	if err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := extract(ctx, tarball, tmp); err != nil {
		return nil, err
	}
	if _, err := topDir(tmp); err != nil {
		return nil, fmt.Errorf("ksrc: %s: %w", tarball, err)
	}
	_ = os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
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
		if fi, err := os.Stat(filepath.Join(d, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// FileSHA256 returns the hex SHA-256 of a file. When cacheDir is not empty
// the result is remembered there, keyed by path, size and modification time,
// so a large tarball is hashed once.
func FileSHA256(path, cacheDir string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ksrc: %w", err)
	}
	abs, _ := filepath.Abs(path)
	var memo string
	if cacheDir != "" {
		k := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", abs, fi.Size(), fi.ModTime().UnixNano())))
		memo = filepath.Join(cacheDir, "src", "sums", hex.EncodeToString(k[:16]))
		if b, err := os.ReadFile(memo); err == nil && len(b) == 64 {
			return string(b), nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("ksrc: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("ksrc: reading %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if memo != "" {
		if err := os.MkdirAll(filepath.Dir(memo), 0o755); err == nil {
			tmp := memo + ".tmp"
			if os.WriteFile(tmp, []byte(sum), 0o644) == nil {
				_ = os.Rename(tmp, memo)
			}
		}
	}
	return sum, nil
}

func extract(ctx context.Context, tarball, dst string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("ksrc: %w", err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	switch {
	case strings.HasSuffix(tarball, ".xz") || strings.HasSuffix(tarball, ".txz"):
		xr, err := xz.NewReader(r)
		if err != nil {
			return fmt.Errorf("ksrc: %s: %w", tarball, err)
		}
		r = xr
	case strings.HasSuffix(tarball, ".gz") || strings.HasSuffix(tarball, ".tgz"):
		gr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("ksrc: %s: %w", tarball, err)
		}
		defer gr.Close()
		r = gr
	}
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			return fmt.Errorf("ksrc: unpacking %s: %w", tarball, ctx.Err())
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ksrc: %s: %w", tarball, err)
		}
		if err := writeEntry(dst, h, tr); err != nil {
			return fmt.Errorf("ksrc: %s: %s: %w", tarball, h.Name, err)
		}
	}
}

func writeEntry(dst string, h *tar.Header, r io.Reader) error {
	name := filepath.Clean(h.Name)
	if name == "." || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		if name == "." {
			return nil
		}
		return errors.New("entry escapes the destination")
	}
	p := filepath.Join(dst, name)
	mode := fs.FileMode(h.Mode).Perm()
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(p, mode|0o700)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chtimes(p, h.ModTime, h.ModTime)
	case tar.TypeSymlink:
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.Symlink(h.Linkname, p)
	case tar.TypeLink:
		old := filepath.Join(dst, filepath.Clean(h.Linkname))
		return os.Link(old, p)
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil
	}
	return nil // devices, fifos: a kernel tree has none worth keeping
}

func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ksrc: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("ksrc: locking %s: %w", path, err)
	}
	return f, nil
}
