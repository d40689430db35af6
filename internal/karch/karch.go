// Package karch is rflkit's one table of kernel architecture facts: how the
// top-level Makefile maps ARCH to SRCARCH, how scripts/subarch.include turns
// `uname -m` into the host's architecture, which ARCH a Go GOARCH runs, and,
// per SRCARCH, the boot images kbuild collects, clang's target triple
// (scripts/Makefile.clang), the QEMU binary and machine that boot it, its
// console device and the GOARCH of a guest program.
//
// Every other package asks here; none keeps a mapping of its own.
package karch

import (
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// Info holds the facts about one source architecture (a directory below
// arch/ of the kernel tree).
type Info struct {
	// SrcArch is the directory below arch/ ("x86", "arm64", ...).
	SrcArch string
	// Images are the boot images a build leaves, relative to the output
	// directory, best first. Empty when none is known.
	Images []string
	// ClangTarget is CLANG_TARGET_FLAGS_<SRCARCH> of scripts/Makefile.clang:
	// the --target clang (and bindgen) use; "" when LLVM=1 cannot build it.
	ClangTarget string
	// QEMU is the qemu-system binary that boots this architecture's kernel,
	// "" when rflkit does not boot it.
	QEMU string
	// QEMUMachine is the -M value for QEMU ("pc", "virt").
	QEMUMachine string
	// Console is the kernel console device of that machine ("ttyS0",
	// "ttyAMA0").
	Console string
	// GOARCH is Go's name for the architecture, for building a guest
	// program; "" when Go does not target it.
	GOARCH string
	// VirtioSerial is the QEMU -device of the machine's virtio-serial
	// controller ("virtio-serial-pci" on pc, "virtio-serial-device" on
	// virt's virtio-mmio transports); "" when rflkit does not boot it.
	VirtioSerial string
	// AgentUART is the guest's second UART that the machine can back
	// with a second -serial ("ttyS1" on pc); "" when it has none (virt has
	// one PL011).
	AgentUART string
	// BootTarget is the make target of the boot image rflkit hands QEMU's
	// -kernel ("bzImage" on x86, the uncompressed "Image" on arm64); ""
	// when rflkit does not boot it.
	BootTarget string
	// Multiarch is Debian's multiarch tuple, the library directory of the
	// architecture's packages ("x86_64-linux-gnu", "aarch64-linux-gnu").
	Multiarch string
	// DebArch is Debian's architecture name ("amd64", "arm64").
	DebArch string
}

// table is keyed by SRCARCH; one row for every directory below arch/ of the
// 7.2 tree.
var table = map[string]Info{
	"alpha":      {},
	"arc":        {},
	"arm":        {Images: []string{"arch/arm/boot/zImage", "arch/arm/boot/Image"}, ClangTarget: "arm-linux-gnueabi", GOARCH: "arm"},
	"arm64":      {Images: []string{"arch/arm64/boot/Image.gz", "arch/arm64/boot/Image"}, ClangTarget: "aarch64-linux-gnu", QEMU: "qemu-system-aarch64", QEMUMachine: "virt", Console: "ttyAMA0", GOARCH: "arm64", VirtioSerial: "virtio-serial-device", BootTarget: "Image", Multiarch: "aarch64-linux-gnu", DebArch: "arm64"},
	"csky":       {},
	"hexagon":    {ClangTarget: "hexagon-linux-musl"},
	"loongarch":  {Images: []string{"arch/loongarch/boot/vmlinuz.efi", "arch/loongarch/boot/vmlinux.efi"}, ClangTarget: "loongarch64-linux-gnusf", GOARCH: "loong64"},
	"m68k":       {ClangTarget: "m68k-linux-gnu"},
	"microblaze": {},
	"mips":       {ClangTarget: "mipsel-linux-gnu", GOARCH: "mipsle"},
	"nios2":      {},
	"openrisc":   {},
	"parisc":     {},
	"powerpc":    {Images: []string{"arch/powerpc/boot/zImage"}, ClangTarget: "powerpc64le-linux-gnu", GOARCH: "ppc64le"},
	"riscv":      {Images: []string{"arch/riscv/boot/Image.gz", "arch/riscv/boot/Image"}, ClangTarget: "riscv64-linux-gnu", GOARCH: "riscv64"},
	"s390":       {Images: []string{"arch/s390/boot/bzImage"}, ClangTarget: "s390x-linux-gnu", GOARCH: "s390x"},
	"sh":         {},
	"sparc":      {ClangTarget: "sparc64-linux-gnu"},
	"um":         {Images: []string{"linux"}},
	"x86":        {Images: []string{"arch/x86/boot/bzImage"}, ClangTarget: "x86_64-linux-gnu", QEMU: "qemu-system-x86_64", QEMUMachine: "pc", Console: "ttyS0", GOARCH: "amd64", VirtioSerial: "virtio-serial-pci", AgentUART: "ttyS1", BootTarget: "bzImage", Multiarch: "x86_64-linux-gnu", DebArch: "amd64"},
	"xtensa":     {},
}

// ClangTargetI386 is CLANG_TARGET_FLAGS_i386: the target of i386 UML builds,
// which need the 32-bit target rather than -m32.
const ClangTargetI386 = "i386-linux-gnu"

// SrcArch maps a kernel ARCH to its SRCARCH exactly as the top-level
// Makefile does: i386 and x86_64 are x86, sparc64 is sparc, parisc64 is
// parisc, sh64 is sh; every other ARCH is its own SRCARCH.
func SrcArch(arch string) string {
	switch arch {
	case "i386", "x86_64":
		return "x86"
	case "sparc64":
		return "sparc"
	case "parisc64":
		return "parisc"
	case "sh64":
		return "sh"
	}
	return arch
}

// Lookup returns the facts about arch (an ARCH or a SRCARCH), with SrcArch
// filled in, and whether the table knows it.
func Lookup(arch string) (Info, bool) {
	sa := SrcArch(arch)
	in, ok := table[sa]
	in.SrcArch = sa
	return in, ok
}

// SrcArches lists every SRCARCH of the table, sorted.
func SrcArches() []string {
	out := make([]string, 0, len(table))
	for k := range table {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	reI86  = regexp.MustCompile(`i.86`)
	reArm  = regexp.MustCompile(`arm.*`)
	rePpc  = regexp.MustCompile(`ppc.*`)
	reMips = regexp.MustCompile(`mips.*`)
	reSh   = regexp.MustCompile(`sh[234].*`)
	reA64  = regexp.MustCompile(`aarch64.*`)
	reRv   = regexp.MustCompile(`riscv.*`)
	reLa   = regexp.MustCompile(`loongarch.*`)
)

// Subarch is scripts/subarch.include applied to a `uname -m` value: the
// same sed substitutions, in the same order ("x86_64" and "i686" give
// "x86", "aarch64" gives "arm64", "riscv64" gives "riscv").
func Subarch(machine string) string {
	s := reI86.ReplaceAllString(machine, "x86")
	s = strings.Replace(s, "x86_64", "x86", 1)
	s = strings.Replace(s, "sun4u", "sparc64", 1)
	if s != "arm64" {
		s = reArm.ReplaceAllString(s, "arm")
	}
	s = strings.Replace(s, "sa110", "arm", 1)
	s = strings.Replace(s, "s390x", "s390", 1)
	s = rePpc.ReplaceAllString(s, "powerpc")
	s = reMips.ReplaceAllString(s, "mips")
	s = reSh.ReplaceAllString(s, "sh")
	s = reA64.ReplaceAllString(s, "arm64")
	s = reRv.ReplaceAllString(s, "riscv")
	s = reLa.ReplaceAllString(s, "loongarch")
	return s
}

// FromGOARCH returns the kernel ARCH that runs a Go GOARCH: amd64 is
// x86_64, 386 is i386, riscv64 is riscv, loong64 is loongarch, ppc64(le) is
// powerpc, s390x is s390, the mips variants are mips; arm and arm64 keep
// their names. An unknown GOARCH is returned as it is.
func FromGOARCH(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	case "riscv64":
		return "riscv"
	case "loong64":
		return "loongarch"
	case "s390x":
		return "s390"
	case "ppc64", "ppc64le":
		return "powerpc"
	case "mips", "mipsle", "mips64", "mips64le":
		return "mips"
	}
	return goarch
}

// Host returns the kernel ARCH of the machine rflkit runs on
// (FromGOARCH(runtime.GOARCH)).
func Host() string { return FromGOARCH(runtime.GOARCH) }

// Uname returns `uname -m` of the running machine (GOARCH when uname fails).
func Uname() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return runtime.GOARCH
	}
	var b strings.Builder
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}
