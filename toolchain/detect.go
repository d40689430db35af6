package toolchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"
)

// Options says where to look. The zero value checks the tools of this
// process's environment against the built-in minimums for the host.
type Options struct {
	// SrcDir is the kernel tree whose scripts/min-tool-version.sh gives
	// the minimums (and whose bindgen probe headers are used). Empty:
	// the built-in fallback table.
	SrcDir string
	// Arch is the kernel ARCH (x86_64, arm64, ...). Empty: ARCH from Env,
	// else the host's.
	Arch string
	// Env is the environment: PATH, HOME, RUSTUP_HOME, and the variables
	// that name tools (RUSTC, HOSTRUSTC, RUSTDOC, BINDGEN, CC, LLVM,
	// RUST_LIB_SRC, KRUSTFLAGS). A tool named by a variable is used as
	// given, as Kbuild would. Nil means os.Environ().
	Env []string
	// LLVMRoot is the directory holding llvm-N/bin installs (Debian and
	// Ubuntu's layout). Empty: /usr/lib. Tests point it elsewhere.
	LLVMRoot string
	// Timeout bounds each probe command (one run of a tool); zero means
	// DefaultTimeout. A tool that does not finish in time is killed with
	// its process group and reported as a Problem; it is not run again in
	// the same Detect.
	Timeout time.Duration
	// Jobs is how many candidates are probed at once; zero means 4.
	Jobs int
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// CacheDir is rflkit's cache root (internal/cachedir's rule is the
	// caller's: the CLIs pass the resolved default). When it is not "",
	// every probe that exited 0 is remembered in its toolchain-probes/,
	// keyed by the executable's identity (resolved path, size, mtime,
	// ctime, device, inode), its arguments and the files they name, and
	// the environment variables the answers depend on (PATH,
	// LD_LIBRARY_PATH, LIBCLANG_PATH, BINDGEN_*, ...); bindgen's libclang
	// probe also by the loaded libclang's identity. A repeated Detect then
	// runs no tool, and a tool that changes is probed again. Failures and
	// timeouts are not cached; rustup's proxies (whose answer depends on
	// rustup's settings and overrides) are always run, and so is a CC= of
	// several words. Files that are not probes (rust-src, RUST_LIB_SRC)
	// are looked at on every call. Empty: no cache.
	CacheDir string
}

// ChosenTool is one member of the chosen set.
type ChosenTool struct {
	Path     string `json:"path"`
	Resolved string `json:"resolved,omitempty"`
	Version  string `json:"version"`
	// LLVM is the LLVM version rustc was built with (rustc only).
	LLVM string `json:"llvm_version,omitempty"`
}

// Report is what Detect found and decided.
type Report struct {
	// RustAvailable is the verdict of the kernel's `make rustavailable`
	// with MakeVars: no error among checks 1 to 9.
	RustAvailable bool `json:"rust_available"`
	// InlineHelpers says whether RUST_INLINE_HELPERS can be enabled: Rust
	// is available, ClangLLVMCompatible, and ARCH is x86_64 or arm64.
	InlineHelpers bool `json:"inline_helpers"`
	// ClangLLVMCompatible is what Kconfig computes for
	// CONFIG_RUSTC_CLANG_LLVM_COMPATIBLE: clang is the C compiler and
	// rustc's LLVM major equals clang's.
	ClangLLVMCompatible bool `json:"clang_llvm_compatible"`
	// BuildOK is false when the chosen set cannot build a kernel (an LLVM
	// tool is missing or too old, no C compiler).
	BuildOK bool `json:"build_ok"`
	// Chosen maps a tool to the member of the chosen set that plays it.
	Chosen map[Tool]ChosenTool `json:"chosen"`
	// Candidates is everything found, in discovery order.
	Candidates []*Candidate `json:"candidates"`
	// Problems are the chosen set's failed checks, in check order.
	Problems []Problem `json:"problems"`
	// MakeVars hands the chosen set to Kbuild: LLVM, RUSTC, HOSTRUSTC,
	// RUSTDOC, BINDGEN, and when found or given RUSTFMT, CLIPPY_DRIVER, CC
	// and RUST_LIB_SRC.
	MakeVars map[string]string `json:"make_vars"`
	// Fingerprint is a stable hash of the chosen tools' paths and
	// versions and of MakeVars; caches key on it.
	Fingerprint string `json:"fingerprint"`
	// Minimums are the versions checked against, and their source.
	Minimums Minimums `json:"minimums"`
	// SrcDir and Arch are the tree and architecture checked for.
	SrcDir string `json:"src_dir,omitempty"`
	Arch   string `json:"arch"`
}

