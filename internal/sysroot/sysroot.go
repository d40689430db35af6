package sysroot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/internal/osutil"
)

// Options say which packages to unpack.
type Options struct {
	// CacheDir is rflkit's cache root ("" = $RFLKIT_CACHE_DIR, else
	// os.UserCacheDir()/rflkit).
	CacheDir string
	// Arch is Debian's architecture name ("arm64"), required.
	Arch string
	// Packages are the package names without the architecture
	// ("busybox-static", "fio", "libaio1"), at least one; an
	// Architecture: all package is named NAME:all (Closure does so).
	// Dependencies are not followed: name every package whose files are
	// needed (Closure lists them).
	Packages []string
	// AptGet and DpkgDeb are the commands; "" = apt-get and dpkg-deb on
	// PATH.
	AptGet, DpkgDeb string
}

// Error is a failed download or unpacking.
type Error struct {
	Op  string // "download" or "unpack"
	Arg string // the packages or the .deb
	Err error
}

// Error is "sysroot: <op> <arg>: <err>".
func (e *Error) Error() string { return fmt.Sprintf("sysroot: %s %s: %v", e.Op, e.Arg, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Key is the cache key of a sysroot: a hash of the architecture and the
// sorted, deduplicated package names.
func Key(arch string, packages []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "rflkit-sysroot v1\narch %s\n", arch)
	for _, p := range normalize(packages) {
		fmt.Fprintf(h, "pkg %s\n", p)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

func normalize(packages []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range packages {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Ensure returns the directory holding the unpacked packages (a file
// system root: usr/bin/fio, usr/lib/aarch64-linux-gnu/...), downloading
// and unpacking them when the cache has none.
func Ensure(ctx context.Context, opts Options) (string, error) {
	pkgs := normalize(opts.Packages)
	if opts.Arch == "" || len(pkgs) == 0 {
		return "", errors.New("sysroot: Options.Arch and Options.Packages are required")
	}
	for _, p := range pkgs {
		name, qual, _ := strings.Cut(p, ":")
		if name == "" || strings.ContainsAny(name, " /") || strings.HasPrefix(name, "-") || (qual != "" && qual != "all") {
			return "", fmt.Errorf("sysroot: bad package name %q (want NAME, or NAME:all for an Architecture: all package)", p)
		}
	}
	root, err := cachedir.Resolve(opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	dir := filepath.Join(root, "sysroot", Key(opts.Arch, pkgs))
	final := filepath.Join(dir, "root")
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return final, nil
	}
	lk, err := flock.Acquire(ctx, filepath.Join(dir, ".lock"), flock.Options{})
	if err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	defer lk.Unlock()
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return final, nil // made by someone else while we waited
	}
	dl, err := os.MkdirTemp(dir, "debs-")
	if err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	defer os.RemoveAll(dl)
	tmp, err := os.MkdirTemp(dir, "root-")
	if err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	defer os.RemoveAll(tmp)

	aptGet := cmdOr(opts.AptGet, "apt-get")
	dpkgDeb := cmdOr(opts.DpkgDeb, "dpkg-deb")
	argv := []string{aptGet, "download", "-q"}
	for _, p := range pkgs {
		if !strings.Contains(p, ":") {
			p += ":" + opts.Arch
		}
		argv = append(argv, p)
	}
	if _, err := osutil.Run(ctx, osutil.Options{Dir: dl}, argv...); err != nil {
		return "", &Error{Op: "download", Arg: strings.Join(pkgs, " ") + " (" + opts.Arch + "; scripts/setup adds the dpkg architecture)", Err: err}
	}
	debs, err := filepath.Glob(filepath.Join(dl, "*.deb"))
	if err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	if len(debs) != len(pkgs) {
		return "", &Error{Op: "download", Arg: strings.Join(pkgs, " "), Err: fmt.Errorf("got %d .deb files for %d packages", len(debs), len(pkgs))}
	}
	sort.Strings(debs)
	var names []string
	for _, d := range debs {
		if _, err := osutil.Run(ctx, osutil.Options{}, dpkgDeb, "-x", d, tmp); err != nil {
			return "", &Error{Op: "unpack", Arg: filepath.Base(d), Err: err}
		}
		names = append(names, filepath.Base(d))
	}
	// The .debs unpacked, with their versions, for whoever looks.
	if err := os.WriteFile(filepath.Join(dir, "debs.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("sysroot: %w", err)
	}
	return final, nil
}

func cmdOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Closure returns pkgs and the library packages they depend on, sorted
// (an Architecture: all one as NAME:all, as Ensure takes it):
// the Depends and Pre-Depends of each package's candidate version for arch
// (`apt-cache show --no-all-versions NAME:ARCH`), first alternatives only,
// followed through packages named lib* or zlib* (the shared libraries a
// program loads; maintainer-script tools such as dpkg or perl are left
// out). The candidates are the default release's (bookworm here), so the
// libraries match the program they were built for.
func Closure(ctx context.Context, arch string, pkgs []string, aptCache string) ([]string, error) {
	aptCache = cmdOr(aptCache, "apt-cache")
	seen, all := map[string]bool{}, map[string]bool{}
	round := normalize(pkgs)
	// One apt-cache call per round of the breadth-first walk: each call
	// reads the package lists, which costs seconds.
	for len(round) > 0 {
		argv := []string{aptCache, "show", "--no-all-versions"}
		for _, p := range round {
			seen[p] = true
			argv = append(argv, p+":"+arch)
		}
		res, err := osutil.Run(ctx, osutil.Options{}, argv...)
		if err != nil {
			return nil, &Error{Op: "closure", Arg: strings.Join(round, " ") + " (" + arch + ")", Err: err}
		}
		records := string(res.Stdout)
		// NAME:ARCH finds no Architecture: all package; ask for
		// NAME:all those that gave no record.
		got := map[string]bool{}
		for _, p := range packageNames(records) {
			got[p] = true
		}
		for _, p := range round {
			if got[p] {
				continue
			}
			res, err := osutil.Run(ctx, osutil.Options{}, aptCache, "show", "--no-all-versions", p+":all")
			if err != nil || len(packageNames(string(res.Stdout))) == 0 {
				return nil, &Error{Op: "closure", Arg: p, Err: fmt.Errorf("no candidate for %s or all: %w", arch, err)}
			}
			all[p] = true
			records += "\n" + string(res.Stdout)
		}
		next := map[string]bool{}
		for _, dep := range depends(records) {
			if !seen[dep] && (strings.HasPrefix(dep, "lib") || strings.HasPrefix(dep, "zlib")) {
				next[dep] = true
			}
		}
		round = round[:0:0]
		for p := range next {
			round = append(round, p)
		}
		sort.Strings(round)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		if all[p] {
			p += ":all"
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// packageNames returns the Package: names of apt-cache show records.
func packageNames(records string) []string {
	var out []string
	for _, line := range strings.Split(records, "\n") {
		if v, ok := strings.CutPrefix(line, "Package: "); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// depends parses the Depends and Pre-Depends fields of an apt-cache show
// record: the first alternative of each, without version or architecture.
func depends(record string) []string {
	var out []string
	for _, line := range strings.Split(record, "\n") {
		v, ok := strings.CutPrefix(line, "Depends:")
		if !ok {
			v, ok = strings.CutPrefix(line, "Pre-Depends:")
		}
		if !ok {
			continue
		}
		for _, alt := range strings.Split(v, ",") {
			f := strings.Fields(strings.Split(alt, "|")[0])
			if len(f) == 0 {
				continue
			}
			name, _, _ := strings.Cut(f[0], ":")
			out = append(out, name)
		}
	}
	return out
}
