package sysroot_test

import (
	"fmt"

	"github.com/rflkit/rflkit/internal/sysroot"
)

// The cache key ignores the order and repetition of package names.
func ExampleKey() {
	a := sysroot.Key("arm64", []string{"fio", "busybox-static"})
	b := sysroot.Key("arm64", []string{"busybox-static", "fio", "fio"})
	fmt.Println(a == b, len(a))
	// Output: true 24
}
