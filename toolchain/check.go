package toolchain

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Check identifies one of the things Detect verifies. Checks 1 to 9 are
// those of the kernel's scripts/rust_is_available.sh, in its order; the
// others are what RUST_INLINE_HELPERS needs and what a build with the
// chosen LLVM= needs.
type Check int

// The checks.
const (
	CheckVarsSet         Check = iota + 1 // 1: RUSTC, BINDGEN and CC are set (a candidate exists)
	CheckExists                           // 2: rustc and bindgen exist
	CheckRustcVersion                     // 3: rustc --version parses and meets the minimum
	CheckBindgenVersion                   // 4: bindgen --version parses and meets the minimum
	CheckLibclangFound                    // 5: bindgen finds libclang
	CheckLibclangVersion                  // 6: libclang meets the LLVM minimum
	CheckLibclang22                       // 7: warning: libclang >= 22 with bindgen < 0.72.1
	CheckClangLibclang                    // 8: warning: clang's version differs from libclang's
	CheckRustSrc                          // 9: the core library's source is present
	CheckCCIsClang                        // RUST_INLINE_HELPERS: clang is the C compiler
	CheckLLVMMajor                        // RUST_INLINE_HELPERS: rustc's LLVM major equals clang's
	CheckArch                             // RUST_INLINE_HELPERS: ARM64 || X86_64
	CheckLLVMTools                        // build: the LLVM= set is complete, one major, new enough
	CheckRustdoc                          // build (warning): rustdoc beside the chosen rustc
)

var checkNames = map[Check]string{
	CheckVarsSet:         "vars-set",
	CheckExists:          "exists",
	CheckRustcVersion:    "rustc-version",
	CheckBindgenVersion:  "bindgen-version",
	CheckLibclangFound:   "libclang-found",
	CheckLibclangVersion: "libclang-version",
	CheckLibclang22:      "libclang-22",
	CheckClangLibclang:   "clang-matches-libclang",
	CheckRustSrc:         "rust-src",
	CheckCCIsClang:       "cc-is-clang",
	CheckLLVMMajor:       "llvm-major",
	CheckArch:            "arch",
	CheckLLVMTools:       "llvm-tools",
	CheckRustdoc:         "rustdoc",
}

func (c Check) String() string {
	if s, ok := checkNames[c]; ok {
		return s
	}
	return "check-" + strconv.Itoa(int(c))
}

// MarshalText names the check in JSON.
func (c Check) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Scope says what a problem stands in the way of.
type Scope string

// The scopes.
const (
	ScopeRust          Scope = "rust"           // CONFIG_RUST (make rustavailable)
	ScopeInlineHelpers Scope = "inline-helpers" // CONFIG_RUST_INLINE_HELPERS
	ScopeBuild         Scope = "build"          // building with the chosen LLVM=
)

// Severity is error (the scope's verdict is no) or warning (the kernel
// warns and goes on).
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one failed check.
type Problem struct {
	Check    Check    `json:"check"`
	Scope    Scope    `json:"scope"`
	Severity Severity `json:"severity"`
	Tool     Tool     `json:"tool"`
	Found    string   `json:"found"` // what was found
	Want     string   `json:"want"`  // what is needed
	Fix      string   `json:"fix"`   // one concrete command or variable
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s [%s]: found %s; want %s; fix: %s", p.Severity, p.Tool, p.Check, p.Found, p.Want, p.Fix)
}

// selection is one combination of candidates under evaluation.
type selection struct {
	rustc, bindgen *Candidate
	set            *llvmSet   // nil when building with GCC
	cc             *Candidate // the C compiler: CC=, the set's clang, or nil
}

// env is what evaluate needs besides the selection.
type evalEnv struct {
	mins       Minimums
	arch       string
	rustLibSrc string
	d          *discovered
}

