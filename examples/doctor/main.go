// Command doctor checks the Rust toolchain for building a Linux kernel with
// Rust, the way the kernel itself will check it, and says which tools to
// use.
//
//	go run ./examples/doctor [-src DIR] [-arch ARCH] [-timeout DURATION] [-json]
//
// It prints every candidate tool found, the chosen consistent set, the
// problems (each with a fix), the make variables that hand the set to
// Kbuild, and two verdicts: whether Rust can be enabled, and whether
// RUST_INLINE_HELPERS can. Without -src the minimums are the built-in
// fallback table, and it says so. Each probe of a tool is bounded by
// -timeout (default 10s): a tool that hangs is killed and reported as a
// problem. SIGINT or SIGTERM stops the probes and exits. It exits 0 only
// when Rust can be built for that tree (1 when it cannot, 2 on a usage or
// internal error or when interrupted).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/toolchain"
)

func main() { cli.Main("doctor", run) }

// run is the command: it parses args and calls toolchain.Detect.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "", "kernel source tree whose scripts/min-tool-version.sh gives the minimums (default: built-in table)")
	arch := fs.String("arch", "", "kernel ARCH (default: $ARCH, else the host's)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	timeout := fs.Duration("timeout", toolchain.DefaultTimeout, "bound on each probe of a tool (a hanging tool is killed and reported)")
	cache := fs.String("cache", "", "rflkit cache directory, where probe results are remembered (default $RFLKIT_CACHE_DIR or ~/.cache/rflkit)")
	noCache := fs.Bool("no-cache", false, "probe every tool, without reading or writing the probe cache")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return cli.Usagef("-timeout %s: want a positive duration", *timeout)
	}
	if fs.NArg() != 0 {
		return cli.Usagef("unexpected arguments %q", fs.Args())
	}
	if *src != "" {
		if st, err := os.Stat(*src); err != nil || !st.IsDir() {
			return cli.Usagef("-src %s: not a directory", *src)
		}
	}
	cacheDir := ""
	if !*noCache {
		// No cache directory (no $HOME) only costs the cache.
		cacheDir, _ = cachedir.Resolve(*cache)
	}
	rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: *src, Arch: *arch, Timeout: *timeout, CacheDir: cacheDir})
	if err != nil {
		if ctx.Err() != nil {
			return cli.Exit(2, fmt.Errorf("interrupted: %w", err))
		}
		return cli.Exit(2, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return cli.Exit(2, err)
		}
	} else {
		printHuman(stdout, rep)
	}
	if rep.RustAvailable && rep.BuildOK {
		return nil
	}
	// The report has said why: exit 1 without a further message.
	return cli.Exit(1, nil)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func printHuman(w io.Writer, r *toolchain.Report) {
	fmt.Fprintf(w, "Minimums (ARCH=%s): rustc %s, bindgen %s, LLVM %s\n  from %s\n",
		r.Arch, r.Minimums.Rustc, r.Minimums.Bindgen, r.Minimums.LLVM, r.Minimums.Source)
	if r.Minimums.Fallback {
		fmt.Fprintln(w, "  (no kernel tree: pass -src DIR to check against a tree's own minimums)")
	}

	fmt.Fprintln(w, "\nCandidates:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Candidates {
		ver := "?"
		if c.Version != nil {
			ver = c.Version.String()
		}
		var extra []string
		if c.Vendor != "" {
			extra = append(extra, c.Vendor)
		}
		if c.LLVMVersion != nil {
			extra = append(extra, "LLVM "+c.LLVMVersion.String())
		}
		if c.Tool == toolchain.Rustc && c.Sysroot != "" {
			if c.HasRustSrc {
				extra = append(extra, "rust-src "+c.RustSrc)
			} else {
				extra = append(extra, "no rust-src")
			}
		}
		if c.LibclangVersion != nil {
			lib := c.Libclang
			if lib == "" {
				lib = "libclang"
			}
			extra = append(extra, fmt.Sprintf("%s %s", lib, c.LibclangVersion))
		}
		if c.CCName != "" && c.CCVersion != nil {
			extra = append(extra, fmt.Sprintf("%s %s", c.CCName, c.CCVersion))
		}
		if c.Resolved != "" && c.Resolved != c.Path {
			extra = append(extra, "-> "+c.Resolved)
		}
		if c.Error != "" {
			extra = append(extra, "ERROR: "+firstLine(c.Error))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t[%s]\t%s\n", c.Tool, c.Path, ver, c.Source, strings.Join(extra, "; "))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nChosen set:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range []toolchain.Tool{toolchain.Rustc, toolchain.Rustdoc, toolchain.Rustfmt, toolchain.ClippyDrv,
		toolchain.Bindgen, toolchain.Libclang, toolchain.Clang, toolchain.CC, toolchain.LLD,
		toolchain.LLVMAr, toolchain.LLVMNm, toolchain.LLVMObjcopy} {
		if c, ok := r.Chosen[t]; ok {
			extra := ""
			if c.LLVM != "" {
				extra = "LLVM " + c.LLVM
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t, c.Path, c.Version, extra)
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\nProblems:")
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s (%s, %s) %s\n      found: %s\n      want:  %s\n      fix:   %s\n",
			strings.ToUpper(string(p.Severity)), p.Scope, p.Check, p.Tool, p.Found, p.Want, p.Fix)
	}

	vars := strings.Join(r.MakeArgs(), " ")
	if vars == "" {
		vars = "(none: nothing usable was found)"
	}
	fmt.Fprintf(w, "\nMake variables: %s\n", vars)
	fmt.Fprintf(w, "Fingerprint:    %s\n\n", r.Fingerprint)
	fmt.Fprintf(w, "Rust can be enabled (make rustavailable):      %s\n", yesNo(r.RustAvailable))
	fmt.Fprintf(w, "RUST_INLINE_HELPERS can be enabled:            %s\n", yesNo(r.InlineHelpers))
	if !r.BuildOK {
		fmt.Fprintln(w, "The chosen set cannot build a kernel: see the build problems above.")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
