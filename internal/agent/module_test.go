package agent

import (
	"context"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeModules is a ModuleSys that keeps a set of loaded modules and logs
// as a kernel would.
type fakeModules struct {
	mu     sync.Mutex
	loaded map[string]string // name → params
	log    []string
}

func (f *fakeModules) Load(path, params string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := strings.TrimSuffix(path[strings.LastIndexByte(path, '/')+1:], ".ko")
	if strings.Contains(params, "bogus") {
		f.log = append(f.log, name+": `bogus' invalid for parameter `nr_devices'")
		return syscall.EINVAL
	}
	if _, ok := f.loaded[name]; ok {
		return syscall.EEXIST
	}
	f.loaded[name] = params
	f.log = append(f.log, name+": loaded")
	return nil
}

func (f *fakeModules) Unload(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.loaded[name]; !ok {
		return syscall.ENOENT
	}
	delete(f.loaded, name)
	return nil
}

func (f *fakeModules) LogSince() func() string {
	f.mu.Lock()
	n := len(f.log)
	f.mu.Unlock()
	return func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		var b strings.Builder
		for _, l := range f.log[n:] {
			b.WriteString(l + "\n")
		}
		return b.String()
	}
}

func modulePair(t *testing.T, sys ModuleSys) *Client {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = Serve(ctx, a, ServeOptions{Modules: sys}) }()
	cl := NewClient(b)
	t.Cleanup(func() {
		cancel()
		cl.Close()
		a.Close()
	})
	if _, err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestModuleLoadUnload(t *testing.T) {
	sys := &fakeModules{loaded: map[string]string{}}
	cl := modulePair(t, sys)
	ctx := context.Background()
	do := func(req ModuleRequest) *ModuleResult {
		t.Helper()
		r, err := cl.Module(ctx, req)
		if err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
		return r
	}
	load := ModuleRequest{Op: ModuleLoad, Name: "null_blk", Path: "/lib/modules/null_blk.ko", Params: "nr_devices=0"}
	if r := do(load); r.Errno != 0 || r.Error != "" || r.Dmesg != "null_blk: loaded\n" {
		t.Errorf("load: %+v", r)
	}
	if sys.loaded["null_blk"] != "nr_devices=0" {
		t.Errorf("loaded with params %q", sys.loaded["null_blk"])
	}
	if r := do(load); r.Errno != int(syscall.EEXIST) || !strings.Contains(r.Error, "exists") || r.Dmesg != "" {
		t.Errorf("second load: %+v, want EEXIST without log lines", r)
	}
	bad := ModuleRequest{Op: ModuleLoad, Name: "rnull_mod", Path: "/lib/modules/rnull_mod.ko", Params: "nr_devices=bogus"}
	if r := do(bad); r.Errno != int(syscall.EINVAL) || !strings.Contains(r.Dmesg, "invalid for parameter") {
		t.Errorf("bogus parameter: %+v, want EINVAL and the kernel's line", r)
	}
	if r := do(ModuleRequest{Op: ModuleUnload, Name: "null_blk"}); r.Errno != 0 || r.Error != "" {
		t.Errorf("unload: %+v", r)
	}
	if r := do(ModuleRequest{Op: ModuleUnload, Name: "null_blk"}); r.Errno != int(syscall.ENOENT) {
		t.Errorf("second unload: %+v, want ENOENT", r)
	}
	if r := do(ModuleRequest{Op: ModuleLoad, Name: "x"}); r.Error == "" || r.Errno != 0 {
		t.Errorf("load without a path: %+v, want a non-kernel error", r)
	}
	if _, err := cl.Module(ctx, ModuleRequest{Op: "reload", Name: "x"}); err == nil {
		t.Errorf("unknown op accepted")
	}
}

// TestModuleConcurrentWithExec: a module operation and a command run at
// once, each answered for its own id.
func TestModuleConcurrentWithExec(t *testing.T) {
	sys := &fakeModules{loaded: map[string]string{}}
	cl := modulePair(t, sys)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			name := "m" + string(rune('a'+i))
			r, err := cl.Module(ctx, ModuleRequest{Op: ModuleLoad, Name: name, Path: "/" + name + ".ko"})
			if err == nil && r.Error != "" {
				err = syscall.Errno(r.Errno)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := cl.Exec(ctx, Command{Argv: []string{"true"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(sys.loaded) != 10 {
		t.Errorf("%d modules loaded, want 10", len(sys.loaded))
	}
}

func TestKmsgLine(t *testing.T) {
	for in, want := range map[string]string{
		"6,339,5140900,-;null_blk: module loaded\n":                 "[    5.140900] null_blk: module loaded\n",
		"4,2,12,-;rnull_mod: x\n SUBSYSTEM=block\n DEVICE=b259:0\n": "[    0.000012] rnull_mod: x\n",
		"no semicolon":            "no semicolon",
		"6,1,notanumber,-;text\n": "text\n",
	} {
		if got := kmsgLine(in); got != want {
			t.Errorf("kmsgLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailBytes(t *testing.T) {
	if got := tailBytes("a\nbb\nccc\n", 6); got != "ccc\n" {
		t.Errorf("tailBytes = %q", got)
	}
	if got := tailBytes("short", 10); got != "short" {
		t.Errorf("tailBytes = %q", got)
	}
}
