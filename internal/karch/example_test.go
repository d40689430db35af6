package karch_test

import (
	"fmt"

	"github.com/rflkit/rflkit/internal/karch"
)

func ExampleLookup() {
	in, _ := karch.Lookup("x86_64")
	fmt.Println(in.SrcArch, in.Images[0], in.ClangTarget, in.QEMU, in.Console)
	fmt.Println(karch.SrcArch("sparc64"), karch.Subarch("aarch64"), karch.FromGOARCH("riscv64"))
	// Output:
	// x86 arch/x86/boot/bzImage x86_64-linux-gnu qemu-system-x86_64 ttyS0
	// sparc arm64 riscv
}
