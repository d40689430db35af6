package kconfig

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/testenv"
)

// The small trees in testdata/lang have want-*.config files written by
// the kernel's own scripts/kconfig/conf (TestIntegrationGoldenFromConf
// checks them against conf and rewrites them with RFLKIT_UPDATE_GOLDEN=1).
// The unit test compares our output with them.

type goldenCase struct {
	name   string // want-<name>.config
	target string
	input  string // in-*.config, or ""
}

var goldenCases = []goldenCase{
	{"allnoconfig", "allnoconfig", ""},
	{"allyesconfig", "allyesconfig", ""},
	{"allmodconfig", "allmodconfig", ""},
	{"alldefconfig", "alldefconfig", ""},
	{"olddefconfig-1", "olddefconfig", "in-1.config"},
	{"olddefconfig-2", "olddefconfig", "in-2.config"},
	{"savedefconfig-1", "savedefconfig", "in-1.config"},
	{"savedefconfig-2", "savedefconfig", "in-2.config"},
	{"randconfig-7", "randconfig", ""},
	{"randconfig-12345", "randconfig", ""},
}

func loadGoldenTree(t testing.TB, dir string) *Tree {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := loadSmall(abs)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// loadSmall loads a test tree without the kernel's Makefile.
func loadSmall(dir string) (*Tree, error) {
	env := map[string]string{"ARCH": "testarch", "srctree": dir, "SRCARCH": "testarch"}
	files := &fileCache{src: dir, data: map[string]string{}}
	r, err := newShellRunner(context.Background(), LoadOptions{NoMacroCache: true})
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.setEnv(envList(env))
	tr, err := parseTree("Kconfig", env, files.read, func(cmd string) (string, error) { return r.runSync(cmd, nil) })
	if err != nil {
		return nil, err
	}
	tr.Env, tr.srcDir, tr.arch = env, dir, "testarch"
	return tr, nil
}

func goldenOurs(t testing.TB, tr *Tree, dir string, c goldenCase) []byte {
	t.Helper()
	var in []byte
	if c.input != "" {
		var err error
		if in, err = os.ReadFile(filepath.Join(dir, c.input)); err != nil {
			t.Fatal(err)
		}
	}
	switch c.target {
	case "allnoconfig":
		return tr.allConfigBytes(AllNo, "", nil).Bytes()
	case "allyesconfig":
		return tr.allConfigBytes(AllYes, "", nil).Bytes()
	case "allmodconfig":
		return tr.allConfigBytes(AllMod, "", nil).Bytes()
	case "alldefconfig":
		return tr.allConfigBytes(AllDef, "", nil).Bytes()
	case "olddefconfig":
		return tr.oldDefconfigBytes(c.input, in).Bytes()
	case "savedefconfig":
		return tr.oldDefconfigBytes(c.input, in).Savedefconfig()
	case "randconfig":
		seed, err := ParseSeed(strings.TrimPrefix(c.name, "randconfig-"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := tr.RandConfig(RandOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return r.Bytes()
	}
	t.Fatalf("unknown target %s", c.target)
	return nil
}

func TestGoldenSmallTree(t *testing.T) {
	dir := "testdata/lang/basic"
	tr := loadGoldenTree(t, dir)
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "want-"+c.name+".config"))
			if err != nil {
				t.Fatal(err)
			}
			compareWithMake(t, c.name, goldenOurs(t, tr, dir, c), want)
		})
	}
}

// buildConf returns the kernel's scripts/kconfig/conf, built by make in
// the reference O= directory.
func buildConf(t testing.TB) string {
	t.Helper()
	src := testenv.KernelSource(t)
	tr := loadReal(t, "", toolVars(t))
	ref := newRefMaker(t, tr, src, "", toolVars(t))
	conf := filepath.Join(ref.obj, "scripts/kconfig/conf")
	if _, err := os.Stat(conf); err != nil {
		os.RemoveAll(filepath.Join(ref.dir, "allnoconfig-force"))
		ref.make(t, "allnoconfig", []byte("# force\n"))
	}
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("conf was not built: %v", err)
	}
	return conf
}

func TestIntegrationGoldenFromConf(t *testing.T) {
	testenv.Integration(t)
	conf := buildConf(t)
	dir, err := filepath.Abs("testdata/lang/basic")
	if err != nil {
		t.Fatal(err)
	}
	tr := loadGoldenTree(t, dir)
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			if c.input != "" {
				in, err := os.ReadFile(filepath.Join(dir, c.input))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(work, ".config"), in, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			mode := "--" + c.target
			out := filepath.Join(work, ".config")
			if c.target == "savedefconfig" {
				out = filepath.Join(work, "defconfig")
				mode += "=" + out
			}
			cmd := exec.Command(conf, "-s", mode, filepath.Join(dir, "Kconfig"))
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "ARCH=testarch", "SRCARCH=testarch", "srctree="+dir)
			if c.target == "randconfig" {
				cmd.Env = append(cmd.Env, "KCONFIG_SEED="+strings.TrimPrefix(c.name, "randconfig-"))
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("conf %s: %v\n%s", mode, err, b)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			compareWithMake(t, c.name, goldenOurs(t, tr, dir, c), want)
			golden := filepath.Join(dir, "want-"+c.name+".config")
			if os.Getenv("RFLKIT_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, want, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if old, err := os.ReadFile(golden); err != nil || string(old) != string(want) {
				t.Errorf("%s is stale: rerun with RFLKIT_UPDATE_GOLDEN=1", golden)
			}
		})
	}
}
