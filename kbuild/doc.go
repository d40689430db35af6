// Package kbuild configures and builds Linux kernels with clang/LLVM, out of
// tree, cancellably, with progress, typed errors, artifacts and a
// content-addressed cache.
//
// A [Builder] names the source (a tree or a tarball, unpacked once), the
// architecture, LLVM, the toolchain's make variables and the cache. Its
// make command line is a pure value ([Builder.Command]), tested as data;
// contradictory variables are a [*UsageError] before anything runs.
//
// [Builder.Configure] applies a base configuration (tinyconfig, defconfig, a
// .config file), merges fragments, runs olddefconfig and checks that every
// requested value survived ([*ConfigError] otherwise).
//
// [Builder.Build] builds any make targets. Without an OutDir it goes through
// the cache in CacheDir/builds, keyed by the source identity, the final
// .config, the toolchain fingerprint, the make variables and the targets: a
// second build of the same key returns its artifacts without running make; a
// variant starts from a copy of the nearest cached build's objects (same
// source, toolchain and variables, fewest differing options), so toggling
// RUST_INLINE_HELPERS rebuilds only the Rust side. Every cached build runs
// in one fixed directory (CacheDir/builds/work/out) and is then moved into
// its entry: Kbuild's host tools record absolute paths, and objects copied
// back to the path they were built at stay up to date. Builds are
// serialised across processes by a file lock (a second process waits, then
// gets a cache hit), entries become visible only when complete (entry.json
// is written last), and the least recently used are evicted beyond
// CacheLimit, never one in use. Cancelling the context kills make's whole
// process group.
// Failures are a [*KernelError] (compiler diagnostics, first error first) or
// an [*InfraError] (missing tool, full disk, killed, cancelled).
//
// [TinyRust] and [TinyRustModules] are rflkit's tiny Rust guest kernels
// (internal/fragment): both null-block drivers built in, or as the modules
// null_blk.ko and rnull_mod.ko ([ModuleNullBlk], [ModuleRustNull]; build
// with the targets bzImage and modules). A module kernel, built after the
// built-in one, is seeded from it; CONFIG_MODULES reaches most C files
// (<linux/module.h>) and every Rust crate, so the first module variant
// recompiles about 60% of the objects, and the second (the other helpers
// setting) starts from the first and costs under a minute.
//
// [InlineCheck] (and [HelperSymbols] for one object) reads the symbol
// tables of vmlinux, the built-in Rust objects and the modules: an exact
// static check that RUST_INLINE_HELPERS acted (no undefined rust_helper_*
// symbol left in any Rust object or module).
package kbuild
