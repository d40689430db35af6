package initramfs_test

import (
	"bytes"
	"fmt"

	"github.com/rflkit/rflkit/internal/initramfs"
)

func Example() {
	var a initramfs.Archive
	a.AddFile("init", []byte("#!/bin/sh\necho hello\n"), 0o755)
	a.AddSymlink("bin/sh", "/bin/busybox")
	a.AddDevice("dev/console", initramfs.CharDevice, 0o600, 5, 1)
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := initramfs.ReadArchive(&buf)
	for _, e := range entries {
		fmt.Println(e.Path, e.Kind, e.Perm)
	}
	// Output:
	// bin dir -rwxr-xr-x
	// bin/sh symlink -rwxrwxrwx
	// dev dir -rwxr-xr-x
	// dev/console char device -rw-------
	// init file -rwxr-xr-x
}
