package kbuild

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/osutil"
)

// Builder configures and builds one kernel tree. Its zero value (with Src
// set) builds with LLVM=1, runtime.NumCPU() jobs, for the host architecture,
// in the cache below $RFLKIT_CACHE_DIR or ~/.cache/rflkit.
type Builder struct {
	// Src is a kernel source directory or a source tarball (.tar.xz,
	// .tar.gz, .tar), which is unpacked once into CacheDir/src.
	Src string
	// OutDir is the O= directory. Empty means a directory managed by the
	// build cache (the normal case). When set, builds run in OutDir like a
	// plain incremental `make O=OutDir`, and the build cache is not used.
	OutDir string
	// Arch is the kernel ARCH (x86_64, arm64, ...). Empty means the host's.
	Arch string
	// LLVM is the kernel's LLVM variable: "1", a version suffix such as
	// "-19", or a directory ending in "/". Empty means MakeVars["LLVM"],
	// else "1".
	LLVM string
	// MakeVars are the toolchain's make variables (toolchain.Report.MakeVars:
	// LLVM, RUSTC, HOSTRUSTC, RUSTDOC, BINDGEN, RUST_LIB_SRC).
	MakeVars map[string]string
	// ExtraVars are further make variables given by the user (KCFLAGS,
	// W=1, ...). They may not contradict Arch, LLVM, MakeVars or OutDir.
	ExtraVars map[string]string
	// Jobs is make's -j. Zero means runtime.NumCPU().
	Jobs int
	// CCache, when set, is the path of a ccache (or sccache) executable
	// wrapped around the compiler: CC and HOSTCC become "CCACHE clang" with
	// the clang that LLVM designates.
	CCache string
	// Env is the environment make runs in; nil means os.Environ(). Make's
	// own recursion variables (MAKEFLAGS, MAKELEVEL, ...) and KBUILD_OUTPUT
	// are always removed from it.
	Env []string
	// CacheDir is rflkit's cache root; builds go to CacheDir/builds. Empty
	// means $RFLKIT_CACHE_DIR, else os.UserCacheDir()/rflkit.
	CacheDir string
	// CacheLimit is the size limit of CacheDir/builds in bytes, enforced
	// after each build by evicting the least recently used entries. Zero
	// means DefaultCacheLimit; negative means no limit.
	CacheLimit int64
	// Fingerprint is an optional toolchain fingerprint
	// (toolchain.Report.Fingerprint), recorded in metadata.json. It is not
	// part of the cache key: kbuild keys on the versions of the tools the
	// make variables name, which it probes itself, so callers that hand it
	// the same tools share cache entries (see UseToolchain).
	Fingerprint string
	// NoExplain skips kconfig's explanation of rejected options in a
	// *ConfigError (it evaluates the whole Kconfig tree, a few seconds).
	NoExplain bool
	// MakeOutput receives make's output as it runs. Nil discards it (a
	// cached build also keeps it in its build.log).
	MakeOutput io.Writer
	// Log is the old name of MakeOutput, used when MakeOutput is nil.
	//
	// Deprecated: use MakeOutput.
	Log io.Writer
	// Logger receives the build's lifecycle (source, configuration, cache
	// hit or miss, seeding, done) at Info level; nil discards it.
	Logger *slog.Logger
	// Progress, when set, is called with progress events. It is called
	// from the goroutine running Build and must not block for long.
	Progress func(Event)
}

// DefaultCacheLimit is the build cache's size limit when
// Builder.CacheLimit is zero.
const DefaultCacheLimit int64 = 40 << 30

// Invocation is one run of make, as data: what Build would execute.
type Invocation struct {
	// Argv is the full command line, Argv[0] being "make".
	Argv []string
	// Env is the complete environment.
	Env []string
}

// String returns a shell command line reproducing the invocation (only the
// make command; the environment is the caller's).
func (inv Invocation) String() string { return osutil.ShellJoin(inv.Argv) }

