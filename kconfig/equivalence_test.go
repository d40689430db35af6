package kconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/internal/fragment"
	"github.com/rflkit/rflkit/internal/testenv"
)

// refMaker runs the kernel's own configuration targets (make O=...)
// to produce reference files, cached by tree identity, toolchain and
// input, so that reruns are fast and a changed tree or toolchain
// regenerates them.
type refMaker struct {
	src   string
	arch  string
	vars  map[string]string
	dir   string // cache directory for references
	obj   string // O= directory (conf is built once in it)
	ident string
}

func newRefMaker(t testing.TB, tr *Tree, src, arch string, vars map[string]string) *refMaker {
	t.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "src=%s\narch=%s\n", src, arch)
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "var %s=%s\n", k, vars[k])
	}
	// Toolchain identity: the version texts make computes.
	for _, k := range []string{"CC_VERSION_TEXT", "RUSTC_VERSION_TEXT", "PAHOLE_VERSION", "CLANG_FLAGS"} {
		fmt.Fprintf(h, "%s=%s\n", k, tr.Env[k])
	}
	for _, k := range []string{"BINDGEN", "RUSTDOC", "HOSTRUSTC", "LD"} {
		if p, err := exec.LookPath(tr.Env[k]); err == nil {
			if fi, err := os.Stat(p); err == nil {
				fmt.Fprintf(h, "%s=%s %d %d\n", k, p, fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	// Tree identity: every Kconfig file, the Makefile, scripts/kconfig.
	files := append([]string{"Makefile", "scripts/Kconfig.include"}, tr.Files...)
	kc, _ := filepath.Glob(filepath.Join(src, "scripts/kconfig/*"))
	for _, f := range kc {
		rel, _ := filepath.Rel(src, f)
		files = append(files, rel)
	}
	cf, _ := filepath.Glob(filepath.Join(src, "arch/*/configs/*"))
	sub, _ := filepath.Glob(filepath.Join(src, "arch/*/configs/*/*"))
	cf = append(cf, sub...)
	for _, f := range cf {
		rel, _ := filepath.Rel(src, f)
		files = append(files, rel)
	}
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(src, f)); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", f, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	ident := hex.EncodeToString(h.Sum(nil))[:24]
	dir := filepath.Join(testenv.CacheDir(t), "kconfig-ref", ident)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &refMaker{src: src, arch: arch, vars: vars, dir: dir, obj: filepath.Join(dir, "obj"), ident: ident}
}

// make runs `make target` with input as the starting .config (nil: none)
// and returns the resulting file (.config, or defconfig for
// savedefconfig).
func (m *refMaker) make(t testing.TB, target string, input []byte, env ...string) []byte {
	t.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%q\n", target, env)
	h.Write(input)
	key := hex.EncodeToString(h.Sum(nil))[:24]
	cached := filepath.Join(m.dir, strings.ReplaceAll(target, "/", "_")+"-"+key)
	if b, err := os.ReadFile(cached); err == nil {
		return b
	}
	// One make at a time in m.obj, across processes (two test binaries
	// share the cache): a concurrent make would overwrite .config.
	lk, err := flock.Acquire(t.Context(), filepath.Join(m.dir, "obj.lock"), flock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock()
	if b, err := os.ReadFile(cached); err == nil {
		return b
	}
	if err := os.MkdirAll(m.obj, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(m.obj, ".config")
	os.Remove(cfg)
	if input != nil {
		if err := os.WriteFile(cfg, input, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-s", "-C", m.src, "O=" + m.obj}
	if m.arch != "" {
		args = append(args, "ARCH="+m.arch)
	}
	for k, v := range m.vars {
		args = append(args, k+"="+v)
	}
	args = append(args, target)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("make %s: %v", target, time.Since(start))
	res := cfg
	if target == "savedefconfig" {
		res = filepath.Join(m.obj, "defconfig")
	}
	b, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// compareWithMake fails t when got differs from want, showing the first
// differing lines.
func compareWithMake(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	var diffs []string
	gs, ws := map[string]bool{}, map[string]bool{}
	for _, l := range gl {
		gs[l] = true
	}
	for _, l := range wl {
		ws[l] = true
	}
	for _, l := range wl {
		if !gs[l] && len(diffs) < 20 {
			diffs = append(diffs, "- "+l)
		}
	}
	for _, l := range gl {
		if !ws[l] && len(diffs) < 40 {
			diffs = append(diffs, "+ "+l)
		}
	}
	first := 0
	for first < len(gl) && first < len(wl) && gl[first] == wl[first] {
		first++
	}
	t.Errorf("%s: not byte-identical to make's (%d vs %d lines, first difference at line %d):\n%s",
		what, len(gl), len(wl), first+1, strings.Join(diffs, "\n"))
}

func parseLenient(t testing.TB, name string, b []byte) *Config {
	t.Helper()
	c, err := Parse(bytes.NewReader(b), name, ParseOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mergeText merges frag into base as merge_config.sh -m does (Merge, both
// read leniently) and returns the merged file.
func mergeText(t testing.TB, base, frag []byte) []byte {
	t.Helper()
	merged, _ := Merge(parseLenient(t, "base", base), parseLenient(t, "fragment", frag))
	return merged.Bytes()
}

func TestIntegrationEquivalenceX86(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	tr := loadReal(t, "", toolVars(t))
	ref := newRefMaker(t, tr, src, "", toolVars(t))
	for _, c := range []struct {
		target string
		mode   AllMode
	}{{"allnoconfig", AllNo}, {"allyesconfig", AllYes}, {"allmodconfig", AllMod}, {"alldefconfig", AllDef}} {
		t.Run(c.target, func(t *testing.T) {
			compareWithMake(t, c.target, tr.AllConfig(c.mode, nil).Bytes(), ref.make(t, c.target, nil))
		})
	}
	t.Run("defconfig", func(t *testing.T) {
		in, err := os.ReadFile(tr.DefconfigPath())
		if err != nil {
			t.Fatal(err)
		}
		got := tr.Defconfig(parseLenient(t, tr.DefconfigPath(), in))
		want := ref.make(t, "defconfig", nil)
		compareWithMake(t, "defconfig", got.Bytes(), want)
		compareWithMake(t, "savedefconfig of defconfig", got.Savedefconfig(), ref.make(t, "savedefconfig", want))
	})
	var tiny []byte
	t.Run("tinyconfig", func(t *testing.T) {
		got, err := tr.TinyConfig()
		if err != nil {
			t.Fatal(err)
		}
		tiny = ref.make(t, "tinyconfig", nil)
		compareWithMake(t, "tinyconfig", got.Bytes(), tiny)
	})
	t.Run("olddefconfig-tiny-rust", func(t *testing.T) {
		if tiny == nil {
			tiny = ref.make(t, "tinyconfig", nil)
		}
		in := mergeText(t, tiny, []byte(fragment.TinyRust(true)))
		want := ref.make(t, "olddefconfig", in)
		got := tr.OldDefconfig(parseLenient(t, "tiny+rust", in))
		compareWithMake(t, "olddefconfig of tinyconfig + rust fragment", got.Bytes(), want)
		for _, sym := range []string{"RUST", "BLK_DEV_RUST_NULL", "RUST_INLINE_HELPERS"} {
			if got.Tristate(sym) != Yes {
				t.Errorf("%s = %v, want y", sym, got.Tristate(sym))
			}
		}
		compareWithMake(t, "savedefconfig of tiny+rust", got.Savedefconfig(), ref.make(t, "savedefconfig", want))
	})
	for seed := 1; seed <= 20; seed++ {
		t.Run(fmt.Sprintf("randconfig-%d", seed), func(t *testing.T) {
			rnd := ref.make(t, "randconfig", nil, fmt.Sprintf("KCONFIG_SEED=%d", seed))
			ours, err := tr.RandConfig(RandOptions{Seed: uint32(seed)})
			if err != nil {
				t.Fatal(err)
			}
			compareWithMake(t, fmt.Sprintf("randconfig seed %d", seed), ours.Bytes(), rnd)
			want := ref.make(t, "olddefconfig", rnd)
			got := tr.OldDefconfig(parseLenient(t, "randconfig", rnd))
			compareWithMake(t, fmt.Sprintf("olddefconfig of randconfig seed %d", seed), got.Bytes(), want)
		})
	}
}

// TestIntegrationEquivalenceMoreArches checks defconfig on more of the
// architectures scripts/Makefile.clang can configure with LLVM=1 (mips and
// powerpc are left out: their default defconfig is a make target that
// merges fragments, not a file).
func TestIntegrationEquivalenceMoreArches(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	for _, arch := range []string{"arm", "loongarch", "s390", "um"} {
		t.Run(arch, func(t *testing.T) {
			tr := loadReal(t, arch, toolVars(t))
			ref := newRefMaker(t, tr, src, arch, toolVars(t))
			in, err := os.ReadFile(tr.DefconfigPath())
			if err != nil {
				t.Fatal(err)
			}
			got := tr.Defconfig(parseLenient(t, tr.DefconfigPath(), in))
			compareWithMake(t, arch+" defconfig", got.Bytes(), ref.make(t, "defconfig", nil))
		})
	}
}

func TestIntegrationEquivalenceOtherArches(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	for _, arch := range []string{"arm64", "riscv"} {
		t.Run(arch, func(t *testing.T) {
			tr := loadReal(t, arch, toolVars(t))
			ref := newRefMaker(t, tr, src, arch, toolVars(t))
			in, err := os.ReadFile(tr.DefconfigPath())
			if err != nil {
				t.Fatal(err)
			}
			got := tr.Defconfig(parseLenient(t, tr.DefconfigPath(), in))
			want := ref.make(t, "defconfig", nil)
			compareWithMake(t, arch+" defconfig", got.Bytes(), want)
			compareWithMake(t, arch+" savedefconfig", got.Savedefconfig(), ref.make(t, "savedefconfig", want))
			compareWithMake(t, arch+" allmodconfig", tr.AllConfig(AllMod, nil).Bytes(), ref.make(t, "allmodconfig", nil))
		})
	}
}

// The arm64 tiny Rust configuration: rflkit's tinyconfig and olddefconfig
// of tinyconfig + the arm64 fragment (both helper settings) are
// byte-identical to make's, and every line of the fragment survives.
func TestIntegrationEquivalenceArm64TinyRust(t *testing.T) {
	testenv.Integration(t)
	src := testenv.KernelSource(t)
	tr := loadReal(t, "arm64", toolVars(t))
	ref := newRefMaker(t, tr, src, "arm64", toolVars(t))
	ours, err := tr.TinyConfig()
	if err != nil {
		t.Fatal(err)
	}
	tiny := ref.make(t, "tinyconfig", nil)
	compareWithMake(t, "arm64 tinyconfig", ours.Bytes(), tiny)
	for _, helpers := range []bool{true, false} {
		t.Run(fmt.Sprintf("helpers=%v", helpers), func(t *testing.T) {
			frag := fragment.TinyRustArm64(helpers)
			in := mergeText(t, tiny, []byte(frag))
			want := ref.make(t, "olddefconfig", in)
			got := tr.OldDefconfig(parseLenient(t, "tiny+rust-arm64", in))
			compareWithMake(t, "arm64 olddefconfig of tinyconfig + rust fragment", got.Bytes(), want)
			for _, m := range Verify(parseLenient(t, "fragment", []byte(frag)), parseLenient(t, "final", want)) {
				t.Errorf("requested %s=%s, final %s (absent=%v)", m.Symbol, m.Requested, m.Final, m.Absent)
			}
			for _, sym := range []string{"ARM64", "RUST", "BLK_DEV_NULL_BLK", "BLK_DEV_RUST_NULL", "SERIAL_AMBA_PL011_CONSOLE", "VIRTIO_MMIO", "VIRTIO_CONSOLE"} {
				if got.Tristate(sym) != Yes {
					t.Errorf("%s = %v, want y", sym, got.Tristate(sym))
				}
			}
		})
	}
}
