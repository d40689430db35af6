package toolchain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"
)

// Tool names a program rflkit looks for. The values are the names Kbuild
// runs them under (without an LLVM suffix or prefix).
type Tool string

// The tools Detect discovers and checks.
const (
	Rustc       Tool = "rustc"
	Rustdoc     Tool = "rustdoc"
	Rustfmt     Tool = "rustfmt"
	ClippyDrv   Tool = "clippy-driver"
	Bindgen     Tool = "bindgen"
	Libclang    Tool = "libclang" // the library bindgen loads, not an executable
	Clang       Tool = "clang"
	LLD         Tool = "ld.lld"
	LLVMAr      Tool = "llvm-ar"
	LLVMNm      Tool = "llvm-nm"
	LLVMObjcopy Tool = "llvm-objcopy"
	CC          Tool = "cc" // the C compiler named by CC= when it is not one of the clangs above
)

// VersionError reports version output that cannot be understood. It names
// the tool and quotes what it printed; callers branch on it with errors.As.
type VersionError struct {
	Tool   Tool   // which program
	Path   string // how it was run ("" when parsing text directly)
	Output string // what it printed
	Reason string // what was expected
}

func (e *VersionError) Error() string {
	who := string(e.Tool)
	if e.Path != "" {
		who = fmt.Sprintf("%s (%s)", e.Tool, e.Path)
	}
	return fmt.Sprintf("toolchain: cannot parse the version printed by %s: %s; it printed %s", who, e.Reason, quote(e.Output))
}

// Parsed is a tool's version as read from its output.
type Parsed struct {
	// Version is X.Y.Z, with the suffix the tool printed as a pre-release
	// where there is one ("1.86.0-nightly", "20.0.0-git", "0.71.1-dev").
	Version *version.Version
	// Vendor is the distributor when the output names one: "Debian",
	// "Ubuntu", "Fedora", "Apple", "Android", "Homebrew", ...
	Vendor string
	// Channel is rustc's release channel: "stable", "beta", "nightly" or
	// "dev"; empty for other tools.
	Channel string
	// Note says something a reader should know about this version (Apple's
	// clang numbering, a form the kernel's scripts do not accept, ...).
	Note string
	// KernelAccepts is false when the kernel's own script (see
	// scripts/rust_is_available.sh) would not parse this output although
	// rflkit can.
	KernelAccepts bool
	// Line is the line the version was read from.
	Line string
}

// The kernel's own patterns (scripts/rust_is_available.sh, sed -E). Go's
// leftmost-first matching with a greedy ".*" finds the same group as sed.
var (
	reRustc     = regexp.MustCompile(`^.*rustc ([0-9]+\.[0-9]+\.[0-9]+)(.*)$`)
	reBindgen   = regexp.MustCompile(`^.*bindgen ([0-9]+\.[0-9]+\.[0-9]+)(.*)$`)
	reBindgenCL = regexp.MustCompile(`^.*bindgen-cli ([0-9]+\.[0-9]+\.[0-9]+)(.*)$`)
	reLibclang  = regexp.MustCompile(`^.*clang version ([0-9]+\.[0-9]+\.[0-9]+).*$`)
	reCCVersion = regexp.MustCompile(`^.*version ([0-9]+\.[0-9]+\.[0-9]+)(.*)$`)
	reLLVMLine  = regexp.MustCompile(`LLVM.*?([0-9]+\.[0-9]+\.[0-9]+)`)
	reLLD       = regexp.MustCompile(`(?:^|\s)LLD ([0-9]+(?:\.[0-9]+){0,2})([^\s]*)`)
	reLLVMTool  = regexp.MustCompile(`LLVM version ([0-9]+\.[0-9]+\.[0-9]+)(\S*)`)
	reSuffix    = regexp.MustCompile(`^[-.~]?([0-9A-Za-z]+(?:[.-][0-9A-Za-z]+)*)`)
)

// maxSegment bounds each number of a version: nothing real comes close.
const maxSegment = 1 << 24

// maxPrerelease bounds a version's pre-release tag ("nightly", "beta.3",
// "git"): a longer one is cut, so that a tool printing a huge version
// line does not make a huge version.
const maxPrerelease = 64

func firstLine(s string) string {
	s = strings.TrimLeft(s, "\n")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimRight(s, "\r")
}

// newVersion builds X.Y.Z[-pre] from a core and the text after it. The
// suffix is kept only when it looks like a pre-release tag ("-nightly",
// "-beta.3", "git", "-dev"); distro revisions such as "-1ubuntu1" or
// "-2~ubuntu20.04.1" are not part of the upstream version.
func newVersion(core, rest string) *version.Version {
	v, err := version.NewVersion(core)
	if err != nil {
		// core always matches [0-9]+.[0-9]+.[0-9]+; an overflow is the only way here.
		return nil
	}
	for _, s := range v.Segments64() {
		if s > maxSegment {
			return nil // not a real version; keeps canonical() from overflowing
		}
	}
	pre := ""
	if len(rest) > 2*maxPrerelease {
		rest = rest[:2*maxPrerelease] // the tag is cut below anyway
	}
	if m := reSuffix.FindStringSubmatch(rest); m != nil && rest != "" && rest[0] != ' ' && rest[0] != '(' {
		tag := m[1]
		if len(tag) > maxPrerelease {
			tag = strings.TrimRight(tag[:maxPrerelease], ".-")
		}
		low := strings.ToLower(tag)
		for _, p := range []string{"nightly", "beta", "dev", "git", "rc"} {
			if strings.HasPrefix(low, p) {
				pre = tag
				break
			}
		}
	}
	if pre != "" {
		if pv, err := version.NewVersion(core + "-" + pre); err == nil {
			return pv
		}
	}
	return v
}

