package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
)

// Mode is how a boot measures.
type Mode string

// The two measures' boot modes.
const (
	// ModeWall boots under plain TCG: fio's IOPS are wall-clock IOPS,
	// noisy under emulation.
	ModeWall Mode = "wall"
	// ModeICount boots with -icount shift=0,sleep=off: one guest
	// nanosecond is one instruction, so fio's IOPS give instructions per
	// I/O (and the plugin counts them exactly); the boot means of an arm
	// still spread by 0.02-0.06% (device and page-allocator state).
	ModeICount Mode = "icount"
)

// KernelArm is one of the two kernels compared.
type KernelArm struct {
	Name    string // "helpers-on", "helpers-off"
	Helpers bool   // RUST_INLINE_HELPERS
	BzImage string
	Config  string // the kernel's .config, for metadata (optional)
	// SystemMap is the kernel's System.map (kbuild.ArtifactSystemMap),
	// which the instruction-counting plugin of -icount boots needs.
	SystemMap string
	// Modules, when set, makes this a module arm (Modular): it maps each
	// module's name (null_blk, rnull_mod: ModuleName) to its .ko file on
	// the host (kbuild.ModuleNullBlk, kbuild.ModuleRustNull of a
	// kbuild.TinyRustModules build). QEMUBoot puts them in the initramfs
	// and leaves BootArgs off the command line; every sample loads the
	// driver's module (null_blk with nr_devices=0), creates the device,
	// runs, removes the device and unloads the module. nil: the drivers
	// are built in.
	Modules map[string]string
	// InlineCheck is kbuild.InlineCheck's summary of the arm's build
	// (NewInlineCheckMeta), recorded in KernelMeta.InlineCheck; optional.
	InlineCheck *InlineCheckMeta
}

// BootRequest asks a BootFunc for one guest.
type BootRequest struct {
	Index  int
	Kernel KernelArm
	Mode   Mode
}

// Booted is a running guest handed to the experiment.
type Booted struct {
	Guest    Guest
	Stop     func(ctx context.Context) error // stops the VM; must be safe to call once
	QEMUArgv []string
	Accel    string
	// BootTime is the wall time from QEMU's start to the guest being
	// ready, GuestUptime the guest's uptime then (both optional).
	BootTime, GuestUptime time.Duration
	// Plugin reads the instruction-counting plugin's counters; nil when
	// the boot has none (wall-clock boots, or -icount without the
	// plugin: then only the fio-derived figure is measured).
	Plugin *PluginCounters
	// CPU is QEMU's -cpu model ("" = QEMU's default).
	CPU string
}

// BootFunc boots a guest for a request. It must add null_blk.nr_devices=0
// to the kernel command line and use -icount shift=0,sleep=off for
// ModeICount.
type BootFunc func(ctx context.Context, req BootRequest) (*Booted, error)

// Step is one fio run in a boot's plan.
type Step struct {
	// Workload is the Workload.Name to run.
	Workload string `json:"workload"`
	// Driver is the driver whose device the run uses.
	Driver Driver `json:"driver"`
	// Run is the run's number for this workload and driver in its device
	// instance (0-based, warm-up runs first).
	Run int `json:"run"`
	// Warmup marks a run whose sample is kept but not analysed.
	Warmup bool `json:"warmup"`
	// Instance is the device instance of the boot the run uses
	// (0-based; Preset.Instances).
	Instance int `json:"instance"`
}

// BootPlan is the planned content of one boot.
type BootPlan struct {
	// Index is the boot's position in the schedule (0-based).
	Index int `json:"index"`
	// Kernel is the KernelArm.Name to boot.
	Kernel string `json:"kernel"`
	// Mode is how the boot measures: "wall" or "icount".
	Mode Mode `json:"mode"`
	// Steps are the boot's fio runs in running order.
	Steps []Step `json:"steps"`
	// Round is the boot's round (0-based): each round holds one boot of
	// every kernel per mode; an experiment with a StopRule stops only
	// between rounds.
	Round int `json:"round"`
}

