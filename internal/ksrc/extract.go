package ksrc

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

const (
	// maxLinkHops is how many symbolic links a path may go through, as on
	// Linux.
	maxLinkHops = 40
	// maxName bounds entry names and link targets (PATH_MAX): os.Root walks
	// a name one component at a time, so the kernel's bound does not apply.
	maxName = 4096
)

// extractor writes the entries of one archive below root.
type extractor struct {
	ctx  context.Context
	root *os.Root
	opts UnpackOptions
	// dirs holds the directories made or found, all real directories (no
	// entry may replace a directory, so they stay so).
	dirs map[string]bool
	// links holds the symbolic links made, checked once all entries are in.
	links []string
	// cur is the current entry's name as in the archive.
	cur string
	// entries counts the archive's entries, implicit the directories made
	// for entries whose parents the archive does not list.
	entries, implicit, bytes int64
	buf                      []byte
}

// extractTar unpacks the tar stream r into root, reading it to its end.
func extractTar(ctx context.Context, r io.Reader, root *os.Root, opts UnpackOptions) error {
	s := &tarStream{ctx: ctx, r: r}
	x := &extractor{ctx: ctx, root: root, opts: opts.withDefaults(), dirs: map[string]bool{}, buf: make([]byte, 256<<10)}
	tr := tar.NewReader(s)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.readErr(err)
		}
		x.cur = h.Name
		if err := x.entry(h, tr); err != nil {
			var ee *EntryError
			var le *LimitError
			var ce *CorruptError
			if errors.As(err, &ee) || errors.As(err, &le) || errors.As(err, &ce) || ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
	}
	if !s.sawEndMarker() {
		return &CorruptError{Err: fmt.Errorf("the tar stream stops after %d entries without its end-of-archive marker (truncated)", x.entries)}
	}
	if err := s.drainPadding(); err != nil {
		return err
	}
	return x.checkLinks()
}

// readErr turns an error reading the archive into a CorruptError, unless
// it is the context's.
func (x *extractor) readErr(err error) error {
	if cerr := x.ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &CorruptError{Err: fmt.Errorf("truncated: %w", err)}
	}
	return &CorruptError{Err: err}
}

func (x *extractor) refuse(format string, args ...any) error {
	return &EntryError{Entry: x.cur, Reason: fmt.Sprintf(format, args...)}
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	if x.entries++; x.entries+x.implicit > x.opts.MaxEntries {
		return &LimitError{Limit: "MaxEntries", Max: x.opts.MaxEntries, Entry: h.Name}
	}
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil // git archive stores the commit id in one
	}
	if len(h.Name) > maxName || len(h.Linkname) > maxName {
		return x.refuse("name or link target longer than %d bytes", maxName)
	}
	name, ok := cleanName(h.Name)
	if !ok {
		return x.refuse("its name leaves the tree")
	}
	if h.Typeflag == tar.TypeGNUSparse || isPAXSparse(h) {
		return x.refuse("sparse files are not supported (a kernel tarball has none)")
	}
	if name == "." {
		if h.Typeflag == tar.TypeDir {
			return nil
		}
		return x.refuse("it names the top of the tree")
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dir(name, h)
	case tar.TypeReg:
		if h.Size > x.opts.MaxBytes-x.bytes {
			return &LimitError{Limit: "MaxBytes", Max: x.opts.MaxBytes, Entry: h.Name}
		}
		x.bytes += h.Size
		return x.file(name, h, r)
	case tar.TypeSymlink:
		return x.symlink(name, h.Linkname)
	case tar.TypeLink:
		return x.hardlink(name, h.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return nil // a kernel tree has none worth keeping
	}
	return x.refuse("unsupported entry type %q", h.Typeflag)
}

// cleanName returns name cleaned, relative to the top of the tree, or false
// if it leaves the tree.
func cleanName(name string) (string, bool) {
	if name == "" || path.IsAbs(name) || strings.IndexByte(name, 0) >= 0 {
		return "", false
	}
	c := path.Clean(name)
	if escapes(c) {
		return "", false
	}
	return c, true
}

// escapes reports whether the clean relative path p leaves its top.
func escapes(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../")
}

func isPAXSparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// ensureDir makes sure that d and its parents are real directories, making
// those missing (each counts as an entry). A symbolic link on the way is
// refused: nothing is written through a link.
func (x *extractor) ensureDir(d string) error {
	if d == "." || x.dirs[d] {
		return nil
	}
	if err := x.ensureDir(path.Dir(d)); err != nil {
		return err
	}
	fi, err := x.root.Lstat(d)
	switch {
	case err == nil && fi.IsDir():
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return x.refuse("its parent %s is a symbolic link", d)
	case err == nil:
		return x.refuse("its parent %s is not a directory", d)
	case errors.Is(err, fs.ErrNotExist):
		if x.implicit++; x.entries+x.implicit > x.opts.MaxEntries {
			return &LimitError{Limit: "MaxEntries", Max: x.opts.MaxEntries, Entry: x.cur}
		}
		if err := x.root.Mkdir(d, 0o755); err != nil {
			return err
		}
	default:
		return err
	}
	x.dirs[d] = true
	return nil
}