// ParseRustc reads `rustc --version`: "rustc 1.85.1 (4eb161250 2025-03-15)",
// with a channel suffix ("1.86.0-nightly", "1.78.0-beta.3", "-dev") and
// distributors' notes ("(built from a source tarball)", "(Fedora
// 1.85.0-1.fc41)", Ubuntu's "(Ubuntu 1.80.1)"). Like the kernel it reads the
// first line only and needs all three numbers.
func ParseRustc(out string) (Parsed, error) {
	line := firstLine(out)
	m := reRustc.FindStringSubmatch(line)
	if m == nil {
		return Parsed{}, &VersionError{Tool: Rustc, Output: out, Reason: `want "rustc X.Y.Z" on the first line`}
	}
	p := Parsed{Version: newVersion(m[1], m[2]), KernelAccepts: true, Line: bounded(line, maxField), Channel: "stable"}
	if p.Version == nil {
		return Parsed{}, &VersionError{Tool: Rustc, Output: out, Reason: "version number out of range"}
	}
	pre := strings.ToLower(p.Version.Prerelease())
	switch {
	case strings.HasPrefix(pre, "nightly"):
		p.Channel = "nightly"
	case strings.HasPrefix(pre, "beta"):
		p.Channel = "beta"
	case strings.HasPrefix(pre, "dev"):
		p.Channel = "dev"
	}
	rest := m[2]
	switch {
	case strings.Contains(rest, "built from a source tarball"):
		p.Vendor = "distribution (built from a source tarball)"
	case strings.Contains(rest, "Fedora"):
		p.Vendor = "Fedora"
	case strings.Contains(rest, "Ubuntu"):
		p.Vendor = "Ubuntu"
	case strings.Contains(rest, "Homebrew"):
		p.Vendor = "Homebrew"
	}
	return p, nil
}

// ParseRustcLLVM reads the "LLVM version: 19.1.7" line of
// `rustc --version --verbose` the way scripts/rustc-llvm-version.sh does.
func ParseRustcLLVM(out string) (*version.Version, error) {
	for _, line := range strings.Split(out, "\n") {
		if m := reLLVMLine.FindStringSubmatch(line); m != nil {
			if v := newVersion(m[1], ""); v != nil {
				return v, nil
			}
		}
	}
	return nil, &VersionError{Tool: Rustc, Output: out, Reason: `want an "LLVM version: X.Y.Z" line in --version --verbose`}
}

// ParseBindgen reads `bindgen --version`: "bindgen 0.71.1", suffixed forms
// ("bindgen 0.71.1-dev"), the old "bindgen 0.56.0" and "bindgen-cli
// 0.65.1". The kernel's script needs "bindgen X.Y.Z" on the first line;
// a form it rejects is parsed with KernelAccepts false.
func ParseBindgen(out string) (Parsed, error) {
	line := firstLine(out)
	if m := reBindgen.FindStringSubmatch(line); m != nil {
		if v := newVersion(m[1], m[2]); v != nil {
			return Parsed{Version: v, KernelAccepts: true, Line: bounded(line, maxField)}, nil
		}
	}
	if m := reBindgenCL.FindStringSubmatch(line); m != nil {
		if v := newVersion(m[1], m[2]); v != nil {
			return Parsed{Version: v, Line: bounded(line, maxField), Note: `the kernel's rust_is_available.sh only accepts "bindgen X.Y.Z", not "bindgen-cli X.Y.Z"`}, nil
		}
	}
	return Parsed{}, &VersionError{Tool: Bindgen, Output: out, Reason: `want "bindgen X.Y.Z" on the first line`}
}

// ParseLibclang reads what bindgen prints on stderr when it processes
// scripts/rust_is_available_bindgen_libclang.h: a "#pragma message" with
// "clang version X.Y.Z", on any line (as the kernel's script reads it).
func ParseLibclang(out string) (Parsed, error) {
	for _, line := range strings.Split(out, "\n") {
		if m := reLibclang.FindStringSubmatch(line); m != nil {
			if v := newVersion(m[1], ""); v != nil {
				return Parsed{Version: v, KernelAccepts: true, Line: bounded(strings.TrimSpace(line), maxField)}, nil
			}
		}
	}
	return Parsed{}, &VersionError{Tool: Libclang, Output: out, Reason: `want "clang version X.Y.Z" in bindgen's diagnostics`}
}