// UsageError reports a Builder or spec that cannot work, before anything
// runs: conflicting variables, a bad ARCH or LLVM value, a missing source.
type UsageError struct {
	Field string // the offending field or variable
	Msg   string
}

// Error returns "kbuild: FIELD: message".
func (e *UsageError) Error() string { return fmt.Sprintf("kbuild: %s: %s", e.Field, e.Msg) }

var (
	varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	archRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	llvmRE    = regexp.MustCompile(`^(1|-[0-9]+)$`)
)

// makeVarsToStrip are environment variables that would make the child make
// behave like a sub-make of some outer make, or redirect its output.
var makeVarsToStrip = []string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "KBUILD_OUTPUT"}

// arch returns the kernel ARCH for the builder: Arch, else ARCH from the
// variables, else the host's.
func (b *Builder) arch() string {
	if b.Arch != "" {
		return b.Arch
	}
	if a := b.MakeVars["ARCH"]; a != "" {
		return a
	}
	if a := b.ExtraVars["ARCH"]; a != "" {
		return a
	}
	return karch.Host()
}

func (b *Builder) jobs() int {
	if b.Jobs > 0 {
		return b.Jobs
	}
	return runtime.NumCPU()
}

// vars returns the validated make variables (without O and -j), including
// ARCH and LLVM, or a *UsageError describing the first conflict.
func (b *Builder) vars() (map[string]string, error) {
	out := map[string]string{}
	if b.Jobs < 0 {
		return nil, &UsageError{"Jobs", fmt.Sprintf("must not be negative (got %d)", b.Jobs)}
	}
	check := func(field string, m map[string]string) error {
		for k, v := range m {
			if !varNameRE.MatchString(k) {
				return &UsageError{field, fmt.Sprintf("bad make variable name %q", k)}
			}
			if strings.ContainsAny(v, "\n\x00") {
				return &UsageError{field, fmt.Sprintf("variable %s: value contains a newline or NUL", k)}
			}
			switch k {
			case "O", "KBUILD_OUTPUT":
				return &UsageError{field, fmt.Sprintf("%s= is not allowed here: set Builder.OutDir (builds are always out of tree)", k)}
			case "MAKEFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MFLAGS":
				return &UsageError{field, fmt.Sprintf("%s= is make's own; set Builder.Jobs for -j", k)}
			}
		}
		return nil
	}
	if err := check("MakeVars", b.MakeVars); err != nil {
		return nil, err
	}
	if err := check("ExtraVars", b.ExtraVars); err != nil {
		return nil, err
	}
	for k, v := range b.MakeVars {
		out[k] = v
	}
	for k, v := range b.ExtraVars {
		if old, ok := out[k]; ok && old != v {
			return nil, &UsageError{"ExtraVars", fmt.Sprintf("%s=%q contradicts the toolchain's %s=%q", k, v, k, old)}
		}
		out[k] = v
	}

	// ARCH.
	arch := b.arch()
	if !archRE.MatchString(arch) {
		return nil, &UsageError{"Arch", fmt.Sprintf("bad ARCH %q", arch)}
	}
	if a, ok := out["ARCH"]; ok && a != arch {
		return nil, &UsageError{"Arch", fmt.Sprintf("Builder.Arch=%q but make variable ARCH=%q", arch, a)}
	}
	out["ARCH"] = arch

	// LLVM.
	llvm := b.LLVM
	if v, ok := out["LLVM"]; ok {
		if llvm != "" && v != llvm {
			return nil, &UsageError{"LLVM", fmt.Sprintf("Builder.LLVM=%q but make variable LLVM=%q", llvm, v)}
		}
		llvm = v
	}
	if llvm == "" {
		llvm = "1"
	}
	if !llvmRE.MatchString(llvm) && !(filepath.IsAbs(llvm) && strings.HasSuffix(llvm, "/")) {
		return nil, &UsageError{"LLVM", fmt.Sprintf("bad LLVM value %q: want 1, a suffix like -19, or an absolute directory ending in /", llvm)}
	}
	out["LLVM"] = llvm

	// Compilers and linkers that are not LLVM's contradict LLVM.
	for _, k := range []string{"CC", "HOSTCC", "LD", "HOSTLD", "AR", "NM", "OBJCOPY", "STRIP"} {
		v, ok := out[k]
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if isGNUTool(filepath.Base(f[len(f)-1])) {
			return nil, &UsageError{k, fmt.Sprintf("%s=%s contradicts LLVM=%s (rflkit builds with clang/LLVM)", k, v, llvm)}
		}
	}

	// ccache.
	if b.CCache != "" {
		for _, k := range []string{"CC", "HOSTCC"} {
			if _, ok := out[k]; ok {
				return nil, &UsageError{"CCache", fmt.Sprintf("cannot wrap the compiler with ccache: %s is set explicitly", k)}
			}
		}
		clang := llvmTool(llvm, "clang")
		out["CC"] = b.CCache + " " + clang
		out["HOSTCC"] = b.CCache + " " + clang
	}
	return out, nil
}

