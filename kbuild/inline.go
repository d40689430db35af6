package kbuild

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// HelperPrefix starts the name of every Rust helper: the C wrappers in
// rust/helpers/ that Rust code calls for what bindgen cannot bind (static
// inline functions, macros). With RUST_INLINE_HELPERS they are compiled to
// LLVM bitcode and linked into each Rust object, where LLVM inlines them;
// without it they are ordinary functions in vmlinux, called out of line.
const HelperPrefix = "rust_helper_"

// HelperSymbols returns the undefined rust_helper_* symbols of the ELF
// object path (a module's .ko, or a .o): the helpers it calls out of line,
// which the kernel resolves at load (or link) time. It is sorted. With the
// helpers inlined, a Rust module has none.
func HelperSymbols(path string) ([]string, error) {
	u, _, err := helperSyms(path)
	return u, err
}

// helperSyms reads path's symbol table: the undefined and the defined
// rust_helper_* symbols, each sorted and without duplicates.
func helperSyms(path string) (undefined, defined []string, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kbuild: %w", err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil, fmt.Errorf("kbuild: %s: %w", path, err)
	}
	u, d := map[string]bool{}, map[string]bool{}
	for _, s := range syms {
		if !strings.HasPrefix(s.Name, HelperPrefix) {
			continue
		}
		if s.Section == elf.SHN_UNDEF {
			u[s.Name] = true
		} else {
			d[s.Name] = true
		}
	}
	return sortedSet(u), sortedSet(d), nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// InlineReport says whether the Rust helpers were inlined in a build: the
// rust_helper_* symbols left in vmlinux, those that the built-in Rust
// objects and each module still call out of line. All lists are sorted
// symbol names.
type InlineReport struct {
	// InlineHelpers is CONFIG_RUST_INLINE_HELPERS of the build.
	InlineHelpers bool
	// Vmlinux lists the rust_helper_* functions defined in vmlinux (with
	// helpers off, every helper; with them on, only those left after
	// inlining, local copies). Empty without a vmlinux.
	Vmlinux []string
	// RustObjects maps each built-in Rust object (a path in the build
	// tree, "rust/kernel.o") that calls helpers out of line to the
	// helpers it calls (its undefined rust_helper_* symbols).
	RustObjects map[string][]string
	// RustObjectCount is how many built-in Rust objects were examined.
	RustObjectCount int
	// Modules maps each module (its name: "rnull_mod") to the helpers it
	// calls out of line (undefined rust_helper_* symbols, resolved from
	// vmlinux's exports at load time); modules without any are present
	// with an empty list.
	Modules map[string][]string
	// ModuleDefined maps each module that defines rust_helper_* symbols
	// (copies that stayed out of line) to them.
	ModuleDefined map[string][]string
}

// Inlined reports whether no Rust code of the build calls a helper out of
// line: no built-in Rust object and no module has an undefined
// rust_helper_* symbol.
func (r *InlineReport) Inlined() bool {
	if len(r.RustObjects) > 0 {
		return false
	}
	for _, u := range r.Modules {
		if len(u) > 0 {
			return false
		}
	}
	return true
}

// InlineCheck reads the symbol tables of a build's vmlinux, its built-in
// Rust objects (the .o files Kbuild compiled with rustc, told by their
// .cmd files) and its modules (Result.Artifacts' modules/ entries): an
// exact, static check of whether the Rust helpers were inlined, costing
// a few hundred milliseconds.
func InlineCheck(res *Result) (*InlineReport, error) {
	if res == nil {
		return nil, &UsageError{"Result", "nil"}
	}
	r := &InlineReport{RustObjects: map[string][]string{}, Modules: map[string][]string{}, ModuleDefined: map[string][]string{}}
	if cfg := res.Artifacts[ArtifactConfig]; cfg != "" {
		data, err := os.ReadFile(cfg)
		if err != nil {
			return nil, fmt.Errorf("kbuild: %w", err)
		}
		r.InlineHelpers = bytes.Contains(data, []byte("\nCONFIG_RUST_INLINE_HELPERS=y\n"))
	}
	if v := res.Artifacts[ArtifactVmlinux]; v != "" {
		_, d, err := helperSyms(v)
		if err != nil {
			return nil, err
		}
		r.Vmlinux = d
	}
	if res.OutDir != "" {
		objs, err := rustObjects(res.OutDir)
		if err != nil {
			return nil, err
		}
		r.RustObjectCount = len(objs)
		for _, rel := range objs {
			u, _, err := helperSyms(filepath.Join(res.OutDir, rel))
			if err != nil {
				return nil, err
			}
			if len(u) > 0 {
				r.RustObjects[rel] = u
			}
		}
	}
	for name, p := range res.Artifacts {
		if !strings.HasPrefix(name, ArtifactModulePrefix) {
			continue
		}
		u, d, err := helperSyms(p)
		if err != nil {
			return nil, err
		}
		mod := strings.TrimSuffix(filepath.Base(p), ".ko")
		r.Modules[mod] = u
		if len(d) > 0 {
			r.ModuleDefined[mod] = d
		}
	}
	return r, nil
}

// rustObjects lists the built-in Rust objects of the build in out: every
// X.o beside a .X.o.cmd whose command runs rustc, except the objects of
// modules (those linked into a .ko, listed in modules.order's .mod files)
// and host programs. Paths are relative to out, sorted.
func rustObjects(out string) ([]string, error) {
	inModule := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(out, "modules.order")); err == nil {
		for _, l := range strings.Fields(string(data)) {
			mod, err := os.ReadFile(filepath.Join(out, strings.TrimSuffix(l, ".o")+".mod"))
			if err != nil {
				continue
			}
			for _, o := range strings.Fields(string(mod)) {
				inModule[filepath.Clean(o)] = true
			}
		}
	}
	var objs []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != out && (n == "scripts" || n == "tools" || n == "source" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		n := d.Name()
		if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".o.cmd") {
			return nil
		}
		obj := filepath.Join(filepath.Dir(p), strings.TrimSuffix(strings.TrimPrefix(n, "."), ".cmd"))
		rel, _ := filepath.Rel(out, obj)
		if inModule[rel] {
			return nil
		}
		cmd, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		first, _, _ := bytes.Cut(cmd, []byte("\n"))
		if !bytes.Contains(first, []byte("rustc")) || bytes.Contains(first, []byte("--crate-type proc-macro")) {
			return nil
		}
		if _, err := os.Stat(obj); err == nil {
			objs = append(objs, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kbuild: listing Rust objects: %w", err)
	}
	sort.Strings(objs)
	return objs, nil
}