// ParseClang reads the first line of `clang --version`: upstream "clang
// version 19.1.7", vendor forms ("Debian clang version 19.1.7 (3+b1)",
// "Ubuntu clang version 18.1.3 (1ubuntu1)", "clang version 19.1.7 (Fedora
// 19.1.7-3.fc41)", "Homebrew clang version 19.1.7", "Android (11349228,
// +pgo, ...) clang version 18.0.1 (...)", "clang version 20.0.0git (...)")
// and Apple's ("Apple clang version 15.0.0 (clang-1500.3.9.4)", whose
// numbering is Apple's, not LLVM's).
func ParseClang(out string) (Parsed, error) {
	line := firstLine(out)
	m := reCCVersion.FindStringSubmatch(line)
	if m == nil {
		return Parsed{}, &VersionError{Tool: Clang, Output: out, Reason: `want "clang version X.Y.Z" on the first line`}
	}
	p := Parsed{Version: newVersion(m[1], m[2]), KernelAccepts: true, Line: bounded(line, maxField)}
	if p.Version == nil {
		return Parsed{}, &VersionError{Tool: Clang, Output: out, Reason: "version number out of range"}
	}
	if i := strings.Index(line, "clang version"); i > 0 {
		prefix := strings.TrimSpace(line[:i])
		if j := strings.IndexAny(prefix, " ("); j > 0 {
			prefix = prefix[:j]
		}
		p.Vendor = bounded(prefix, maxField)
	}
	switch {
	case p.Vendor == "" && strings.Contains(m[2], "Fedora"):
		p.Vendor = "Fedora"
	case p.Vendor == "" && strings.Contains(m[2], "Red Hat"):
		p.Vendor = "Red Hat"
	}
	if p.Vendor == "Apple" {
		p.Note = "Apple clang's version numbers are Apple's own, not LLVM's: its major does not name the LLVM release it is based on"
	}
	return p, nil
}

// ParseLLD reads `ld.lld --version`: "LLD 19.1.7 (compatible with GNU
// linkers)", "Debian LLD 19.1.7", "Homebrew LLD 19.1.7", the way
// scripts/ld-version.sh does (the word after "LLD" on the first line,
// cut at the first character that is not a digit or a dot).
func ParseLLD(out string) (Parsed, error) {
	line := firstLine(out)
	m := reLLD.FindStringSubmatch(line)
	if m == nil {
		return Parsed{}, &VersionError{Tool: LLD, Output: out, Reason: `want "LLD X.Y.Z" on the first line`}
	}
	segs := strings.Split(m[1], ".")
	for len(segs) < 3 {
		segs = append(segs, "0")
	}
	p := Parsed{Version: newVersion(strings.Join(segs, "."), m[2]), KernelAccepts: true, Line: bounded(line, maxField)}
	if p.Version == nil {
		return Parsed{}, &VersionError{Tool: LLD, Output: out, Reason: "version number out of range"}
	}
	if i := strings.Index(line, "LLD "); i > 0 {
		p.Vendor = bounded(strings.TrimSpace(line[:i]), maxField)
	}
	return p, nil
}

// ParseLLVMTool reads `llvm-ar --version` (and llvm-nm, llvm-objcopy, ...):
// "LLVM version 19.1.7", possibly after a vendor ("Debian LLVM version
// 19.1.7", "Ubuntu LLVM version 18.1.3") and not always on the first line.
func ParseLLVMTool(tool Tool, out string) (Parsed, error) {
	for _, line := range strings.Split(out, "\n") {
		m := reLLVMTool.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p := Parsed{Version: newVersion(m[1], m[2]), KernelAccepts: true, Line: bounded(strings.TrimSpace(line), maxField)}
		if p.Version == nil {
			break
		}
		if i := strings.Index(line, "LLVM version"); i > 0 {
			p.Vendor = bounded(strings.TrimSpace(line[:i]), maxField)
		}
		return p, nil
	}
	return Parsed{}, &VersionError{Tool: tool, Output: out, Reason: `want "LLVM version X.Y.Z"`}
}

// canonical is the kernel's get_canonical_version: 100000*X + 100*Y + Z
// (rust_is_available.sh). Comparisons use it, not semantic-version order,
// so that "1.86.0-nightly" meets a 1.86.0 minimum exactly as in the kernel.
func canonical(v *version.Version) int64 {
	if v == nil {
		return 0
	}
	s := v.Segments64()
	for len(s) < 3 {
		s = append(s, 0)
	}
	return 100000*s[0] + 100*s[1] + s[2]
}

// atLeast reports whether v meets min the way the kernel compares them.
func atLeast(v, min *version.Version) bool { return canonical(v) >= canonical(min) }

// major returns v's first segment, 0 for nil.
func major(v *version.Version) int {
	if v == nil {
		return 0
	}
	return v.Segments()[0]
}

// core returns "X.Y.Z" of v.
func core(v *version.Version) string {
	if v == nil {
		return ""
	}
	s := v.Segments64()
	for len(s) < 3 {
		s = append(s, 0)
	}
	return strconv.FormatInt(s[0], 10) + "." + strconv.FormatInt(s[1], 10) + "." + strconv.FormatInt(s[2], 10)
}
