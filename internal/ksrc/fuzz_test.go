package ksrc

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpack feeds bytes to the unpacker as a .tar, a .tar.gz or a .tar.xz
// (kind 0, 1, 2 modulo 3) and checks that it does not panic, that nothing outside the
// destination changes, and that a tree it accepts has no link leading out.
func FuzzUnpack(f *testing.F) {
	k := kernel("linux")
	seeds := [][]byte{
		tarBytes(f, k),
		tarBytes(f, join(k, []ent{
			sym("linux/in", "Makefile"), sym("linux/dir", "."), hard("linux/h", "linux/Kconfig"),
			reg("linux/in", "over"), dir("linux/d/"), reg("linux/d/f", "x"),
		})),
		tarBytes(f, join(k, []ent{sym("linux/evil", "/tmp"), reg("linux/evil/file", "x")})),
		tarBytes(f, join(k, []ent{sym("linux/evil", "../../.."), reg("linux/evil/file", "x")})),
		tarBytes(f, join(k, []ent{sym("a", "."), sym("linux/b", "../a/.."), reg("linux/b/x", "x")})),
		tarBytes(f, join(k, []ent{hard("linux/p", "../../etc/passwd"), reg("linux/p", "x")})),
		tarBytes(f, join(k, []ent{reg("../evil", "x"), reg("/abs", "x")})),
		append(tarBytes(f, k)[:1024], pax1Sparse()...),
		append(tarBytes(f, k)[:1024], gnuSparse()...),
		tarBytes(f, k)[:1536],
		nil,
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
		f.Add(gzBytes(f, s), uint8(1))
	}
	good := xzBytes(f, seeds[1])
	f.Add(good, uint8(2))
	f.Add(good[:len(good)-24], uint8(2)) // no index, no footer
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		base := t.TempDir()
		dst := filepath.Join(base, "tree")
		outside := filepath.Join(base, "outside")
		for _, d := range []string{dst, outside} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		victim := filepath.Join(outside, "victim")
		if err := os.WriteFile(victim, []byte(victimText), 0o644); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		err = extractStream(context.Background(), []string{"", "gz", "xz"}[kind%3], bufio.NewReader(bytes.NewReader(data)), root, UnpackOptions{MaxBytes: 1 << 20, MaxEntries: 1000})

		// Nothing outside dst changed.
		if ents, _ := os.ReadDir(base); len(ents) != 2 {
			t.Errorf("%d entries beside the destination, want 2", len(ents))
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 1 {
			t.Errorf("%d entries in the victim directory, want 1", len(ents))
		}
		if b, rerr := os.ReadFile(victim); rerr != nil || string(b) != victimText {
			t.Errorf("victim holds %q, %v", b, rerr)
		}
		if err != nil {
			return
		}
		// An accepted tree has no link that leads out of it.
		real, rerr := filepath.EvalSymlinks(dst)
		if rerr != nil {
			t.Fatal(rerr)
		}
		filepath.WalkDir(dst, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if r, err := filepath.EvalSymlinks(p); err == nil && r != real && !strings.HasPrefix(r, real+string(filepath.Separator)) {
				t.Errorf("accepted link %s resolves to %s, outside the tree", p, r)
			}
			return nil
		})
	})
}
