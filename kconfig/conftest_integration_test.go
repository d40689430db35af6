package kconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/testenv"
)

// The kernel's own conformance suite for conf, scripts/kconfig/tests:
// each directory is a small Kconfig tree with its expected .config,
// stdout and stderr, driven by conftest.py. These tests run every
// non-interactive step of it against rflkit, as conftest.py runs conf
// (srctree = the test's directory, KCONFIG_DEFCONFIG_LIST empty, the
// .config copied into an empty working directory), reading the expected
// files from the tree itself.

// confRun is what one conf invocation gave: conftest.py's retcode,
// stdout, stderr and config.
type confRun struct {
	retcode        int
	stdout, stderr string
	config         string // "" when conf failed (conftest.py's None)
}

// confSuite runs conf's modes on one test directory of the suite.
type confSuite struct {
	t   *testing.T
	dir string
}

// load is conf_parse with conftest.py's environment (plus extra).
func (c *confSuite) load(extra map[string]string) (*Tree, *confRun) {
	env := map[string]string{"srctree": c.dir, "KCONFIG_DEFCONFIG_LIST": ""}
	for k, v := range extra {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	tr, err := Load(context.Background(), LoadOptions{
		Kconfig: "Kconfig", ConfEnv: env, NoMacroCache: true,
		Output: &stderr, Info: &stdout,
	})
	if err != nil {
		var le *LoadError
		if !errors.As(err, &le) {
			c.t.Fatalf("%s: Load: %v (not a *LoadError)", c.dir, err)
		}
		stderr.WriteString(ConfText(err))
		return nil, &confRun{retcode: 1, stdout: stdout.String(), stderr: stderr.String()}
	}
	return tr, &confRun{stdout: stdout.String(), stderr: stderr.String()}
}

func (c *confSuite) read(name string) []byte {
	c.t.Helper()
	if name == "" {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

// finish adds a target's warnings and output to a run.
func (r *confRun) finish(tr *TargetResult, warnChanged bool, out []byte) *confRun {
	for _, w := range tr.Warnings {
		r.stderr += w + "\n"
	}
	if warnChanged {
		r.stderr += tr.ChangedInputWarning()
	}
	r.config = string(out)
	return r
}

// olddefconfig is conf --olddefconfig with dotConfig as .config.
func (c *confSuite) olddefconfig(dotConfig string, extra map[string]string) *confRun {
	tr, r := c.load(extra)
	if tr == nil {
		return r
	}
	res := tr.oldDefconfigBytes(".config", c.read(dotConfig))
	return r.finish(res, extra["KCONFIG_WARN_CHANGED_INPUT"] != "", res.Bytes())
}

// savedefconfig is conf --savedefconfig=defconfig with dotConfig as
// .config; the config is the defconfig written.
func (c *confSuite) savedefconfig(dotConfig string, extra map[string]string) *confRun {
	tr, r := c.load(extra)
	if tr == nil {
		return r
	}
	res := tr.oldDefconfigBytes(".config", c.read(dotConfig))
	def := res.Savedefconfig()
	return r.finish(res, extra["KCONFIG_WARN_CHANGED_INPUT"] != "", def)
}

// allconfig is conf --<mode>config with KCONFIG_ALLCONFIG=allConfig.
func (c *confSuite) allconfig(mode AllMode, allConfig string) *confRun {
	tr, r := c.load(nil)
	if tr == nil {
		return r
	}
	var data []byte
	if allConfig != "" {
		data = c.read(allConfig)
	}
	res := tr.allConfigBytes(mode, filepath.Join(c.dir, allConfig), data)
	return r.finish(res, false, res.Bytes())
}

// randconfig is conf --randconfig with KCONFIG_SEED=hex(seed).
func (c *confSuite) randconfig(seed uint32) *confRun {
	tr, r := c.load(map[string]string{"KCONFIG_SEED": fmt.Sprintf("%#x", seed)})
	if tr == nil {
		return r
	}
	res, err := tr.RandConfig(RandOptions{Seed: seed})
	if err != nil {
		c.t.Fatal(err)
	}
	r.stderr = fmt.Sprintf("KCONFIG_SEED=%#x\n", seed) + r.stderr
	return r.finish(res, false, res.Bytes())
}

// parseOnly is what conf prints while parsing (the cases whose mode is
// interactive but whose Kconfig has no prompt to answer, or that fail
// while parsing).
func (c *confSuite) parseOnly() *confRun {
	_, r := c.load(nil)
	return r
}

func (c *confSuite) contains(what, got, expected string) {
	c.t.Helper()
	want := string(c.read(expected))
	if !strings.Contains(got, want) {
		c.t.Errorf("%s: %s does not contain %s\n--- got:\n%s--- want:\n%s", filepath.Base(c.dir), what, expected, got, want)
	}
}

func (c *confSuite) matches(what, got, expected string) {
	c.t.Helper()
	want := string(c.read(expected))
	if got != want {
		c.t.Errorf("%s: %s does not match %s\n--- got:\n%s--- want:\n%s", filepath.Base(c.dir), what, expected, got, want)
	}
}

func (c *confSuite) ret(r *confRun, want int) {
	c.t.Helper()
	if (want == 0) != (r.retcode == 0) {
		c.t.Fatalf("%s: exit status %d, want %d\nstderr:\n%s", filepath.Base(c.dir), r.retcode, want, r.stderr)
	}
}

// confSuiteCases is every directory of scripts/kconfig/tests: how each
// test of its __init__.py runs here, or why it is left out (nil run).
var confSuiteCases = []struct {
	dir  string
	why  string // for the steps left out
	test func(c *confSuite)
}{
	{"auto_submenu", "oldaskconfig: only stdout (the interactive prompts' indentation) is compared", nil},
	{"choice", "test_oldask0 is oldaskconfig's interactive stdout; the all*config tests are run", func(c *confSuite) {
		for _, tc := range []struct {
			mode AllMode
			name string
		}{{AllYes, "allyes"}, {AllMod, "allmod"}, {AllNo, "allno"}, {AllDef, "alldef"}} {
			r := c.allconfig(tc.mode, "")
			c.ret(r, 0)
			c.contains("config", r.config, tc.name+"_expected_config")
		}
	}},
	{"choice_randomize", "", func(c *confSuite) {
		found := map[string]bool{}
		for i := uint32(0); i < 100 && len(found) < 3; i++ {
			r := c.randconfig(i)
			c.ret(r, 0)
			ok := false
			for _, e := range []string{"expected_config0", "expected_config1", "expected_config2"} {
				if r.config == string(c.read(e)) {
					found[e], ok = true, true
					break
				}
			}
			if !ok {
				c.t.Fatalf("seed %#x: config matches none of expected_config[012]:\n%s", i, r.config)
			}
		}
		if len(found) != 3 {
			c.t.Errorf("100 seeds gave only %v", found)
		}
	}},
	{"choice_randomize2", "", func(c *confSuite) {
		for i := uint32(0); i < 20; i++ {
			r := c.randconfig(i)
			c.ret(r, 0)
			if !slices.ContainsFunc([]string{"expected_config0", "expected_config1", "expected_config2"},
				func(e string) bool { return r.config == string(c.read(e)) }) {
				c.t.Errorf("seed %#x: config matches none of expected_config[012]:\n%s", i, r.config)
			}
		}
	}},
	{"conditional_dep", "oldconfig answered by Enter only: every new symbol takes its default, which is olddefconfig", func(c *confSuite) {
		for i := 1; i <= 3; i++ {
			r := c.olddefconfig(fmt.Sprintf("test_config%d", i), nil)
			c.ret(r, 0)
			c.matches("config", r.config, fmt.Sprintf("expected_config%d", i))
		}
	}},
	{"err_recursive_dep", "", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 1)
		c.contains("stderr", r.stderr, "expected_stderr")
	}},
	{"err_recursive_inc", "", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 1)
		c.contains("stderr", r.stderr, "expected_stderr")
	}},
	{"err_repeated_inc", "", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 1)
		c.contains("stderr", r.stderr, "expected_stderr")
	}},
	{"err_transitional", "", func(c *confSuite) {
		r := c.olddefconfig("", nil)
		c.ret(r, 1)
		c.contains("stderr", r.stderr, "expected_stderr")
	}},
	{"new_choice_with_dep", "oldconfig with a typed answer: only the interactive stdout is compared", nil},
	{"no_write_if_dep_unmet", "oldaskconfig answering n to the one prompt (A): run as olddefconfig of the config with that answer", func(c *confSuite) {
		tr, r := c.load(nil)
		c.ret(r, 0)
		in := append(c.read("config"), "# CONFIG_A is not set\n"...)
		res := tr.oldDefconfigBytes(".config", in)
		c.matches("config", string(res.Bytes()), "expected_config")
	}},
	{"transitional", "the oldconfig step (interactive stdout) is left out; olddefconfig is run", func(c *confSuite) {
		r := c.olddefconfig("initial_config", nil)
		c.ret(r, 0)
		c.contains("config", r.config, "expected_config")
	}},
	{"warn_changed_input", "", func(c *confSuite) {
		r := c.olddefconfig("config", nil)
		c.ret(r, 0)
		if strings.Contains(r.stderr, "user-provided values changed by Kconfig") {
			c.t.Errorf("warning without KCONFIG_WARN_CHANGED_INPUT:\n%s", r.stderr)
		}
		on := map[string]string{"KCONFIG_WARN_CHANGED_INPUT": "1"}
		r = c.olddefconfig("config", on)
		c.ret(r, 0)
		c.contains("stderr", r.stderr, "expected_stderr")
		c.matches("config", r.config, "expected_config")
		r = c.savedefconfig("config", on)
		c.ret(r, 0)
		c.contains("stderr", r.stderr, "expected_stderr")
		c.matches("config", r.config, "expected_defconfig")
	}},
	{"preprocess/builtin_func", "oldaskconfig of a tree without prompts: parsing is all it does", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 0)
		c.contains("stdout", r.stdout, "expected_stdout")
		c.matches("stderr", r.stderr, "expected_stderr")
	}},
	{"preprocess/circular_expansion", "", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 1)
		c.matches("stderr", r.stderr, "expected_stderr")
	}},
	{"preprocess/escape", "oldaskconfig of a tree without prompts: parsing is all it does", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 0)
		c.matches("stderr", r.stderr, "expected_stderr")
	}},
	{"preprocess/variable", "oldaskconfig of a tree without prompts: parsing is all it does", func(c *confSuite) {
		r := c.parseOnly()
		c.ret(r, 0)
		c.matches("stderr", r.stderr, "expected_stderr")
	}},
}

func TestIntegrationConfSuite(t *testing.T) {
	testenv.Integration(t)
	root := filepath.Join(testenv.KernelSource(t), "scripts/kconfig/tests")
	// Every directory with an __init__.py is a case: a new one in a new
	// tree must be added to the table (run, or left out with a reason).
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "__init__.py" {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			dirs = append(dirs, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, tc := range confSuiteCases {
		known[tc.dir] = true
	}
	for _, d := range dirs {
		if !known[d] {
			t.Errorf("scripts/kconfig/tests/%s is not in confSuiteCases", d)
		}
	}
	for _, tc := range confSuiteCases {
		t.Run(tc.dir, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, tc.dir)); err != nil {
				t.Fatal(err)
			}
			if tc.test == nil {
				t.Skipf("interactive: %s", tc.why)
			}
			if tc.why != "" {
				t.Logf("partly: %s", tc.why)
			}
			tc.test(&confSuite{t: t, dir: filepath.Join(root, tc.dir)})
		})
	}
}
