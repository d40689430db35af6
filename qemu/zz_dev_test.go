//go:build qemudev

package qemu

import "testing"

// TEMPORARY (qemu engineer, development only; deleted before the end).
func tinyKernel(t testing.TB) string { return "/tmp/dev/out-on/arch/x86/boot/bzImage" }