// clear removes what name holds, unless it is a directory.
func (x *extractor) clear(name string) error {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return x.refuse("it would replace a directory")
	}
	return x.root.Remove(name)
}

func (x *extractor) dir(name string, h *tar.Header) error {
	if err := x.ensureDir(path.Dir(name)); err != nil {
		return err
	}
	perm := fs.FileMode(h.Mode).Perm() | 0o700
	err := x.root.Mkdir(name, perm)
	if errors.Is(err, fs.ErrExist) {
		fi, lerr := x.root.Lstat(name)
		if lerr != nil {
			return lerr
		}
		if fi.IsDir() {
			x.dirs[name] = true
			return nil
		}
		if err := x.root.Remove(name); err != nil {
			return err
		}
		err = x.root.Mkdir(name, perm)
	}
	if err != nil {
		return err
	}
	x.dirs[name] = true
	return nil
}

func (x *extractor) file(name string, h *tar.Header, r io.Reader) error {
	if err := x.ensureDir(path.Dir(name)); err != nil {
		return err
	}
	// O_EXCL: never open what is there, least of all through a link;
	// remove it and make a new file.
	const flags = os.O_CREATE | os.O_EXCL | os.O_WRONLY
	perm := fs.FileMode(h.Mode).Perm() | 0o600
	f, err := x.root.OpenFile(name, flags, perm)
	if errors.Is(err, fs.ErrExist) {
		if err := x.clear(name); err != nil {
			return err
		}
		f, err = x.root.OpenFile(name, flags, perm)
	}
	if err != nil {
		return err
	}
	if err := x.copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return x.root.Chtimes(name, h.ModTime, h.ModTime)
}

// copy copies the entry's data from r to f. archive/tar bounds it to the
// entry's size; the context is checked on each read of the stream below.
func (x *extractor) copy(f *os.File, r io.Reader) error {
	for {
		n, err := r.Read(x.buf)
		if n > 0 {
			if _, werr := f.Write(x.buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return x.readErr(err)
		}
	}
}

func (x *extractor) symlink(name, target string) error {
	switch {
	case target == "":
		return x.refuse("symbolic link has no target")
	case path.IsAbs(target):
		return x.refuse("symbolic link target %q is absolute", target)
	case escapes(path.Join(path.Dir(name), target)):
		return x.refuse("symbolic link target %q leaves the tree", target)
	}
	if err := x.ensureDir(path.Dir(name)); err != nil {
		return err
	}
	err := x.root.Symlink(target, name)
	if errors.Is(err, fs.ErrExist) {
		if err := x.clear(name); err != nil {
			return err
		}
		err = x.root.Symlink(target, name)
	}
	if err != nil {
		return err
	}
	x.links = append(x.links, name)
	return nil
}

func (x *extractor) hardlink(name, target string) error {
	old, ok := cleanName(target)
	if !ok || old == "." {
		return x.refuse("hard link target %q leaves the tree", target)
	}
	// The target must be a regular file unpacked before, below real
	// directories only.
	if d := path.Dir(old); d != "." && !x.dirs[d] {
		return x.refuse("hard link target %q is not a file unpacked before it", target)
	}
	if fi, err := x.root.Lstat(old); err != nil || !fi.Mode().IsRegular() {
		return x.refuse("hard link target %q is not a file unpacked before it", target)
	}
	if old == name {
		return nil
	}
	if err := x.ensureDir(path.Dir(name)); err != nil {
		return err
	}
	err := x.root.Link(old, name)
	if errors.Is(err, fs.ErrExist) {
		if err := x.clear(name); err != nil {
			return err
		}
		err = x.root.Link(old, name)
	}
	return err
}

// checkLinks resolves every symbolic link made, through any links its
// target goes through, and refuses the archive if one leaves the tree. The
// check at creation is only lexical: "a -> ." then "b -> a/.." passes it.
func (x *extractor) checkLinks() error {
	for _, l := range x.links {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		fi, err := x.root.Lstat(l)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // replaced by a later entry
		}
		if err := x.resolve(l); err != nil {
			return err
		}
	}
	return nil
}

// resolve follows the path p (relative to the top) as the kernel would,
// and returns an EntryError naming p if that leaves the tree. What does not
// exist is followed lexically, so a dangling link cannot escape once its
// target is made either.
func (x *extractor) resolve(p string) error {
	var at []string // resolved components: real directories (or missing)
	todo := strings.Split(p, "/")
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return &EntryError{Entry: p, Reason: "symbolic link resolves outside the tree"}
			}
			at = at[:len(at)-1]
			continue
		}
		cur := path.Join(append(at, c)...)
		fi, err := x.root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			at = append(at, c)
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > maxLinkHops {
				return nil // a loop resolves nowhere
			}
			t, err := x.root.Readlink(cur)
			if err != nil {
				return err
			}
			if path.IsAbs(t) {
				return &EntryError{Entry: p, Reason: fmt.Sprintf("symbolic link resolves outside the tree (through %s -> %s)", cur, t)}
			}
			todo = append(strings.Split(t, "/"), todo...)
		case fi.IsDir():
			at = append(at, c)
		default:
			return nil // a file: what follows it does not resolve
		}
	}
	return nil
}
