package ksrc

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tests in this file each replay one attack of issue 10 ("a kernel
// tarball can write outside the cache") with an archive built in code.

func TestUnpackSymlinkDirThenFile(t *testing.T) {
	a := newAttack(t)
	tb := a.write(t, "linux.tar.gz", gzBytes(t, tarBytes(t, join(kernel("linux"), []ent{
		sym("linux/evil", a.v.dir),
		reg("linux/evil/file", "pwned"),
	}))))
	_, err := Unpack(context.Background(), tb, a.cache)
	var ee *EntryError
	a.refused(t, err, tb, &ee, `entry "linux/evil" refused: symbolic link target "`+a.v.dir+`" is absolute`)
}

func TestUnpackRelativeSymlinkEscape(t *testing.T) {
	a := newAttack(t)
	rel := a.relVictim(t, "linux", a.v.dir)
	for name, target := range map[string]string{"victim": rel, "up": "../../../.."} {
		t.Run(name, func(t *testing.T) {
			tb := a.write(t, name+".tar.gz", gzBytes(t, tarBytes(t, join(kernel("linux"), []ent{
				sym("linux/evil", target),
				reg("linux/evil/file", "pwned"),
			}))))
			_, err := Unpack(context.Background(), tb, a.cache)
			var ee *EntryError
			a.refused(t, err, tb, &ee, `symbolic link target "`+target+`" leaves the tree`)
		})
	}
}

// A link that is lexically inside the tree but goes through another link
// ("a -> ." makes "a/.." one level up, not zero) is found once the archive
// is in, and nothing is ever written through a link on the way.
func TestUnpackChainedSymlinkEscape(t *testing.T) {
	a := newAttack(t)
	t.Run("resolves outside", func(t *testing.T) {
		tb := a.write(t, "chain.tar", tarBytes(t, join(kernel("linux"), []ent{
			sym("a", "."),
			sym("linux/b", "../a/.."),
		})))
		_, err := Unpack(context.Background(), tb, a.cache)
		var ee *EntryError
		a.refused(t, err, tb, &ee, `entry "linux/b" refused: symbolic link resolves outside the tree`)
	})
	t.Run("write through it", func(t *testing.T) {
		tb := a.write(t, "chain-write.tar", tarBytes(t, join(kernel("linux"), []ent{
			sym("a", "."),
			sym("linux/b", "../a/.."),
			reg("linux/b/victim-dir/file", "pwned"),
		})))
		_, err := Unpack(context.Background(), tb, a.cache)
		var ee *EntryError
		a.refused(t, err, tb, &ee, `entry "linux/b/victim-dir/file" refused: its parent linux/b is a symbolic link`)
	})
}

func TestUnpackSymlinkThenRegular(t *testing.T) {
	a := newAttack(t)
	for name, target := range map[string]string{"absolute": a.v.file, "relative": a.relVictim(t, "linux", a.v.file)} {
		t.Run(name, func(t *testing.T) {
			tb := a.write(t, name+".tar.xz", xzBytes(t, tarBytes(t, join(kernel("linux"), []ent{
				sym("linux/x", target),
				reg("linux/x", "pwned"),
			}))))
			_, err := Unpack(context.Background(), tb, a.cache)
			var ee *EntryError
			a.refused(t, err, tb, &ee, `entry "linux/x" refused: symbolic link target "`+target+`"`)
		})
	}
}

// A regular entry over a link inside the tree replaces the link; the file
// the link named is unchanged.
func TestUnpackRegularReplacesLink(t *testing.T) {
	a := newAttack(t)
	tb := a.write(t, "replace.tar", tarBytes(t, join(kernel("linux"), []ent{
		sym("linux/x", "Makefile"),
		reg("linux/x", "new\n"),
		reg("linux/orig", "orig\n"),
		hard("linux/h", "linux/orig"),
		reg("linux/h", "new\n"),
	})))
	tree, err := Unpack(context.Background(), tb, a.cache)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"x": "new\n", "Makefile": "VERSION = 7\n", "orig": "orig\n", "h": "new\n"} {
		p := filepath.Join(tree.Dir, f)
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v, %v; want a regular file", f, fi, err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s holds %q (%v), want %q", f, b, err, want)
		}
	}
	a.v.check(t)
}