// Errors returns the problems of severity error in scope.
func (r *Report) Errors(scope Scope) []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Scope == scope && p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// MakeArgs returns MakeVars as sorted NAME=value arguments for make.
func (r *Report) MakeArgs() []string {
	out := make([]string, 0, len(r.MakeVars))
	for k, v := range r.MakeVars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Detect discovers every candidate tool, probes each, checks every
// combination against the tree's minimums and the kernel's checks, and
// chooses the best consistent set: no error first, then a clang whose LLVM
// major equals rustc's, then fewest warnings, then PATH order. A tool
// named by a variable in Env is always the one chosen.
//
// Detect fails only when it cannot run at all (the context is done, the
// minimums cannot be read); a toolchain that is broken is a Report with
// Problems.
func Detect(ctx context.Context, opts Options) (*Report, error) {
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	arch := opts.Arch
	if arch == "" {
		if a, ok := envLookup(env, "ARCH"); ok && a != "" {
			arch = a
		} else {
			arch = HostArch()
		}
	}
	run := newRunner(env, opts.Timeout)
	run.cache, run.log = newProbeCache(opts.CacheDir, env), log
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	llvmRoot := opts.LLVMRoot
	if llvmRoot == "" {
		llvmRoot = "/usr/lib"
	}

	if opts.SrcDir != "" {
		st, err := os.Stat(opts.SrcDir)
		if err != nil {
			return nil, fmt.Errorf("toolchain: kernel tree: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("toolchain: kernel tree %s is not a directory", opts.SrcDir)
		}
		if _, err := os.Stat(filepath.Join(opts.SrcDir, "arch")); err == nil {
			if _, err := os.Stat(filepath.Join(opts.SrcDir, "arch", SrcArch(arch))); err != nil {
				return nil, fmt.Errorf("toolchain: ARCH=%s: %s has no arch/%s", arch, opts.SrcDir, SrcArch(arch))
			}
		}
	}
	mins, err := readMinimums(ctx, run, opts.SrcDir, arch)
	if err != nil {
		return nil, err
	}
	log.Debug("minimums", "rustc", mins.Rustc, "bindgen", mins.Bindgen, "llvm", mins.LLVM, "source", mins.Source)

	d, f := discover(env, llvmRoot)
	// Without LLVM= (and CC=), Kbuild builds with gcc.
	var gcc *Candidate
	if d.cc == nil {
		if p := f.lookPath("gcc"); p != "" {
			gcc = f.add(CC, p, "Kbuild's default without LLVM=", false)
			d.all = f.list
		}
	}
	rustLibSrc, _ := envLookup(env, "RUST_LIB_SRC")
	krf, _ := envLookup(env, "KRUSTFLAGS")
	p := &prober{
		r:          run,
		krustflags: strings.Fields(krf),
		rustLibSrc: rustLibSrc,
		rustupHome: f.rustupHome,
		jobs:       jobs,
	}
	// What an earlier Detect killed by a signal left goes; only bindgen's
	// probes need files (the headers without a tree, the dynamic loader's
	// logs).
	reapScratch(os.TempDir(), time.Now(), log)
	if slices.ContainsFunc(d.all, func(c *Candidate) bool { return c.Tool == Bindgen && c.found }) {
		sc, err := newScratch(os.TempDir())
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := sc.remove(); err != nil {
				log.Debug("scratch", "err", err)
			}
		}()
		p.tmp = sc.dir
		if p.header, err = probeHeader(opts.SrcDir, sc.dir, libclangHeaderName, libclangHeader); err != nil {
			return nil, err
		}
		if p.header22, err = probeHeader(opts.SrcDir, sc.dir, libclang22HeaderName, libclang22Header); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	p.probeAll(ctx, d.all)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	log.Debug("probed", "candidates", len(d.all), "took", time.Since(start), "cache_hits", run.hits.Load(), "cache_misses", run.misses.Load())

	e := &evalEnv{mins: mins, arch: arch, rustLibSrc: rustLibSrc, d: d}
	sel, problems := e.choose(d, gcc)

	if problems == nil {
		problems = []Problem{} // "problems": [] in JSON
	}
	if d.all == nil {
		d.all = []*Candidate{}
	}
	r := &Report{
		Candidates: d.all,
		Problems:   problems,
		Minimums:   mins,
		SrcDir:     opts.SrcDir,
		Arch:       arch,
		Chosen:     map[Tool]ChosenTool{},
		MakeVars:   map[string]string{},
	}
	r.RustAvailable = len(r.Errors(ScopeRust)) == 0
	r.BuildOK = len(r.Errors(ScopeBuild)) == 0
	r.ClangLLVMCompatible = sel.cc != nil && sel.cc.CCName == "Clang" && sel.rustc != nil &&
		major(sel.rustc.LLVMVersion) == major(sel.cc.CCVersion)
	r.InlineHelpers = r.RustAvailable && len(r.Errors(ScopeInlineHelpers)) == 0
	fillChosen(ctx, r, p.r, sel, d, env)
	if sel.rustc != nil && r.MakeVars["RUSTDOC"] == "" {
		which := "rustc " + core(sel.rustc.Version)
		if sel.rustc.Version == nil {
			which = "the toolchain of " + sel.rustc.Path + ", whose version is unknown"
		}
		r.Problems = append(r.Problems, Problem{CheckRustdoc, ScopeBuild, SeverityWarning, Rustdoc,
			"no rustdoc beside " + sel.rustc.Path, "rustdoc of the same toolchain (Kbuild runs it for rustdoc and doctests)",
			"RUSTDOC=/path/to/rustdoc (the one of " + which + "; Kbuild otherwise runs the first rustdoc on PATH)"})
	}
	r.Fingerprint = fingerprint(r)
	return r, nil
}

// probeHeader returns the tree's scripts/NAME, or writes content to
// tmp/NAME when there is no tree (or the tree lacks it).
func probeHeader(srcDir, tmp, name, content string) (string, error) {
	if srcDir != "" {
		p := filepath.Join(srcDir, "scripts", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p := filepath.Join(tmp, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return "", fmt.Errorf("toolchain: %w", err)
	}
	return p, nil
}

// score orders selections: first whether anything stops Rust, a build,
// inline helpers (in that order), then how many errors of each, then how
// many warnings.
func score(ps []Problem) [7]int {
	var s [7]int
	for _, p := range ps {
		switch {
		case p.Severity == SeverityWarning:
			s[6]++
		case p.Scope == ScopeRust:
			s[0], s[3] = 1, s[3]+1
		case p.Scope == ScopeBuild:
			s[1], s[4] = 1, s[4]+1
		default:
			s[2], s[5] = 1, s[5]+1
		}
	}
	return s
}

// choose tries every combination the variables allow and returns the best.
func (e *evalEnv) choose(d *discovered, gcc *Candidate) (selection, []Problem) {
	pinnedOr := func(list []*Candidate) []*Candidate {
		for _, c := range list {
			if c.pinned {
				return []*Candidate{c}
			}
		}
		if len(list) == 0 {
			return []*Candidate{nil}
		}
		return list
	}
	rustcs, bindgens := pinnedOr(d.rustc), pinnedOr(d.bindgen)
	type ccSet struct {
		set *llvmSet
		cc  *Candidate
	}
	var sets []ccSet
	switch {
	case d.cc != nil: // CC= wins over LLVM='s clang (it is a make variable too)
		var s *llvmSet
		if len(d.sets) == 1 && d.sets[0].pinned {
			s = d.sets[0]
		}
		sets = append(sets, ccSet{s, d.cc})
	case len(d.sets) == 1 && d.sets[0].pinned:
		sets = append(sets, ccSet{d.sets[0], d.sets[0].tools[Clang]})
	default:
		for _, s := range d.sets {
			if s.tools[Clang] != nil {
				sets = append(sets, ccSet{s, s.tools[Clang]})
			}
		}
		if gcc != nil || len(sets) == 0 {
			sets = append(sets, ccSet{nil, gcc})
		}
	}
	var best selection
	var bestPs []Problem
	var bestScore [7]int
	first := true
	for _, s := range sets {
		for _, rc := range rustcs {
			for _, bg := range bindgens {
				sel := selection{rustc: rc, bindgen: bg, set: s.set, cc: s.cc}
				ps := e.evaluate(sel)
				sc := score(ps)
				if first || less(sc, bestScore) {
					best, bestPs, bestScore, first = sel, ps, sc, false
				}
			}
		}
	}
	return best, bestPs
}

func less(a, b [7]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

var reAnyVersion = regexp.MustCompile(`[0-9]+\.[0-9]+\.[0-9]+[^\s)]*`)

// companion finds NAME beside rustc (beside its path, else beside the
// resolved file) and asks its version.
func companion(ctx context.Context, r *runner, rustc *Candidate, name string) (ChosenTool, bool) {
	dirs := []string{filepath.Dir(rustc.Path)}
	if rustc.Resolved != "" {
		dirs = append(dirs, filepath.Dir(rustc.Resolved))
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if !isExec(p) {
			continue
		}
		ct := ChosenTool{Path: p}
		if res, err := filepath.EvalSymlinks(p); err == nil {
			ct.Resolved = res
		}
		if res, err := r.probe(ctx, "", nil, p, "--version"); err == nil {
			ct.Version = bounded(reAnyVersion.FindString(firstLine(res.stdout)), maxPrerelease)
		}
		return ct, true
	}
	return ChosenTool{}, false
}

func chosenOf(c *Candidate) ChosenTool {
	v := ""
	if c.Version != nil {
		v = c.Version.String()
	}
	return ChosenTool{Path: c.Path, Resolved: c.Resolved, Version: v}
}

// fillChosen fills r.Chosen and r.MakeVars from sel.
func fillChosen(ctx context.Context, r *Report, run *runner, sel selection, d *discovered, env []string) {
	mv := r.MakeVars
	if c := sel.rustc; c != nil {
		r.Chosen[Rustc] = chosenOf(c)
		if c.LLVMVersion != nil {
			ct := r.Chosen[Rustc]
			ct.LLVM = c.LLVMVersion.String()
			r.Chosen[Rustc] = ct
		}
		mv["RUSTC"] = c.Path
		mv["HOSTRUSTC"] = c.Path
		companions := []struct {
			tool Tool
			name string
		}{{Rustdoc, "RUSTDOC"}, {Rustfmt, "RUSTFMT"}, {ClippyDrv, "CLIPPY_DRIVER"}}
		// Independent programs: asked at once, so that hanging ones
		// cost one timeout, not three.
		found := make([]ChosenTool, len(companions))
		ok := make([]bool, len(companions))
		var wg sync.WaitGroup
		for i, t := range companions {
			wg.Go(func() { found[i], ok[i] = companion(ctx, run, c, string(t.tool)) })
		}
		wg.Wait()
		for i, t := range companions {
			if ok[i] {
				r.Chosen[t.tool] = found[i]
				mv[t.name] = found[i].Path
			}
		}
	}
	if c := sel.bindgen; c != nil {
		r.Chosen[Bindgen] = chosenOf(c)
		mv["BINDGEN"] = c.Path
		if c.LibclangVersion != nil {
			r.Chosen[Libclang] = ChosenTool{Path: c.Libclang, Version: c.LibclangVersion.String()}
		}
	}
	if s := sel.set; s != nil {
		mv["LLVM"] = s.Var
		for _, t := range llvmTools {
			if c := s.tools[t]; c != nil {
				r.Chosen[t] = chosenOf(c)
			}
		}
	}
	if c := sel.cc; c != nil && (sel.set == nil || c != sel.set.tools[Clang]) {
		r.Chosen[CC] = chosenOf(c)
		if c.pinned {
			mv["CC"] = c.Path
		}
	}
	// Variables the user gave are handed on as given.
	for _, name := range []string{"HOSTRUSTC", "RUSTDOC", "RUSTFMT", "CLIPPY_DRIVER", "RUST_LIB_SRC"} {
		if v, ok := envLookup(env, name); ok && v != "" {
			mv[name] = v
		}
	}
}

// fingerprint hashes the chosen tools and the make variables.
func fingerprint(r *Report) string {
	var lines []string
	for t, c := range r.Chosen {
		lines = append(lines, fmt.Sprintf("tool %s\t%s\t%s\t%s", t, c.Path, c.Resolved, c.Version))
	}
	for k, v := range r.MakeVars {
		lines = append(lines, fmt.Sprintf("var %s=%s", k, v))
	}
	if c := r.Chosen[Rustc]; c.Path != "" {
		for _, cand := range r.Candidates {
			if cand.Tool == Rustc && cand.Path == c.Path {
				lines = append(lines, "llvm "+verString(cand.LLVMVersion), "rust-src "+cand.RustSrc)
			}
		}
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:16])
}

func verString(v *version.Version) string {
	if v == nil {
		return ""
	}
	return v.String()
}
