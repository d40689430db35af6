// Package testkernel builds (or finds in the kbuild cache) the tiny x86_64
// Rust kernel that qemu/ and bench/ integration tests boot.
//
// The kernel is built through kbuild from the Linux 7.2 tarball
// (testenv.DefaultTarball, or the tree in $RFLKIT_KERNEL_SRC) into the
// shared cache (testenv.CacheDir), so the first test on a machine builds it
// (~12 minutes on 2 cores; the helpers-off variant then starts from the
// helpers-on objects, ~2 minutes) and every later one, in any process, gets
// a cache hit. Concurrent test processes wait on the cache's lock instead
// of building twice.
package testkernel

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/toolchain"
)

// Kernel is a built tiny Rust kernel.
type Kernel struct {
	BzImage string // arch/x86/boot/bzImage
	Vmlinux string // vmlinux, when built
	Config  string // the final .config
}

// MakeVars are the make variables of the machine's Rust-capable toolchain
// as the toolchain doctor chooses them for the kernel tree (here the Debian
// rustc 1.85 / LLVM 19 set, not the rustup rustc first on PATH). A machine
// on which Rust cannot be built for the tree fails the test with the
// doctor's problems.
func MakeVars(t testing.TB) map[string]string {
	t.Helper()
	rep, err := toolchain.Detect(context.Background(), toolchain.Options{SrcDir: testenv.KernelSource(t), Arch: "x86_64"})
	if err != nil {
		t.Fatalf("testkernel: %v", err)
	}
	if !rep.RustAvailable || !rep.InlineHelpers {
		t.Fatalf("testkernel: the toolchain cannot build the tiny Rust kernel (run scripts/setup): %+v", rep.Problems)
	}
	return rep.MakeVars
}

// Builder returns the kbuild.Builder the tiny kernels are built with.
func Builder(t testing.TB) *kbuild.Builder {
	t.Helper()
	testenv.Integration(t)
	src := os.Getenv("RFLKIT_KERNEL_SRC")
	if src == "" {
		src = testenv.DefaultTarball
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("testkernel: %v: run scripts/setup (it installs linux-source-7.2)", err)
		}
	}
	return &kbuild.Builder{
		Src:      src,
		Arch:     "x86_64",
		MakeVars: MakeVars(t),
		CacheDir: testenv.CacheDir(t),
	}
}

// TinyRust returns the tiny Rust kernel of ../shared/FACTS.md with
// RUST_INLINE_HELPERS on or off, building it through kbuild (cached).
func TinyRust(t testing.TB, helpers bool) Kernel {
	t.Helper()
	b := Builder(t)
	last := -1
	b.Progress = func(e kbuild.Event) {
		switch {
		case e.Phase == kbuild.PhaseBuild && e.Percent >= 0:
			if p := int(e.Percent) / 10 * 10; p > last {
				last = p
				t.Logf("testkernel: building tiny Rust kernel (helpers=%v): %d%% (%s)", helpers, p, e.Elapsed.Round(1e9))
			}
		case e.Phase == kbuild.PhaseBuild && e.Lines > 0 && e.Lines%500 == 0:
			t.Logf("testkernel: building tiny Rust kernel (helpers=%v): %d lines (%s)", helpers, e.Lines, e.Elapsed.Round(1e9))
		case e.Phase != kbuild.PhaseBuild && e.Message != "":
			t.Logf("testkernel: %s: %s", e.Phase, e.Message)
		}
	}
	ctx, cancel := Context(t)
	defer cancel()
	res, err := b.Build(ctx, kbuild.BuildSpec{
		Config:  kbuild.TinyRust(helpers),
		Targets: []string{"bzImage"},
	})
	if err != nil {
		var ke *kbuild.KernelError
		var ie *kbuild.InfraError
		switch {
		case errors.As(err, &ke):
			t.Fatalf("testkernel: %v\nlog: %s\n%s", err, ke.Log, tail(ke.Tail))
		case errors.As(err, &ie):
			t.Fatalf("testkernel: %v\nlog: %s\n%s", err, ie.Log, tail(ie.Tail))
		}
		t.Fatalf("testkernel: %v", err)
	}
	k := Kernel{BzImage: res.Artifacts["kernel"], Vmlinux: res.Artifacts["vmlinux"], Config: res.Artifacts["config"]}
	if k.BzImage == "" || k.Config == "" {
		t.Fatalf("testkernel: build %s has no bzImage or .config: %v", res.Key, res.Artifacts)
	}
	t.Logf("testkernel: tiny Rust kernel (helpers=%v): %s (cache hit %v, %s)", helpers, k.BzImage, res.CacheHit, res.Duration.Round(1e6))
	return k
}

// Context returns a context that ends a minute before the test's deadline
// (go test -timeout), so that a build still running then is cancelled and
// its processes killed, rather than orphaned by the test binary's timeout
// panic.
func Context(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), dl.Add(-time.Minute))
		}
	}
	return context.WithCancel(context.Background())
}

func tail(lines []string) string {
	s := ""
	for _, l := range lines {
		s += l + "\n"
	}
	return s
}
