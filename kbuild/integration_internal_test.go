package kbuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/kconfig/dotconfig"
)

// realBuilder is a Builder on the real 7.2 tarball with the machine's
// Rust-capable toolchain (the same as internal/testkernel's).
func realBuilder(t *testing.T) *Builder {
	t.Helper()
	testenv.Integration(t)
	src := os.Getenv("RFLKIT_KERNEL_SRC")
	if src == "" {
		src = testenv.DefaultTarball
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("kernel source: %v: run scripts/setup", err)
	}
	for _, tool := range []string{"make", "clang", "ld.lld", "/usr/bin/rustc", "/usr/bin/bindgen"} {
		testenv.LookPath(t, tool)
	}
	return &Builder{
		Src:  src,
		Arch: "x86_64",
		MakeVars: map[string]string{
			"LLVM": "1", "RUSTC": "/usr/bin/rustc", "HOSTRUSTC": "/usr/bin/rustc",
			"RUSTDOC": "/usr/bin/rustdoc", "BINDGEN": "/usr/bin/bindgen",
		},
		CacheDir: testenv.CacheDir(t),
	}
}

// findMake returns the pid of the make running with O=dir.
func findMake(dir string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "make") {
			for _, a := range args {
				if a == "O="+dir {
					return pid
				}
			}
		}
	}
	return 0
}

// TestIntegrationCancelRealBuild starts a real build of a configuration
// that is not in the cache (tinyconfig without Rust, with a unique
// LOCALVERSION), cancels it after ~20 s of compiling and checks that no
// process of make's group is left and no cache entry was made.
func TestIntegrationCancelRealBuild(t *testing.T) {
	b := realBuilder(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var dir string
	var buildStart time.Time
	b.Progress = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Phase == PhaseBuild && dir == "" {
			dir, buildStart = e.Dir, time.Now()
			time.AfterFunc(20*time.Second, cancel)
		}
		if e.Phase == PhaseWait {
			t.Logf("waiting for another build: %s", e.Message)
		}
	}
	spec := BuildSpec{
		Config:  ConfigSpec{Base: "tinyconfig", Inline: []string{fmt.Sprintf("CONFIG_LOCALVERSION=\"-cancel-%d\"\n", time.Now().UnixNano())}},
		Targets: []string{"vmlinux"},
	}
	// Find make's process group while it runs.
	pgidc := make(chan int, 1)
	go func() {
		for ctx.Err() == nil {
			mu.Lock()
			d := dir
			mu.Unlock()
			if d != "" {
				if pid := findMake(d); pid != 0 {
					if g, ok := procPgid(pid); ok {
						pgidc <- g
						return
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		pgidc <- 0
	}()
	_, err := b.Build(ctx, spec)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancelled build, got %v", err)
	}
	pgid := <-pgidc
	if pgid == 0 {
		t.Fatal("never saw make running")
	}
	t.Logf("cancelled after %s of make (group %d)", time.Since(buildStart).Round(time.Millisecond), pgid)
	var left []int
	for i := 0; i < 300; i++ {
		if left = groupMembers(pgid); len(left) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Errorf("processes %v of make's group survived the cancel", left)
	}
	if pid := findMake(dir); pid != 0 {
		t.Errorf("a make with O=%s is still running (pid %d)", dir, pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cancelled build's directory %s remains: %v", dir, err)
	}
}

// TestIntegrationRequestedOptionRejected: options whose dependencies are
// missing are reported, not dropped.
func TestIntegrationRequestedOptionRejected(t *testing.T) {
	b := realBuilder(t)
	for _, tc := range []struct {
		name, frag string
		want       Mismatch
		cause      string // a symbol the explanation must blame
	}{
		{"rnull without configfs", "CONFIG_RUST=y\nCONFIG_BLK_DEV=y\nCONFIG_BLK_DEV_RUST_NULL=y\n# CONFIG_CONFIGFS_FS is not set\n",
			Mismatch{Symbol: "BLK_DEV_RUST_NULL", Requested: dotconfig.TristateValue(dotconfig.Yes), Final: dotconfig.TristateValue(dotconfig.No)}, "CONFIGFS_FS"},
		{"inline helpers without EXPERT", "CONFIG_RUST=y\n# CONFIG_EXPERT is not set\nCONFIG_RUST_INLINE_HELPERS=y\n",
			Mismatch{Symbol: "RUST_INLINE_HELPERS", Requested: dotconfig.TristateValue(dotconfig.Yes), Final: dotconfig.TristateValue(dotconfig.No)}, "EXPERT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			_, err := b.Configure(context.Background(), ConfigSpec{Base: "tinyconfig", Inline: []string{tc.frag}})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want *ConfigError, got %v", err)
			}
			found := false
			for _, m := range ce.Mismatches {
				found = found || (m.Symbol == tc.want.Symbol && m.Requested.Equal(tc.want.Requested) && m.Final.Equal(tc.want.Final))
			}
			if !found {
				t.Errorf("mismatches %+v lack %+v", ce.Mismatches, tc.want)
			}
			x := ce.Explanations[tc.want.Symbol]
			if x == nil {
				t.Fatalf("no explanation (%v)", ce.ExplainErr)
			}
			if !strings.Contains(x.String(), tc.cause) || !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("the explanation does not blame %s:\n%s\nerror: %v", tc.cause, x, err)
			}
			t.Logf("%v (%s)", err, time.Since(t0).Round(time.Millisecond))
		})
	}
}
