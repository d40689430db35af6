package initramfs

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotELF is returned by the dependency resolver for a file that is not
// an ELF object.
var ErrNotELF = errors.New("not an ELF file")

// Library is a shared object a binary needs, as the guest's dynamic loader
// will look for it.
type Library struct {
	Name      string   // the DT_NEEDED name ("libc.so.6")
	GuestPath string   // where it goes in the archive ("/lib/x86_64-linux-gnu/libc.so.6")
	HostPath  string   // the file on the host that was found (symlinks resolved)
	NeededBy  []string // host paths of the objects that need it, sorted
}

// Deps is the dynamic-linking closure of a set of binaries.
type Deps struct {
	Interp    string    // the dynamic loader (PT_INTERP), "" for static binaries
	Libraries []Library // sorted by Name
}

// Resolver finds the shared libraries of ELF binaries from their headers
// (PT_INTERP, DT_NEEDED, DT_RUNPATH/DT_RPATH with $ORIGIN, the ld.so.conf
// directories, then the loader's default directories), without running
// ldd. The zero value resolves against the host's root file system.
type Resolver struct {
	// Root is the file system root the paths are relative to; "" = "/".
	Root string
	// SearchPaths replaces the ld.so.conf directories when non-nil.
	SearchPaths []string
}

// defaultDirs are the loader's trusted directories on x86_64 (multiarch
// first, as Debian's loader searches them).
var defaultDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

func (r *Resolver) host(p string) string {
	if r.Root == "" {
		return p
	}
	return filepath.Join(r.Root, p)
}

// ldsoConf reads /etc/ld.so.conf with its include directives.
func (r *Resolver) ldsoConf() []string {
	var dirs []string
	seen := map[string]bool{}
	var read func(file string, depth int)
	read = func(file string, depth int) {
		if depth > 8 || seen[file] {
			return
		}
		seen[file] = true
		f, err := os.Open(r.host(file))
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if rest, ok := strings.CutPrefix(line, "include"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
				for _, pat := range strings.Fields(rest) {
					if !path.IsAbs(pat) {
						pat = path.Join(path.Dir(file), pat)
					}
					matches, _ := filepath.Glob(r.host(pat))
					sort.Strings(matches)
					for _, m := range matches {
						if r.Root != "" {
							m = "/" + strings.TrimPrefix(strings.TrimPrefix(m, r.Root), "/")
						}
						read(m, depth+1)
					}
				}
				continue
			}
			for _, d := range strings.FieldsFunc(line, func(c rune) bool { return c == ':' || c == ',' || c == ' ' || c == '\t' }) {
				if path.IsAbs(d) {
					dirs = append(dirs, path.Clean(d))
				}
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	return dirs
}

// object is one ELF file's dynamic-linking facts.
type object struct {
	class   elf.Class
	machine elf.Machine
	interp  string
	needed  []string
	rpath   []string // DT_RPATH, used only without DT_RUNPATH
	runpath []string
}

func readObject(p string) (*object, error) {
	raw, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	_, err = io.ReadFull(raw, magic[:])
	raw.Close()
	if err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, fmt.Errorf("%s: %w", p, ErrNotELF)
	}
	f, err := elf.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", p, ErrNotELF, err)
	}
	defer f.Close()
	o := &object{class: f.Class, machine: f.Machine}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(b, 0); err != nil {
				return nil, fmt.Errorf("%s: PT_INTERP: %w", p, err)
			}
			o.interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if f.Section(".dynamic") == nil && !hasDynamic(f) {
		return o, nil // static
	}
	if o.needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, fmt.Errorf("%s: DT_NEEDED: %w", p, err)
	}
	origin := path.Dir(p)
	expand := func(tag elf.DynTag) []string {
		vals, _ := f.DynString(tag)
		var dirs []string
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
				if d != "" {
					dirs = append(dirs, d)
				}
			}
		}
		return dirs
	}
	o.runpath = expand(elf.DT_RUNPATH)
	if len(o.runpath) == 0 {
		o.rpath = expand(elf.DT_RPATH)
	}
	return o, nil
}

func hasDynamic(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}

// Resolve returns the loader and every shared library, transitively, that
// the binaries (host paths) need. Libraries listed in skip (by DT_NEEDED
// name) are recorded but not followed: their own dependencies are not
// added (they will be replaced by stubs). A library that cannot be found
// is an error naming it and the object that needs it.
func (r *Resolver) Resolve(binaries []string, skip map[string]bool) (*Deps, error) {
	conf := r.SearchPaths
	if conf == nil {
		conf = r.ldsoConf()
	}
	deps := &Deps{}
	libs := map[string]*Library{}
	type item struct {
		path string
		obj  *object
	}
	var queue []item
	var first *object
	for _, b := range binaries {
		o, err := readObject(r.host(b))
		if err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		if first == nil {
			first = o
		} else if o.class != first.class || o.machine != first.machine {
			return nil, fmt.Errorf("initramfs: %s is %v/%v, %s is %v/%v", b, o.class, o.machine, binaries[0], first.class, first.machine)
		}
		if o.interp != "" {
			if deps.Interp != "" && deps.Interp != o.interp {
				return nil, fmt.Errorf("initramfs: %s wants loader %s, another binary %s", b, o.interp, deps.Interp)
			}
			deps.Interp = o.interp
		}
		queue = append(queue, item{b, o})
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for _, name := range it.obj.needed {
			if deps.Interp != "" && path.Base(name) == path.Base(deps.Interp) {
				continue // libc needs the loader, which is already there
			}
			if l, ok := libs[name]; ok {
				l.NeededBy = appendUnique(l.NeededBy, it.path)
				continue
			}
			var dirs []string
			dirs = append(dirs, it.obj.rpath...)
			dirs = append(dirs, it.obj.runpath...)
			dirs = append(dirs, conf...)
			dirs = append(dirs, defaultDirs...)
			guest, o, err := r.find(name, dirs, first)
			if err != nil {
				return nil, fmt.Errorf("initramfs: %s (needed by %s): %w", name, it.path, err)
			}
			real, err := filepath.EvalSymlinks(r.host(guest))
			if err != nil {
				return nil, fmt.Errorf("initramfs: %s: %w", guest, err)
			}
			libs[name] = &Library{Name: name, GuestPath: guest, HostPath: real, NeededBy: []string{it.path}}
			if !skip[name] {
				queue = append(queue, item{guest, o})
			}
		}
	}
	for _, l := range libs {
		sort.Strings(l.NeededBy)
		deps.Libraries = append(deps.Libraries, *l)
	}
	sort.Slice(deps.Libraries, func(i, j int) bool { return deps.Libraries[i].Name < deps.Libraries[j].Name })
	return deps, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// find looks for a library in dirs, skipping files of another class or
// machine (a 32-bit library in a shared directory).
func (r *Resolver) find(name string, dirs []string, want *object) (string, *object, error) {
	if strings.Contains(name, "/") {
		o, err := readObject(r.host(name))
		if err != nil {
			return "", nil, err
		}
		return name, o, nil
	}
	var tried []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		p := path.Join(d, name)
		tried = append(tried, d)
		if _, err := os.Stat(r.host(p)); err != nil {
			continue
		}
		o, err := readObject(r.host(p))
		if err != nil {
			continue
		}
		if want != nil && (o.class != want.class || o.machine != want.machine) {
			continue
		}
		return p, o, nil
	}
	return "", nil, fmt.Errorf("not found in %s", strings.Join(tried, ":"))
}
