package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// verify exits 1 on requested lines it cannot read, naming file:line:col
// and quoting the line, as merge_config.sh reports them as not in the
// final .config.
func TestVerifyUnparsedLines(t *testing.T) {
	dir := t.TempDir()
	req := writeT(t, dir, "req", "CONFIG_A=y\nCONFIG_FOO= y\nCONFIG_BAR=\"x\n")
	final := writeT(t, dir, "final", "CONFIG_A=y\nCONFIG_FOO=y\n")
	code, out, errs := runT(t, nil, "verify", req, final)
	want := req + `:2:12: Value requested for CONFIG_FOO not in final .config: the line cannot be read: invalid value " y" (want y, m, n, "string" or a number)` + "\n" +
		`Requested value: "CONFIG_FOO= y"` + "\n" +
		"Actual value:    CONFIG_FOO=y\n" +
		req + `:3:14: Value requested for CONFIG_BAR not in final .config: the line cannot be read: not a valid string value: unterminated string (no closing '"')` + "\n" +
		`Requested value: "CONFIG_BAR=\"x"` + "\n" +
		"Actual value:    \n" +
		"2 lines of " + req + " cannot be read (conf ignores them)\n"
	if code != 1 || out != want {
		t.Errorf("exit %d\n%s\nwant\n%s", code, out, want)
	}
	if errs != "" {
		t.Errorf("the unreadable lines are also warnings: %q", errs)
	}
	// With a value missing too, both counts.
	code, out, _ = runT(t, nil, "verify", writeT(t, dir, "req2", "CONFIG_B=y\noops\n"), final)
	if code != 1 || !strings.Contains(out, "req2:2:1: Requested line cannot be read: unexpected data") ||
		!strings.HasSuffix(out, "1 of the requested values are not in "+final+"\n1 lines of "+filepath.Join(dir, "req2")+" cannot be read (conf ignores them)\n") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// A 10 MB malformed line gives messages of a few hundred bytes.
func TestBoundedMessagesCLI(t *testing.T) {
	const limit = 1000
	dir := t.TempDir()
	big := strings.Repeat("x", 10<<20)
	bad := writeT(t, dir, "bad", "CONFIG_A=y\nCONFIG_B="+big+"\n")
	final := writeT(t, dir, "final", "CONFIG_A=y\n")
	for _, args := range [][]string{
		{"verify", bad, final},
		{"set", "-config", bad, "A=m"},
		{"set", "-config", bad, "-lenient", "A=m"},
		{"set", "-config", final, "A=" + big},
		{"set", "-config", final, "A=0x" + big},
		{"set", "-config", final, "A" + big},
		{"diff", bad, final},
	} {
		code, out, errs := runT(t, nil, args...)
		if len(errs) > limit || (args[0] != "diff" && len(out) > limit) {
			t.Errorf("%s %.40q: exit %d, %d bytes out, %d bytes err: %.300s", args[0], args[len(args)-1], code, len(out), len(errs), errs)
		}
		if args[0] == "verify" && (code != 1 || !strings.Contains(out, bad+":2:10:") || !strings.Contains(out, "(10485769 bytes)")) {
			t.Errorf("verify: exit %d, %.500s", code, out)
		}
	}
}

// set words a bad value in terms of the types: int, hex, bool/tristate,
// string.
func TestSetValueMessages(t *testing.T) {
	cfg := writeT(t, t.TempDir(), ".config", "CONFIG_A=y\n")
	for arg, want := range map[string]string{
		"A=0x":        `kconfig set: A=0x: not a valid hex value: "0x" has no digits`,
		"CONFIG_A=0x": `kconfig set: CONFIG_A=0x: not a valid hex value: "0x" has no digits`,
		"A=0x1g":      `kconfig set: A=0x1g: not a valid hex value: invalid hexadecimal digit 'g'`,
		"A=12a":       `kconfig set: A=12a: not a valid int value: invalid decimal digit 'a'`,
		"A=-":         `kconfig set: A=-: not a valid int value: missing digits after '-'`,
		"A=yes":       `kconfig set: A=yes: not a bool or tristate value (y, m or n), nor a number; a string value needs double quotes: A='"yes"'`,
		"S=hello":     `kconfig set: S=hello: not a bool or tristate value (y, m or n), nor a number; a string value needs double quotes: S='"hello"'`,
		`S="abc`:      `kconfig set: S="abc: not a valid string value: unterminated string (no closing '"')`,
		`S="a"b`:      `kconfig set: S="a"b: not a valid string value: unexpected text after string`,
		"A=":          `kconfig set: A=: missing value (want y, m, n, "string", a decimal number or 0x followed by hex digits)`,
	} {
		code, _, errs := runT(t, nil, "set", "-config", cfg, arg)
		if code != 1 || errs != want+"\n" {
			t.Errorf("set %s: exit %d, %q\nwant %q", arg, code, errs, want)
		}
	}
	if got, _ := os.ReadFile(cfg); string(got) != "CONFIG_A=y\n" {
		t.Errorf("failed sets changed the file: %q", got)
	}
}

// Output files follow the atomicfile rule: a dangling link given as -o is
// written through (the link stays), a loop is an error, and root editing
// a user's file leaves it the user's.
func TestOutputFileRule(t *testing.T) {
	gold, err := filepath.Abs("../../kconfig/dotconfig/testdata/merge")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "merged")
	if err := os.Symlink("out/merged.config", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	base, frag := filepath.Join(gold, "base.config"), filepath.Join(gold, "frag1.config")
	if code, _, errs := runT(t, nil, "merge", "-o", link, base, frag); code != 0 {
		t.Fatalf("merge -o dangling link: exit %d %s", code, errs)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("-o link replaced by a file: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "out", "merged.config")); err != nil || fi.Size() == 0 {
		t.Errorf("link target not written: %v", err)
	}

	loop := filepath.Join(dir, "loop")
	if err := os.Symlink("loop", loop); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runT(t, nil, "merge", "-o", loop, base, frag); code != 1 || !strings.Contains(errs, "too many levels of symbolic links") {
		t.Errorf("merge -o loop: exit %d %q", code, errs)
	}

	// The tree subcommands (Result.WriteFile, savedefconfig) too.
	src, err := filepath.Abs("../../kconfig/testdata/lang/example")
	if err != nil {
		t.Fatal(err)
	}
	in := writeT(t, dir, "in.config", "CONFIG_NET=y\n")
	common := []string{"-src", src, "-no-detect", "-no-macro-cache", "-config", in}
	for _, cmd := range []string{"olddefconfig", "savedefconfig"} {
		l := filepath.Join(dir, cmd+".link")
		if err := os.Symlink(cmd+".target", l); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := runT(t, nil, append(append([]string{cmd}, common...), "-o", l)...); code != 0 {
			t.Fatalf("%s -o dangling link: exit %d %s", cmd, code, errs)
		}
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: -o link replaced: %v %v", cmd, fi.Mode(), err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, cmd+".target")); err != nil || !strings.Contains(string(got), "CONFIG_NET=y") {
			t.Errorf("%s: target %q, %v", cmd, got, err)
		}
	}

	// set on a user's 0640 file, as root: owner, group and mode stay.
	cfg := writeT(t, dir, "user.config", "CONFIG_A=y\n")
	if err := os.Chmod(cfg, 0o640); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root { // only root can give the file to another user
		if err := os.Chown(cfg, 12345, 12345); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errs := runT(t, nil, "set", "-config", cfg, "A=m"); code != 0 {
		t.Fatalf("set: exit %d %s", code, errs)
	}
	fi, err := os.Stat(cfg)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("set: mode %v, %v; want 0640 kept", fi.Mode().Perm(), err)
	}
	// Without root the file is the test's own: no other owner to keep.
	if st := fi.Sys().(*syscall.Stat_t); root && (st.Uid != 12345 || st.Gid != 12345) {
		t.Errorf("set as root: owner %d:%d, want 12345:12345 kept", st.Uid, st.Gid)
	}
}