// Progress is reported after each boot and run.
type Progress struct {
	Boot, Boots int // current boot (1-based) and total
	Done, Total int // fio runs
	Elapsed     time.Duration
	Remaining   time.Duration // estimate
	Message     string
}

// Experiment compares drivers and kernels. Kernels usually holds two arms
// (helpers on and off); Drivers nil means null_blk and rnull.
type Experiment struct {
	Kernels []KernelArm
	Drivers []Driver
	Preset  Preset
	Seed    uint64
	Boot    BootFunc
	// GuestCPUs is the guest's vCPU count, recorded in the results; 0
	// means 1.
	GuestCPUs int
	// Progress is called after each step; nil: none.
	Progress func(Progress)
	// Logger receives the experiment's lifecycle; nil: discard.
	Logger *slog.Logger
	// Log is the old name of Logger, used when Logger is nil.
	//
	// Deprecated: use Logger.
	Log *slog.Logger
	// Shard, when set, runs only that shard's boots of the schedule
	// (ShardPlans); the results record the whole schedule and the shard.
	Shard Shard
	// ExpectID, when set, is the ExperimentID the run must be: Run checks
	// it, from the kernels' content hashes, before the first boot and
	// fails with *ExperimentMismatchError.
	ExpectID string
	// Until, when set, stops the experiment between rounds once its
	// intervals are as narrow as asked or its time budget is spent
	// (sequential stopping); the preset's boots are then the most it
	// runs. Not with Shard.
	Until *StopRule
}

// StopRule is sequential stopping: after each round (one boot of every
// kernel) from MinRounds on, the results so far are analysed, and the
// experiment stops when the widest relative half-width of the conclusive
// measure's pooled estimates (and, with Each, of its comparisons) has been
// at most HalfWidth at Consecutive checks in a row; before a round it
// stops when the round would end past Budget (from the mean round so
// far). The rule looks at the intervals' widths, not at where they lie,
// so stopping does not select for an effect; but a width is itself noisy,
// and stopping at the first narrow one undercovers: in the simulation of
// the tests (3 to 10 boots per arm) one check from 3 boots on gives 0.90
// coverage for a 95% interval, two in a row from 5 boots on 0.95. Those
// are the defaults.
type StopRule struct {
	// HalfWidth is the target relative half-width (0.0005 = 0.05%); 0
	// means no target: only Budget or the schedule's end stops.
	HalfWidth float64
	// Each also requires every per-workload comparison of the measure
	// to reach HalfWidth.
	Each bool
	// Budget is the wall time no round may end after; 0 = none.
	Budget time.Duration
	// MinRounds is the rounds before the first check; 0 means
	// DefaultStopMinRounds.
	MinRounds int
	// Consecutive is how many checks in a row must meet HalfWidth; 0
	// means DefaultStopConsecutive.
	Consecutive int
}

// The StopRule defaults, chosen by the coverage simulation
// (TestStopOnWidthCoverage).
const (
	DefaultStopMinRounds   = 5
	DefaultStopConsecutive = 2
)

// reached reports whether the checks so far (in order) end with enough
// consecutive ones at or below the target.
func (r *StopRule) reached(checks []StopCheck) bool {
	need := r.Consecutive
	if need <= 0 {
		need = DefaultStopConsecutive
	}
	if r.HalfWidth <= 0 || len(checks) < need {
		return false
	}
	for _, c := range checks[len(checks)-need:] {
		if !c.Complete || c.HalfWidth > r.HalfWidth {
			return false
		}
	}
	return true
}

func (e *Experiment) drivers() []Driver {
	if len(e.Drivers) == 0 {
		return Drivers()
	}
	return e.Drivers
}

