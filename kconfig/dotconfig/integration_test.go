package dotconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/fragment"
	"github.com/rflkit/rflkit/internal/testenv"
)

// makeVars are the toolchain variables every make run gets (HACKING.md:
// never rely on the rustup rustc first on PATH).
var makeVars = []string{
	"LLVM=1", "RUSTC=/usr/bin/rustc", "HOSTRUSTC=/usr/bin/rustc",
	"RUSTDOC=/usr/bin/rustdoc", "BINDGEN=/usr/bin/bindgen",
}

// runCmd runs a command in its own process group (killed on timeout) and
// returns its standard output; a failure fails the test with the output.
func runCmd(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// toolsKey identifies the tree and the toolchain, which together
// decide what make writes into .config.
func toolsKey(t testing.TB, tree string) string {
	t.Helper()
	h := sha256.New()
	fmt.Fprintln(h, tree)
	for _, tool := range [][]string{{"clang", "--version"}, {"/usr/bin/rustc", "--version"}, {"/usr/bin/bindgen", "--version"}, {"ld.lld", "--version"}} {
		testenv.LookPath(t, tool[0])
		out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(tool, " "), err, out)
		}
		h.Write(out)
	}
	return filepath.Base(filepath.Dir(tree)) + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// generated returns the path of the .config that `make TARGET` writes
// for x86_64 in the 7.2 tree, generating it once (5-15 s) and caching it
// under CacheDir/kconfig-testdata/<tree>-<tools>/TARGET.config.
func generated(t testing.TB, target string) string {
	t.Helper()
	tree := testenv.KernelSource(t)
	testenv.LookPath(t, "make")
	dir := filepath.Join(testenv.CacheDir(t), "kconfig-testdata", toolsKey(t, tree))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, target+".config")
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	out := t.TempDir()
	start := time.Now()
	runCmd(t, out, nil, "make", append([]string{"-s", "-C", tree, "O=" + out}, append(makeVars, target)...)...)
	t.Logf("make %s: %v", target, time.Since(start).Round(time.Millisecond))
	data, err := os.ReadFile(filepath.Join(out, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		t.Fatal(err)
	}
	return path
}

// treeConfigs lists every file under arch/*/configs and kernel/configs.
func treeConfigs(t testing.TB, tree string) []string {
	t.Helper()
	roots, err := filepath.Glob(filepath.Join(tree, "arch", "*", "configs"))
	if err != nil {
		t.Fatal(err)
	}
	roots = append(roots, filepath.Join(tree, "kernel", "configs"))
	var files []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func roundTrip(t *testing.T, path string) *Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadFile(path, ParseOptions{})
	if err != nil {
		t.Errorf("strict parse: %v", err)
		return nil
	}
	if got := c.Bytes(); !bytes.Equal(got, data) {
		t.Errorf("%s: round trip differs (%d bytes, want %d)", path, len(got), len(data))
	}
	// An edit and its undo give the file back too.
	for sym, v := range c.All() {
		if err := c.Set(sym, StringValue("x")); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(sym, v); err != nil {
			t.Fatal(err)
		}
		break
	}
	if got := c.Bytes(); !bytes.Equal(got, data) {
		t.Errorf("%s: set and reset changed the file", path)
	}
	return c
}

func TestIntegrationRoundTripTreeConfigs(t *testing.T) {
	tree := testenv.KernelSource(t)
	files := treeConfigs(t, tree)
	if len(files) < 350 {
		t.Fatalf("only %d config files under arch/*/configs and kernel/configs", len(files))
	}
	syms, warns := 0, 0
	for _, f := range files {
		c := roundTrip(t, f)
		if c != nil {
			syms += c.Len()
			warns += len(c.Warnings())
			for _, w := range c.Warnings() {
				t.Logf("%s:%d: %s", filepath.Base(w.File), w.Line, w.Msg)
			}
		}
	}
	t.Logf("%d files, %d symbol assignments, %d duplicate warnings", len(files), syms, warns)
}

