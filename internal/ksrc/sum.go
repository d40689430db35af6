package ksrc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"
)

// racyWindow is how long after its last change (ctime) a file's hash is not
// remembered: a change within the same timestamp tick would not change the
// memo key. It covers coarse (1 s) file system timestamps.
const racyWindow = 2 * time.Second

// FileSHA256 returns the hex SHA-256 of a file. When cacheDir is not empty
// the result is remembered in cacheDir/src/sums, so a large tarball is
// hashed once. The memo is keyed by the file's absolute path, device, inode,
// size, modification time and inode change time: rewriting the file in place
// or replacing it changes the inode change time (or the inode), which,
// unlike the modification time, a user cannot set back. A file changed in
// the last two seconds is hashed but not remembered.
func FileSHA256(path, cacheDir string) (string, error) {
	sum, _, err := fileSHA256(path, cacheDir, time.Now())
	return sum, err
}

// fileID is what the hash memo is keyed by.
type fileID struct {
	abs               string
	dev, ino          uint64
	size, mtime, ctim int64
}

func statID(abs string, fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{
		abs:   abs,
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  fi.Size(),
		mtime: fi.ModTime().UnixNano(),
		ctim:  time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)).UnixNano(),
	}, true
}

func (id fileID) key() string {
	k := sha256.Sum256(fmt.Appendf(nil, "ksrc-sum-v2\x00%s\x00%d\x00%d\x00%d\x00%d\x00%d", id.abs, id.dev, id.ino, id.size, id.mtime, id.ctim))
	return hex.EncodeToString(k[:16])
}

// fileSHA256 is FileSHA256 at time now; it also returns the memo's path ("" if
// none), which the caller removes when the file turns out to have changed.
func fileSHA256(path, cacheDir string, now time.Time) (sum, memo string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("ksrc: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "", fmt.Errorf("ksrc: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("ksrc: %s is not a regular file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("ksrc: %w", err)
	}
	id, ok := statID(abs, fi)
	if cacheDir != "" && ok {
		memo = filepath.Join(cacheDir, "src", "sums", id.key())
		if b, err := os.ReadFile(memo); err == nil && isHexSum(b) {
			return string(b), memo, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", fmt.Errorf("ksrc: reading %s: %w", path, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if fi, err := f.Stat(); err != nil {
		return "", "", fmt.Errorf("ksrc: %w", err)
	} else if after, _ := statID(abs, fi); after != id {
		return "", "", fmt.Errorf("ksrc: %s changed while it was hashed", path)
	}
	if memo != "" && now.Sub(time.Unix(0, id.ctim)) >= racyWindow {
		writeMemo(memo, sum)
	}
	return sum, memo, nil
}

func isHexSum(b []byte) bool {
	if len(b) != 64 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writeMemo writes sum to memo atomically (internal/atomicfile); it is
// best effort: a memo that cannot be written only costs a re-hash.
func writeMemo(memo, sum string) {
	if err := os.MkdirAll(filepath.Dir(memo), 0o755); err != nil {
		return
	}
	_ = atomicfile.WriteFile(memo, []byte(sum), 0o644)
}
