// Package fileid says whether a file is still the file it was: the one
// identity rflkit's caches key an executable's answers by (the doctor's
// probe cache, kbuild's --version memo, Kconfig's macro cache), and the one
// test for a rustup proxy, whose answers depend on rustup's settings
// rather than on the file and so are never cached.
package fileid

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Identity describes the regular file at p (links followed): its resolved
// absolute path, size, modification and change times, device, inode and
// mode. Replacing the file (a package upgrade), rewriting or touching it
// changes the identity; a change time cannot be set back by a user. ok is
// false when p cannot be read or is not a regular file.
func Identity(p string) (id string, ok bool) {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	res, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	if a, err := filepath.Abs(res); err == nil {
		res = a
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%q %d %d %d.%d %d %d %o", res, fi.Size(), fi.ModTime().UnixNano(),
		st.Ctim.Sec, st.Ctim.Nsec, st.Dev, st.Ino, fi.Mode()), true
}

// IsRustupProxy reports whether the executable p is one of rustup's
// proxies: the rustup binary under another name (as in ~/.cargo/bin), or a
// link resolving to rustup or rustup-init.
func IsRustupProxy(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	if r, err := os.Stat(filepath.Join(filepath.Dir(p), "rustup")); err == nil && os.SameFile(r, fi) {
		return true
	}
	res, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	switch filepath.Base(res) {
	case "rustup", "rustup-init":
		return true
	}
	return false
}
