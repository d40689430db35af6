package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/kbuild"
	"github.com/rflkit/rflkit/qemu"
)

// Driver kinds of a kernel arm (KernelMeta.DriverKind): the null-block
// drivers built into the kernel, or loaded as modules for every sample.
const (
	DriverBuiltIn = "built-in"
	DriverModule  = "module"
)

// ModuleVsBuiltIn is the question of module arms: the same driver and
// helpers setting, loaded as a module (B) against built in (A).
const ModuleVsBuiltIn Question = "module vs built-in"

// ModuleName is the kernel module of driver d: null_blk, or rnull_mod
// (drivers/block/rnull/Makefile).
func ModuleName(d Driver) string {
	if d == RNull {
		return "rnull_mod"
	}
	return string(d)
}

// ModuleParams are the parameters each sample loads driver d's module
// with: null_blk gets nr_devices=0 (the built-in kernels' command-line
// BootArgs), so that its only device is the configfs one; rnull has no
// parameters.
func ModuleParams(d Driver) string {
	if d == NullBlk {
		return "nr_devices=0"
	}
	return ""
}

// Modular reports whether the arm loads its drivers as modules
// (KernelArm.Modules is set).
func (k KernelArm) Modular() bool { return len(k.Modules) > 0 }

// DriverKind is DriverModule for a modular arm, DriverBuiltIn otherwise.
func (k KernelArm) DriverKind() string {
	if k.Modular() {
		return DriverModule
	}
	return DriverBuiltIn
}

// IsModule reports whether the arm loaded its drivers as modules.
func (k KernelMeta) IsModule() bool { return k.DriverKind == DriverModule }

// ModuleMeta is one module of a module arm (KernelMeta.Modules).
type ModuleMeta struct {
	// Name is the module's name (null_blk, rnull_mod).
	Name string `json:"name"`
	// Path is the .ko file on the host, SHA256 its hex SHA-256 ("" when
	// the file could not be read).
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
}

// InlineCheckMeta is kbuild.InlineCheck's verdict on a module kernel's
// build (KernelMeta.InlineCheck): how many rust_helper_* symbols each
// module leaves undefined (calls out of line, resolved from vmlinux at
// load time) and how many vmlinux defines.
type InlineCheckMeta struct {
	// Inlined is kbuild.InlineReport.Inlined: no Rust code of the build
	// calls a helper out of line.
	Inlined bool `json:"inlined"`
	// VmlinuxHelpers is the number of rust_helper_* functions vmlinux
	// defines.
	VmlinuxHelpers int `json:"vmlinux_helpers"`
	// ModuleUndefined maps each module to its count of undefined
	// rust_helper_* symbols (0 for null_blk; for rnull_mod ~0 with
	// helpers on, dozens with them off).
	ModuleUndefined map[string]int `json:"module_undefined_helpers"`
	// ModuleUndefinedNames lists them, sorted, per module that has any.
	ModuleUndefinedNames map[string][]string `json:"module_undefined_helper_names,omitempty"`
}

// NewInlineCheckMeta summarises an InlineCheck report; nil for nil.
func NewInlineCheckMeta(rep *kbuild.InlineReport) *InlineCheckMeta {
	if rep == nil {
		return nil
	}
	m := &InlineCheckMeta{Inlined: rep.Inlined(), VmlinuxHelpers: len(rep.Vmlinux), ModuleUndefined: map[string]int{}}
	for name, u := range rep.Modules {
		m.ModuleUndefined[name] = len(u)
		if len(u) > 0 {
			if m.ModuleUndefinedNames == nil {
				m.ModuleUndefinedNames = map[string][]string{}
			}
			m.ModuleUndefinedNames[name] = append([]string(nil), u...)
		}
	}
	return m
}

// describeModules adds a module arm's modules and inline check to m; a
// module file that cannot be read is recorded without its SHA-256.
func describeModules(k KernelArm, m *KernelMeta) {
	if !k.Modular() {
		return
	}
	m.DriverKind = DriverModule
	m.InlineCheck = k.InlineCheck
	names := make([]string, 0, len(k.Modules))
	for n := range k.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mm := ModuleMeta{Name: n, Path: k.Modules[n]}
		mm.SHA256, _ = fileSHA256(mm.Path)
		m.Modules = append(m.Modules, mm)
	}
}

