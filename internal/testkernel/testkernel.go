// Package testkernel builds (or finds in the kbuild cache) the tiny x86_64
// Rust kernel that qemu/ and bench/ integration tests boot.
package testkernel

import "testing"

// Kernel is a built tiny Rust kernel.
type Kernel struct {
	BzImage string // arch/x86/boot/bzImage
	Vmlinux string // vmlinux, when built
	Config  string // the final .config
}

// TinyRust returns the tiny Rust kernel of ../shared/FACTS.md with
// RUST_INLINE_HELPERS on or off, building it through kbuild (cached).
// OWNER: kbuild helper. This placeholder fails until kbuild/ lands.
func TinyRust(t testing.TB, helpers bool) Kernel {
	t.Helper()
	t.Fatal("testkernel: kbuild not implemented yet")
	return Kernel{}
}
