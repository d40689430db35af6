package initramfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of an archive entry.
type Kind int

// Entry kinds.
const (
	File Kind = iota
	Dir
	Symlink
	CharDevice
	BlockDevice
)

// String names the kind ("file", "dir", ...).
func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case CharDevice:
		return "char device"
	case BlockDevice:
		return "block device"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Entry is one member of an archive.
type Entry struct {
	Path         string      // clean, relative, no leading slash ("bin/sh")
	Kind         Kind        //
	Perm         fs.FileMode // permission bits (and setuid/setgid/sticky)
	Data         []byte      // File contents when Source is empty
	Source       string      // File: host file whose contents are used
	Target       string      // Symlink target
	Major, Minor uint32      // devices
}

// Archive is an initramfs under construction: a set of entries keyed by
// path. Parent directories are added implicitly (mode 0755). Writing it
// produces the same bytes for the same entries: members are sorted by
// path, and mtimes, owners and inode numbers are fixed.
// The zero value is an empty archive.
type Archive struct {
	entries map[string]*Entry
}

// cleanPath normalises p to the archive's relative form.
func cleanPath(p string) (string, error) {
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" || c == "." {
		return "", fmt.Errorf("initramfs: bad path %q", p)
	}
	return c, nil
}

// Add adds (or replaces) an entry. A directory added where one exists
// keeps the existing entry's contents. Adding anything below a non-directory is an error.
func (a *Archive) Add(e Entry) error {
	p, err := cleanPath(e.Path)
	if err != nil {
		return err
	}
	e.Path = p
	switch e.Kind {
	case File:
		if e.Source != "" && e.Data != nil {
			return fmt.Errorf("initramfs: %s: both Data and Source set", p)
		}
	case Symlink:
		if e.Target == "" {
			return fmt.Errorf("initramfs: %s: symlink without target", p)
		}
	case Dir, CharDevice, BlockDevice:
	default:
		return fmt.Errorf("initramfs: %s: unknown kind %d", p, e.Kind)
	}
	if a.entries == nil {
		a.entries = map[string]*Entry{}
	}
	// Parents.
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if old, ok := a.entries[d]; ok {
			if old.Kind != Dir {
				return fmt.Errorf("initramfs: %s: parent %s is a %v", p, d, old.Kind)
			}
			continue
		}
		a.entries[d] = &Entry{Path: d, Kind: Dir, Perm: 0o755}
	}
	if old, ok := a.entries[p]; ok && old.Kind == Dir && e.Kind != Dir {
		for q := range a.entries {
			if strings.HasPrefix(q, p+"/") {
				return fmt.Errorf("initramfs: %s: replacing a non-empty directory with a %v", p, e.Kind)
			}
		}
	}
	a.entries[p] = &e
	return nil
}

// AddFile adds a regular file with the given contents.
func (a *Archive) AddFile(p string, data []byte, perm fs.FileMode) error {
	if data == nil {
		data = []byte{}
	}
	return a.Add(Entry{Path: p, Kind: File, Data: data, Perm: perm})
}

// AddHostFile adds a regular file whose contents are read from src when
// the archive is written (following symlinks).
func (a *Archive) AddHostFile(p, src string, perm fs.FileMode) error {
	return a.Add(Entry{Path: p, Kind: File, Source: src, Perm: perm})
}

// AddDir adds a directory.
func (a *Archive) AddDir(p string, perm fs.FileMode) error {
	return a.Add(Entry{Path: p, Kind: Dir, Perm: perm})
}

// AddSymlink adds a symbolic link to target.
func (a *Archive) AddSymlink(p, target string) error {
	return a.Add(Entry{Path: p, Kind: Symlink, Target: target, Perm: 0o777})
}

// AddDevice adds a character or block device node.
func (a *Archive) AddDevice(p string, kind Kind, perm fs.FileMode, major, minor uint32) error {
	if kind != CharDevice && kind != BlockDevice {
		return fmt.Errorf("initramfs: %s: %v is not a device kind", p, kind)
	}
	return a.Add(Entry{Path: p, Kind: kind, Perm: perm, Major: major, Minor: minor})
}

