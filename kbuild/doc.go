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
package kbuild
