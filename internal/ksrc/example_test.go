package ksrc_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rflkit/rflkit/internal/ksrc"
)

func Example() {
	dir, err := os.MkdirTemp("", "ksrc-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// A tiny "kernel" tarball.
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, body := range map[string]string{"linux-7.2/Makefile": "VERSION = 7\n", "linux-7.2/Kconfig": ""} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	tarball := filepath.Join(dir, "linux-7.2.tar")
	if err := os.WriteFile(tarball, b.Bytes(), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	tree, err := ksrc.Unpack(context.Background(), tarball, filepath.Join(dir, "cache"))
	if err != nil {
		fmt.Println(err)
		return
	}
	mk, _ := os.ReadFile(filepath.Join(tree.Dir, "Makefile"))
	fmt.Printf("%s: %s", filepath.Base(tree.Dir), mk)

	// A tarball whose link leads out of the tree is refused.
	b.Reset()
	tw = tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "linux/evil", Typeflag: tar.TypeSymlink, Linkname: "/etc"})
	tw.Close()
	evil := filepath.Join(dir, "evil.tar")
	os.WriteFile(evil, b.Bytes(), 0o644)
	_, err = ksrc.Unpack(context.Background(), evil, filepath.Join(dir, "cache"))
	var ee *ksrc.EntryError
	if errors.As(err, &ee) {
		fmt.Println(ee)
	}
	// Output:
	// linux-7.2: VERSION = 7
	// entry "linux/evil" refused: symbolic link target "/etc" is absolute
}
