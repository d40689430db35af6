package ksrc

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// This file builds test archives in code (never opaque blobs) and checks
// what an unpack left behind.

// ent is one archive entry.
type ent struct {
	name string
	typ  byte
	body string
	link string
}

func reg(name, body string) ent   { return ent{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) ent         { return ent{name: name, typ: tar.TypeDir} }
func sym(name, target string) ent { return ent{name: name, typ: tar.TypeSymlink, link: target} }
func hard(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, link: target}
}

// kernel returns the entries of a minimal kernel tree below top.
func kernel(top string) []ent {
	return []ent{
		dir(top + "/"),
		reg(top+"/Makefile", "VERSION = 7\n"),
		reg(top+"/Kconfig", "mainmenu \"Linux\"\n"),
	}
}

func join(parts ...[]ent) []ent {
	var all []ent
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// tarBytes writes a complete tar archive (with its end-of-archive marker).
func tarBytes(tb testing.TB, ents []ent) []byte {
	tb.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		writeEnt(tb, tw, e)
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func writeEnt(tb testing.TB, tw *tar.Writer, e ent) {
	tb.Helper()
	h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}
	switch e.typ {
	case tar.TypeReg:
		h.Size = int64(len(e.body))
	case tar.TypeDir:
		h.Mode = 0o755
	}
	if err := tw.WriteHeader(h); err != nil {
		tb.Fatal(err)
	}
	if e.typ == tar.TypeReg {
		if _, err := tw.Write([]byte(e.body)); err != nil {
			tb.Fatal(err)
		}
	}
}

func gzBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func xzBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw, err := xz.NewWriter(&out)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// paxRecord formats one PAX extended header record.
func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3
	for {
		s := fmt.Sprintf("%d %s=%s\n", n, k, v)
		if len(s) == n {
			return s
		}
		n = len(s)
	}
}

// rawHeader builds a tar header block by hand, for what archive/tar's
// writer refuses to write (sparse files). gnu selects the old GNU magic.
func rawHeader(name string, typ byte, size int64, gnu bool) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], fmt.Sprintf("%011o\x00", 1700000000))
	b[156] = typ
	if gnu {
		copy(b[257:265], "ustar  \x00")
	} else {
		copy(b[257:265], "ustar\x0000")
	}
	return b
}

// setChecksum fills in a header block's checksum.
func setChecksum(b []byte) {
	copy(b[148:156], "        ")
	var sum int
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// pad512 pads b with zeros to a multiple of 512 bytes.
func pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// endMarker is the two zero blocks that end a tar archive.
var endMarker = make([]byte, 1024)

// victims are a directory and a file outside the cache that an attack
// would change.
type victims struct {
	dir, file string
}

const victimText = "precious\n"

func newVictims(t *testing.T, base string) victims {
	t.Helper()
	v := victims{dir: filepath.Join(base, "victim-dir"), file: filepath.Join(base, "victim-file")}
	if err := os.Mkdir(v.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, "keep"), []byte(victimText), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v.file, []byte(victimText), 0o644); err != nil {
		t.Fatal(err)
	}
	return v
}

// check fails the test if anything in or of the victims changed: the
// directory holds only "keep", both files hold victimText and have one link.
func (v victims) check(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir(v.dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != "keep" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("victim directory now holds %v (%v), want only keep", names, err)
	}
	for _, f := range []string{filepath.Join(v.dir, "keep"), v.file} {
		fi, err := os.Lstat(f)
		if err != nil {
			t.Errorf("victim %s: %v", f, err)
			continue
		}
		if !fi.Mode().IsRegular() {
			t.Errorf("victim %s is now %v", f, fi.Mode())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
			t.Errorf("victim %s has %d links, want 1", f, st.Nlink)
		}
		if b, err := os.ReadFile(f); err != nil || string(b) != victimText {
			t.Errorf("victim %s holds %q (%v)", f, b, err)
		}
	}
}

// attack is one test setup: a temporary directory holding victims, a cache
// and the tarballs written there.
type attack struct {
	base, cache string
	v           victims
}

func newAttack(t *testing.T) *attack {
	base := t.TempDir()
	return &attack{base: base, cache: filepath.Join(base, "cache"), v: newVictims(t, base)}
}

// write writes a tarball named name holding data and returns its path.
func (a *attack) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(a.base, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// relVictim returns a relative path from the unpack directory's subdirectory
// sub (cache/src/.unpack-X/sub) to the victim p.
func (a *attack) relVictim(t *testing.T, sub, p string) string {
	t.Helper()
	from := filepath.Join(a.cache, "src", ".unpack-x", sub)
	r, err := filepath.Rel(from, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// refused checks that err refuses tarball tb with an error of the type
// target points to, whose message holds want; that nothing was cached or
// left behind; and that the victims are unchanged.
func (a *attack) refused(t *testing.T, err error, tb string, target any, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Unpack(%s) succeeded, want it refused", filepath.Base(tb))
	}
	if !strings.Contains(err.Error(), tb) || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "ksrc: ") {
		t.Errorf("error %q: want it prefixed ksrc:, naming %s and saying %q", err, tb, want)
	}
	if target != nil && !errors.As(err, target) {
		t.Errorf("error %q (%T) is not a %T", err, err, target)
	}
	a.nothingCached(t)
	a.v.check(t)
}

// nothingCached fails if cache/src holds a tree or a temporary directory.
func (a *attack) nothingCached(t *testing.T) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(a.cache, "src"))
	for _, e := range ents {
		if e.Name() == "sums" || strings.HasSuffix(e.Name(), ".lock") && !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		t.Errorf("cache holds %s after a refused unpack", e.Name())
	}
}

func newTarWriter(w io.Writer) *tar.Writer { return tar.NewWriter(w) }

// hugeHeader is the header of a regular file of the given size.
func hugeHeader(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}
}