// runFailure describes a probe failure as the kernel's script would.
func runFailure(c *Candidate, err error) string {
	var ee *ExitError
	var ve *VersionError
	switch {
	case errors.As(err, &ee) && ee.TimedOut():
		return timeoutFailure(c.Tool, ee)
	case errors.As(err, &ee) && errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("running '%s' failed with code %d: it did not finish in time (killed): %s", c.Path, ee.Code, quote(ee.Output))
	case errors.As(err, &ee):
		return fmt.Sprintf("running '%s' failed with code %d: %s", c.Path, ee.Code, quote(ee.Output))
	case errors.As(err, &ve):
		return fmt.Sprintf("'%s' printed %s (not an expected version output)", c.Path, quote(ve.Output))
	}
	return err.Error()
}

// timeoutFailure names the tool, the command and the timeout of a probe
// that hung.
func timeoutFailure(t Tool, ee *ExitError) string {
	if ee.Skipped {
		return fmt.Sprintf("%s did not finish in time: `%s` was not run, an earlier probe of %s having been killed after %s (the probe timeout)",
			t, ee.command(), excerpt(ee.Argv[0]), ee.Timeout)
	}
	s := fmt.Sprintf("%s did not finish in time: `%s` was killed after %s (the probe timeout)", t, ee.command(), ee.Timeout)
	if out := strings.TrimSpace(ee.Output); out != "" {
		s += "; it had printed " + quote(out)
	}
	return s
}

