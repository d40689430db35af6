package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/internal/testenv"
)

// runT runs the command line as main does, with the environment variables
// the command reads (CONFIG_, KCONFIG_SEED, KCONFIG_PROBABILITY) set from
// getenv (empty when not there), and returns the exit status and output.
func runT(t *testing.T, getenv map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for _, k := range []string{"CONFIG_", "KCONFIG_SEED", "KCONFIG_PROBABILITY"} {
		t.Setenv(k, getenv[k])
	}
	for k, v := range getenv {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	cli.Report(&stderr, "kconfig", err)
	return cli.Code(err), stdout.String(), stderr.String()
}

func writeT(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSet(t *testing.T) {
	dir := t.TempDir()
	cfg := writeT(t, dir, ".config", "# keep me\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x\"\n")
	code, out, errs := runT(t, nil, "set", "-config", cfg, "CONFIG_A=n", "B=m", `S="a b"`, "NEW=0x10", "N=12")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	got, _ := os.ReadFile(cfg)
	want := "# keep me\n# CONFIG_A is not set\nCONFIG_B=m\nCONFIG_S=\"a b\"\nCONFIG_NEW=0x10\nCONFIG_N=12\n"
	if string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// A bad value changes nothing and says why.
	code, _, errs = runT(t, nil, "set", "-config", cfg, "A=y", "B=maybe")
	if code != 1 || !strings.Contains(errs, "maybe") {
		t.Errorf("bad value: exit %d, %q", code, errs)
	}
	if again, _ := os.ReadFile(cfg); string(again) != want {
		t.Error("a failed set changed the file")
	}
	// A malformed file is refused with its position, or read with -lenient.
	bad := writeT(t, dir, "bad", "CONFIG_A=y\noops\n")
	code, _, errs = runT(t, nil, "set", "-config", bad, "A=m")
	if code != 1 || !strings.Contains(errs, "bad:2:1:") {
		t.Errorf("malformed: exit %d, %q", code, errs)
	}
	code, _, errs = runT(t, nil, "set", "-config", bad, "-lenient", "A=m")
	if got, _ := os.ReadFile(bad); code != 0 || string(got) != "CONFIG_A=m\noops\n" || !strings.Contains(errs, "bad:2:1: warning") {
		t.Errorf("lenient: exit %d, %q, %q", code, got, errs)
	}
	// The prefix comes from $CONFIG_.
	pf := writeT(t, dir, "pf", "FOO_A=y\n")
	if code, _, errs := runT(t, map[string]string{"CONFIG_": "FOO_"}, "set", "-config", pf, "FOO_B=y"); code != 0 {
		t.Fatalf("prefix: %d %s", code, errs)
	}
	if got, _ := os.ReadFile(pf); string(got) != "FOO_A=y\nFOO_B=y\n" {
		t.Errorf("prefix: %q", got)
	}
	for _, args := range [][]string{{"set", "-config", cfg}, {"set", "-config", cfg, "NOEQUALS"}, {"set", "-nope"}} {
		if code, _, _ := runT(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestMergeGolden(t *testing.T) {
	gold, err := filepath.Abs("../../kconfig/dotconfig/testdata/merge")
	if err != nil {
		t.Fatal(err)
	}
	// merge_config.sh prints file names as given: run from the data dir.
	t.Chdir(gold)
	for _, tc := range []struct {
		name  string
		flags []string
	}{{"none", nil}, {"r", []string{"-r"}}, {"y", []string{"-y"}}, {"ry", []string{"-r", "-y"}}} {
		out := filepath.Join(t.TempDir(), "merged")
		args := append(append([]string{"merge"}, tc.flags...), "-o", out, "base.config", "frag1.config", "frag2.config", "frag1.config")
		code, stdout, errs := runT(t, nil, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, code, errs)
		}
		wantLog, _ := os.ReadFile(tc.name + ".log.golden")
		wantCfg, _ := os.ReadFile(tc.name + ".config.golden")
		if got := strings.ReplaceAll(stdout, out, "OUT"); got != string(wantLog) {
			t.Errorf("%s: log\n%s\nwant\n%s", tc.name, got, wantLog)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, wantCfg) {
			t.Errorf("%s: merged\n%s\nwant\n%s", tc.name, got, wantCfg)
		}
	}
	// -s: a redefinition fails, as in the script.
	out := filepath.Join(t.TempDir(), "merged")
	code, stdout, _ := runT(t, nil, "merge", "-s", "-o", out, "base.config", "frag1.config")
	if code != 1 || !strings.HasSuffix(stdout, "The fragment redefined a value and strict mode had been passed.\n") {
		t.Errorf("-s: exit %d\n%s", code, stdout)
	}
	for _, args := range [][]string{{"merge", "base.config"}, {"merge", "-o", out}} {
		if code, _, _ := runT(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runT(t, nil, "merge", "-o", out, "base.config", "missing.config"); code != 1 || !strings.Contains(errs, "missing.config") {
		t.Errorf("missing fragment: exit %d %q", code, errs)
	}
}

func TestDiffGolden(t *testing.T) {
	t.Chdir("../../kconfig/dotconfig/testdata/diff")
	for _, tc := range []struct {
		args   []string
		golden string
	}{
		{[]string{"a.config", "b.config"}, "ab.golden"},
		{[]string{"-m", "a.config", "b.config"}, "ab-m.golden"},
		{[]string{"b.config", "a.config"}, "ba.golden"},
	} {
		code, out, errs := runT(t, nil, append([]string{"diff"}, tc.args...)...)
		want, _ := os.ReadFile(tc.golden)
		if code != 0 || out != string(want) {
			t.Errorf("diff %v: exit %d %s\n%s\nwant\n%s", tc.args, code, errs, out, want)
		}
	}
	if code, _, _ := runT(t, nil, "diff", "a.config"); code != 2 {
		t.Errorf("one file: exit %d", code)
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	req := writeT(t, dir, "req", "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n")
	good := writeT(t, dir, "good", "CONFIG_A=y\nCONFIG_C=m\n")
	bad := writeT(t, dir, "bad", "CONFIG_A=m\n")
	if code, out, errs := runT(t, nil, "verify", req, good); code != 0 || out != "" {
		t.Errorf("good: exit %d %q %q", code, out, errs)
	}
	code, out, _ := runT(t, nil, "verify", req, bad)
	want := req + ":1: CONFIG_A differs:\nRequested value: CONFIG_A=y\nActual value:    CONFIG_A=m\n" +
		req + ":3: Value requested for CONFIG_C not in final .config\nRequested value: CONFIG_C=m\nActual value:    \n" +
		"2 of the requested values are not in " + bad + "\n"
	if code != 1 || out != want {
		t.Errorf("bad: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestDispatch(t *testing.T) {
	if code, _, errs := runT(t, nil); code != 2 || !strings.Contains(errs, "usage: kconfig") {
		t.Errorf("no args: %d %q", code, errs)
	}
	if code, _, errs := runT(t, nil, "help"); code != 0 || !strings.Contains(errs, "merge") || !strings.Contains(errs, "verify") {
		t.Errorf("help: %d %q", code, errs)
	}
	if code, _, errs := runT(t, nil, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown subcommand "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, errs)
	}
	for name := range treeCommands() {
		if _, dup := fileCommands()[name]; dup {
			t.Errorf("subcommand %q defined twice", name)
		}
	}
}

// TestIntegrationAgainstScripts runs the subcommands and the kernel's own
// scripts on the 7.2 tree's configs and compares what they print and write.
func TestIntegrationAgainstScripts(t *testing.T) {
	tree := testenv.KernelSource(t)
	testenv.LookPath(t, "python3")
	dir := t.TempDir()
	t.Chdir(dir) // merge_config.sh writes its temporary file here
	files := []string{
		filepath.Join(tree, "arch/x86/configs/x86_64_defconfig"),
		filepath.Join(tree, "kernel/configs/kvm_guest.config"),
		filepath.Join(tree, "kernel/configs/debug.config"),
		filepath.Join(tree, "kernel/configs/rust.config"),
	}
	outDir := t.TempDir()
	want := scriptT(t, dir, filepath.Join(tree, "scripts/kconfig/merge_config.sh"), append([]string{"-m", "-r", "-O", outDir}, files...)...)
	wantCfg, err := os.ReadFile(filepath.Join(outDir, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "ours")
	code, got, errs := runT(t, nil, append([]string{"merge", "-r", "-o", out}, files...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errs)
	}
	if got = strings.ReplaceAll(got, out, filepath.Join(outDir, ".config")); got != want {
		t.Errorf("merge output:\n%s\nmerge_config.sh:\n%s", got, want)
	}
	if gotCfg, _ := os.ReadFile(out); !bytes.Equal(gotCfg, wantCfg) {
		t.Error("merged file differs from merge_config.sh's")
	}

	for _, pair := range [][2]string{
		{filepath.Join(tree, "arch/x86/configs/i386_defconfig"), filepath.Join(tree, "arch/x86/configs/x86_64_defconfig")},
		{files[0], out},
		{filepath.Join(tree, "arch/arm64/configs/defconfig"), filepath.Join(tree, "arch/riscv/configs/defconfig")},
	} {
		want := scriptT(t, dir, "python3", filepath.Join(tree, "scripts/diffconfig"), pair[0], pair[1])
		code, got, errs := runT(t, nil, "diff", pair[0], pair[1])
		if code != 0 || got != want {
			t.Errorf("diff %s %s: exit %d %s\n%s\ndiffconfig:\n%s", pair[0], pair[1], code, errs, got, want)
		}
	}
}

func scriptT(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return stdout.String()
}