// ModuleSample is one sample's module life cycle in a module arm
// (Sample.Module): the module was loaded, the device created and checked
// through configfs, the workload run, the device removed, the module
// unloaded. A failure of any of these is a failed sample (Failed), kept
// with its reason and left out of the analysis, never a zero.
type ModuleSample struct {
	// Name is the module (null_blk, rnull_mod), Params its load
	// parameters ("nr_devices=0" for null_blk).
	Name   string `json:"name"`
	Params string `json:"params,omitempty"`
	// TextAddr is the module's .text address after the load
	// (/sys/module/<name>/sections/.text, "0xffffffffc0000000"); it can
	// move from load to load.
	TextAddr string `json:"text_addr,omitempty"`
	// LoadSeconds and UnloadSeconds are the finit_module and
	// delete_module calls' durations measured in the guest (guest
	// seconds: instructions under -icount); LoadWallSeconds and
	// UnloadWallSeconds the host's round trips.
	LoadSeconds       float64 `json:"load_seconds"`
	LoadWallSeconds   float64 `json:"load_wall_seconds"`
	UnloadSeconds     float64 `json:"unload_seconds"`
	UnloadWallSeconds float64 `json:"unload_wall_seconds"`
	// Loaded and Unloaded say the load and the unload succeeded.
	Loaded   bool `json:"loaded"`
	Unloaded bool `json:"unloaded"`
	// ModuleInsns is the plugin's unknown bucket of the sample (kernel
	// instructions per I/O at addresses outside vmlinux's functions),
	// attributed to the module's code and added to the driver group
	// (PluginGroups.Driver): the plugin's map is fixed at boot, before
	// any module is loaded. An approximation: other unknown kernel code
	// (≈0 per I/O in built-in arms, PluginGroups.Unknown there) is counted
	// with it.
	ModuleInsns float64 `json:"module_insns,omitempty"`
	// FailedOp is the step that failed ("load", "text", "setup", "run",
	// "teardown", "unload"), Failed why; "" for a good sample.
	FailedOp string `json:"failed_op,omitempty"`
	Failed   string `json:"failed,omitempty"`
	// Errno is the kernel's error number of a refused load or unload
	// (17 EEXIST, 11 EAGAIN, ...), Dmesg the kernel's log lines of that
	// operation.
	Errno int    `json:"errno,omitempty"`
	Dmesg string `json:"dmesg,omitempty"`
}

// ModuleOp is a module operation that succeeded in a guest.
type ModuleOp struct {
	// Duration is measured in the guest, Wall on the host.
	Duration, Wall time.Duration
	// Dmesg is what the kernel logged during the operation.
	Dmesg string
}

// ModuleGuest is a Guest that can load and unload kernel modules from
// qemu.ModuleDir (qemu's *VM through QEMUBoot). A refusal of the kernel
// is a *qemu.ModuleError. Module arms need it.
type ModuleGuest interface {
	Guest
	LoadModule(ctx context.Context, name, params string) (*ModuleOp, error)
	UnloadModule(ctx context.Context, name string) (*ModuleOp, error)
}

// LoadModule loads name from qemu.ModuleDir with the command timeout.
func (g *qemuGuest) LoadModule(ctx context.Context, name, params string) (*ModuleOp, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	r, err := g.vm.LoadModule(ctx, name, params)
	if err != nil {
		return nil, err
	}
	return &ModuleOp{Duration: r.Duration, Wall: r.Wall, Dmesg: r.Dmesg}, nil
}

// UnloadModule removes the module name with the command timeout.
func (g *qemuGuest) UnloadModule(ctx context.Context, name string) (*ModuleOp, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	r, err := g.vm.UnloadModule(ctx, name)
	if err != nil {
		return nil, err
	}
	return &ModuleOp{Duration: r.Duration, Wall: r.Wall, Dmesg: r.Dmesg}, nil
}

// moduleInitramfs builds (once per kernel arm, cached by content) the
// initramfs of a module arm: the guests' usual one plus the arm's .ko
// files in qemu.ModuleDir.
type moduleInitramfs struct {
	mu   sync.Mutex
	done map[string]string
}