// evaluate runs every check on sel.
func (e *evalEnv) evaluate(sel selection) []Problem {
	var ps []Problem
	add := func(c Check, scope Scope, sev Severity, t Tool, found, want, fix string) {
		ps = append(ps, Problem{Check: c, Scope: scope, Severity: sev, Tool: t, Found: found, Want: want, Fix: fix})
	}
	m := e.mins
	rustcOK, bindgenOK := true, true

	// 1. RUSTC, BINDGEN and CC are set: rflkit sets them to what it found.
	if sel.rustc == nil {
		rustcOK = false
		add(CheckVarsSet, ScopeRust, SeverityError, Rustc, "no rustc in PATH, RUSTC or rustup",
			"RUSTC naming a rustc >= "+m.Rustc.String(),
			"rustup toolchain install "+m.Rustc.String()+" --component rust-src")
	}
	if sel.bindgen == nil {
		bindgenOK = false
		add(CheckVarsSet, ScopeRust, SeverityError, Bindgen, "no bindgen in PATH or BINDGEN",
			"BINDGEN naming a bindgen >= "+m.Bindgen.String(),
			"cargo install --locked bindgen-cli@"+m.Bindgen.String())
	}
	if sel.cc == nil {
		// Kbuild always sets CC (gcc, or clang with LLVM=), and the
		// script only warns about an unknown compiler: a build problem.
		add(CheckVarsSet, ScopeBuild, SeverityError, CC, "no C compiler (no CC, no clang, no gcc in PATH)",
			"a C compiler (clang >= "+m.LLVM.String()+" for LLVM=1)", "apt-get install clang lld llvm")
	}

	// 2. They exist.
	if rustcOK && !sel.rustc.found {
		rustcOK = false
		add(CheckExists, ScopeRust, SeverityError, Rustc, fmt.Sprintf("Rust compiler '%s' could not be found", sel.rustc.Path),
			"an existing rustc", e.betterRustc(sel, "RUSTC=/path/to/rustc"))
	}
	if bindgenOK && !sel.bindgen.found {
		bindgenOK = false
		add(CheckExists, ScopeRust, SeverityError, Bindgen, fmt.Sprintf("Rust bindings generator '%s' could not be found", sel.bindgen.Path),
			"an existing bindgen", e.betterBindgen(sel, "cargo install --locked bindgen-cli@"+m.Bindgen.String()))
	}

	// 3. rustc's version.
	if rustcOK {
		c := sel.rustc
		switch {
		case c.Err != nil:
			rustcOK = false
			add(CheckRustcVersion, ScopeRust, SeverityError, Rustc, runFailure(c, c.Err),
				`"rustc X.Y.Z" from rustc --version`, e.betterRustc(sel, "RUSTC=/path/to/a/working/rustc"))
		case !atLeast(c.Version, m.Rustc):
			rustcOK = false
			add(CheckRustcVersion, ScopeRust, SeverityError, Rustc, fmt.Sprintf("rustc %s (%s)", c.Version, c.Path),
				"rustc >= "+m.Rustc.String(), e.betterRustc(sel, "rustup toolchain install "+m.Rustc.String()+" --component rust-src"))
		}
	}

	// 4. bindgen's version.
	if bindgenOK {
		c := sel.bindgen
		fix := e.betterBindgen(sel, "cargo install --locked bindgen-cli@"+m.Bindgen.String())
		switch {
		case c.Err != nil:
			bindgenOK = false
			add(CheckBindgenVersion, ScopeRust, SeverityError, Bindgen, runFailure(c, c.Err),
				`"bindgen X.Y.Z" from bindgen --version`, fix)
		case !c.KernelAccepts:
			bindgenOK = false
			add(CheckBindgenVersion, ScopeRust, SeverityError, Bindgen, fmt.Sprintf("%s (%s): %s", quote(c.VersionLine), c.Path, c.Note),
				`"bindgen X.Y.Z" from bindgen --version`, fix)
		case !atLeast(c.Version, m.Bindgen):
			bindgenOK = false
			add(CheckBindgenVersion, ScopeRust, SeverityError, Bindgen, fmt.Sprintf("bindgen %s (%s)", c.Version, c.Path),
				"bindgen >= "+m.Bindgen.String(), fix)
		}
	}

	// 5 and 6. bindgen finds libclang, and it is new enough.
	libclangOK := bindgenOK
	if bindgenOK {
		c := sel.bindgen
		var ee *ExitError
		switch {
		case c.LibclangErr != nil && errors.As(c.LibclangErr, &ee) && ee.TimedOut():
			libclangOK = false
			add(CheckLibclangFound, ScopeRust, SeverityError, Libclang, timeoutFailure(Bindgen, ee),
				"bindgen that loads libclang >= "+m.LLVM.String(), e.libclangFix(sel))
		case c.LibclangErr != nil && errors.As(c.LibclangErr, &ee):
			libclangOK = false
			add(CheckLibclangFound, ScopeRust, SeverityError, Libclang,
				fmt.Sprintf("'%s' on %s failed with code %d (libclang not found?): %s", c.Path, libclangHeaderName, ee.Code, quote(ee.Output)),
				"bindgen that loads libclang >= "+m.LLVM.String(), e.libclangFix(sel))
		case c.LibclangErr != nil:
			libclangOK = false
			add(CheckLibclangVersion, ScopeRust, SeverityError, Libclang, runFailure(c, c.LibclangErr),
				`"clang version X.Y.Z" in bindgen's diagnostics`, e.libclangFix(sel))
		case !atLeast(c.LibclangVersion, m.LLVM):
			libclangOK = false
			add(CheckLibclangVersion, ScopeRust, SeverityError, Libclang, fmt.Sprintf("libclang %s (%s, used by %s)", c.LibclangVersion, orUnknown(c.Libclang), c.Path),
				"libclang >= "+m.LLVM.String(), e.libclangFix(sel))
		}
	}

	// 7. Warning: libclang >= 22 with bindgen < 0.72.1, unless patched.
	if libclangOK {
		c := sel.bindgen
		if canonical(c.LibclangVersion) >= 2200000 && canonical(c.Version) < 7201 && !c.Libclang22Patched {
			add(CheckLibclang22, ScopeRust, SeverityWarning, Bindgen,
				fmt.Sprintf("bindgen %s with libclang %s", c.Version, c.LibclangVersion),
				"bindgen >= 0.72.1 with libclang >= 22 (rust-bindgen PR 3278)", "cargo install --locked bindgen-cli@0.72.1")
		}
	}

	// 8. Warning: clang's version differs from libclang's.
	cc := sel.cc
	if libclangOK && cc != nil && cc.CCName == "Clang" {
		clangVer := ""
		if cc.Err == nil {
			clangVer = core(cc.Version)
		}
		if lv := core(sel.bindgen.LibclangVersion); clangVer != lv {
			add(CheckClangLibclang, ScopeRust, SeverityWarning, Clang,
				fmt.Sprintf("clang %s (%s), libclang %s (used by %s)", orUnknown(clangVer), cc.Path, lv, sel.bindgen.Path),
				"clang and libclang of the same version"+noteOf(cc), e.libclangFixFor(major(cc.Version)))
		}
	}

	// 9. The core library's source.
	if rustcOK {
		c := sel.rustc
		switch {
		case c.SysrootErr != nil && e.rustLibSrc == "":
			add(CheckRustSrc, ScopeRust, SeverityError, Rustc, runFailure(c, c.SysrootErr),
				"rustc --print sysroot to work", e.betterRustc(sel, "RUST_LIB_SRC=/path/to/rust/library"))
		case !c.HasRustSrc:
			fix := e.betterRustc(sel, "")
			if fix == "" {
				switch {
				case e.rustLibSrc != "":
					fix = "RUST_LIB_SRC=" + filepath.Join(c.Sysroot, "lib", "rustlib", "src", "rust", "library") + " (or unset RUST_LIB_SRC)"
				case c.Rustup != "":
					fix = "rustup component add rust-src --toolchain " + c.Rustup
				default:
					fix = "install the rust-src matching rustc " + core(c.Version) + " (Debian: apt-get install rust-src) or set RUST_LIB_SRC=/path/to/rust/library"
				}
			}
			add(CheckRustSrc, ScopeRust, SeverityError, Rustc,
				fmt.Sprintf("no %s (rustc %s)", filepath.Join(c.RustSrc, "core", "src", "lib.rs"), c.Path),
				"the core library's source (rust-src)", fix)
		}
	}

	// RUST_INLINE_HELPERS: clang is the C compiler, with rustc's LLVM major.
	switch {
	case cc == nil || cc.CCName != "Clang":
		found := "no C compiler"
		if cc != nil {
			found = fmt.Sprintf("CC=%s (%s %s)", cc.Path, cc.CCName, orUnknown(core(cc.CCVersion)))
			var ee *ExitError
			if errors.As(cc.Err, &ee) && ee.TimedOut() {
				found += ": " + timeoutFailure(cc.Tool, ee)
			}
		}
		add(CheckCCIsClang, ScopeInlineHelpers, SeverityError, CC, found, "clang as the C compiler (CC_IS_CLANG)", e.llvmFix(sel))
	case rustcOK && sel.rustc.LLVMVersion == nil:
		add(CheckLLVMMajor, ScopeInlineHelpers, SeverityError, Rustc,
			fmt.Sprintf("rustc %s: its LLVM version is unknown (%s), so Kconfig's rustc-llvm-version is 0; clang %s (%s) is LLVM %d",
				sel.rustc.Path, llvmUnknownWhy(sel.rustc), core(cc.CCVersion), cc.Path, major(cc.CCVersion)),
			"rustc's LLVM major equal to clang's (RUSTC_CLANG_LLVM_COMPATIBLE)"+noteOf(cc), e.llvmUnknownFix(sel))
	case rustcOK && major(sel.rustc.LLVMVersion) != major(cc.CCVersion):
		add(CheckLLVMMajor, ScopeInlineHelpers, SeverityError, Rustc,
			fmt.Sprintf("rustc %s uses LLVM %s, clang %s (%s) is LLVM %d", sel.rustc.Path, orUnknown(core(sel.rustc.LLVMVersion)), core(cc.CCVersion), cc.Path, major(cc.CCVersion)),
			"rustc's LLVM major equal to clang's (RUSTC_CLANG_LLVM_COMPATIBLE)"+noteOf(cc), e.llvmMajorFix(sel))
	}
	switch e.arch {
	case "x86_64", "x86", "arm64":
	default:
		add(CheckArch, ScopeInlineHelpers, SeverityError, Rustc, "ARCH="+e.arch,
			"ARCH=x86_64 or ARCH=arm64 (RUST_INLINE_HELPERS depends on ARM64 || X86_64)", "ARCH=x86_64")
	}

	// Building with the chosen LLVM=.
	if sel.set != nil {
		want := major(e.mins.LLVM)
		if sel.rustc != nil && major(sel.rustc.LLVMVersion) > want {
			want = major(sel.rustc.LLVMVersion)
		}
		ps = append(ps, e.checkSet(sel.set, want)...)
	}
	return ps
}

