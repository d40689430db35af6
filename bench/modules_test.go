package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/qemu"
)

// fakeModuleGuest is a fakePluginGuest that loads and unloads modules
// and runs the device scripts: a device can be created only while its
// driver is loaded (or built in), and a module with a device is held
// (EAGAIN), as the kernel does.
type fakeModuleGuest struct {
	*fakePluginGuest
	builtin   bool
	loaded    map[string]bool
	devs      map[string]bool
	loadErr   map[string]error
	unloadErr map[string]error
	loads     int
	seq       []string
}

func newFakeModuleGuest(t *testing.T, builtin bool) *fakeModuleGuest {
	g := &fakeModuleGuest{fakePluginGuest: newFakePluginGuest(t), builtin: builtin, loaded: map[string]bool{}, devs: map[string]bool{},
		loadErr: map[string]error{}, unloadErr: map[string]error{}}
	g.module = !builtin
	return g
}

func devModule(dev string) string {
	if dev == "rn0" {
		return "rnull_mod"
	}
	return "null_blk"
}

func (g *fakeModuleGuest) LoadModule(ctx context.Context, name, params string) (*ModuleOp, error) {
	g.seq = append(g.seq, "load "+name+" "+params)
	if err := g.loadErr[name]; err != nil {
		return nil, err
	}
	if g.loaded[name] {
		return nil, &qemu.ModuleError{Op: "load", Module: name, Errno: syscall.EEXIST, Reason: "finit_module: file exists"}
	}
	g.loaded[name] = true
	g.loads++
	return &ModuleOp{Duration: 2 * time.Millisecond, Wall: 30 * time.Millisecond}, nil
}

func (g *fakeModuleGuest) UnloadModule(ctx context.Context, name string) (*ModuleOp, error) {
	g.seq = append(g.seq, "unload "+name)
	if err := g.unloadErr[name]; err != nil {
		return nil, err
	}
	if !g.loaded[name] {
		return nil, &qemu.ModuleError{Op: "unload", Module: name, Errno: syscall.ENOENT, Reason: "delete_module: no such file"}
	}
	for d := range g.devs {
		if devModule(d) == name {
			return nil, &qemu.ModuleError{Op: "unload", Module: name, Errno: syscall.EAGAIN, Reason: "delete_module: resource temporarily unavailable"}
		}
	}
	delete(g.loaded, name)
	return &ModuleOp{Duration: time.Millisecond, Wall: 20 * time.Millisecond}, nil
}

func (g *fakeModuleGuest) Exec(ctx context.Context, argv ...string) (*GuestResult, error) {
	cmd := strings.Join(argv, " ")
	dev := func() string {
		if strings.Contains(cmd, "rn0") {
			return "rn0"
		}
		return "nb0"
	}
	switch {
	case argv[0] == "cat" && strings.HasPrefix(argv[1], "/sys/module/"):
		name := strings.Split(argv[1], "/")[3]
		if !g.loaded[name] {
			return &GuestResult{ExitCode: 1, Stderr: []byte("cat: no such file")}, nil
		}
		g.seq = append(g.seq, "text "+name)
		return &GuestResult{Stdout: fmt.Appendf(nil, "0xffffffffa%07x\n", g.loads<<12)}, nil
	case strings.Contains(cmd, "/proc/sys/kernel/random/boot_id"):
		return &GuestResult{Stdout: []byte("fake-boot\n")}, nil
	case strings.Contains(cmd, "/proc/sys/kernel/osrelease"):
		return &GuestResult{Stdout: []byte("7.2.12\n")}, nil
	case argv[0] == "sh" && strings.Contains(cmd, "mkdir /sys/kernel/config/"):
		d := dev()
		if !g.builtin && !g.loaded[devModule(d)] {
			return &GuestResult{ExitCode: 3, Stderr: []byte("configfs directory missing")}, nil
		}
		g.seq = append(g.seq, "setup "+d)
		g.devs[d] = true
		return &GuestResult{}, nil
	case argv[0] == "sh" && strings.Contains(cmd, "q=/sys/block/"):
		if !g.devs[dev()] {
			return &GuestResult{Stdout: []byte("blockdev=0\n")}, nil
		}
		return &GuestResult{Stdout: []byte("blockdev=1\nsize=8388608\nlbs=4096\nscheduler=[none] mq-deadline\n")}, nil
	case argv[0] == "sh" && strings.Contains(cmd, "rmdir"):
		g.seq = append(g.seq, "teardown "+dev())
		delete(g.devs, dev())
		return &GuestResult{}, nil
	case strings.HasPrefix(cmd, "sh -c sleep 1; sync; fio"):
		if !g.devs[dev()] {
			return &GuestResult{ExitCode: 1, Stderr: []byte("no device")}, nil
		}
		g.seq = append(g.seq, "step "+dev())
	}
	return g.fakePluginGuest.Exec(ctx, argv...)
}

