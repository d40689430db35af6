package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-version"

	"github.com/rflkit/rflkit/internal/fileid"
)

// The two headers of the kernel's scripts/ directory that bindgen is run
// on. When the tree has them they are used from the tree; otherwise these
// copies (identical, GPL-2.0 one-liners) are written to a temporary
// directory under the same names.
const (
	libclangHeaderName   = "rust_is_available_bindgen_libclang.h"
	libclangHeader       = "/* SPDX-License-Identifier: GPL-2.0 */\n#pragma message(\"clang version \" __clang_version__)\n"
	libclang22HeaderName = "rust_is_available_bindgen_libclang_22.h"
	libclang22Header     = "/* SPDX-License-Identifier: GPL-2.0 */\nstruct S;\nstruct S {\n\tint foo;\n};\n"
)

// ccProgram is what scripts/cc-version.sh feeds the C compiler's
// preprocessor to learn its name and version.
const ccProgram = `#if defined(__clang__)
Clang	__clang_major__  __clang_minor__  __clang_patchlevel__
#elif defined(__GNUC__)
GCC	__GNUC__  __GNUC_MINOR__  __GNUC_PATCHLEVEL__
#else
unknown
#endif
`

// maxPath bounds a path read from a tool's output (Linux's PATH_MAX).
const maxPath = 4096

// prober probes candidates.
type prober struct {
	r          *runner
	tmp        string // scratch directory
	header     string // path of rust_is_available_bindgen_libclang.h
	header22   string // path of rust_is_available_bindgen_libclang_22.h
	krustflags []string
	rustLibSrc string // RUST_LIB_SRC, "" when unset
	rustupHome string
	jobs       int
}

// probeAll probes every candidate, a few at a time.
func (p *prober) probeAll(ctx context.Context, cands []*Candidate) {
	jobs := p.jobs
	if jobs < 1 {
		jobs = 1
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.probe(ctx, i, c)
		}()
	}
	wg.Wait()
	for _, c := range cands {
		switch {
		case c.Err != nil:
			c.Error = c.Err.Error()
		case c.LibclangErr != nil:
			c.Error = c.LibclangErr.Error()
		case c.SysrootErr != nil:
			c.Error = c.SysrootErr.Error()
		}
	}
}

func (p *prober) probe(ctx context.Context, i int, c *Candidate) {
	if !c.found {
		c.Err = fmt.Errorf("toolchain: %s %q could not be found: %w", c.Tool, c.Path, fs.ErrNotExist)
		return
	}
	switch c.Tool {
	case Rustc:
		p.rustc(ctx, c)
	case Bindgen:
		p.bindgen(ctx, i, c)
	case Clang:
		p.version(ctx, c, func(s string) (Parsed, error) { return ParseClang(s) })
		p.ccInfo(ctx, c)
	case CC:
		p.ccInfo(ctx, c)
		if c.CCName == "Clang" {
			p.version(ctx, c, func(s string) (Parsed, error) { return ParseClang(s) })
		} else {
			c.Version = c.CCVersion
			if c.CCName != "GCC" {
				c.Note = "scripts/cc-version.sh: unknown C compiler"
			}
		}
	case LLD:
		p.version(ctx, c, func(s string) (Parsed, error) { return ParseLLD(s) })
	default:
		p.version(ctx, c, func(s string) (Parsed, error) { return ParseLLVMTool(c.Tool, s) })
	}
}

// setParsed copies a parse result into c.
func setParsed(c *Candidate, v Parsed) {
	c.Version, c.VersionLine, c.Vendor, c.Channel, c.Note, c.KernelAccepts = v.Version, v.Line, v.Vendor, v.Channel, v.Note, v.KernelAccepts
}

