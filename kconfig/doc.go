// Package kconfig reads, edits, merges and compares kernel configurations,
// and (in its second layer) understands the Kconfig language that defines
// them.
//
// # The .config file layer
//
// A Config is a .config file or a fragment, kept line by line: Parse or
// ReadFile it, Get, Set, Unset or Delete symbols, and write it back with
// WriteFile (atomically: temporary file, fsync, rename, permissions kept).
// Untouched files are written back byte for byte, comments and odd
// spacing included; edits stay where they were and new symbols go at the
// end, as conf puts a user's additions. Symbol names carry no prefix
// ("RUST", not "CONFIG_RUST"); the prefix is ParseOptions.Prefix, CONFIG_
// unless told otherwise (the kernel's tools read it from the CONFIG_
// environment variable: pass os.Getenv("CONFIG_") to do the same).
//
// Lines are read the way scripts/kconfig/confdata.c's conf_read_simple
// reads them. In strict mode (the zero ParseOptions) a malformed line is a
// *ParseError naming file, line and column; with ParseOptions.Lenient the
// line is skipped, as the kernel does, and reported by Config.Warnings. A
// symbol assigned twice is a warning in both modes, and the last
// assignment wins, as in conf.
//
// Without the Kconfig tree the file layer does not know symbol types, so a
// Value's kind comes from its spelling: y/m/n (KindTristate), "..."
// (KindString), 12 or 0x1f (KindNumber, text kept as written), and
// "# CONFIG_X is not set" (KindNotSet, the zero Value).
//
// Three operations follow the kernel's own scripts, so that their results
// and messages are what users already know:
//
//   - Merge: scripts/kconfig/merge_config.sh -m (later fragments win; the
//     merged file is the script's file, line for line; redefinitions and
//     redundant values come back as MergeWarning values whose String is the
//     script's message).
//   - Diff: scripts/diffconfig (removed, changed, added; DiffResult.String
//     prints what the script prints).
//   - Verify: kunit's is_subset_of (tools/testing/kunit/kunit_config.py):
//     which requested values did not survive make olddefconfig. A requested
//     "is not set" is satisfied by absence.
//
// # The Kconfig language
//
// Load parses the Kconfig tree of a kernel source directory for one
// architecture (every construct the 7.2 tree uses, all architectures),
// expanding the preprocessor's variables and functions with the environment
// the top Makefile gives scripts/kconfig/conf (computed from the toolchain
// doctor's make variables: LLVM=1, RUSTC=..., ...). $(shell,...) results are
// cached on disk, keyed by command, environment and toolchain fingerprint
// (LoadOptions.CacheDir; LoadOptions.NoMacroCache disables it), which is
// what makes evaluation fast: most of `make olddefconfig`'s time is spent
// running those commands.
//
// A Tree evaluates configurations with the kernel's semantics (tristate
// logic, prompt visibility, select and imply, defaults, ranges, choices,
// MODULES) and writes the files conf writes, byte for byte: OldDefconfig,
// Defconfig, AllConfig (allno/allyes/allmod/alldef), TinyConfig,
// RandConfig (KCONFIG_SEED gives make randconfig's file) and Savedefconfig.
// The integration tests compare every one of them with make's output.
//
// Explain answers "why didn't my option take?": each depends-on term with
// its value, the prompt's visibility, the symbols that select or imply it,
// its choice and range, followed down to the root cause, and, where one
// exists, a minimal set of assignments that makes it take (checked by
// re-running olddefconfig).
package kconfig