func TestUnpackHardlinkEscape(t *testing.T) {
	a := newAttack(t)
	for name, target := range map[string]string{
		"relative": a.relVictim(t, "", a.v.file),
		"absolute": a.v.file,
		"passwd":   "../../../../etc/passwd",
	} {
		t.Run(name, func(t *testing.T) {
			tb := a.write(t, name+".tar.gz", gzBytes(t, tarBytes(t, join(kernel("linux"), []ent{
				hard("linux/passwd", target),
				reg("linux/passwd", "pwned"),
			}))))
			_, err := Unpack(context.Background(), tb, a.cache)
			var ee *EntryError
			a.refused(t, err, tb, &ee, `entry "linux/passwd" refused: hard link target "`+target+`" leaves the tree`)
		})
	}
	// A hard link to a link inside the tree could carry a relative target
	// to where it no longer resolves inside: refused.
	t.Run("to a symlink", func(t *testing.T) {
		tb := a.write(t, "tosym.tar", tarBytes(t, join(kernel("linux"), []ent{
			dir("linux/a/"), dir("linux/a/b/"),
			sym("linux/a/b/up", "../.."),
			hard("up", "linux/a/b/up"),
		})))
		_, err := Unpack(context.Background(), tb, a.cache)
		var ee *EntryError
		a.refused(t, err, tb, &ee, `entry "up" refused: hard link target "linux/a/b/up" is not a file unpacked before it`)
	})
}

func goodTar(t *testing.T) []byte {
	var files []ent
	for i := range 20 {
		files = append(files, reg("linux/drivers/f"+string(rune('a'+i))+".c", strings.Repeat("int x;\n", 100*i+1)))
	}
	return tarBytes(t, join(kernel("linux"), files))
}

