// Package kconfig understands the Kconfig language: it reads a kernel
// tree's Kconfig files and computes configurations from them as
// scripts/kconfig/conf does, and explains why an option did not take.
// The .config files it reads and writes are package dotconfig's Config;
// that file layer is also reachable from here (Config, ReadFile, Merge,
// Diff, Verify, Mismatch, Tristate, ... are aliases of its types and calls
// to its functions, see dotconfig.go).
//
// Load parses the Kconfig tree of a kernel source directory for one
// architecture (every construct the 7.2 tree uses, all architectures),
// expanding the preprocessor's variables and functions with the environment
// the top Makefile gives scripts/kconfig/conf (computed from the toolchain
// doctor's make variables: LLVM=1, RUSTC=..., ...). $(shell,...) results are
// cached on disk, keyed by command, environment and toolchain fingerprint
// (LoadOptions.CacheDir; LoadOptions.NoMacroCache disables it), which is
// what makes evaluation fast: most of `make olddefconfig`'s time is spent
// running those commands; each run is recorded (command, exit status, the
// first lines of its output: Tree.MacroRuns) and cached with its result.
// LoadOptions.ConfEnv loads any Kconfig tree, not only a kernel's, with
// the environment given directly, as when conf is run by hand (the
// kernel's own scripts/kconfig/tests suite runs that way in the tests). A
// tree that cannot be read is a *LoadError, or LoadErrors when conf
// would report several; ConfText gives what conf prints for it.
//
// A Tree evaluates configurations with the kernel's semantics (tristate
// logic, prompt visibility, select and imply, defaults, ranges, choices,
// MODULES). Each configuration target gives a *TargetResult, whose Bytes
// are the file conf writes, byte for byte: OldDefconfig, Defconfig,
// AllConfig (allno/allyes/allmod/alldef), TinyConfig, RandConfig
// (KCONFIG_SEED gives make randconfig's file) and Savedefconfig. The
// integration tests compare every one of them with make's output.
//
// Explain answers "why didn't my option take?": each depends-on term with
// its value, the prompt's visibility, the symbols that select or imply it,
// its choice and range, followed down to every root cause (with the values
// of the blocking expression's symbols and the macro commands behind a
// toolchain-derived value), and, where one
// exists, a minimal set of assignments that makes it take (checked by
// re-running olddefconfig).
package kconfig

// The sources follow scripts/kconfig's: lexer.go (lexer.l), parser.go
// (parser.y), preprocess.go (preprocess.c) with shell.go (its $(shell)
// runner and cache), env.go (what the top Makefile exports), symbol.go
// (symbol.c: types and sym_calc_value), menu.go (menu.c), expr.go (expr.c),
// deps.go (sym_check_deps), confdata.go (confdata.c: reading and writing
// .config files as conf does), conf.go and randconfig.go (conf.c: the
// targets), load.go (conf_parse), explain.go.