// checkSet checks that an LLVM= set is complete, new enough and of one
// major version.
func (e *evalEnv) checkSet(s *llvmSet, want int) []Problem {
	var ps []Problem
	clang := s.tools[Clang]
	for _, t := range llvmTools {
		c := s.tools[t]
		switch {
		case c == nil:
			ps = append(ps, Problem{CheckLLVMTools, ScopeBuild, SeverityError, t, "no " + toolName(t, s.Var) + " for LLVM=" + s.Var,
				"every LLVM tool Kbuild runs", "apt-get install clang lld llvm"})
		case c.Err != nil:
			ps = append(ps, Problem{CheckLLVMTools, ScopeBuild, SeverityError, t, runFailure(c, c.Err), string(t) + " --version to work", "apt-get install clang lld llvm"})
		case !atLeast(c.Version, e.mins.LLVM):
			ps = append(ps, Problem{CheckLLVMTools, ScopeBuild, SeverityError, t, fmt.Sprintf("%s %s (%s)", t, c.Version, c.Path),
				fmt.Sprintf("%s >= %s", t, e.mins.LLVM), fmt.Sprintf("apt-get install clang-%d lld-%d llvm-%d, then LLVM=-%d", want, want, want, want)})
		case clang != nil && clang.Err == nil && t != Clang && major(c.Version) != major(clang.Version):
			ps = append(ps, Problem{CheckLLVMTools, ScopeBuild, SeverityWarning, t, fmt.Sprintf("%s %s (%s) beside clang %s", t, c.Version, c.Path, clang.Version),
				"all LLVM tools of one release", fmt.Sprintf("LLVM=-%d", major(clang.Version))})
		}
	}
	if len(s.missing) > 0 {
		ps = append(ps, Problem{CheckLLVMTools, ScopeBuild, SeverityError, Clang, "no " + strings.Join(s.missing, ", ") + " for LLVM=" + s.Var,
			"every LLVM tool Kbuild runs", fmt.Sprintf("apt-get install clang-%d lld-%d llvm-%d", want, want, want)})
	}
	return ps
}