// xzCheckOffset returns where the block check (CRC-64) of a one-block xz
// stream is: just before the index, whose size the stream footer gives.
func xzCheckOffset(t *testing.T, b []byte) int {
	footer := b[len(b)-12:]
	if string(footer[10:]) != "YZ" {
		t.Fatalf("no xz stream footer")
	}
	indexSize := (int(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
	return len(b) - 12 - indexSize - 8
}

func TestUnpackXZByteFlip(t *testing.T) {
	a := newAttack(t)
	good := xzBytes(t, goodTar(t))
	if _, err := Unpack(context.Background(), a.write(t, "good.tar.xz", good), t.TempDir()); err != nil {
		t.Fatalf("good archive: %v", err)
	}
	// The check: the tar stream decodes in full, only xz's CRC-64 fails.
	t.Run("check", func(t *testing.T) {
		bad := bytes.Clone(good)
		bad[xzCheckOffset(t, bad)] ^= 0xff
		tb := a.write(t, "check.tar.xz", bad)
		_, err := Unpack(context.Background(), tb, a.cache)
		var ce *CorruptError
		a.refused(t, err, tb, &ce, "damaged archive: xz: checksum error")
	})
	// Every byte of a small archive. The one exception: the packed size of
	// an LZMA2 chunk is only an upper bound to github.com/ulikunitz/xz, so
	// making it larger changes no output byte and is not noticed (the
	// output is still checked against the block's CRC-64).
	t.Run("every byte", func(t *testing.T) {
		small := xzBytes(t, smallTar(t))
		chunk := 12 + (int(small[12])+1)*4 // the first LZMA2 chunk header
		packedSize := map[int]bool{chunk + 3: true, chunk + 4: true}
		for i := range small {
			bad := bytes.Clone(small)
			bad[i] ^= 0xff
			tb := a.write(t, "flip.tar.xz", bad)
			if !packedSize[i] {
				if _, err := Unpack(context.Background(), tb, a.cache); err == nil {
					t.Errorf("byte %d of %d flipped: unpacked", i, len(small))
				}
				continue
			}
			if tree, err := Unpack(context.Background(), tb, t.TempDir()); err == nil {
				if b, err := os.ReadFile(filepath.Join(tree.Dir, "Makefile")); err != nil || string(b) != "VERSION = 7\n" {
					t.Errorf("byte %d (packed size) flipped: Makefile %q, %v", i, b, err)
				}
			}
		}
		a.nothingCached(t)
		a.v.check(t)
	})
}

// smallTar is a small good archive, for tests that try every byte.
func smallTar(t *testing.T) []byte {
	return tarBytes(t, join(kernel("linux"), []ent{reg("linux/a.c", strings.Repeat("int a;\n", 50))}))
}

func TestUnpackXZTruncated(t *testing.T) {
	a := newAttack(t)
	good := xzBytes(t, goodTar(t))
	tb := a.write(t, "cut.tar.xz", good[:len(good)-10])
	_, err := Unpack(context.Background(), tb, a.cache)
	var ce *CorruptError
	a.refused(t, err, tb, &ce, "damaged archive: ")
	small := xzBytes(t, smallTar(t))
	for n := range len(small) {
		tb := a.write(t, "cut.tar.xz", small[:n])
		if _, err := Unpack(context.Background(), tb, a.cache); err == nil {
			t.Errorf("cut to %d of %d bytes: unpacked", n, len(small))
		}
	}
	a.nothingCached(t)
}

func TestUnpackGzipBadCRC(t *testing.T) {
	a := newAttack(t)
	good := gzBytes(t, goodTar(t))
	// The trailer is CRC-32 then size, 4 bytes each.
	for name, off := range map[string]int{"crc": len(good) - 8, "size": len(good) - 1} {
		t.Run(name, func(t *testing.T) {
			bad := bytes.Clone(good)
			bad[off] ^= 0x01
			tb := a.write(t, name+".tar.gz", bad)
			_, err := Unpack(context.Background(), tb, a.cache)
			var ce *CorruptError
			a.refused(t, err, tb, &ce, "damaged archive: gzip: invalid checksum")
		})
	}
	t.Run("truncated", func(t *testing.T) {
		small := gzBytes(t, smallTar(t))
		for n := range len(small) {
			tb := a.write(t, "cut.tar.gz", small[:n])
			if _, err := Unpack(context.Background(), tb, a.cache); err == nil {
				t.Errorf("cut to %d of %d bytes: unpacked", n, len(small))
			}
		}
		a.nothingCached(t)
	})
	t.Run("trailing garbage", func(t *testing.T) {
		tb := a.write(t, "trail.tar.gz", append(bytes.Clone(good), strings.Repeat("garbage!", 8)...))
		_, err := Unpack(context.Background(), tb, a.cache)
		var ce *CorruptError
		a.refused(t, err, tb, &ce, "damaged archive: gzip: invalid header")
	})
}

func TestUnpackXZTrailingGarbage(t *testing.T) {
	a := newAttack(t)
	tb := a.write(t, "trail.tar.xz", append(xzBytes(t, goodTar(t)), strings.Repeat("garbage!", 8)...))
	_, err := Unpack(context.Background(), tb, a.cache)
	var ce *CorruptError
	a.refused(t, err, tb, &ce, "damaged archive: xz: ")
}

func TestUnpackTarCutAtEntryBoundary(t *testing.T) {
	a := newAttack(t)
	full := goodTar(t) // 23 entries: linux/, Makefile, Kconfig and 20 files
	// Where the archive of the first 5 entries ends, before its marker.
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	for _, e := range join(kernel("linux"), []ent{reg("linux/drivers/fa.c", "int x;\n"), reg("linux/drivers/fb.c", strings.Repeat("int x;\n", 101))}) {
		writeEnt(t, tw, e)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	cut := head.Len()
	if !bytes.Equal(full[:cut], head.Bytes()) {
		t.Fatal("the first 5 entries differ")
	}
	for name, data := range map[string][]byte{
		"boundary":       full[:cut],
		"one zero block": append(bytes.Clone(full[:cut]), make([]byte, 512)...),
	} {
		t.Run(name, func(t *testing.T) {
			tb := a.write(t, "cut.tar", data)
			_, err := Unpack(context.Background(), tb, a.cache)
			var ce *CorruptError
			a.refused(t, err, tb, &ce, "damaged archive: the tar stream stops after 5 entries without its end-of-archive marker")
		})
	}
	t.Run("data after the marker", func(t *testing.T) {
		tb := a.write(t, "trail.tar", append(bytes.Clone(full), "garbage"...))
		_, err := Unpack(context.Background(), tb, a.cache)
		var ce *CorruptError
		a.refused(t, err, tb, &ce, "damaged archive: data after the end-of-archive marker")
	})
	// Zero padding after the marker is normal (tar records are 10 KiB).
	t.Run("padding", func(t *testing.T) {
		tb := a.write(t, "padded.tar", append(bytes.Clone(full), make([]byte, 20<<10)...))
		if _, err := Unpack(context.Background(), tb, t.TempDir()); err != nil {
			t.Fatal(err)
		}
	})
	// A file ending in 1024 zero bytes just before the cut is no marker.
	t.Run("zeros before the cut", func(t *testing.T) {
		data := tarBytes(t, join(kernel("linux"), []ent{reg("linux/zeros", string(make([]byte, 4096)))}))
		tb := a.write(t, "zeros.tar", data[:len(data)-1024])
		_, err := Unpack(context.Background(), tb, a.cache)
		var ce *CorruptError
		a.refused(t, err, tb, &ce, "without its end-of-archive marker")
	})
}

// pax1Sparse returns a PAX (GNU sparse 1.0) archive whose one entry is a
// 2 GiB file holding one byte: what became a dense 2 GiB file in 4 s.
func pax1Sparse() []byte {
	recs := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", "linux/big") + paxRecord("GNU.sparse.realsize", "2147483648")
	x := rawHeader("linux/PaxHeaders/big", tar.TypeXHeader, int64(len(recs)), false)
	setChecksum(x)
	data := pad512([]byte("1\n0\n1\n"))
	data = append(data, 'x')
	h := rawHeader("linux/GNUSparseFile.0/big", tar.TypeReg, int64(len(data)), false)
	setChecksum(h)
	var b []byte
	b = append(b, x...)
	b = append(b, pad512([]byte(recs))...)
	b = append(b, h...)
	b = append(b, pad512(data)...)
	return append(b, endMarker...)
}

// gnuSparse returns an old GNU sparse ('S') entry of a 1 GiB file.
func gnuSparse() []byte {
	h := rawHeader("linux/big", tar.TypeGNUSparse, 0, true)
	copy(h[483:495], "10000000000\x00") // real size 1 GiB
	setChecksum(h)
	return append(h, endMarker...)
}

func TestUnpackSparse(t *testing.T) {
	a := newAttack(t)
	k := tarBytes(t, kernel("linux"))
	k = k[:len(k)-len(endMarker)]
	for name, sparse := range map[string][]byte{"pax": pax1Sparse(), "gnu": gnuSparse()} {
		t.Run(name, func(t *testing.T) {
			tb := a.write(t, name+".tar", append(bytes.Clone(k), sparse...))
			_, err := Unpack(context.Background(), tb, a.cache)
			var ee *EntryError
			a.refused(t, err, tb, &ee, `entry "linux/big" refused: sparse files are not supported`)
		})
	}
}

func TestUnpackSizeLimits(t *testing.T) {
	a := newAttack(t)
	t.Run("1 TiB header", func(t *testing.T) {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range kernel("linux") {
			writeEnt(t, tw, e)
		}
		// The header alone: the data would fill the disk.
		if err := tw.WriteHeader(&tar.Header{Name: "linux/huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}); err != nil {
			t.Fatal(err)
		}
		tb := a.write(t, "huge.tar.gz", gzBytes(t, b.Bytes()))
		_, err := Unpack(context.Background(), tb, a.cache)
		var le *LimitError
		a.refused(t, err, tb, &le, `entry "linux/huge" exceeds the limit of 8589934592 bytes (UnpackOptions.MaxBytes)`)
		if le != nil && (le.Limit != "MaxBytes" || le.Max != DefaultMaxBytes || le.Entry != "linux/huge") {
			t.Errorf("LimitError = %+v", le)
		}
	})
	t.Run("total bytes", func(t *testing.T) {
		tb := a.write(t, "total.tar", tarBytes(t, join(kernel("linux"), []ent{
			reg("linux/a", strings.Repeat("a", 600)), reg("linux/b", strings.Repeat("b", 600)),
		})))
		_, err := UnpackWith(context.Background(), tb, a.cache, UnpackOptions{MaxBytes: 1024})
		var le *LimitError
		a.refused(t, err, tb, &le, `entry "linux/b" exceeds the limit of 1024 bytes (UnpackOptions.MaxBytes)`)
	})
	t.Run("entries", func(t *testing.T) {
		tb := a.write(t, "entries.tar", tarBytes(t, join(kernel("linux"), []ent{reg("linux/a", ""), reg("linux/b", "")})))
		_, err := UnpackWith(context.Background(), tb, a.cache, UnpackOptions{MaxEntries: 4})
		var le *LimitError
		a.refused(t, err, tb, &le, `entry "linux/b" exceeds the limit of 4 entries (UnpackOptions.MaxEntries)`)
		if _, err := UnpackWith(context.Background(), tb, t.TempDir(), UnpackOptions{MaxEntries: 5}); err != nil {
			t.Errorf("5 entries with MaxEntries 5: %v", err)
		}
	})
	// Directories made for an entry whose parents are not listed count.
	t.Run("implicit directories", func(t *testing.T) {
		tb := a.write(t, "deep.tar", tarBytes(t, join(kernel("linux"), []ent{reg("linux/a/b/c/d/e/f", "")})))
		_, err := UnpackWith(context.Background(), tb, a.cache, UnpackOptions{MaxEntries: 6})
		var le *LimitError
		a.refused(t, err, tb, &le, `entry "linux/a/b/c/d/e/f" exceeds the limit of 6 entries`)
	})
	// os.Root walks names one component at a time: PATH_MAX is enforced here.
	t.Run("long name", func(t *testing.T) {
		long := "linux/" + strings.Repeat("a/", 2100) + "f"
		tb := a.write(t, "long.tar", tarBytes(t, join(kernel("linux"), []ent{reg(long, "")})))
		_, err := Unpack(context.Background(), tb, a.cache)
		var ee *EntryError
		a.refused(t, err, tb, &ee, "refused: name or link target longer than 4096 bytes")
	})
}

// A good archive with the links a kernel tree has (relative, within the
// tree, to directories and files, through other links, dangling) and a hard
// link unpacks as it is.
func TestUnpackGoodLinks(t *testing.T) {
	a := newAttack(t)
	tb := a.write(t, "linux-7.2.tar.xz", xzBytes(t, tarBytes(t, join(kernel("linux-7.2"), []ent{
		dir("linux-7.2/arch/"), dir("linux-7.2/arch/arm/"), dir("linux-7.2/arch/arm/boot/"), dir("linux-7.2/arch/arm/boot/dts/"),
		reg("linux-7.2/arch/arm/boot/dts/a.dts", "/dts-v1/;\n"),
		dir("linux-7.2/scripts/"), dir("linux-7.2/scripts/dtc/"), dir("linux-7.2/scripts/dtc/include-prefixes/"),
		sym("linux-7.2/scripts/dtc/include-prefixes/arm", "../../../arch/arm/boot/dts"),
		sym("linux-7.2/scripts/dtc/include-prefixes/dt-bindings", "../../../include/dt-bindings"), // made later
		sym("linux-7.2/arm-dts", "scripts/dtc/include-prefixes/arm/a.dts"),                        // through a link
		sym("linux-7.2/dangling", "no/such/file"),
		sym("linux-7.2/self", "."),
		dir("linux-7.2/include/"), dir("linux-7.2/include/dt-bindings/"),
		reg("linux-7.2/include/dt-bindings/gpio.h", "#define GPIO 1\n"),
		hard("linux-7.2/Kconfig.copy", "linux-7.2/Kconfig"),
		reg("linux-7.2/scripts/run.sh", "#!/bin/sh\n"),
	}))))
	tree, err := Unpack(context.Background(), tb, a.cache)
	if err != nil {
		t.Fatal(err)
	}
	for link, want := range map[string]string{
		"scripts/dtc/include-prefixes/arm":         "../../../arch/arm/boot/dts",
		"scripts/dtc/include-prefixes/dt-bindings": "../../../include/dt-bindings",
		"arm-dts":  "scripts/dtc/include-prefixes/arm/a.dts",
		"dangling": "no/such/file",
		"self":     ".",
	} {
		if got, err := os.Readlink(filepath.Join(tree.Dir, link)); err != nil || got != want {
			t.Errorf("link %s -> %q (%v), want %q", link, got, err, want)
		}
	}
	for f, want := range map[string]string{
		"arm-dts": "/dts-v1/;\n",
		"scripts/dtc/include-prefixes/dt-bindings/gpio.h": "#define GPIO 1\n",
		"self/Kconfig.copy": "mainmenu \"Linux\"\n",
	} {
		if b, err := os.ReadFile(filepath.Join(tree.Dir, f)); err != nil || string(b) != want {
			t.Errorf("%s holds %q (%v), want %q", f, b, err, want)
		}
	}
	a.v.check(t)
}