// Lookup returns the entry at p.
func (a *Archive) Lookup(p string) (Entry, bool) {
	c, err := cleanPath(p)
	if err != nil || a.entries == nil {
		return Entry{}, false
	}
	e, ok := a.entries[c]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Entries returns the entries sorted by path (parents before children).
func (a *Archive) Entries() []Entry {
	out := make([]Entry, 0, len(a.entries))
	for _, e := range a.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// cpio newc mode bits.
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
	modeBlock   = 0o060000
	modeTypeMsk = 0o170000
)

func permBits(m fs.FileMode) uint32 {
	// Both Go's mode bits and raw octal (0o4755) are accepted.
	b := uint32(m.Perm()) | uint32(m)&0o7000
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// WriteTo writes the archive in cpio "newc" format, uncompressed, ending
// with the TRAILER!!! member. Inode numbers count from 1 in path order;
// mtime, uid and gid are 0.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	ino := uint32(0)
	for _, e := range a.Entries() {
		ino++
		var mode uint32
		var data []byte
		switch e.Kind {
		case File:
			mode = modeFile
			if e.Source != "" {
				b, err := os.ReadFile(e.Source)
				if err != nil {
					return cw.n, fmt.Errorf("initramfs: %s: %w", e.Path, err)
				}
				data = b
			} else {
				data = e.Data
			}
		case Dir:
			mode = modeDir
		case Symlink:
			mode = modeSymlink
			data = []byte(e.Target)
		case CharDevice:
			mode = modeChar
		case BlockDevice:
			mode = modeBlock
		}
		nlink := uint32(1)
		if e.Kind == Dir {
			nlink = 2
		}
		if err := writeHeader(cw, header{
			ino: ino, mode: mode | permBits(e.Perm), nlink: nlink, size: uint32(len(data)),
			rdevMajor: e.Major, rdevMinor: e.Minor, name: e.Path,
		}); err != nil {
			return cw.n, err
		}
		if uint64(len(data)) > 0xffffffff {
			return cw.n, fmt.Errorf("initramfs: %s: %d bytes is too large for cpio", e.Path, len(data))
		}
		cw.Write(data)
		cw.pad()
	}
	if err := writeHeader(cw, header{name: "TRAILER!!!", nlink: 1}); err != nil {
		return cw.n, err
	}
	if cw.err != nil {
		return cw.n, fmt.Errorf("initramfs: write: %w", cw.err)
	}
	if err := cw.w.(*bufio.Writer).Flush(); err != nil {
		return cw.n, fmt.Errorf("initramfs: write: %w", err)
	}
	return cw.n, nil
}

type header struct {
	ino, mode, nlink, size uint32
	rdevMajor, rdevMinor   uint32
	name                   string
}

func writeHeader(cw *countWriter, h header) error {
	fmt.Fprintf(cw, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		h.ino, h.mode, 0, 0, h.nlink, 0, h.size, 0, 0, h.rdevMajor, h.rdevMinor, len(h.name)+1, 0)
	cw.Write([]byte(h.name))
	cw.Write([]byte{0})
	cw.pad()
	return cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.Write(make([]byte, 4-r))
	}
}

// ReadArchive parses a cpio newc archive (uncompressed), as the kernel's
// initramfs unpacker does, and returns its members in order. File data is
// returned in Entry.Data. It stops at TRAILER!!!.
func ReadArchive(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	var off int64
	read := func(n int) ([]byte, error) {
		// Grow as the data arrives: a corrupt size must not allocate
		// gigabytes up front.
		var b bytes.Buffer
		m, err := io.CopyN(&b, br, int64(n))
		off += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return b.Bytes(), nil
	}
	skipPad := func() error {
		if p := off % 4; p != 0 {
			_, err := read(int(4 - p))
			return err
		}
		return nil
	}
	var out []Entry
	for {
		start := off
		hdr, err := read(110)
		if err != nil {
			return out, fmt.Errorf("initramfs: header at offset %d: %w", start, err)
		}
		if string(hdr[:6]) != "070701" && string(hdr[:6]) != "070702" {
			return out, fmt.Errorf("initramfs: bad magic %q at offset %d", hdr[:6], start)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return out, fmt.Errorf("initramfs: header field %d at offset %d: %w", i, start, err)
			}
			f[i] = uint32(v)
		}
		mode, size, rmaj, rmin, namesize := f[1], f[6], f[9], f[10], f[11]
		if namesize == 0 || namesize > 4096 {
			return out, fmt.Errorf("initramfs: name size %d at offset %d", namesize, start)
		}
		nb, err := read(int(namesize))
		if err != nil {
			return out, fmt.Errorf("initramfs: name at offset %d: %w", start, err)
		}
		name := strings.TrimRight(string(nb), "\x00")
		if err := skipPad(); err != nil {
			return out, fmt.Errorf("initramfs: %s: %w", name, err)
		}
		if name == "TRAILER!!!" {
			return out, nil
		}
		if size > 1<<31 {
			return out, fmt.Errorf("initramfs: %s: size %d too large", name, size)
		}
		data, err := read(int(size))
		if err != nil {
			return out, fmt.Errorf("initramfs: %s data: %w", name, err)
		}
		if err := skipPad(); err != nil {
			return out, fmt.Errorf("initramfs: %s: %w", name, err)
		}
		e := Entry{Path: name, Perm: fs.FileMode(mode & 0o777), Major: rmaj, Minor: rmin}
		if mode&0o4000 != 0 {
			e.Perm |= fs.ModeSetuid
		}
		if mode&0o2000 != 0 {
			e.Perm |= fs.ModeSetgid
		}
		if mode&0o1000 != 0 {
			e.Perm |= fs.ModeSticky
		}
		switch mode & modeTypeMsk {
		case modeFile:
			e.Kind, e.Data = File, data
		case modeDir:
			e.Kind = Dir
		case modeSymlink:
			e.Kind, e.Target = Symlink, string(data)
		case modeChar:
			e.Kind = CharDevice
		case modeBlock:
			e.Kind = BlockDevice
		default:
			return out, fmt.Errorf("initramfs: %s: unsupported mode %#o", name, mode)
		}
		out = append(out, e)
	}
}