func (mi *moduleInitramfs) get(ctx context.Context, o QEMUOptions, k KernelArm) (string, error) {
	mi.mu.Lock()
	defer mi.mu.Unlock()
	if p, ok := mi.done[k.Name]; ok {
		return p, nil
	}
	fio := o.Fio
	if fio == "" {
		p, err := exec.LookPath("fio")
		if err != nil {
			return "", fmt.Errorf("bench: fio not found on the host (run scripts/setup): %w", err)
		}
		fio = p
	}
	spec := o.initramfsSpec(fio)
	names := make([]string, 0, len(k.Modules))
	for n := range k.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		spec.Modules = append(spec.Modules, k.Modules[n])
	}
	p, err := qemu.BuildInitramfs(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("bench: initramfs of %s: %w", k.Name, err)
	}
	if mi.done == nil {
		mi.done = map[string]string{}
	}
	mi.done[k.Name] = p
	return p, nil
}

// runModuleSteps runs a module arm's boot: each step loads the driver's
// module, creates and checks the device, runs the workload (the plugin's
// sync/fio N/sync/fio 2N/sync under -icount with the plugin), removes the
// device and unloads the module. Failures of these are failed samples;
// an error is a failure of the experiment (fio failed, the guest is
// gone).
func (e *Experiment) runModuleSteps(ctx context.Context, log *slog.Logger, p BootPlan, k KernelArm, b *Booted, rec *BootRecord, stepDone func(Step, string)) error {
	g, ok := b.Guest.(ModuleGuest)
	if !ok {
		return fmt.Errorf("bench: kernel %s is a module arm, but its guest (%T) cannot load modules", k.Name, b.Guest)
	}
	for _, d := range e.drivers() {
		if k.Modules[ModuleName(d)] == "" {
			return fmt.Errorf("bench: kernel %s: no module %s for %s in KernelArm.Modules", k.Name, ModuleName(d), d)
		}
	}
	var pb *pluginBoot
	if rec.Plugin {
		pb = &pluginBoot{pc: b.Plugin, queueRQ: map[Driver]string{}, maxKB: map[Driver]int{}}
	}
	for _, s := range p.Steps {
		w, err := e.workloadFor(s.Workload, p.Mode)
		if err != nil {
			return err
		}
		smp, err := e.moduleStep(ctx, g, pb, s, w, p.Mode)
		if err != nil {
			return err
		}
		rec.Samples = append(rec.Samples, smp)
		var msg string
		switch {
		case smp.Module.Failed != "":
			rec.ModuleFailures++
			msg = fmt.Sprintf("%s %s %s run %d: failed module sample (%s): %s", p.Kernel, s.Driver, s.Workload, s.Run, smp.Module.FailedOp, smp.Module.Failed)
			log.Warn("module sample failed", "boot", p.Index, "workload", s.Workload, "driver", s.Driver, "op", smp.Module.FailedOp, "reason", smp.Module.Failed)
		case smp.Plugin != nil && smp.Plugin.Failed != "":
			rec.PluginFailures = pb.failures
			msg = fmt.Sprintf("%s %s %s run %d: failed sample: %s", p.Kernel, s.Driver, s.Workload, s.Run, smp.Plugin.Failed)
			log.Warn("plugin sample failed", "boot", p.Index, "workload", s.Workload, "driver", s.Driver, "reason", smp.Plugin.Failed)
		case smp.Plugin != nil:
			msg = fmt.Sprintf("%s %s %s run %d: %.1f instructions per I/O (path), %.1f (driver, module code %.1f); load %.3fs unload %.3fs",
				p.Kernel, s.Driver, s.Workload, s.Run, smp.Plugin.Groups.Path, smp.Plugin.Groups.Driver, smp.Module.ModuleInsns, smp.Module.LoadSeconds, smp.Module.UnloadSeconds)
		default:
			msg = fmt.Sprintf("%s %s %s run %d: %.0f IOPS", p.Kernel, s.Driver, s.Workload, s.Run, smp.IOPS)
		}
		log.Info("module run", "boot", p.Index, "workload", s.Workload, "driver", s.Driver, "run", s.Run, "text", smp.Module.TextAddr,
			"load", smp.Module.LoadSeconds, "unload", smp.Module.UnloadSeconds)
		stepDone(s, msg)
	}
	return nil
}

