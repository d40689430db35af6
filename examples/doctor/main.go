// Command doctor checks the Rust toolchain for building a Linux kernel with
// Rust, the way the kernel itself will check it, and says which tools to
// use.
//
//	go run ./examples/doctor [-src DIR] [-arch ARCH] [-json]
//
// It prints every candidate tool found, the chosen consistent set, the
// problems (each with a fix), the make variables that hand the set to
// Kbuild, and two verdicts: whether Rust can be enabled, and whether
// RUST_INLINE_HELPERS can. Without -src the minimums are the built-in
// fallback table, and it says so. It exits 0 only when Rust can be built
// for that tree (1 when it cannot, 2 on a usage or internal error).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/rflkit/rflkit/toolchain"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "", "kernel source tree whose scripts/min-tool-version.sh gives the minimums (default: built-in table)")
	arch := fs.String("arch", "", "kernel ARCH (default: $ARCH, else the host's)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "doctor: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *src != "" {
		if st, err := os.Stat(*src); err != nil || !st.IsDir() {
			fmt.Fprintf(stderr, "doctor: -src %s: not a directory\n", *src)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := toolchain.Detect(ctx, toolchain.Options{SrcDir: *src, Arch: *arch})
	if err != nil {
		fmt.Fprintf(stderr, "doctor: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "doctor: %v\n", err)
			return 2
		}
	} else {
		printHuman(stdout, rep)
	}
	if rep.RustAvailable && rep.BuildOK {
		return 0
	}
	return 1
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

	fmt.Fprintf(w, "\nMake variables: %s\n", strings.Join(r.MakeArgs(), " "))
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