// moduleExperiment runs the quick preset (N = 1000) against fake guests:
// the given kernels, one -icount boot each, every boot's guest from
// newGuest.
func moduleExperiment(t *testing.T, kernels []KernelArm, newGuest func(KernelArm) *fakeModuleGuest) (*Results, map[string]*fakeModuleGuest, error) {
	t.Helper()
	p := QuickPreset()
	p.ICountBoots, p.Instances = 1, 1
	p.Workloads[0].ICountIOs = 1000
	guests := map[string]*fakeModuleGuest{}
	e := &Experiment{Kernels: kernels, Preset: p, Seed: 1, Boot: func(ctx context.Context, req BootRequest) (*Booted, error) {
		g := newGuest(req.Kernel)
		guests[req.Kernel.Name] = g
		return &Booted{Guest: g, Plugin: g.counters(), CPU: "qemu64"}, nil
	}}
	res, err := e.Run(context.Background())
	return res, guests, err
}

func fakeModuleArm(name string, helpers bool) KernelArm {
	return KernelArm{Name: name, Helpers: helpers, BzImage: "/nonexistent/bzImage",
		Modules:     map[string]string{"null_blk": "/nonexistent/null_blk.ko", "rnull_mod": "/nonexistent/rnull_mod.ko"},
		InlineCheck: &InlineCheckMeta{ModuleUndefined: map[string]int{"null_blk": 0, "rnull_mod": 11}}}
}