// toolName is the name Kbuild runs tool t under with LLVM=llvm.
func toolName(t Tool, llvm string) string {
	switch {
	case strings.HasPrefix(llvm, "-"):
		return string(t) + llvm
	case strings.HasSuffix(llvm, "/"):
		return llvm + string(t)
	}
	return string(t)
}

// noteOf returns "; NOTE" for a candidate with a note (Apple clang).
func noteOf(c *Candidate) string {
	if c == nil || c.Note == "" {
		return ""
	}
	return "; " + c.Note
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// goodRustc reports whether c passes checks 2, 3 and 9.
func (e *evalEnv) goodRustc(c *Candidate) bool {
	return c.found && c.Err == nil && atLeast(c.Version, e.mins.Rustc) && c.HasRustSrc
}

// betterRustc names a working rustc other than sel's as a fix, or def.
func (e *evalEnv) betterRustc(sel selection, def string) string {
	var best *Candidate
	for _, c := range e.d.rustc {
		if c == sel.rustc || !e.goodRustc(c) {
			continue
		}
		if sel.cc != nil && sel.cc.CCName == "Clang" && major(c.LLVMVersion) == major(sel.cc.CCVersion) {
			best = c
			break
		}
		if best == nil {
			best = c
		}
	}
	if best == nil {
		return def
	}
	return "RUSTC=" + best.Path + " HOSTRUSTC=" + best.Path
}

// betterBindgen names a working bindgen other than sel's as a fix, or def.
func (e *evalEnv) betterBindgen(sel selection, def string) string {
	for _, c := range e.d.bindgen {
		if c != sel.bindgen && c.found && c.Err == nil && c.KernelAccepts && atLeast(c.Version, e.mins.Bindgen) && c.LibclangErr == nil {
			return "BINDGEN=" + c.Path
		}
	}
	return def
}

// libclangFix points bindgen at the libclang of the LLVM that rustc (or
// clang) uses.
func (e *evalEnv) libclangFix(sel selection) string {
	n := 0
	switch {
	case sel.cc != nil && sel.cc.CCName == "Clang":
		n = major(sel.cc.CCVersion)
	case sel.rustc != nil:
		n = major(sel.rustc.LLVMVersion)
	}
	if f := e.betterBindgen(sel, ""); f != "" {
		return f
	}
	return e.libclangFixFor(n)
}

func (e *evalEnv) libclangFixFor(n int) string {
	if n == 0 {
		return "apt-get install libclang-dev (bindgen loads libclang; LIBCLANG_PATH selects which)"
	}
	return fmt.Sprintf("LIBCLANG_PATH=/usr/lib/llvm-%d/lib (apt-get install libclang-%d-dev)", n, n)
}

// llvmFix suggests building with clang of rustc's LLVM major.
func (e *evalEnv) llvmFix(sel selection) string {
	if sel.rustc != nil && sel.rustc.LLVMVersion != nil {
		n := major(sel.rustc.LLVMVersion)
		for _, s := range e.d.sets {
			if c := s.tools[Clang]; c != nil && c.Err == nil && major(c.CCVersion) == n {
				return "LLVM=" + s.Var + " (and unset CC)"
			}
		}
		return fmt.Sprintf("apt-get install clang-%d lld-%d llvm-%d, then LLVM=-%d", n, n, n, n)
	}
	return "LLVM=1"
}

// llvmUnknownWhy says why rustc's LLVM version is unknown.
func llvmUnknownWhy(c *Candidate) string {
	var ee *ExitError
	switch {
	case errors.As(c.LLVMErr, &ee) && ee.TimedOut():
		return timeoutFailure(Rustc, ee)
	case errors.As(c.LLVMErr, &ee):
		return fmt.Sprintf("`%s` failed with code %d: %s", ee.command(), ee.Code, quote(ee.Output))
	case c.LLVMErr != nil:
		var ve *VersionError
		if errors.As(c.LLVMErr, &ve) {
			return fmt.Sprintf("`%s --version --verbose` printed no \"LLVM version: X.Y.Z\" line", excerpt(c.Path))
		}
		return c.LLVMErr.Error()
	}
	return "not probed"
}

// llvmUnknownFix names a rustc whose LLVM matches clang's, else says what
// to check: the LLVM= set cannot be the fix when rustc's side is unknown.
func (e *evalEnv) llvmUnknownFix(sel selection) string {
	want := major(sel.cc.CCVersion)
	for _, c := range e.d.rustc {
		if c != sel.rustc && e.goodRustc(c) && major(c.LLVMVersion) == want {
			return "RUSTC=" + c.Path + " HOSTRUSTC=" + c.Path
		}
	}
	return fmt.Sprintf("check that `%s --version --verbose` prints \"LLVM version: %d.x.y\" (a rustc built with LLVM %d, not a wrapper that hides it), or set RUSTC to one that does",
		excerpt(sel.rustc.Path), want, want)
}

// llvmMajorFix suggests a rustc whose LLVM matches clang, or a clang whose
// LLVM matches rustc.
func (e *evalEnv) llvmMajorFix(sel selection) string {
	want := major(sel.cc.CCVersion)
	for _, c := range e.d.rustc {
		if e.goodRustc(c) && major(c.LLVMVersion) == want {
			return "RUSTC=" + c.Path + " HOSTRUSTC=" + c.Path
		}
	}
	return e.llvmFix(sel)
}
