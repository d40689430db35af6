package qemu

import (
	"testing"

	"github.com/rflkit/rflkit/internal/testkernel"
)

// tinyKernel is the tiny 7.2 Rust kernel (RUST_INLINE_HELPERS on) that the
// integration tests boot, built through kbuild and cached.
func tinyKernel(t testing.TB) string {
	t.Helper()
	return testkernel.TinyRust(t, true).BzImage
}
