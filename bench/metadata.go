package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/osutil"
)

// DescribeKernel fills a KernelMeta from a kernel arm: the bzImage's and
// .config's SHA-256 and RUST_INLINE_HELPERS as the .config has it.
func DescribeKernel(k KernelArm) (KernelMeta, error) {
	m := KernelMeta{Name: k.Name, InlineHelpers: k.Helpers, BzImage: k.BzImage, ConfigHelpers: "unknown"}
	describeModules(k, &m)
	sum, err := fileSHA256(k.BzImage)
	if err != nil {
		return m, err
	}
	m.BzImageSHA256 = sum
	if k.Config == "" {
		return m, nil
	}
	data, err := os.ReadFile(k.Config)
	if err != nil {
		return m, fmt.Errorf("bench: %w", err)
	}
	s := sha256.Sum256(data)
	m.ConfigSHA256 = hex.EncodeToString(s[:])
	m.ConfigHelpers = ""
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := sc.Text()
		if v, ok := strings.CutPrefix(l, "CONFIG_RUST_INLINE_HELPERS="); ok {
			m.ConfigHelpers = v
		}
		if sym, ok := strings.CutSuffix(l, "=y"); ok && strings.HasPrefix(sym, "CONFIG_") {
			set[sym] = true
		}
	}
	m.Arch = configArch(set)
	return m, nil
}

// configArch is the kernel ARCH of a .config, from the symbols set to y:
// x86_64 for CONFIG_X86_64, i386 for CONFIG_X86 without it, otherwise the
// SRCARCH whose upper-case name is set (CONFIG_ARM64: arm64); "" when none
// is.
func configArch(set map[string]bool) string {
	switch {
	case set["CONFIG_X86_64"]:
		return "x86_64"
	case set["CONFIG_X86"]:
		return "i386"
	}
	for _, sa := range karch.SrcArches() {
		if set["CONFIG_"+strings.ToUpper(sa)] {
			return sa
		}
	}
	return ""
}

// Architecture is the guests' kernel ARCH of r: Arch when set, else the
// kernels' KernelMeta.Arch when they all agree, else x86_64 (files
// written before arm64 guests).
func (r *Results) Architecture() string {
	if r.Arch != "" {
		return r.Arch
	}
	arch := ""
	for _, k := range r.Kernels {
		switch {
		case k.Arch == "":
		case arch == "":
			arch = k.Arch
		case arch != k.Arch:
			return "x86_64"
		}
	}
	if arch == "" {
		return "x86_64"
	}
	return arch
}

// RecordArch records the guests' kernel ARCH in r (Results.Arch; "" =
// x86_64) and, for an architecture other than x86_64, replaces
// Host.QEMUVersion with the first line of that architecture's QEMU
// binary's --version (qemu-system-aarch64 for arm64). Experiment.Run
// does this itself; RecordArch is for results assembled otherwise, whose
// host was described with DescribeHost (qemu-system-x86_64).
func RecordArch(ctx context.Context, r *Results, arch string) {
	if arch == "" {
		arch = "x86_64"
	}
	r.Arch = arch
	if karch.SrcArch(arch) != "x86" {
		r.Host.QEMUVersion = qemuVersion(ctx, arch)
	}
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("bench: %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DescribeHost collects the host's name, CPU model and count, kernel
// release, and the QEMU and fio versions (best effort: a tool that cannot
// be asked leaves its field empty). QEMU is qemu-system-x86_64: it is
// DescribeHostFor(ctx, "x86_64").
func DescribeHost(ctx context.Context) HostInfo { return DescribeHostFor(ctx, "x86_64") }

// DescribeHostFor is DescribeHost for guests of a kernel ARCH ("" =
// x86_64): QEMUVersion is that of the architecture's QEMU binary
// (internal/karch: qemu-system-aarch64 for arm64).
func DescribeHostFor(ctx context.Context, arch string) HostInfo {
	h := HostInfo{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	h.Hostname, _ = os.Hostname()
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var b strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		h.KernelRelease = b.String()
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	h.QEMUVersion = qemuVersion(ctx, arch)
	h.FioVersion = firstLine(ctx, "fio", "--version")
	return h
}

// qemuVersion is the first line of the --version of the QEMU binary that
// boots a kernel ARCH ("" = x86_64); "" when rflkit boots no such
// architecture or the binary cannot be asked.
func qemuVersion(ctx context.Context, arch string) string {
	if arch == "" {
		arch = "x86_64"
	}
	in, ok := karch.Lookup(arch)
	if !ok || in.QEMU == "" {
		return ""
	}
	return firstLine(ctx, in.QEMU, "--version")
}

// firstLine is the first line of what a command prints ("" when it fails).
func firstLine(ctx context.Context, name string, args ...string) string {
	res, err := osutil.Run(ctx, osutil.Options{Timeout: 10 * time.Second, MaxOutput: 64 << 10}, append([]string{name}, args...)...)
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(string(res.Stdout), "\n")
	return osutil.Excerpt(strings.TrimSpace(l), 200)
}
