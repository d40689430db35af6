// Package toolchain finds, checks and chooses the tools a Rust-enabled
// Linux kernel is built with: rustc (and rustdoc, rustfmt, clippy-driver
// beside it), bindgen and the libclang it loads, and clang, ld.lld,
// llvm-ar, llvm-nm and llvm-objcopy.
//
// # Discovery
//
// Detect looks everywhere a tool may be: every match in PATH (not only the
// first), the variables Kbuild reads (RUSTC, BINDGEN, CC, LLVM,
// RUST_LIB_SRC, KRUSTFLAGS) in Options.Env, rustup toolchains
// ($RUSTUP_HOME or ~/.rustup, toolchains/*/bin), Debian's
// /usr/lib/llvm-N/bin directories and LLVM=-N suffixed names (clang-19,
// ld.lld-19). Each Candidate records its path (as found, and with symlinks
// resolved), its version, and for rustc its LLVM version, sysroot and
// rust-src; for bindgen the libclang it loads and that libclang's version,
// obtained exactly as the kernel's scripts/rust_is_available.sh does (by
// running bindgen on scripts/rust_is_available_bindgen_libclang.h); for C
// compilers what their preprocessor says they are, as scripts/cc-version.sh
// asks.
//
// Version output is parsed with the kernel's own patterns, and robustly:
// nightly, beta and distribution rustc, every bindgen form, vendor clangs
// (Debian, Ubuntu, Fedora, Apple, Android, Homebrew). Output that cannot be
// parsed is a *VersionError naming the tool and quoting it.
//
// # Probes
//
// Each probe command runs in its own process group, bounded by
// Options.Timeout (DefaultTimeout, 10 s, when zero); a timeout or a
// cancelled context kills the whole group, and on Linux the kernel kills
// a probe whose Detect process dies (Pdeathsig). A tool that hangs costs
// one timeout: the executable is not run again in the same Detect, and the
// hang is a Problem naming the tool, the command and the timeout.
// Candidates are probed a few at a time (Options.Jobs). Tool output is
// kept bounded, and problems and errors quote at most a short excerpt of
// it. The scratch directory bindgen's probe needs ($TMPDIR/rflkit-toolchain-*)
// is locked while in use and removed on return; one left by a process that
// was killed is removed by the next Detect.
//
// # Checks
//
// Minimums come from the tree's scripts/min-tool-version.sh, run with sh
// and ARCH/SRCARCH as the Makefile does (ReadMinimums); a built-in table
// (rustc 1.85.0, bindgen 0.71.1, LLVM 17.0.1) is used only without a tree.
// Every combination of candidates is checked the way rust_is_available.sh
// checks (its nine checks, Check 1 to 9), plus what RUST_INLINE_HELPERS
// needs (clang as the C compiler with rustc's LLVM major, an x86_64 or
// arm64 ARCH) and what a build with the chosen LLVM= needs. Each failure is
// a Problem with the tool, what was found, what is wanted, one concrete
// fix, a Scope and a Severity.
//
// # Choice
//
// The best combination wins: one that passes, then one whose clang and
// rustc share an LLVM major, then the fewest warnings, then PATH order.
// A tool named by a variable in Options.Env is always used, as Kbuild
// would use it. Report.MakeVars hands the choice on to Kbuild (LLVM=,
// RUSTC=, HOSTRUSTC=, RUSTDOC=, BINDGEN=, ...) and Report.Fingerprint
// identifies it for caches.
//
// The examples/doctor program prints a Report for people and as JSON.
package toolchain
