package toolchain

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"
)

// Candidate is one program (or, for libclang, the library bindgen loads)
// that Detect found, with what probing it revealed.
type Candidate struct {
	Tool Tool `json:"tool"`
	// Path is the path as found or given (a symlink is kept as such, so
	// that rustup proxies and clang-19 keep their names). For CC= it is the
	// variable's value, which may hold several words ("ccache clang").
	Path string `json:"path"`
	// Resolved is Path with every symlink resolved.
	Resolved string `json:"resolved,omitempty"`
	// Source says where it was found: "PATH", "RUSTC" (or another
	// variable), "rustup toolchain NAME", "/usr/lib/llvm-19/bin", "LLVM=-19".
	Source string `json:"source"`

	Version       *version.Version `json:"version,omitempty"`
	VersionLine   string           `json:"version_line,omitempty"`
	Vendor        string           `json:"vendor,omitempty"`
	Channel       string           `json:"channel,omitempty"`
	Note          string           `json:"note,omitempty"`
	KernelAccepts bool             `json:"kernel_accepts"`

	// rustc only.
	LLVMVersion *version.Version `json:"llvm_version,omitempty"` // from rustc --version --verbose
	Sysroot     string           `json:"sysroot,omitempty"`      // rustc --print sysroot
	// RustSrc is where the standard library's source is looked for
	// (RUST_LIB_SRC, else SYSROOT/lib/rustlib/src/rust/library);
	// HasRustSrc says whether core/src/lib.rs is there.
	RustSrc    string `json:"rust_src,omitempty"`
	HasRustSrc bool   `json:"has_rust_src"`
	// Rustup is the rustup toolchain name when the sysroot is one.
	Rustup string `json:"rustup_toolchain,omitempty"`

	// bindgen only: the libclang it loads (path when the dynamic loader
	// says so) and libclang's version, read the way rust_is_available.sh
	// reads it.
	Libclang          string           `json:"libclang,omitempty"`
	LibclangVersion   *version.Version `json:"libclang_version,omitempty"`
	Libclang22Patched bool             `json:"libclang22_patched,omitempty"`

	// C compilers: what the preprocessor says it is, as
	// scripts/cc-version.sh asks it ("Clang", "GCC" or "unknown"), and the
	// __clang_major__.__clang_minor__.__clang_patchlevel__ (or GCC's) it
	// reports; Kconfig's CC_IS_CLANG and cc-version come from this.
	CCName    string           `json:"cc_name,omitempty"`
	CCVersion *version.Version `json:"cc_version,omitempty"`

	// Err is why probing failed (nil when it did not): an *ExitError when
	// the program failed, a *VersionError when its output made no sense.
	Err error `json:"-"`
	// LibclangErr is why bindgen's libclang probe failed.
	LibclangErr error `json:"-"`
	// SysrootErr is why rustc --print sysroot failed.
	SysrootErr error `json:"-"`
	// LLVMErr is why rustc's LLVM version is unknown: rustc --version
	// --verbose failed (an *ExitError) or printed no "LLVM version:" line
	// (a *VersionError).
	LLVMErr error `json:"-"`
	// Error is Err's (or LibclangErr's) text, for JSON.
	Error string `json:"error,omitempty"`

	argv   []string // how to run it
	pinned bool     // named by a variable: the user chose it
	found  bool     // the executable exists
}

// finder discovers candidates.
type finder struct {
	env        []string
	path       []string // PATH directories, in order, deduplicated
	llvmRoot   string
	rustupHome string
	seen       map[string]*Candidate // tool + key -> candidate
	list       []*Candidate
}

func newFinder(env []string, llvmRoot string) *finder {
	f := &finder{env: env, llvmRoot: llvmRoot, seen: map[string]*Candidate{}}
	p, _ := envLookup(env, "PATH")
	dirs := map[string]bool{}
	for _, d := range filepath.SplitList(p) {
		if d == "" {
			d = "."
		}
		d = filepath.Clean(d)
		if !dirs[d] {
			dirs[d] = true
			f.path = append(f.path, d)
		}
	}
	if h, ok := envLookup(env, "RUSTUP_HOME"); ok && h != "" {
		f.rustupHome = h
	} else if h, ok := envLookup(env, "HOME"); ok && h != "" {
		f.rustupHome = filepath.Join(h, ".rustup")
	}
	return f
}