// Every sample of a module arm loads, reads .text, creates the device,
// runs, removes the device and unloads, in that order; module code, in
// the unknown bucket, is the driver's.
func TestModuleSampleSequence(t *testing.T) {
	ks := []KernelArm{fakeModuleArm("helpers-off-module", false)}
	res, guests, err := moduleExperiment(t, ks, func(k KernelArm) *fakeModuleGuest {
		g := newFakeModuleGuest(t, false)
		g.helper = true
		return g
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := res.Kernels[0]; k.DriverKind != DriverModule || len(k.Modules) != 2 || k.Modules[1].Name != "rnull_mod" || k.InlineCheck.ModuleUndefined["rnull_mod"] != 11 {
		t.Errorf("kernel meta %+v", k)
	}
	g := guests["helpers-off-module"]
	var want []string
	for _, s := range res.Schedule[0].Steps {
		m, d := ModuleName(s.Driver), DefaultDevice(s.Driver).Name
		want = append(want, strings.TrimSpace("load "+m+" "+ModuleParams(s.Driver)), "text "+m, "setup "+d, "step "+d, "teardown "+d, "unload "+m)
	}
	for i := range g.seq {
		g.seq[i] = strings.TrimSpace(g.seq[i])
	}
	if strings.Join(g.seq, "\n") != strings.Join(want, "\n") {
		t.Errorf("sequence\n%s\nwant\n%s", strings.Join(g.seq, "\n"), strings.Join(want, "\n"))
	}
	samples := res.Boots[0].Samples
	if len(samples) != 2 {
		t.Fatalf("%d samples", len(samples))
	}
	for _, s := range samples {
		m, p := s.Module, s.Plugin
		if m == nil || !m.Loaded || !m.Unloaded || m.Failed != "" || m.LoadSeconds != 0.002 || m.UnloadSeconds != 0.001 || !strings.HasPrefix(m.TextAddr, "0xffffffffa") {
			t.Errorf("%s: module %+v", s.Driver, m)
		}
		if p == nil || p.Failed != "" || p.QueueRQ != "" || p.WantQueueRQCalls != 0 {
			t.Fatalf("%s: plugin %+v", s.Driver, p)
		}
		code := 98.0
		if s.Driver == RNull {
			code = 45
		}
		if m.ModuleInsns != code || p.Groups.Driver != code || p.Groups.Unknown != code {
			t.Errorf("%s: module code %v, driver %v, unknown %v, want %v", s.Driver, m.ModuleInsns, p.Groups.Driver, p.Groups.Unknown, code)
		}
		if s.Driver == RNull && p.Groups.HelperCalls != 2 {
			t.Errorf("rnull module: helper calls %v", p.Groups.HelperCalls)
		}
	}
	if len(g.loaded) != 0 || len(g.devs) != 0 {
		t.Errorf("left behind: modules %v, devices %v", g.loaded, g.devs)
	}
}

// A refused load is a failed sample with the kernel's errno and log, left
// out of the analysis and warned about; the other driver still measures.
func TestModuleLoadFails(t *testing.T) {
	ks := []KernelArm{fakeModuleArm("helpers-on-module", true)}
	res, _, err := moduleExperiment(t, ks, func(k KernelArm) *fakeModuleGuest {
		g := newFakeModuleGuest(t, false)
		g.loadErr["rnull_mod"] = &qemu.ModuleError{Op: "load", Module: "rnull_mod", Errno: syscall.ENOENT,
			Reason: "finit_module: no such file or directory", Dmesg: "rnull_mod: Unknown symbol rust_helper_blk_mq_end_request (err -2)"}
		return g
	})
	if err != nil {
		t.Fatal(err)
	}
	b := res.Boots[0]
	if b.ModuleFailures != 1 {
		t.Errorf("module failures %d", b.ModuleFailures)
	}
	for _, s := range b.Samples {
		m := s.Module
		if s.Driver == NullBlk {
			if m.Failed != "" || s.Plugin == nil || s.Plugin.Failed != "" {
				t.Errorf("null_blk: %+v %+v", m, s.Plugin)
			}
			continue
		}
		if m.Loaded || m.FailedOp != "load" || m.Errno != int(syscall.ENOENT) || !strings.Contains(m.Dmesg, "Unknown symbol") ||
			!strings.Contains(m.Failed, "no such file") || s.Plugin != nil || s.IOPS != 0 {
			t.Errorf("rnull: failed sample %+v, plugin %+v", m, s.Plugin)
		}
	}
	a, err := Analyze(res, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(a.Warnings, "\n"), "failed module sample (load), left out") {
		t.Errorf("warnings %q", a.Warnings)
	}
	for _, s := range a.Arms {
		if s.Key.Driver == RNull {
			t.Errorf("rnull arm from a failed sample: %+v", s)
		}
	}
}

// A refused unload fails the sample (its counts are kept but left out);
// the next load of that module then fails too (EEXIST), never a silent
// measurement.
func TestModuleUnloadFails(t *testing.T) {
	ks := []KernelArm{fakeModuleArm("helpers-on-module", true)}
	p := QuickPreset()
	p.ICountBoots, p.Instances = 1, 1
	p.ICountRuns = 2
	p.Workloads[0].ICountIOs = 1000
	g := newFakeModuleGuest(t, false)
	g.unloadErr["null_blk"] = &qemu.ModuleError{Op: "unload", Module: "null_blk", Errno: syscall.EBUSY, Reason: "delete_module: device or resource busy"}
	e := &Experiment{Kernels: ks, Preset: p, Seed: 1, Boot: func(ctx context.Context, req BootRequest) (*Booted, error) {
		return &Booted{Guest: g, Plugin: g.counters()}, nil
	}}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, s := range res.Boots[0].Samples {
		if s.Driver != NullBlk {
			if s.Module.Failed != "" {
				t.Errorf("rnull failed: %s", s.Module.Failed)
			}
			continue
		}
		ops = append(ops, s.Module.FailedOp)
		if s.Module.Errno == 0 || s.Module.Unloaded {
			t.Errorf("null_blk: %+v", s.Module)
		}
	}
	if strings.Join(ops, ",") != "unload,load" {
		t.Errorf("failed ops %q, want unload then load (EEXIST)", ops)
	}
	if res.Boots[0].ModuleFailures != 2 {
		t.Errorf("module failures %d", res.Boots[0].ModuleFailures)
	}
	a, err := Analyze(res, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Arms {
		if s.Key.Driver == NullBlk {
			t.Errorf("null_blk arm from failed samples: %+v", s)
		}
	}
}

// A guest that cannot load modules fails a module arm's boot clearly.
func TestModuleArmNeedsModuleGuest(t *testing.T) {
	g := newFakeModuleGuest(t, false)
	p := QuickPreset()
	p.ICountBoots, p.Instances = 1, 1
	e := &Experiment{Kernels: []KernelArm{fakeModuleArm("m", true)}, Preset: p, Boot: func(ctx context.Context, req BootRequest) (*Booted, error) {
		return &Booted{Guest: struct{ Guest }{g}, Plugin: g.counters()}, nil
	}}
	if _, err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot load modules") {
		t.Errorf("err %v", err)
	}
}

// Four arms (built-in and module, helpers on and off): the analysis
// compares module with built-in per helpers setting and helpers on with
// off per kind; the built-in arms are marked built-in.
func TestAnalyzeModules(t *testing.T) {
	ks := []KernelArm{
		{Name: "helpers-on", Helpers: true, BzImage: "/nonexistent"}, {Name: "helpers-off", BzImage: "/nonexistent"},
		fakeModuleArm("helpers-on-module", true), fakeModuleArm("helpers-off-module", false),
	}
	res, _, err := moduleExperiment(t, ks, func(k KernelArm) *fakeModuleGuest {
		g := newFakeModuleGuest(t, !k.Modular())
		g.helper = !k.Helpers
		return g
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Kernels {
		if want := map[bool]string{true: DriverModule, false: DriverBuiltIn}[strings.HasSuffix(k.Name, "-module")]; k.DriverKind != want {
			t.Errorf("%s: kind %q, want %q", k.Name, k.DriverKind, want)
		}
	}
	a, err := Analyze(res, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Comparison{}
	for _, c := range a.Comparisons {
		got[fmt.Sprintf("%s|%s|%s/%s", c.Question, c.Measure, c.B, c.A)] = c
	}
	for _, key := range []string{
		"module vs built-in|driver_insns_per_io|helpers-on-module/rnull/helpers-on/rnull",
		"module vs built-in|driver_insns_per_io|helpers-off-module/null_blk/helpers-off/null_blk",
		"helpers on vs off|driver_insns_per_io|helpers-on/rnull/helpers-off/rnull",
		"helpers on vs off|path_insns_per_io|helpers-on-module/rnull/helpers-off-module/rnull",
		"module vs built-in|helper_calls_per_io|helpers-off-module/rnull/helpers-off/rnull",
		"rnull vs null_blk|path_insns_per_io|helpers-on-module/rnull/helpers-on-module/null_blk",
	} {
		c, ok := got[key]
		if !ok {
			t.Errorf("no comparison %s in %v", key, keys(got))
			continue
		}
		if strings.HasPrefix(key, "module vs built-in|driver") && math.Abs(c.Ratio-1) > 1e-9 {
			t.Errorf("%s: ratio %v, want 1 (the fake's module code is the built-in driver's)", key, c.Ratio)
		}
	}
	if _, ok := got["helpers on vs off|driver_insns_per_io|helpers-on-module/rnull/helpers-off/rnull"]; ok {
		t.Error("helpers compared across kinds")
	}
}

func TestModuleMachine(t *testing.T) {
	o := QEMUOptions{}
	if m := o.machine(BootRequest{Kernel: fakeModuleArm("m", true), Mode: ModeICount}, "i"); m.Append != "" {
		t.Errorf("module kernel command line %q", m.Append)
	}
	if m := o.machine(BootRequest{Kernel: KernelArm{Name: "b"}, Mode: ModeICount}, "i"); m.Append != BootArgs {
		t.Errorf("built-in kernel command line %q", m.Append)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