// isGNUTool reports whether a command name is GCC or a GNU binutils tool
// (gcc, gcc-12, x86_64-linux-gnu-gcc, ld, ld.bfd, x86_64-linux-gnu-ar, ...).
func isGNUTool(name string) bool {
	if strings.HasPrefix(name, "llvm-") || strings.HasPrefix(name, "clang") || strings.HasPrefix(name, "ld.lld") {
		return false
	}
	if name == "cc" || name == "gcc" || strings.HasPrefix(name, "gcc-") || strings.HasSuffix(name, "-gcc") || strings.Contains(name, "-gcc-") {
		return true
	}
	for _, p := range []string{"ld", "ld.bfd", "ld.gold", "ar", "nm", "objcopy", "strip"} {
		if name == p || strings.HasSuffix(name, "-"+p) {
			return true
		}
	}
	return false
}

// llvmTool returns the command the kernel's Makefile derives from LLVM for
// an LLVM tool (clang, ld.lld, llvm-ar...).
func llvmTool(llvm, tool string) string {
	switch {
	case strings.HasSuffix(llvm, "/"):
		return llvm + tool
	case strings.HasPrefix(llvm, "-"):
		return tool + llvm
	}
	return tool
}

// Command returns the make invocation that builds targets in outDir, as
// data: nothing runs. It validates the builder and fails with a *UsageError
// on conflicting variables.
func (b *Builder) Command(srcDir, outDir string, targets ...string) (Invocation, error) {
	vars, err := b.vars()
	if err != nil {
		return Invocation{}, err
	}
	if srcDir == "" {
		return Invocation{}, &UsageError{"Src", "no kernel source given"}
	}
	if outDir == "" {
		return Invocation{}, &UsageError{"OutDir", "no output directory"}
	}
	for _, t := range targets {
		if t == "" || strings.HasPrefix(t, "-") || strings.Contains(t, "=") || strings.ContainsAny(t, " \n\t\x00") {
			return Invocation{}, &UsageError{"Targets", fmt.Sprintf("bad make target %q (variables go in ExtraVars)", t)}
		}
	}
	argv := []string{"make", "-C", srcDir, "O=" + outDir, "-j" + strconv.Itoa(b.jobs())}
	for _, k := range sortedKeys(vars) {
		argv = append(argv, k+"="+vars[k])
	}
	argv = append(argv, targets...)
	env := b.Env
	if env == nil {
		env = os.Environ()
	}
	return Invocation{Argv: argv, Env: cleanEnv(env)}, nil
}

func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
outer:
	for _, kv := range env {
		for _, k := range makeVarsToStrip {
			if strings.HasPrefix(kv, k+"=") {
				continue outer
			}
		}
		out = append(out, kv)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
