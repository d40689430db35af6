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
package fragment

import _ "embed"

//go:embed tiny-rust.config
var tinyRust string

//go:embed tiny-rust-modules.config
var tinyRustModules string

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