// version runs `TOOL --version` and parses its standard output (the
// kernel's scripts discard stderr).
func (p *prober) version(ctx context.Context, c *Candidate, parse func(string) (Parsed, error)) {
	res, err := p.run(ctx, c, "", append(append([]string{}, c.argv...), "--version")...)
	if err != nil {
		c.Err = err
		return
	}
	v, err := parse(res.stdout)
	if err != nil {
		var ve *VersionError
		if errors.As(err, &ve) {
			ve.Tool, ve.Path = c.Tool, c.Path
		}
		c.Err = err
		return
	}
	setParsed(c, v)
}

// ccInfo asks the compiler's preprocessor what it is, as
// scripts/cc-version.sh does.
func (p *prober) ccInfo(ctx context.Context, c *Candidate) {
	c.CCName = "unknown"
	argv := append(append([]string{}, c.argv...), "-E", "-P", "-x", "c", "-")
	res, err := p.run(ctx, c, ccProgram, argv...)
	if err != nil {
		// scripts/cc-version.sh says "unknown" for a compiler that
		// fails; a hang is worth reporting.
		var ee *ExitError
		if errors.As(err, &ee) && ee.TimedOut() && c.Err == nil {
			c.Err = err
		}
		return
	}
	for _, line := range strings.Split(res.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if (f[0] == "Clang" || f[0] == "GCC") && len(f) == 4 {
			if v, err := version.NewVersion(f[1] + "." + f[2] + "." + f[3]); err == nil {
				c.CCName, c.CCVersion = f[0], v
			}
		}
		return
	}
}

// rustc runs `rustc --version`, `rustc --version --verbose` and
// `rustc $KRUSTFLAGS --print sysroot`, and looks for the core library's
// source.
func (p *prober) rustc(ctx context.Context, c *Candidate) {
	p.version(ctx, c, ParseRustc)
	// The other two are independent: run at once, so that a rustup
	// proxy (never cached) costs two runs' time, not three. Each sets
	// fields of its own. A rustc that hung on --version is not run
	// again (the runner skips it).
	var wg sync.WaitGroup
	wg.Go(func() { p.rustcLLVM(ctx, c) })
	wg.Go(func() { p.sysroot(ctx, c) })
	wg.Wait()
	switch {
	case p.rustLibSrc != "":
		c.RustSrc = p.rustLibSrc
	case c.Sysroot != "":
		c.RustSrc = filepath.Join(c.Sysroot, "lib", "rustlib", "src", "rust", "library")
	}
	if c.RustSrc != "" {
		_, err := os.Stat(filepath.Join(c.RustSrc, "core", "src", "lib.rs"))
		c.HasRustSrc = err == nil
	}
	if p.rustupHome != "" && c.Sysroot != "" {
		tcs := filepath.Join(p.rustupHome, "toolchains") + string(filepath.Separator)
		if rest, ok := strings.CutPrefix(filepath.Clean(c.Sysroot)+string(filepath.Separator), tcs); ok {
			c.Rustup, _, _ = strings.Cut(rest, string(filepath.Separator))
		}
	}
}

// rustcLLVM runs `rustc --version --verbose` for the LLVM version.
func (p *prober) rustcLLVM(ctx context.Context, c *Candidate) {
	if res, err := p.run(ctx, c, "", c.Path, "--version", "--verbose"); err != nil {
		c.LLVMErr = err
	} else if v, err := ParseRustcLLVM(res.stdout); err != nil {
		var ve *VersionError
		if errors.As(err, &ve) {
			ve.Path = c.Path
		}
		c.LLVMErr = err
	} else {
		c.LLVMVersion = v
	}
}

// sysroot runs `rustc $KRUSTFLAGS --print sysroot`.
func (p *prober) sysroot(ctx context.Context, c *Candidate) {
	argv := append(append([]string{c.Path}, p.krustflags...), "--print", "sysroot")
	res, err := p.run(ctx, c, "", argv...)
	switch sysroot := strings.TrimSpace(res.stdout); {
	case err != nil:
		c.SysrootErr = err
	case len(sysroot) > maxPath || strings.ContainsAny(sysroot, "\n\x00"):
		c.SysrootErr = fmt.Errorf("toolchain: %s printed %s, not one directory", strings.Join(argv, " "), quote(res.stdout))
	default:
		c.Sysroot = sysroot
	}
}

