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
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_RUST_INLINE_HELPERS="); ok {
			m.ConfigHelpers = v
		}
	}
	return m, nil
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
// be asked leaves its field empty).
func DescribeHost(ctx context.Context) HostInfo {
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
	h.QEMUVersion = firstLine(ctx, "qemu-system-x86_64", "--version")
	h.FioVersion = firstLine(ctx, "fio", "--version")
	return h
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
