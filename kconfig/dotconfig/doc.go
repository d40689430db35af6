// Package dotconfig is the .config file layer of rflkit: it reads, edits,
// merges, compares and verifies kernel configuration files and fragments
// without knowing the Kconfig language (package kconfig, which builds on
// this one, evaluates them). It imports only the standard library and
// internal/atomicfile.
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
// Without the Kconfig tree symbol types are unknown, so a Value's kind
// comes from its spelling: y/m/n (KindTristate), "..." (KindString), 12 or
// 0x1f (KindNumber, text kept as written), and "# CONFIG_X is not set"
// (KindNotSet, the zero Value).
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
// Error messages begin with "kconfig: ", as they did before the file layer
// became a package of its own.
package dotconfig