// moduleStep is one sample of a module arm.
func (e *Experiment) moduleStep(ctx context.Context, g ModuleGuest, pb *pluginBoot, s Step, w Workload, m Mode) (Sample, error) {
	mod := &ModuleSample{Name: ModuleName(s.Driver), Params: ModuleParams(s.Driver)}
	base := Sample{Workload: s.Workload, Driver: s.Driver, Run: s.Run, Warmup: s.Warmup, Instance: s.Instance, Module: mod}
	fail := func(op string, err error) {
		if mod.Failed != "" {
			return
		}
		mod.FailedOp, mod.Failed = op, osutil.Excerpt(err.Error(), 2000)
		var me *qemu.ModuleError
		if errors.As(err, &me) {
			mod.Errno, mod.Dmesg = int(me.Errno), osutil.Excerpt(me.Dmesg, 2000)
		}
	}
	dev := DefaultDevice(s.Driver)
	ts := time.Now()
	op, err := g.LoadModule(ctx, mod.Name, mod.Params)
	if err != nil {
		if ctx.Err() != nil {
			return base, err
		}
		fail("load", err)
		base.WallSeconds = time.Since(ts).Seconds()
		return base, nil
	}
	mod.Loaded, mod.LoadSeconds, mod.LoadWallSeconds = true, op.Duration.Seconds(), op.Wall.Seconds()
	// Whatever happens next, remove the device and unload the module.
	defer func() {
		op, err := g.UnloadModule(ctx, mod.Name)
		if err != nil {
			fail("unload", err)
			return
		}
		mod.Unloaded, mod.UnloadSeconds, mod.UnloadWallSeconds = true, op.Duration.Seconds(), op.Wall.Seconds()
	}()
	if mod.TextAddr, err = moduleText(ctx, g, mod.Name); err != nil {
		fail("text", err)
		return base, nil
	}
	if err := dev.Setup(ctx, g); err != nil {
		fail("setup", err)
		if terr := dev.Teardown(ctx, g); terr != nil {
			fail("teardown", terr)
		}
		return base, nil
	}
	smp := base
	if pb != nil {
		v, err := readGuestFile(ctx, g, "/sys/block/"+dev.Name+"/queue/max_sectors_kb")
		kb, cerr := strconv.Atoi(v)
		if err != nil || cerr != nil || kb <= 0 {
			fail("setup", fmt.Errorf("max_sectors_kb %q: %v", v, errors.Join(err, cerr)))
		} else {
			pb.maxKB[s.Driver] = kb
			if smp, err = pb.runStep(ctx, g, s, w, dev); err != nil {
				return base, err
			}
			smp.Module = mod
			attributeModule(&smp, w)
		}
	} else {
		ts := time.Now()
		r, err := g.Exec(ctx, append([]string{"fio"}, w.FioArgs(dev.Path())...)...)
		if err != nil {
			return base, fmt.Errorf("fio %s on %s: %w", w.Name(), dev.Path(), err)
		}
		fr, err := checkFioRun(w.Name(), r.ExitCode, r.Stdout, r.Stderr)
		if err != nil {
			return base, fmt.Errorf("%s on %s: %w", w.Name(), dev.Path(), err)
		}
		smp.IOPS, smp.BWBytes, smp.TotalIOs, smp.RuntimeMS, smp.LatencyNS = fr.IOPS, fr.BWBytes, fr.TotalIOs, fr.RuntimeMS, fr.LatencyNS
		smp.WallSeconds = time.Since(ts).Seconds()
		if m == ModeICount {
			smp.InstrPerIO = 1e9 / fr.IOPS
		}
	}
	if err := dev.Teardown(ctx, g); err != nil {
		fail("teardown", err)
	}
	return smp, nil
}