func TestIntegrationRoundTripGenerated(t *testing.T) {
	for _, target := range []string{"tinyconfig", "defconfig", "allmodconfig"} {
		t.Run(target, func(t *testing.T) {
			c := roundTrip(t, generated(t, target))
			if c == nil {
				return
			}
			if len(c.Warnings()) != 0 {
				t.Errorf("warnings on a file conf wrote: %v", c.Warnings())
			}
			// Every kind of value conf writes is there and typed.
			kinds := map[ValueKind]int{}
			for _, v := range c.All() {
				kinds[v.Kind()]++
			}
			for _, k := range []ValueKind{KindNotSet, KindTristate, KindString, KindNumber} {
				if kinds[k] == 0 {
					t.Errorf("no %v values in %s", k, target)
				}
			}
			t.Logf("%s: %d symbols %v", target, c.Len(), kinds)
		})
	}
}

// writeFragment writes a test fragment into dir.
func writeFragment(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stacks are the fragment stacks merged both ways.
func stacks(t *testing.T, tree, dir string) map[string][]string {
	rustFrag := writeFragment(t, dir, "rust-guest.config", fragment.TinyRust(true))
	k := func(p string) string { return filepath.Join(tree, p) }
	return map[string][]string{
		"x86_64_defconfig+kvm+debug+rust": {k("arch/x86/configs/x86_64_defconfig"), k("kernel/configs/kvm_guest.config"),
			k("kernel/configs/debug.config"), k("kernel/configs/rust.config"), rustFrag},
		"defconfig+kvm+x86_debug+xen": {generated(t, "defconfig"), k("kernel/configs/kvm_guest.config"),
			k("kernel/configs/x86_debug.config"), k("kernel/configs/xen.config"), k("arch/x86/configs/xen.config")},
		"tinyconfig+tiny+rust-guest": {generated(t, "tinyconfig"), k("kernel/configs/tiny-base.config"),
			k("kernel/configs/tiny.config"), k("arch/x86/configs/tiny.config"), rustFrag},
		"x86_64_defconfig+hardening+nopm": {k("arch/x86/configs/x86_64_defconfig"), k("kernel/configs/hardening.config"),
			k("arch/x86/configs/hardening.config"), k("kernel/configs/nopm.config")},
		"allmodconfig+debug+tiny+twice": {generated(t, "allmodconfig"), k("kernel/configs/debug.config"),
			k("kernel/configs/tiny.config"), k("kernel/configs/debug.config")},
		"i386_defconfig+x86_64_defconfig": {k("arch/x86/configs/i386_defconfig"), k("arch/x86/configs/x86_64_defconfig")},
	}
}

// mergeCompare runs merge_config.sh -m with flags on files and
// compares its .config and its output with Merge and WriteMergeLog.
func mergeCompare(t *testing.T, tree, cwd string, files []string, flags ...string) []MergeWarning {
	t.Helper()
	out := t.TempDir()
	args := append(append([]string{"-m"}, flags...), "-O", out)
	stdout := runCmd(t, cwd, nil, filepath.Join(tree, "scripts/kconfig/merge_config.sh"), append(args, files...)...)
	want, err := os.ReadFile(filepath.Join(out, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	var cfgs []*Config
	for _, f := range files {
		c, err := ReadFile(f, ParseOptions{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, c) // named f, as on the script's command line
	}
	opts := MergeOptions{Builtin: slices.Contains(flags, "-y")}
	merged, warns := opts.Merge(cfgs[0], cfgs[1:]...)
	if got := merged.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("merged file differs from merge_config.sh's (%d bytes, want %d):\n%s", len(got), len(want), firstDiff(string(got), string(want)))
	}
	var log strings.Builder
	logOpts := MergeLogOptions{Redundant: slices.Contains(flags, "-r"), Quiet: slices.Contains(flags, "-Q"), Output: filepath.Join(out, ".config")}
	if err := WriteMergeLog(&log, cfgs[0], cfgs[1:], warns, logOpts); err != nil {
		t.Fatal(err)
	}
	if log.String() != stdout {
		t.Errorf("merge log differs from merge_config.sh's output:\n%s", firstDiff(log.String(), stdout))
	}
	return warns
}

// firstDiff shows the first differing line of two texts.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "(same lines)"
}

func TestIntegrationMergeScript(t *testing.T) {
	tree := testenv.KernelSource(t)
	testenv.LookPath(t, "awk")
	dir := t.TempDir()
	for name, files := range stacks(t, tree, dir) {
		t.Run(name, func(t *testing.T) {
			for _, flags := range [][]string{{"-r"}, {"-y", "-r"}, nil} {
				warns := mergeCompare(t, tree, dir, files, flags...)
				kinds := map[MergeWarningKind]int{}
				for _, w := range warns {
					kinds[w.Kind]++
				}
				t.Logf("flags %v: %v", flags, kinds)
			}
		})
	}
}

func TestIntegrationMergeGolden(t *testing.T) {
	tree := testenv.KernelSource(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "merge"))
	if err != nil {
		t.Fatal(err)
	}
	// The script creates its temporary file in the current directory:
	// work on a copy of the test data.
	cwd := t.TempDir()
	if err := os.CopyFS(cwd, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range goldenMerges {
		t.Run(tc.name, func(t *testing.T) {
			var files []string
			for _, f := range tc.files {
				files = append(files, filepath.Join(cwd, f))
			}
			var flags []string
			if tc.redundant {
				flags = append(flags, "-r")
			}
			if tc.builtin {
				flags = append(flags, "-y")
			}
			mergeCompare(t, tree, cwd, files, flags...)
			// The golden files are the script's output.
			out := t.TempDir()
			args := append(append([]string{"-m"}, flags...), "-O", out)
			stdout := runCmd(t, cwd, nil, filepath.Join(tree, "scripts/kconfig/merge_config.sh"), append(args, tc.files...)...)
			stdout = strings.ReplaceAll(stdout, filepath.Join(out, ".config"), "OUT")
			wantLog, _ := os.ReadFile(filepath.Join(dir, tc.name+".log.golden"))
			wantCfg, _ := os.ReadFile(filepath.Join(dir, tc.name+".config.golden"))
			gotCfg, _ := os.ReadFile(filepath.Join(out, ".config"))
			if stdout != string(wantLog) || !bytes.Equal(gotCfg, wantCfg) {
				t.Errorf("testdata/merge/%s.*.golden are not what merge_config.sh writes:\n%s", tc.name, stdout)
			}
		})
	}
}

func TestIntegrationDiffScript(t *testing.T) {
	tree := testenv.KernelSource(t)
	testenv.LookPath(t, "python3")
	tiny, def, allmod := generated(t, "tinyconfig"), generated(t, "defconfig"), generated(t, "allmodconfig")
	x86 := filepath.Join(tree, "arch/x86/configs/x86_64_defconfig")
	i386 := filepath.Join(tree, "arch/x86/configs/i386_defconfig")
	gold, _ := filepath.Abs(filepath.Join("testdata", "diff"))
	pairs := [][2]string{
		{def, tiny}, {tiny, def}, {def, allmod}, {allmod, tiny}, {i386, x86}, {x86, def},
		{filepath.Join(tree, "kernel/configs/debug.config"), filepath.Join(tree, "kernel/configs/x86_debug.config")},
		{filepath.Join(gold, "a.config"), filepath.Join(gold, "b.config")},
	}
	for _, p := range pairs {
		a, b := readFileT(t, p[0]), readFileT(t, p[1])
		d := Diff(a, b)
		for _, m := range []bool{false, true} {
			args := []string{filepath.Join(tree, "scripts/diffconfig"), p[0], p[1]}
			got := d.String()
			if m {
				args = slices.Insert(args, 1, "-m")
				got = d.MergeStyle()
			}
			want := runCmd(t, "", nil, "python3", args...)
			if got != want {
				t.Errorf("diffconfig %v %s %s:\n%s", m, filepath.Base(p[0]), filepath.Base(p[1]), firstDiff(got, want))
			}
		}
		t.Logf("%s -> %s: %d removed, %d changed, %d added", filepath.Base(p[0]), filepath.Base(p[1]), len(d.Removed), len(d.Changed), len(d.Added))
	}
}

func readFileT(t testing.TB, path string) *Config {
	t.Helper()
	c, err := ReadFile(path, ParseOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestIntegrationVerifyScript runs merge_config.sh for real (it runs make
// alldefconfig and then checks which requested values survived) and
// compares its warnings with Verify on the same files.
func TestIntegrationVerifyScript(t *testing.T) {
	tree := testenv.KernelSource(t)
	out := t.TempDir()
	// merge_config.sh runs make in its current directory: give it an
	// output directory with the kernel's forwarding Makefile, and pass
	// the toolchain through MAKEFLAGS.
	runCmd(t, out, nil, "make", append([]string{"-s", "-C", tree, "O=" + out}, append(makeVars, "outputmakefile")...)...)
	frag := writeFragment(t, out, "verify.config", fragment.TinyRust(true)+`CONFIG_NOT_A_SYMBOL=y
CONFIG_KASAN=y
CONFIG_RANDSTRUCT_FULL=y
CONFIG_LOG_BUF_SHIFT=0x11
CONFIG_NR_CPUS=4
# CONFIG_PRINTK is not set
CONFIG_PRINTK=y
CONFIG_DEFAULT_HOSTNAME="rflkit"
# CONFIG_DEBUG_INFO_NONE is not set
`)
	files := []string{generated(t, "defconfig"), filepath.Join(tree, "kernel/configs/kvm_guest.config"), frag}
	env := []string{"MAKEFLAGS=" + strings.Join(makeVars, " ")}
	stdout := runCmd(t, out, env, filepath.Join(tree, "scripts/kconfig/merge_config.sh"), append([]string{"-O", out}, files...)...)

	re := regexp.MustCompile(`(?m)^WARNING: (?:Value requested for CONFIG_(\w+) not in final|CONFIG_(\w+) differs:|CONFIG_(\w+) not in merged)`)
	var want []string
	for _, m := range re.FindAllStringSubmatch(stdout, -1) {
		want = append(want, m[1]+m[2]+m[3])
	}
	slices.Sort(want)
	want = slices.Compact(want)

	var cfgs []*Config
	for _, f := range files {
		cfgs = append(cfgs, readFileT(t, f))
	}
	merged, _ := Merge(cfgs[0], cfgs[1:]...)
	final := readFileT(t, filepath.Join(out, ".config"))
	// The script checks every line of the merged file, so it also warns
	// about an earlier assignment that a later line of the same file
	// overrides (PRINTK here); conf, kunit and Verify use the last one.
	count := map[string]int{}
	for sym := range merged.All() {
		count[sym]++
	}
	var overridden []string
	want = slices.DeleteFunc(want, func(sym string) bool {
		v, _ := merged.Get(sym)
		f, ok := final.Get(sym)
		if count[sym] > 1 && ok && f.Equal(v) {
			overridden = append(overridden, sym)
			return true
		}
		return false
	})
	if !slices.Equal(overridden, []string{"PRINTK"}) {
		t.Errorf("script warnings about overridden lines: %v, want [PRINTK]", overridden)
	}
	var got []string
	for _, m := range Verify(merged, final) {
		got = append(got, m.Symbol)
		t.Logf("%s", strings.ReplaceAll(m.String(), "\n", " | "))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Verify found %v\nmerge_config.sh found %v\nscript output:\n%s", got, want, stdout)
	}
	if !slices.Contains(got, "NOT_A_SYMBOL") || !slices.Contains(got, "LOG_BUF_SHIFT") {
		t.Errorf("expected NOT_A_SYMBOL and LOG_BUF_SHIFT among the mismatches: %v", got)
	}
	// The fragment alone against the final file, kunit's way.
	for _, m := range Verify(readFileT(t, frag), final) {
		if !slices.Contains(got, m.Symbol) {
			t.Errorf("fragment mismatch %s not found in the merged check", m.Symbol)
		}
	}
}

// BenchmarkParseWrite parses and writes back the x86_64 allmodconfig
// .config (an integration benchmark: it needs the tree and make).
func BenchmarkParseWrite(b *testing.B) {
	data, err := os.ReadFile(generated(b, "allmodconfig"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse+write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			c, err := Parse(bytes.NewReader(data), "allmodconfig", ParseOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if len(c.Bytes()) != len(data) {
				b.Fatal("round trip")
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(bytes.NewReader(data), "allmodconfig", ParseOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	c, _ := Parse(bytes.NewReader(data), "allmodconfig", ParseOptions{})
	b.Run("write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			c.Bytes()
		}
	})
	b.Run("diff", func(b *testing.B) {
		d := c.Clone()
		d.SetString("RUST", "y")
		b.ReportAllocs()
		for b.Loop() {
			Diff(c, d)
		}
	})
}
