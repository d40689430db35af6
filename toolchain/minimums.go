package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/rflkit/rflkit/internal/karch"
)

// Minimums are the oldest tool versions a kernel tree accepts.
type Minimums struct {
	Rustc   *version.Version `json:"rustc"`
	Bindgen *version.Version `json:"bindgen"`
	LLVM    *version.Version `json:"llvm"` // clang, ld.lld and the libclang bindgen uses
	// Source says where they come from: the script's path, or
	// "built-in fallback" when there is no tree (or it has no script).
	Source string `json:"source"`
	// Fallback is true when the built-in table was used.
	Fallback bool `json:"fallback"`
}

// The built-in table, used only without a tree (Linux 7.2's values for
// x86, arm64 and most architectures).
const (
	fallbackRustc   = "1.85.0"
	fallbackBindgen = "0.71.1"
	fallbackLLVM    = "17.0.1"
)

// FallbackMinimums returns the built-in table, used when no kernel tree (or
// no scripts/min-tool-version.sh) is available.
func FallbackMinimums() Minimums {
	return Minimums{
		Rustc:    version.Must(version.NewVersion(fallbackRustc)),
		Bindgen:  version.Must(version.NewVersion(fallbackBindgen)),
		LLVM:     version.Must(version.NewVersion(fallbackLLVM)),
		Source:   "built-in fallback (no kernel tree given)",
		Fallback: true,
	}
}

// HostArch returns the kernel ARCH of the machine rflkit runs on
// (x86_64 on amd64, arm64, riscv on riscv64, ...).
func HostArch() string { return karch.Host() }

// SrcArch maps a kernel ARCH to its SRCARCH (the arch/ directory), as the
// top-level Makefile does: i386 and x86_64 are x86, sparc64 is sparc,
// parisc64 is parisc, sh64 is sh.
func SrcArch(arch string) string { return karch.SrcArch(arch) }

// ReadMinimums runs the tree's scripts/min-tool-version.sh with sh, as the
// kernel's Makefile and scripts do, for rustc, bindgen and llvm, with ARCH
// and SRCARCH set from arch. An empty srcDir, or a tree without the script,
// gives FallbackMinimums; a script that fails or prints something that is
// not a version is an error.
func ReadMinimums(ctx context.Context, srcDir, arch string, env []string) (Minimums, error) {
	if env == nil {
		env = os.Environ()
	}
	return readMinimums(ctx, newRunner(env, DefaultTimeout), srcDir, arch)
}

// readMinimums is ReadMinimums with Detect's runner (its environment and
// timeout).
func readMinimums(ctx context.Context, r *runner, srcDir, arch string) (Minimums, error) {
	if srcDir == "" {
		return FallbackMinimums(), nil
	}
	script := filepath.Join(srcDir, "scripts", "min-tool-version.sh")
	if _, err := os.Stat(script); errors.Is(err, fs.ErrNotExist) {
		m := FallbackMinimums()
		m.Source = fmt.Sprintf("built-in fallback (%s does not exist)", script)
		return m, nil
	}
	if arch == "" {
		arch = HostArch()
	}
	extra := []string{"ARCH=" + arch, "SRCARCH=" + SrcArch(arch)}
	m := Minimums{Source: script}
	for _, t := range []struct {
		name string
		dst  **version.Version
	}{{"rustc", &m.Rustc}, {"bindgen", &m.Bindgen}, {"llvm", &m.LLVM}} {
		res, err := r.probe(ctx, "", extra, "sh", script, t.name)
		if err != nil {
			return Minimums{}, fmt.Errorf("toolchain: %s %s: %w", script, t.name, err)
		}
		out := strings.TrimSpace(res.stdout)
		v, err := version.NewVersion(out)
		if err != nil {
			return Minimums{}, fmt.Errorf("toolchain: %s %s printed %s, not a version: %w", script, t.name, quote(out), err)
		}
		*t.dst = v
	}
	return m, nil
}