func (e *Experiment) validate() error {
	if len(e.Kernels) == 0 {
		return errors.New("bench: experiment has no kernels")
	}
	seen := map[string]bool{}
	for _, k := range e.Kernels {
		if k.Name == "" || seen[k.Name] {
			return fmt.Errorf("bench: kernel names must be unique and non-empty (%q)", k.Name)
		}
		seen[k.Name] = true
	}
	if len(e.Preset.Workloads) == 0 {
		return fmt.Errorf("bench: preset %q has no workloads", e.Preset.Name)
	}
	names := map[string]bool{}
	for _, w := range e.Preset.Workloads {
		if err := w.Validate(); err != nil {
			return err
		}
		if names[w.Name()] {
			return fmt.Errorf("bench: workload %s twice in preset %q", w.Name(), e.Preset.Name)
		}
		names[w.Name()] = true
	}
	if e.Preset.Runs < 1 {
		return fmt.Errorf("bench: preset %q: runs %d < 1", e.Preset.Name, e.Preset.Runs)
	}
	if e.Preset.WallBoots < 0 || e.Preset.ICountBoots < 0 || e.Preset.WallBoots+e.Preset.ICountBoots == 0 {
		return fmt.Errorf("bench: preset %q: no boots", e.Preset.Name)
	}
	return nil
}

// Schedule returns the boots in the order they run. It depends only on the
// kernels, drivers, preset and seed: the same seed gives the same
// schedule. Boots come in rounds; each round holds one boot of every
// kernel, in a random order (so kernels alternate and drift over time
// cannot favour one), wall-clock rounds and icount rounds interleaved.
// Within a boot the device instances (Preset.Instances) come one after
// the other; within an instance the workloads run in a random order, and
// for each one the drivers alternate run by run from a random first
// driver (A B, B A, ...); the first Warmup runs of each driver are marked
// warm-up. With one instance the schedule is the one earlier versions
// drew from the same seed.
func (e *Experiment) Schedule() ([]BootPlan, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(e.Seed, 0x5eed))
	var plans []BootPlan
	rounds := max(e.Preset.WallBoots, e.Preset.ICountBoots)
	for r := range rounds {
		for _, m := range []struct {
			mode  Mode
			boots int
		}{{ModeWall, e.Preset.WallBoots}, {ModeICount, e.Preset.ICountBoots}} {
			if r >= m.boots {
				continue
			}
			for _, ki := range rng.Perm(len(e.Kernels)) {
				plans = append(plans, BootPlan{Index: len(plans), Kernel: e.Kernels[ki].Name, Mode: m.mode,
					Steps: e.bootSteps(rng, m.mode), Round: r})
			}
		}
	}
	return plans, nil
}

func (e *Experiment) bootSteps(rng *rand.Rand, m Mode) []Step {
	drv := e.drivers()
	runs, warmup := e.Preset.Runs, e.Preset.Warmup
	if m == ModeICount && e.Preset.ICountRuns > 0 {
		runs = e.Preset.ICountRuns
	}
	if m == ModeICount && e.Preset.ICountNoWarmup {
		warmup = 0
	}
	var steps []Step
	for inst := range e.Preset.instances() {
		for _, wi := range rng.Perm(len(e.Preset.Workloads)) {
			w := e.Preset.Workloads[wi]
			first := rng.IntN(len(drv))
			for run := range warmup + runs {
				for j := range drv {
					// Rotate the order each run: A B, B A, A B ...
					k := (first + j) % len(drv)
					if run%2 == 1 {
						k = (first + len(drv) - 1 - j) % len(drv)
					}
					steps = append(steps, Step{Workload: w.Name(), Driver: drv[k], Run: run, Warmup: run < warmup, Instance: inst})
				}
			}
		}
	}
	return steps
}