// bindgen runs `bindgen --version`, then bindgen on the libclang header
// exactly as rust_is_available.sh does (stderr kept, stdout dropped), with
// the dynamic loader's debug output sent to a file to learn which libclang
// it loaded; and, for libclang >= 22 with bindgen < 0.72.1, on the second
// header to see whether the distribution patched the bug.
func (p *prober) bindgen(ctx context.Context, i int, c *Candidate) {
	p.version(ctx, c, ParseBindgen)
	res, err := p.libclang(ctx, i, c)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			ee.Output = res.stderr // what the kernel shows
		}
		c.LibclangErr = err
		return
	}
	v, err := ParseLibclang(res.stderr)
	if err != nil {
		var ve *VersionError
		if errors.As(err, &ve) {
			ve.Path = c.Path
		}
		c.LibclangErr = err
		return
	}
	c.LibclangVersion = v.Version
	if major(v.Version) >= 22 && c.Version != nil && canonical(c.Version) < 7201 {
		if res, err := p.run(ctx, c, "", c.Path, p.header22); err == nil {
			c.Libclang22Patched = strings.Contains(res.stdout, "pub foo")
		}
	}
}

// run runs a probe of c through the probe cache (runner.probe); a CC=
// of several words ("ccache clang") runs a program the cache cannot
// identify, and is always run.
func (p *prober) run(ctx context.Context, c *Candidate, stdin string, argv ...string) (result, error) {
	if len(c.argv) > 1 {
		var in io.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		return p.r.run(ctx, in, nil, argv...)
	}
	return p.r.probe(ctx, stdin, nil, argv...)
}

// libclang runs bindgen on the libclang header, with the dynamic loader's
// debug output sent to a file to learn which libclang it loaded, and sets
// c.Libclang. The answer is cached as the other probes are, and also by
// the identity of the libclang loaded: a new libclang under bindgen is
// probed again.
func (p *prober) libclang(ctx context.Context, i int, c *Candidate) (result, error) {
	argv := []string{c.Path, p.header}
	key, cacheable := p.r.cacheKey("", []string{"LD_DEBUG=files"}, argv)
	if cacheable {
		if e, hit := p.r.cache.get(key); hit {
			p.r.hits.Add(1)
			c.Libclang = e.Libclang
			return result{stdout: e.Stdout, stderr: e.Stderr}, nil
		}
	}
	ldlog := filepath.Join(p.tmp, fmt.Sprintf("ld-%d", i))
	res, err := p.r.run(ctx, nil, []string{"LD_DEBUG=files", "LD_DEBUG_OUTPUT=" + ldlog}, argv...)
	c.Libclang = loadedLibclang(ldlog)
	if err != nil || !cacheable {
		return res, err
	}
	e := probeEntry{Argv: argv, Stdout: res.stdout, Stderr: res.stderr, Libclang: c.Libclang}
	if c.Libclang != "" {
		id, ok := fileid.Identity(c.Libclang)
		if !ok {
			return res, nil
		}
		e.Deps = map[string]string{c.Libclang: id}
	}
	p.r.store(key, e)
	return res, nil
}

// loadedLibclang reads the dynamic loader's LD_DEBUG=files output (one
// file per process, PREFIX.PID) for the libclang that was dlopen'ed.
func loadedLibclang(prefix string) string {
	files, _ := filepath.Glob(prefix + ".*")
	found := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		_ = os.Remove(f)
		if err != nil || found != "" {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			_, rest, ok := strings.Cut(line, "file=")
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(rest, " ")
			base := filepath.Base(name)
			// bindgen's own libclang (dlopen'ed, or linked); the
			// clang it runs for include paths loads libclang-cpp.
			if strings.HasPrefix(base, "libclang") && !strings.HasPrefix(base, "libclang-cpp") && filepath.IsAbs(name) {
				found = name
				break
			}
		}
	}
	return found
}
