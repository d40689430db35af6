// Package fragment holds rflkit's one copy of the tiny Rust kernel
// configuration fragment: merged on top of tinyconfig, it gives a bootable
// x86_64 guest with both null-block drivers (C null_blk and Rust rnull) in
// which Debian's fio runs. kbuild.TinyRust builds with it; the kconfig tests
// evaluate it.
//
// TMPFS is left out on purpose: it depends on SHMEM, which tinyconfig turns
// off, so olddefconfig would drop it and the request would be reported as
// not taken. SYSVIPC (fio's shared memory) and TIMERFD (fio's timer) are
// required: without them fio fails in the guest. MODVERSIONS is off, as RUST
// requires without GENDWARFKSYMS.
//
// TinyRustModules adds a second embedded fragment (tiny-rust-modules.config)
// on top of the first: the same kernel with loadable modules, both null-block
// drivers built as modules (null_blk and rnull_mod). Its options, and why:
//
//   - MODULES=y: loadable modules at all.
//   - MODULE_UNLOAD=y: delete_module(2), to reload the drivers per sample.
//   - MODVERSIONS off: RUST requires it without GENDWARFKSYMS, and the
//     modules are only ever loaded into the kernel they were built with.
//   - MODULE_SIG and MODULE_COMPRESS off (their defaults, requested so that
//     a change of default is reported): the .ko files load as built.
//   - KALLSYMS=y: kernel/module/sysfs.c creates /sys/module/<name>/sections/
//     (.text and the others) only under CONFIG_KALLSYMS, and /proc/kallsyms
//     then lists the module's symbols with their load addresses: what maps
//     a module's code to its functions (a TCG plugin counting per
//     function). SYSFS alone is not enough; tinyconfig has KALLSYMS off.
//   - BLK_DEV_NULL_BLK=m, BLK_DEV_RUST_NULL=m: the two drivers as modules.
//
// TinyRustArm64 is the arm64 fragment (tiny-rust-arm64.config), for QEMU's
// virt machine: the x86_64 fragment's options less the PC pieces (8250
// UART, PCI, VIRTIO_PCI; 64BIT is not a prompt on arm64), plus
//
//   - SERIAL_AMBA_PL011 and SERIAL_AMBA_PL011_CONSOLE: virt's UART, the
//     console ttyAMA0 (ARM_AMBA, the GIC and the architected timer are
//     selected by ARM64 itself);
//   - VIRTIO_MMIO: virt's virtio-mmio transports, which carry the agent's
//     virtio-serial port (virtio-serial-device) without a PCI host bridge.
//
// Every line survives olddefconfig of arm64 tinyconfig (a kconfig
// integration test checks it, and that rflkit's olddefconfig of it is
// byte-identical to make's).
package fragment

import _ "embed"

//go:embed tiny-rust.config
var tinyRust string

//go:embed tiny-rust-modules.config
var tinyRustModules string

//go:embed tiny-rust-arm64.config
var tinyRustArm64 string

// TinyRust returns the fragment in .config syntax, with
// CONFIG_RUST_INLINE_HELPERS set to y when helpers is true and "is not set"
// otherwise, as its last line.
func TinyRust(helpers bool) string {
	if helpers {
		return tinyRust + "CONFIG_RUST_INLINE_HELPERS=y\n"
	}
	return tinyRust + "# CONFIG_RUST_INLINE_HELPERS is not set\n"
}

// Modules returns the module fragment alone (tiny-rust-modules.config), in
// .config syntax: applied after TinyRust, its values win.
func Modules() string { return tinyRustModules }

// TinyRustModules returns TinyRust(helpers) followed by the module
// fragment: the tiny Rust kernel with MODULES=y and both null-block
// drivers as modules (null_blk.ko, rnull_mod.ko). Later lines win, as in
// merge_config.sh, so the drivers' =y lines of the first fragment are
// overridden by the =m ones.
func TinyRustModules(helpers bool) string {
	return TinyRust(helpers) + tinyRustModules
}

// TinyRustArm64 returns the arm64 fragment (tiny-rust-arm64.config) in
// .config syntax, with CONFIG_RUST_INLINE_HELPERS as its last line as in
// TinyRust.
func TinyRustArm64(helpers bool) string {
	if helpers {
		return tinyRustArm64 + "CONFIG_RUST_INLINE_HELPERS=y\n"
	}
	return tinyRustArm64 + "# CONFIG_RUST_INLINE_HELPERS is not set\n"
}

// TinyRustModulesFor returns the module kernel's fragment of a kernel
// ARCH (or SRCARCH): TinyRustModules for x86_64 and x86, TinyRustArm64
// followed by the same module fragment for arm64 (its options are not
// architecture-specific: arm64's module PLTs are unconditional in 7.2, and
// RANDOMIZE_BASE stays off because tinyconfig leaves RELOCATABLE off); ok is
// false for an architecture without one.
func TinyRustModulesFor(arch string, helpers bool) (frag string, ok bool) {
	base, ok := TinyRustFor(arch, helpers)
	if !ok {
		return "", false
	}
	return base + tinyRustModules, true
}

// TinyRustFor returns the tiny Rust fragment of a kernel ARCH (or
// SRCARCH): TinyRust for x86_64 and x86, TinyRustArm64 for arm64; ok is
// false for an architecture without one.
func TinyRustFor(arch string, helpers bool) (frag string, ok bool) {
	switch arch {
	case "x86_64", "x86":
		return TinyRust(helpers), true
	case "arm64":
		return TinyRustArm64(helpers), true
	}
	return "", false
}
