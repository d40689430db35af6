// Package rflkit is an embeddable Go library for Rust-for-Linux kernel work.
//
// It answers, from Go code or by hand, the questions a kernel developer
// working on Rust drivers asks every day, in the order data flows through
// its packages:
//
//   - [github.com/rflkit/rflkit/toolchain]: is my toolchain right for this
//     tree? Every rustc, bindgen, clang and lld candidate, checked against
//     the tree's own scripts/min-tool-version.sh, with one fix per problem,
//     and the consistent set handed on as make variables.
//   - [github.com/rflkit/rflkit/kconfig]: read, edit, merge and diff .config
//     files without losing a byte; parse and evaluate the Kconfig language
//     and say why an option did not take.
//   - [github.com/rflkit/rflkit/kbuild]: configure and build kernels with
//     clang/LLVM, out of tree, cancellable, with progress, typed errors,
//     artifacts and a content-addressed cache.
//   - [github.com/rflkit/rflkit/qemu]: boot the result in seconds, run
//     commands in the guest with their output and exit codes, catch panics.
//   - [github.com/rflkit/rflkit/bench]: measure C null_blk against Rust
//     rnull, and RUST_INLINE_HELPERS on against off, with fio and honest
//     statistics.
//
// Nothing reaches back: toolchain → kconfig → kbuild → qemu → bench. The
// examples directory holds small binaries that compose these packages;
// examples/nullblk-bench is the end-to-end benchmark.
package rflkit