// attributeModule checks a module arm's plugin sample by fio's I/O count
// (the module's queue_rq is not in the boot's map, so its entries cannot
// be counted) and attributes the unknown bucket to the module's code.
func attributeModule(smp *Sample, w Workload) {
	ps := smp.Plugin
	if ps == nil {
		return
	}
	ps.WantQueueRQCalls = 0
	if ps.Failed != "" {
		return
	}
	if want := int64(2 * ps.IOs); smp.TotalIOs != want {
		ps.Failed = fmt.Sprintf("I/O check: fio's 2N run completed %d I/Os, want %d (%d per job x %d jobs)", smp.TotalIOs, want, 2*ps.N, max(w.NumJobs, 1))
		ps.Groups = PluginGroups{}
		ps.Funcs = nil
		return
	}
	smp.Module.ModuleInsns = ps.Groups.Unknown
	ps.Groups.Driver += ps.Groups.Unknown
}

// moduleText reads the module's .text address with cat (busybox's read
// builtin gets "0" from the sections' attributes).
func moduleText(ctx context.Context, g Guest, name string) (string, error) {
	p := "/sys/module/" + name + "/sections/.text"
	r, err := g.Exec(ctx, "cat", p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	v := strings.TrimSpace(string(r.Stdout))
	if r.ExitCode != 0 || !strings.HasPrefix(v, "0x") {
		return "", fmt.Errorf("read %s: exit %d, %q: %s", p, r.ExitCode, tail([]byte(v), 100), tail(r.Stderr, 200))
	}
	if a, err := strconv.ParseUint(v[2:], 16, 64); err != nil || a == 0 {
		return "", fmt.Errorf("read %s: %q is not a module address (KALLSYMS off, or not root?)", p, v)
	}
	return v, nil
}

// moduleFailed reports whether s is a module sample that failed (left
// out of the analysis).
func (s Sample) moduleFailed() bool { return s.Module != nil && s.Module.Failed != "" }

// moduleWarnings names the failed module samples.
func moduleWarnings(r *Results) []string {
	var ws []string
	for _, b := range r.Boots {
		for _, s := range b.Samples {
			if s.moduleFailed() {
				ws = append(ws, fmt.Sprintf("boot %d (%s), %s %s run %d: failed module sample (%s), left out: %s", b.Index, b.Kernel, s.Driver, s.Workload, s.Run, s.Module.FailedOp, firstLineOf(s.Module.Failed)))
			}
		}
	}
	return ws
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// kernelPair is two kernel arms of one question: A the reference, B the
// other.
type kernelPair struct{ a, b string }

// helperPairs are the helpers-off (A) and helpers-on (B) kernels of each
// driver kind, built-in first: one pair for the built-in arms, one for
// the module arms.
func helperPairs(r *Results) []kernelPair {
	var out []kernelPair
	for _, kind := range []string{DriverBuiltIn, DriverModule} {
		var on, off string
		for _, k := range r.Kernels {
			if kernelKind(k) != kind {
				continue
			}
			if k.InlineHelpers {
				on = k.Name
			} else {
				off = k.Name
			}
		}
		if on != "" && off != "" {
			out = append(out, kernelPair{off, on})
		}
	}
	return out
}

// modulePairs are the built-in (A) and module (B) kernels of the same
// helpers setting, helpers on first.
func modulePairs(r *Results) []kernelPair {
	var out []kernelPair
	for _, h := range []bool{true, false} {
		var bi, mod string
		for _, k := range r.Kernels {
			if k.InlineHelpers != h {
				continue
			}
			if kernelKind(k) == DriverModule {
				mod = k.Name
			} else {
				bi = k.Name
			}
		}
		if bi != "" && mod != "" {
			out = append(out, kernelPair{bi, mod})
		}
	}
	return out
}

func kernelKind(k KernelMeta) string {
	if k.IsModule() {
		return DriverModule
	}
	return DriverBuiltIn
}

// markDriverKinds records DriverBuiltIn on the built-in arms of an
// experiment that has module arms (an experiment of built-in arms only
// records no kind, as before).
func markDriverKinds(ks []KernelMeta) {
	has := false
	for _, k := range ks {
		has = has || k.IsModule()
	}
	if !has {
		return
	}
	for i := range ks {
		if ks[i].DriverKind == "" {
			ks[i].DriverKind = DriverBuiltIn
		}
	}
}
