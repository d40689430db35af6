package tcgplugin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/testenv"
)

// buildHarness compiles the plugin's embedded source with
// testdata/harness.c, a stand-in for QEMU's side of the API, into one
// program.
func buildHarness(t *testing.T) string {
	t.Helper()
	cc := testenv.LookPath(t, "cc")
	dir := t.TempDir()
	src := filepath.Join(dir, "insncount.c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		t.Fatal(err)
	}
	harness, err := filepath.Abs("testdata/harness.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "harness")
	argv := []string{cc, "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", bin, harness, src}
	if _, err := osutil.Run(context.Background(), osutil.Options{}, argv...); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestIntegrationPluginHarness runs the plugin's C code in the harness:
// the API version check, argument and map errors, and the counting and
// snapshots of a known sequence of instructions over testdata/System.map.
func TestIntegrationPluginHarness(t *testing.T) {
	testenv.Integration(t)
	bin := buildHarness(t)
	tab := testTable(t)
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "kernel.map")
	if err := tab.WriteMapFile(mapPath); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	run := func(stdin string, args ...string) (osutil.Result, error) {
		return osutil.Run(context.Background(), osutil.Options{Stdin: strings.NewReader(stdin)}, append([]string{bin}, args...)...)
	}

	t.Run("refusals", func(t *testing.T) {
		badMap := filepath.Join(dir, "bad.map")
		if err := os.WriteFile(badMap, []byte("rflkit-insncount-map 1 2\n10 20 0\n-30 40 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			args []string
			msg  string
		}{
			{"newer QEMU", []string{"2", "4", "map=" + mapPath, "out=" + out},
				"insncount: QEMU's plugin API is version 4 (it accepts 2..4); this plugin is written for version 1"},
			{"older QEMU", []string{"0", "0", "map=" + mapPath, "out=" + out}, "plugin API is version 0"},
			{"unknown argument", []string{"0", "1", "map=" + mapPath, "out=" + out, "bogus=on"}, `unknown argument "bogus=on"`},
			{"no out", []string{"0", "1", "map=" + mapPath}, "map=PATH and out=PATH are required"},
			{"bad trigger", []string{"0", "1", "map=" + mapPath, "out=" + out, "trigger=-1"}, "argument trigger=-1: not an address"},
			{"missing map", []string{"0", "1", "map=" + dir + "/none", "out=" + out}, "map " + dir + "/none: No such file or directory"},
			{"bad map line", []string{"0", "1", "map=" + badMap, "out=" + out}, "map " + badMap + ": line 3: want"},
			{"unwritable out", []string{"0", "1", "map=" + mapPath, "out=" + dir + "/no/such/dir"}, "out " + dir + "/no/such/dir: No such file"},
		} {
			t.Run(c.name, func(t *testing.T) {
				res, err := run("", c.args...)
				var ee *osutil.ExitError
				if !errors.As(err, &ee) || ee.Code != 2 {
					t.Fatalf("want exit code 2 (install refused): %v", err)
				}
				// QEMU's log (qemu_plugin_outs, seen with -d plugin) and stderr.
				if !strings.HasPrefix(string(res.Stdout), "outs: insncount: ") || !strings.Contains(string(res.Stdout), c.msg) ||
					!strings.Contains(string(res.Stderr), c.msg) {
					t.Errorf("stdout %q stderr %q: want %q in both", res.Stdout, res.Stderr, c.msg)
				}
			})
		}
	})

	t.Run("counts", func(t *testing.T) {
		trigger, _ := tab.Addr("ksys_sync")
		p := Plugin{Path: "unused", Map: mapPath, Out: out, Trigger: trigger}
		args := strings.Split(p.QEMUArgs()[1], ",")[1:]
		blocks := strings.Join([]string{
			"1 1000 1004", // user space: 2
			"3 ffffffff81001000 ffffffff81001004 ffffffff81001008", // vfs_read: 9, 3 entries
			"1 ffffffff81001280 ffffffff81001284",                  // ksys_sync: snapshot 0 at its first
			"2 ffffffff81000100",                                   // after __entry_text_end: unknown 2
			"1 ffffffff81001010 ffffffff81302000 ffffffff81001100", // vfs_read +1, unknown +1, sys_ni_syscall
			"1 ffffffff81001280",                                   // snapshot 1
		}, "\n") + "\n"
		if res, err := run(blocks, append([]string{"0", "1"}, args...)...); err != nil {
			t.Fatalf("%v\n%s", err, res.Stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "rflkit-insncount 1 functions=11 vcpus=1\n") {
			t.Errorf("header: %q", data)
		}
		snaps, err := ParseOutput(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		// The trigger's callback runs after the instruction's inline
		// additions (the order the plugin registers them in).
		s1 := Snapshot{Index: 1, Reason: "trigger", User: 2, Unknown: 3, VCPUs: 1,
			Counts: map[int]Count{4: {10, 3}, 5: {1, 1}, 7: {3, 2}}}
		want := []Snapshot{
			{Index: 0, Reason: "trigger", User: 2, VCPUs: 1, Counts: map[int]Count{4: {9, 3}, 7: {1, 1}}},
			s1,
			{Index: 2, Reason: "exit", User: 2, Unknown: 3, VCPUs: 1, Counts: s1.Counts},
		}
		if !reflect.DeepEqual(snaps, want) {
			t.Fatalf("snapshots:\n got %+v\nwant %+v\n%s", snaps, want, data)
		}
		p01, err := tab.Diff(snaps[0], snaps[1])
		if err != nil {
			t.Fatal(err)
		}
		wantP := Profile{Funcs: map[string]Count{"vfs_read": {1, 0}, "sys_ni_syscall": {1, 1}, "ksys_sync": {2, 1}}, Unknown: 3}
		if !reflect.DeepEqual(p01, wantP) {
			t.Errorf("window 0-1: %+v, want %+v", p01, wantP)
		}
	})
}
