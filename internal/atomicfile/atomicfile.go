// Package atomicfile writes files so that a reader, or a crash, never sees
// half of one. It is the one implementation of the project's rule for
// writing a file the user owns (HACKING.md): every atomic write of a file
// in rflkit (a .config, results, reports, cache entries) goes through
// WriteFile or Update, so the rule below holds everywhere.
//
// The rule:
//
//  1. Symbolic links are followed. A path whose last element is a link
//     (to a link, ...) is resolved to the file it finally names, a dangling
//     link included: the write goes to the link's target, creating it, and
//     the link stays a link. At most MaxSymlinks links are followed; more
//     (a loop) is an error wrapping syscall.ELOOP, and nothing is written.
//  2. The target must be a regular file or not exist: a directory, device,
//     FIFO or socket is refused, never replaced by a regular file.
//  3. The data goes to a temporary file in the target's directory, which is
//     given its owner and permissions, synced, closed and renamed over the
//     target; then the directory is synced so that the rename survives a
//     crash. A failure at any step before the rename leaves the target as
//     it was and removes the temporary file.
//  4. An existing target keeps its owner and group: when they differ from
//     the temporary file's (root editing a user's file, a file in a
//     set-group-ID directory), the temporary file is chowned to them before
//     the rename. Root (effective uid 0) must succeed: a failed chown
//     abandons the write, because silently turning a user's file into
//     root's is the bug this rule exists to prevent. Any other user cannot
//     give a file away (chown fails with EPERM): the group is still kept
//     when the user is a member of it, and otherwise the new file is the
//     writer's, as with every editor that saves by rename.
//  5. Permissions are the nine rwx bits: WriteFile sets perm; Update keeps
//     an existing target's (perm applies to a new file only). The set-ID
//     and sticky bits are not carried over, and the umask is not applied.
//
// Renaming replaces the target's directory entry: other hard links to the
// old file keep the old contents.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxSymlinks is the number of symbolic links followed before a path is
// taken to be a loop (Linux's MAXSYMLINKS).
const MaxSymlinks = 40

// WriteFile writes data to path atomically with permissions perm,
// following the package's rule (see the package documentation): symbolic
// links are followed and an existing file keeps its owner and group, but
// gets perm. The directory must exist. Errors are *fs.PathError values
// naming the file; an error syncing the directory comes after the rename
// (the new contents are in place but may not survive a crash).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

// Update is WriteFile for a file the user owns: an existing file also keeps
// its permissions; perm applies only to a new file.
func Update(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, true)
}

// Resolve returns the file a write to path replaces: path itself when it
// is not a symbolic link (or does not exist), else the file the chain of
// links ends at, which need not exist (a dangling link), named by its
// physical path when its directory exists. A relative link is read
// relative to the directory holding it, as the kernel reads it. More than
// MaxSymlinks links is an *fs.PathError wrapping syscall.ELOOP.
func Resolve(path string) (string, error) {
	p := path
	for range MaxSymlinks + 1 {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			if p != path {
				p = tidy(p)
			}
			return p, nil
		}
		if err != nil {
			return "", err
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(link) {
			p = link
			continue
		}
		// No filepath.Join: cleaning "dir/../x" lexically is wrong when
		// dir is itself a link. The kernel reads the path as written.
		if d := rawDir(p); d == "/" {
			p = d + link
		} else {
			p = d + string(filepath.Separator) + link
		}
	}
	return "", &fs.PathError{Op: "follow symlinks", Path: path,
		Err: fmt.Errorf("%w (more than %d; a loop?)", syscall.ELOOP, MaxSymlinks)}
}

// rawDir is the directory part of p without its trailing separator and
// without lexical cleaning ("." when p has none).
func rawDir(p string) string {
	i := strings.LastIndexByte(p, filepath.Separator)
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return p[:i]
}

// tidy turns the path Resolve arrived at into the physical one, for
// messages and callers, when its directory exists; else it stays as is.
func tidy(p string) string {
	dir, base := rawDir(p), p[strings.LastIndexByte(p, filepath.Separator)+1:]
	if base == "" || base == "." || base == ".." {
		return p
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return p
	}
	return filepath.Join(real, base)
}

// NotRegularError is the error (inside an *fs.PathError) for a target that
// exists but is not a regular file.
type NotRegularError struct {
	Mode fs.FileMode // the target's mode
}

func (e *NotRegularError) Error() string {
	kind := "not a regular file"
	switch t := e.Mode.Type(); {
	case t&fs.ModeDir != 0:
		kind = "is a directory"
	case t&fs.ModeDevice != 0:
		kind = "is a device"
	case t&fs.ModeNamedPipe != 0:
		kind = "is a named pipe"
	case t&fs.ModeSocket != 0:
		kind = "is a socket"
	}
	return kind + ", not replaced by a regular file"
}

func write(path string, data []byte, perm fs.FileMode, keepPerm bool) error {
	target, err := Resolve(path)
	if err != nil {
		return err
	}
	var old *syscall.Stat_t // the existing target's owner, nil for a new file
	switch fi, err := os.Stat(target); {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return &fs.PathError{Op: "write", Path: target, Err: &NotRegularError{Mode: fi.Mode()}}
		}
		if keepPerm {
			perm = fi.Mode().Perm()
		}
		old, _ = fi.Sys().(*syscall.Stat_t)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && old != nil {
		if err = chown(f, old); err != nil {
			err = &fs.PathError{Op: "keep the owner of", Path: target, Err: err}
		}
	}
	if err == nil {
		err = f.Chmod(perm.Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// chown gives the temporary file f the owner and group of the file it
// replaces, when they differ (rule 4 of the package documentation).
func chown(f *os.File, old *syscall.Stat_t) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	cur, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || cur.Uid == old.Uid && cur.Gid == old.Gid {
		return nil
	}
	err = f.Chown(int(old.Uid), int(old.Gid))
	if err == nil || os.Geteuid() == 0 || !errors.Is(err, syscall.EPERM) {
		return err
	}
	// Not root: the file becomes the writer's, in the old group if the
	// writer may use it.
	if cur.Gid != old.Gid {
		if err := f.Chown(-1, int(old.Gid)); err != nil && !errors.Is(err, syscall.EPERM) {
			return err
		}
	}
	return nil
}

// syncDir makes a rename in dir durable. A file system that cannot sync a
// directory (EINVAL, ENOTSUP) is not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
