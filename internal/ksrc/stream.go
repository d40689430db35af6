package ksrc

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"

	"github.com/ulikunitz/xz"
)

// maxPadding bounds the zero padding accepted after the end-of-archive
// marker (tar pads to its record size, 10 KiB by default).
const maxPadding = 1 << 20

// extractFile unpacks tarball into the directory dst and returns the SHA-256
// of every byte it read from the file, which is all of it.
func extractFile(ctx context.Context, tarball, dst string, opts UnpackOptions) (string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return "", err
	}
	defer f.Close()
	root, err := os.OpenRoot(dst)
	if err != nil {
		return "", err
	}
	defer root.Close()
	h := sha256.New()
	raw := bufio.NewReaderSize(io.TeeReader(f, h), 1<<20)
	if err := extractStream(ctx, compression(tarball), raw, root, opts); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// compression returns "xz", "gz" or "" (plain tar), judged by the name.
func compression(name string) string {
	switch {
	case strings.HasSuffix(name, ".xz") || strings.HasSuffix(name, ".txz"):
		return "xz"
	case strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".tgz"):
		return "gz"
	}
	return ""
}

// extractStream decompresses raw (kind as returned by compression), unpacks
// the tar stream into root and reads raw to its end, so that the
// decompressor checks what follows the tar stream and its own checksums.
func extractStream(ctx context.Context, kind string, raw *bufio.Reader, root *os.Root, opts UnpackOptions) error {
	var r io.Reader = raw
	var tail *tailReader
	switch kind {
	case "xz":
		tail = &tailReader{r: raw}
		xr, err := xz.NewReader(bufio.NewReaderSize(tail, 64<<10))
		if err != nil {
			return &CorruptError{Err: err}
		}
		r = xr
	case "gz":
		gr, err := gzip.NewReader(raw)
		if err != nil {
			return &CorruptError{Err: err}
		}
		defer gr.Close()
		r = gr
	}
	if err := extractTar(ctx, r, root, opts); err != nil {
		return err
	}
	// The decompressor has returned io.EOF: it has read its stream (and
	// any further ones) to the end. Nothing may follow.
	n, err := io.Copy(io.Discard, raw)
	if err != nil {
		return err
	}
	if n > 0 {
		return &CorruptError{Err: fmt.Errorf("%d bytes after the end of the compressed stream", n)}
	}
	if tail != nil {
		if err := checkXZTail(tail.buf); err != nil {
			return &CorruptError{Err: err}
		}
	}
	return nil
}

// tailKeep is how many of the last bytes of an xz file tailReader keeps:
// enough for the index of a stream of over 5,000 blocks.
const tailKeep = 64 << 10

// tailReader keeps the last tailKeep bytes (at least) read through it.
type tailReader struct {
	r   io.Reader
	buf []byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if len(t.buf) > 2*tailKeep {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailKeep:]...)
	}
	return n, err
}

// checkXZTail checks that an xz file, whose last bytes b are, ends with a
// stream footer and the index it points to, both intact. github.com/
// ulikunitz/xz takes the end of the file where the next block header or the
// index should be for the end of the stream, so that a file cut after its
// last block, or whose index is damaged, would decode without an error.
func checkXZTail(b []byte) error {
	// Stream padding: groups of four zero bytes.
	for len(b) >= 4 && string(b[len(b)-4:]) == "\x00\x00\x00\x00" {
		b = b[:len(b)-4]
	}
	if len(b) < 12 || string(b[len(b)-2:]) != "YZ" {
		return errors.New("xz: no stream footer at the end (truncated)")
	}
	footer := b[len(b)-12:]
	if crc32.ChecksumIEEE(footer[4:10]) != binary.LittleEndian.Uint32(footer[:4]) {
		return errors.New("xz: stream footer checksum error")
	}
	size := (int64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
	if size > int64(len(b)-12) {
		return fmt.Errorf("xz: index of %d bytes not found before the stream footer (truncated, or too large to check)", size)
	}
	index := b[int64(len(b)-12)-size : len(b)-12]
	if index[0] != 0 || crc32.ChecksumIEEE(index[:len(index)-4]) != binary.LittleEndian.Uint32(index[len(index)-4:]) {
		return errors.New("xz: index damaged")
	}
	return nil
}

// tarStream sits between the decompressor and archive/tar. It checks the
// context on every read and remembers enough to tell the end-of-archive
// marker from a stream that merely stops at an entry boundary, which
// archive/tar reports the same way (io.EOF).
type tarStream struct {
	ctx context.Context
	r   io.Reader
	// zeros is the number of zero bytes at the end of what was read.
	zeros int64
	// emptyEOF is whether the last read returned io.EOF and no data.
	emptyEOF bool
}

func (s *tarStream) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.r.Read(p)
	if n > 0 {
		s.emptyEOF = false
		i := n
		for i > 0 && p[i-1] == 0 {
			i--
		}
		if i == 0 {
			s.zeros += int64(n)
		} else {
			s.zeros = int64(n - i)
		}
	} else if err == io.EOF {
		s.emptyEOF = true
	}
	return n, err
}

// sawEndMarker reports whether archive/tar's io.EOF came from the two zero
// blocks that end an archive. archive/tar reads them with io.ReadFull, so
// its last read returned data; on a stream cut at an entry boundary (or
// after one zero block) its last read returned io.EOF and nothing.
func (s *tarStream) sawEndMarker() bool {
	return !s.emptyEOF && s.zeros >= 2*512
}

// drainPadding reads the rest of the stream, which must be zero padding.
func (s *tarStream) drainPadding() error {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := s.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return &CorruptError{Err: errors.New("data after the end-of-archive marker")}
			}
		}
		if total += int64(n); total > maxPadding {
			return &CorruptError{Err: fmt.Errorf("more than %d bytes of padding after the end-of-archive marker", maxPadding)}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if cerr := s.ctx.Err(); cerr != nil {
				return cerr
			}
			return &CorruptError{Err: err}
		}
	}
}