// isExec reports whether p is an executable regular file (following links).
func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// key identifies a path for deduplication: its directory with symlinks
// resolved, and its own name (which matters for rustup proxies and
// clang-N links), so that /bin/clang and /usr/bin/clang on a merged-/usr
// system are one candidate but clang and clang-19 are two.
func key(p string) string {
	dir, base := filepath.Split(p)
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	if a, err := filepath.Abs(filepath.Join(dir, base)); err == nil {
		return a
	}
	return filepath.Join(dir, base)
}

// add records an executable candidate; a path already seen for that tool
// returns the existing candidate.
func (f *finder) add(tool Tool, p, source string, pinned bool) *Candidate {
	k := string(tool) + "\x00" + key(p)
	if c, ok := f.seen[k]; ok {
		if pinned && !c.pinned {
			c.pinned, c.Source = true, source
		}
		return c
	}
	c := &Candidate{Tool: tool, Path: p, Source: source, argv: []string{p}, pinned: pinned, found: isExec(p)}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		if a, err := filepath.Abs(r); err == nil {
			r = a
		}
		c.Resolved = r
	}
	f.seen[k] = c
	f.list = append(f.list, c)
	return c
}

// lookPath finds name as `command -v` does: a name with a slash is taken
// as is, anything else is searched in PATH. It returns "" when not found.
func (f *finder) lookPath(name string) string {
	if strings.Contains(name, "/") {
		if isExec(name) {
			return name
		}
		return ""
	}
	for _, d := range f.path {
		p := filepath.Join(d, name)
		if isExec(p) {
			return p
		}
	}
	return ""
}

// allInPath returns every PATH match of name, in PATH order.
func (f *finder) allInPath(name string) []string {
	var out []string
	for _, d := range f.path {
		p := filepath.Join(d, name)
		if isExec(p) {
			out = append(out, p)
		}
	}
	return out
}

var reSuffixed = regexp.MustCompile(`^(.+)-([0-9]+)$`)

// suffixes returns the LLVM majors N for which name-N exists in PATH,
// highest first.
func (f *finder) suffixes(names ...string) []int {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	set := map[int]bool{}
	for _, d := range f.path {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			m := reSuffixed.FindStringSubmatch(e.Name())
			if m == nil || !want[m[1]] {
				continue
			}
			if n, err := strconv.Atoi(m[2]); err == nil && isExec(filepath.Join(d, e.Name())) {
				set[n] = true
			}
		}
	}
	return sortedDesc(set)
}

// llvmDirs returns the N of LLVMROOT/llvm-N/bin directories, highest first.
func (f *finder) llvmDirs() []int {
	if f.llvmRoot == "" {
		return nil
	}
	ents, err := os.ReadDir(f.llvmRoot)
	if err != nil {
		return nil
	}
	set := map[int]bool{}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "llvm-")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil {
			if st, err := os.Stat(filepath.Join(f.llvmRoot, e.Name(), "bin")); err == nil && st.IsDir() {
				set[n] = true
			}
		}
	}
	return sortedDesc(set)
}