// workloadFor returns the workload to run for a step in a mode: under
// icount the preset's shorter icount runtime and ramp apply.
func (e *Experiment) workloadFor(name string, m Mode) (Workload, error) {
	for _, w := range e.Preset.Workloads {
		if w.Name() == name {
			if m == ModeICount && e.Preset.ICountRuntime > 0 {
				w.Runtime, w.Ramp = e.Preset.ICountRuntime, e.Preset.ICountRamp
			}
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("bench: no workload %q in preset %q", name, e.Preset.Name)
}

// estimates are rough wall-time costs of a boot (without its runs) and of
// one step, used for the progress estimate, scaled by the real pace as the
// experiment goes.
func (e *Experiment) bootEstimate(m Mode) time.Duration {
	if m == ModeICount {
		return 15 * time.Second
	}
	return 8 * time.Second
}

func (e *Experiment) stepEstimate(s Step, m Mode) time.Duration {
	w, err := e.workloadFor(s.Workload, m)
	if err != nil {
		return 0
	}
	if m == ModeICount && w.ICountIOs > 0 {
		// A plugin step: 1 s of sleep, then 3N I/Os at roughly 5000
		// instructions plus 1 per 16 bytes each, ~100M guest
		// instructions per wall second (measured: 2.5-4.3 s per step of
		// the default preset).
		insns := 3 * float64(w.ICountIOs) * (5000 + float64(w.BlockSize)/16)
		return 2*time.Second + time.Duration(insns/100e6*float64(time.Second))
	}
	slow := time.Duration(1)
	if m == ModeICount {
		slow = 5
	}
	return slow*(w.Runtime+w.Ramp) + time.Second
}

// Run executes the schedule. It returns the results gathered so far even
// when it fails (Complete false, Error set), so they can be saved.
func (e *Experiment) Run(ctx context.Context) (*Results, error) {
	log := e.Logger
	if log == nil {
		log = e.Log
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	plans, err := e.Schedule()
	if err != nil {
		return nil, err
	}
	if e.Boot == nil {
		return nil, errors.New("bench: experiment has no Boot function")
	}
	cpus := e.GuestCPUs
	if cpus == 0 {
		cpus = 1
	}
	res := &Results{Format: ResultsFormat, Preset: e.Preset, Seed: e.Seed, Started: time.Now().UTC(),
		GuestCPUs: cpus, Schedule: plans}
	for _, k := range e.Kernels {
		km, err := DescribeKernel(k)
		if err != nil {
			log.Warn("kernel metadata", "kernel", k.Name, "err", err)
		}
		res.Kernels = append(res.Kernels, km)
	}
	markDriverKinds(res.Kernels)
	// The guests' architecture comes from the kernels' .configs; the host
	// is described once, with that architecture's QEMU.
	res.Arch = res.Architecture()
	res.Host = DescribeHostFor(ctx, res.Arch)
	if plans, err = e.prepareShard(plans, res); err != nil {
		return nil, err
	}
	var total, done int
	var estTotal time.Duration
	for _, p := range plans {
		total += len(p.Steps)
		estTotal += e.bootEstimate(p.Mode)
		for _, st := range p.Steps {
			estTotal += e.stepEstimate(st, p.Mode)
		}
	}
	start := time.Now()
	var estDone time.Duration
	report := func(boot int, msg string) {
		if e.Progress == nil {
			return
		}
		el := time.Since(start)
		rem := estTotal - estDone
		if estDone > 0 {
			// Scale the remaining estimate by how fast we really are.
			rem = time.Duration(float64(rem) * float64(el) / float64(estDone))
		}
		e.Progress(Progress{Boot: boot, Boots: len(plans), Done: done, Total: total, Elapsed: el, Remaining: rem, Message: msg})
	}
	fail := func(err error) (*Results, error) {
		res.Finished = time.Now().UTC()
		res.Error = err.Error()
		return res, err
	}
	var stop *stopper
	if e.Until != nil {
		if e.Shard.Count > 0 {
			return nil, errors.New("bench: a StopRule (sequential stopping) cannot run sharded: a shard cannot see the other shards' boots")
		}
		stop = newStopper(e.Until, res, plans)
	}
	for i, p := range plans {
		if stop != nil && stop.beforeBoot(p, time.Since(start)) {
			break
		}
		var kernel KernelArm
		for _, k := range e.Kernels {
			if k.Name == p.Kernel {
				kernel = k
			}
		}
		report(p.Index+1, fmt.Sprintf("booting %s (%s)", p.Kernel, p.Mode))
		estDone += e.bootEstimate(p.Mode)
		rec, err := e.runBoot(ctx, log, p, kernel, cpus, func(st Step, msg string) {
			done++
			estDone += e.stepEstimate(st, p.Mode)
			report(p.Index+1, msg)
		})
		if rec != nil {
			if rec.Plugin && res.GuestCPU == "" {
				res.GuestCPU = rec.CPU
			}
			res.Boots = append(res.Boots, *rec)
			for i := range res.Kernels {
				if res.Kernels[i].Name == p.Kernel && rec.GuestRelease != "" {
					res.Kernels[i].Release = rec.GuestRelease
				}
			}
		}
		if err != nil {
			return fail(fmt.Errorf("bench: boot %d (%s, %s): %w", p.Index, p.Kernel, p.Mode, err))
		}
		if stop != nil && (i == len(plans)-1 || plans[i+1].Round != p.Round) {
			if stop.afterRound(time.Since(start), log) {
				report(p.Index+1, fmt.Sprintf("stopping: %s", stop.rec.Reason))
				break
			}
		}
	}
	res.Finished = time.Now().UTC()
	res.Complete = true
	report(len(plans), "done")
	return res, nil
}

func (e *Experiment) runBoot(ctx context.Context, log *slog.Logger, p BootPlan, k KernelArm, cpus int, stepDone func(Step, string)) (rec *BootRecord, err error) {
	t0 := time.Now()
	b, err := e.Boot(ctx, BootRequest{Index: p.Index, Kernel: k, Mode: p.Mode})
	if err != nil {
		return nil, err
	}
	rec = &BootRecord{Index: p.Index, Kernel: p.Kernel, Mode: p.Mode, Accel: b.Accel, QEMUArgv: b.QEMUArgv, Started: t0.UTC(),
		BootSeconds: b.BootTime.Seconds(), GuestUptimeSeconds: b.GuestUptime.Seconds(), CPU: b.CPU,
		Plugin: b.Plugin != nil && p.Mode == ModeICount}
	defer func() {
		if b.Stop != nil {
			// Stop even when ctx is cancelled: never leave a QEMU behind.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if serr := b.Stop(sctx); serr != nil && err == nil {
				err = fmt.Errorf("stop: %w", serr)
			}
		}
		rec.WallSeconds = time.Since(t0).Seconds()
	}()
	g := b.Guest
	id, err := readGuestFile(ctx, g, "/proc/sys/kernel/random/boot_id")
	if err != nil {
		return rec, err
	}
	rec.BootID = id
	if rec.GuestRelease, err = readGuestFile(ctx, g, "/proc/sys/kernel/osrelease"); err != nil {
		return rec, err
	}
	log.Info("booted", "index", p.Index, "kernel", p.Kernel, "mode", p.Mode, "boot_id", id, "release", rec.GuestRelease)
	if k.Modular() {
		return rec, e.runModuleSteps(ctx, log, p, k, b, rec, stepDone)
	}
	// Each device instance: create one device per driver, run the
	// instance's steps, remove the devices.
	var devs map[Driver]Device
	teardown := func() error {
		for _, d := range e.drivers() {
			if dev, ok := devs[d]; ok {
				if err := dev.Teardown(ctx, g); err != nil {
					return fmt.Errorf("instance %d: %w", len(rec.Instances)-1, err)
				}
			}
		}
		devs = nil
		return nil
	}
	setup := func(inst int) error {
		ts := time.Now()
		devs = map[Driver]Device{}
		for _, d := range e.drivers() {
			dev := DefaultDevice(d)
			if err := dev.Setup(ctx, g); err != nil {
				return fmt.Errorf("instance %d: %w", inst, err)
			}
			devs[d] = dev
		}
		rec.Instances = append(rec.Instances, InstanceRecord{Instance: inst, SetupSeconds: time.Since(ts).Seconds()})
		return nil
	}
	var pb *pluginBoot
	cur := -1
	for _, s := range p.Steps {
		w, err := e.workloadFor(s.Workload, p.Mode)
		if err != nil {
			return rec, err
		}
		if s.Instance != cur {
			if err := teardown(); err != nil {
				return rec, err
			}
			if err := setup(s.Instance); err != nil {
				return rec, err
			}
			cur = s.Instance
			if rec.Plugin && pb == nil {
				if pb, err = newPluginBoot(ctx, g, b.Plugin, devs); err != nil {
					return rec, err
				}
			}
		}
		dev := devs[s.Driver]
		if err := dev.Check(ctx, g); err != nil {
			return rec, err
		}
		if pb != nil {
			smp, err := pb.runStep(ctx, g, s, w, dev)
			if err != nil {
				return rec, err
			}
			rec.Samples = append(rec.Samples, smp)
			rec.PluginFailures = pb.failures
			msg := fmt.Sprintf("%s %s %s run %d: %.1f instructions per I/O (path), %.1f (driver)", p.Kernel, s.Driver, s.Workload, s.Run, smp.Plugin.Groups.Path, smp.Plugin.Groups.Driver)
			if smp.Plugin.Failed != "" {
				msg = fmt.Sprintf("%s %s %s run %d: failed sample: %s", p.Kernel, s.Driver, s.Workload, s.Run, smp.Plugin.Failed)
				log.Warn("plugin sample failed", "boot", p.Index, "workload", s.Workload, "driver", s.Driver, "reason", smp.Plugin.Failed)
			}
			log.Info("run", "boot", p.Index, "workload", s.Workload, "driver", s.Driver, "run", s.Run, "path", smp.Plugin.Groups.Path, "driver_insns", smp.Plugin.Groups.Driver)
			stepDone(s, msg)
			continue
		}
		ts := time.Now()
		r, err := g.Exec(ctx, append([]string{"fio"}, w.FioArgs(dev.Path())...)...)
		if err != nil {
			return rec, fmt.Errorf("fio %s on %s: %w", w.Name(), dev.Path(), err)
		}
		fr, err := checkFioRun(w.Name(), r.ExitCode, r.Stdout, r.Stderr)
		if err != nil {
			return rec, fmt.Errorf("%s on %s: %w", w.Name(), dev.Path(), err)
		}
		smp := Sample{Workload: s.Workload, Driver: s.Driver, Run: s.Run, Warmup: s.Warmup, Instance: s.Instance, IOPS: fr.IOPS,
			BWBytes: fr.BWBytes, TotalIOs: fr.TotalIOs, RuntimeMS: fr.RuntimeMS, LatencyNS: fr.LatencyNS,
			WallSeconds: time.Since(ts).Seconds()}
		if p.Mode == ModeICount {
			// One icount counter over all vCPUs: not multiplied by them.
			smp.InstrPerIO = 1e9 / fr.IOPS
		}
		rec.Samples = append(rec.Samples, smp)
		log.Info("run", "boot", p.Index, "workload", s.Workload, "driver", s.Driver, "run", s.Run, "warmup", s.Warmup, "iops", fr.IOPS)
		stepDone(s, fmt.Sprintf("%s %s %s run %d: %.0f IOPS", p.Kernel, s.Driver, s.Workload, s.Run, fr.IOPS))
	}
	return rec, teardown()
}

func readGuestFile(ctx context.Context, g Guest, path string) (string, error) {
	r, err := g.Exec(ctx, "sh", "-c", "read v < "+path+" && echo \"$v\"")
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("read %s: exit %d: %s", path, r.ExitCode, tail(r.Stderr, 200))
	}
	return strings.TrimSpace(string(r.Stdout)), nil
}