func sortedDesc(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// rustupToolchains returns RUSTUP_HOME/toolchains/* names, sorted.
func (f *finder) rustupToolchains() []string {
	if f.rustupHome == "" {
		return nil
	}
	ents, err := os.ReadDir(filepath.Join(f.rustupHome, "toolchains"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if isExec(filepath.Join(f.rustupHome, "toolchains", e.Name(), "bin", "rustc")) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// pinnedTool adds the program a variable names (RUSTC=, BINDGEN=): looked
// up like `command -v`; a name that is not found stays a candidate that
// does not exist, so that check 2 reports it.
func (f *finder) pinnedTool(tool Tool, varName, val string) *Candidate {
	p := f.lookPath(val)
	if p == "" && strings.Contains(val, "/") {
		// `command -v` accepts a path that exists even when it is not
		// executable; running it then fails (check 3 or 4).
		if st, err := os.Stat(val); err == nil && st.Mode().IsRegular() {
			c := f.add(tool, val, varName, true)
			c.found = true
			return c
		}
	}
	if p == "" {
		c := &Candidate{Tool: tool, Path: val, Source: varName, argv: []string{val}, pinned: true}
		f.list = append(f.list, c)
		return c
	}
	return f.add(tool, p, varName, true)
}

// llvmSet is one way of naming LLVM to Kbuild: LLVM=1 (plain names on
// PATH), LLVM=-N (suffixed names) or LLVM=/prefix/.
type llvmSet struct {
	Var     string // the value of LLVM=
	tools   map[Tool]*Candidate
	missing []string // other programs Kbuild runs from this set that do not exist
	pinned  bool
}

// llvmOthers are the other LLVM programs Kbuild runs with LLVM= (checked
// for existence only).
var llvmOthers = []string{"clang++", "llvm-objdump", "llvm-readelf", "llvm-strip"}

// llvmTools are the LLVM programs Detect probes for each set. Kbuild also
// runs llvm-objdump, llvm-readelf and llvm-strip from the same place.
var llvmTools = []Tool{Clang, LLD, LLVMAr, LLVMNm, LLVMObjcopy}

// set builds the llvmSet for an LLVM= value, adding its members as
// candidates.
func (f *finder) set(val string, pinned bool) *llvmSet {
	s := &llvmSet{Var: val, tools: map[Tool]*Candidate{}, pinned: pinned}
	src := "LLVM=" + val
	for _, t := range llvmTools {
		var p string
		switch {
		case val == "1":
			p = f.lookPath(string(t))
			src = "PATH"
		case strings.HasPrefix(val, "-"):
			p = f.lookPath(string(t) + val)
		case strings.HasSuffix(val, "/"):
			if q := val + string(t); isExec(q) {
				p = q
			}
			src = strings.TrimSuffix(val, "/")
		}
		if p != "" {
			s.tools[t] = f.add(t, p, src, false)
		}
	}
	for _, name := range llvmOthers {
		if f.lookPath(toolName(Tool(name), val)) == "" {
			s.missing = append(s.missing, toolName(Tool(name), val))
		}
	}
	return s
}

// discovered is everything found, before probing.
type discovered struct {
	rustc, bindgen []*Candidate
	sets           []*llvmSet
	cc             *Candidate // CC= from the environment, or nil
	all            []*Candidate
}

// discover finds the candidates the options and environment allow.
func discover(env []string, llvmRoot string) (*discovered, *finder) {
	f := newFinder(env, llvmRoot)
	d := &discovered{}

	// rustc: RUSTC=, then every rustc on PATH, then rustup toolchains.
	if v, ok := envLookup(env, "RUSTC"); ok && v != "" {
		d.rustc = append(d.rustc, f.pinnedTool(Rustc, "RUSTC", v))
	}
	for _, p := range f.allInPath("rustc") {
		d.rustc = appendNew(d.rustc, f.add(Rustc, p, "PATH", false))
	}
	for _, tc := range f.rustupToolchains() {
		p := filepath.Join(f.rustupHome, "toolchains", tc, "bin", "rustc")
		d.rustc = appendNew(d.rustc, f.add(Rustc, p, "rustup toolchain "+tc, false))
	}

	// bindgen: BINDGEN=, then every bindgen on PATH.
	if v, ok := envLookup(env, "BINDGEN"); ok && v != "" {
		d.bindgen = append(d.bindgen, f.pinnedTool(Bindgen, "BINDGEN", v))
	}
	for _, p := range f.allInPath("bindgen") {
		d.bindgen = appendNew(d.bindgen, f.add(Bindgen, p, "PATH", false))
	}

	// The C compiler named by CC=, which may be several words.
	if v, ok := envLookup(env, "CC"); ok && strings.TrimSpace(v) != "" {
		words := strings.Fields(v)
		c := &Candidate{Tool: CC, Path: v, Source: "CC", argv: words, pinned: true}
		if p := f.lookPath(words[0]); p != "" {
			c.found = true
			c.argv = append([]string{p}, words[1:]...)
			if r, err := filepath.EvalSymlinks(p); err == nil {
				c.Resolved, _ = filepath.Abs(r)
			}
		}
		d.cc = c
		f.list = append(f.list, c)
	}

	// LLVM sets: LLVM= pins one; otherwise LLVM=1, every -N and every
	// LLVMROOT/llvm-N/bin/.
	if v, ok := envLookup(env, "LLVM"); ok && v != "" {
		d.sets = append(d.sets, f.set(v, true))
	} else {
		d.sets = append(d.sets, f.set("1", false))
		for _, n := range f.suffixes("clang") {
			d.sets = append(d.sets, f.set("-"+strconv.Itoa(n), false))
		}
		for _, n := range f.llvmDirs() {
			d.sets = append(d.sets, f.set(filepath.Join(f.llvmRoot, "llvm-"+strconv.Itoa(n), "bin")+"/", false))
		}
	}
	// Every other match of the LLVM tools on PATH is a candidate too
	// (listed, probed, but only reachable through a set above).
	for _, t := range llvmTools {
		for _, p := range f.allInPath(string(t)) {
			f.add(t, p, "PATH", false)
		}
	}
	d.all = f.list
	return d, f
}

func appendNew(list []*Candidate, c *Candidate) []*Candidate {
	for _, x := range list {
		if x == c {
			return list
		}
	}
	return append(list, c)
}
