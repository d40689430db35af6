package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Pattern is fio's rw= access pattern.
type Pattern string

// The access patterns of the published fio matrix.
const (
	RandRead  Pattern = "randread"
	RandWrite Pattern = "randwrite"
)

// Workload is one fio job, as typed values. Its zero value is not runnable;
// start from PublishedWorkload or a preset and change what you need.
//
// Workloads are written into results.json (Results.Preset) without JSON
// tags: the keys are the field names, and durations are integer
// nanoseconds.
type Workload struct {
	// Pattern is fio's rw=: "randread" or "randwrite".
	Pattern Pattern
	// BlockSize is fio's bs= in bytes.
	BlockSize int
	// IODepth is fio's iodepth=, I/Os in flight per job.
	IODepth int
	// NumJobs is fio's numjobs=, parallel jobs; 0 means 1.
	NumJobs int
	// Runtime is fio's runtime= (time_based), at least 1 ms; nanoseconds
	// in JSON.
	Runtime time.Duration
	// Ramp is fio's ramp_time=, run before measuring; 0 means none;
	// nanoseconds in JSON.
	Ramp time.Duration

	// ICountIOs is N for the instruction-counting plugin: the I/Os per
	// job of the smaller of a step's two fio runs (the larger has 2N,
	// and the windows' difference is the cost of N·numjobs I/Os); 0 =
	// DefaultICountIOs.
	ICountIOs int

	// GTODReduce sets gtod_reduce=1 as the published set does: fio stops
	// timing each I/O, so latency percentiles are not reported.
	GTODReduce bool
}

// PublishedWorkload returns the workload of the published fio matrix with
// the given pattern, block size, depth and job count (runtime 30 s, ramp
// 10 s, gtod_reduce on).
func PublishedWorkload(p Pattern, bs, iodepth, numjobs int) Workload {
	return Workload{Pattern: p, BlockSize: bs, IODepth: iodepth, NumJobs: numjobs,
		Runtime: 30 * time.Second, Ramp: 10 * time.Second, GTODReduce: true}
}

// Name is a stable identifier such as "randread-4k-qd32-nj1", used as a key
// in results and as the wl= key of benchmark lines.
func (w Workload) Name() string {
	nj := w.NumJobs
	if nj == 0 {
		nj = 1
	}
	return fmt.Sprintf("%s-%s-qd%d-nj%d", w.Pattern, sizeString(w.BlockSize), w.IODepth, nj)
}

// Validate reports what makes w unrunnable.
func (w Workload) Validate() error {
	switch w.Pattern {
	case RandRead, RandWrite, "read", "write":
	default:
		return fmt.Errorf("bench: workload: unknown pattern %q (want randread or randwrite)", w.Pattern)
	}
	if w.BlockSize < 512 || w.BlockSize%512 != 0 {
		return fmt.Errorf("bench: workload %s: block size %d is not a positive multiple of 512", w.Name(), w.BlockSize)
	}
	if w.IODepth < 1 {
		return fmt.Errorf("bench: workload %s: iodepth %d < 1", w.Name(), w.IODepth)
	}
	if w.NumJobs < 0 {
		return fmt.Errorf("bench: workload %s: numjobs %d < 0", w.Name(), w.NumJobs)
	}
	if w.Runtime < time.Millisecond {
		return fmt.Errorf("bench: workload %s: runtime %v < 1ms", w.Name(), w.Runtime)
	}
	if w.Ramp < 0 {
		return fmt.Errorf("bench: workload %s: negative ramp %v", w.Name(), w.Ramp)
	}
	return nil
}

// FioArgs returns fio's argv (without "fio") running w against the block
// device dev, with the published fio-matrix options and JSON+ output.
func (w Workload) FioArgs(dev string) []string {
	nj := w.NumJobs
	if nj == 0 {
		nj = 1
	}
	args := []string{
		"--name=" + w.Name(),
		"--filename=" + dev,
		"--ioengine=io_uring",
		"--direct=1",
		"--rw=" + string(w.Pattern),
		"--bs=" + strconv.Itoa(w.BlockSize),
		"--iodepth=" + strconv.Itoa(w.IODepth),
		"--numjobs=" + strconv.Itoa(nj),
		"--time_based",
		"--runtime=" + fioDuration(w.Runtime),
	}
	if w.Ramp > 0 {
		args = append(args, "--ramp_time="+fioDuration(w.Ramp))
	}
	if w.GTODReduce {
		args = append(args, "--gtod_reduce=1")
	}
	args = append(args,
		"--clocksource=cpu",
		"--fixedbufs=1",
		"--registerfiles=1",
		"--nonvectored=1",
		"--norandommap",
		"--random_generator=lfsr",
		"--cpus_allowed_policy=split",
		"--group_reporting",
		"--output-format=json+",
	)
	return args
}

// fioDuration formats d for fio, which takes a unit suffix.
func fioDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

func sizeString(b int) string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return strconv.Itoa(b>>20) + "m"
	case b >= 1<<10 && b%(1<<10) == 0:
		return strconv.Itoa(b>>10) + "k"
	}
	return strconv.Itoa(b)
}

// Preset is a named set of workloads plus how many boots and runs measure
// them. Like Workload it is written into results.json without JSON tags
// (field names as keys, durations in integer nanoseconds).
type Preset struct {
	// Name is the preset's name ("quick", "default", "published", or a
	// caller's own).
	Name string
	// Workloads are the fio jobs, each run against every driver.
	Workloads []Workload

	// WallBoots and ICountBoots are the boots per kernel under plain TCG
	// (wall-clock IOPS) and under -icount (instructions per I/O).
	WallBoots, ICountBoots int
	// Runs is the measured runs per driver and workload in one boot, and
	// Warmup the runs before them that are discarded. ICountRuns replaces
	// Runs in -icount boots when set: within a device instance runs
	// repeat closely, so boots and instances, not runs, are worth the
	// time (the report's variance components say how closely).
	Runs, Warmup, ICountRuns int
	// ICountNoWarmup runs no warm-up in -icount boots: the plugin's
	// differencing of an N and a 2N run cancels start-up costs, and
	// the boot settles once before its first step.
	ICountNoWarmup bool
	// ICountRuntime and ICountRamp replace the workloads' runtime and
	// ramp under -icount, where one guest second costs ~10 s of wall
	// time and the run-to-run spread is below 0.1%; 0 keeps the
	// workloads' own (nanoseconds in JSON).
	ICountRuntime, ICountRamp time.Duration
	// Instances is the device instances per boot, the middle level of
	// the design (boot > instance > run): each instance's devices (one
	// per driver) are created through configfs, run every workload of
	// the boot, and are removed before the next instance's are created.
	// A new device draws new random state (blk-mq's tag allocation
	// hints), so instances separate that spread from the boot's; they
	// cost milliseconds where a boot costs seconds. 0 means 1. In module
	// arms every sample has its own device already (and module load).
	Instances int
}

// instances is Instances with its default.
func (p Preset) instances() int { return max(p.Instances, 1) }

// PresetNames returns the names PresetByName accepts.
func PresetNames() []string { return []string{"quick", "default", "pilot", "published"} }

// UnknownPresetError is returned for a preset name that does not exist.
type UnknownPresetError struct{ Name string }

// Error lists the known presets.
func (e *UnknownPresetError) Error() string {
	return fmt.Sprintf("bench: unknown preset %q (want one of %s)", e.Name, strings.Join(PresetNames(), ", "))
}

// PresetByName returns the quick, default, pilot or published preset.
func PresetByName(name string) (Preset, error) {
	switch name {
	case "quick":
		return QuickPreset(), nil
	case "default", "":
		return DefaultPreset(), nil
	case "pilot":
		return PilotPreset(), nil
	case "published":
		return PublishedPreset(), nil
	}
	return Preset{}, &UnknownPresetError{Name: name}
}

// PublishedPreset is the published fio matrix: randread/randwrite x
// iodepth {1,8,32,128} x bs {4k,32k,256k,1m,16m} x numjobs {1,2,6}, 120
// workloads of 30 s after a 10 s ramp. On this machine it takes days.
func PublishedPreset() Preset {
	var wls []Workload
	for _, p := range []Pattern{RandRead, RandWrite} {
		for _, qd := range []int{1, 8, 32, 128} {
			for _, bs := range []int{4 << 10, 32 << 10, 256 << 10, 1 << 20, 16 << 20} {
				for _, nj := range []int{1, 2, 6} {
					wls = append(wls, PublishedWorkload(p, bs, qd, nj))
				}
			}
		}
	}
	return Preset{Name: "published", Workloads: wls, WallBoots: 10, ICountBoots: 3, Runs: 4, Warmup: 1, ICountRuns: 1,
		ICountRuntime: 3 * time.Second, ICountRamp: time.Second}
}

// DefaultPreset is the main job: eight workloads whose instruction
// counts differ (random reads and writes of 4k, 16k, 64k and 1m at depth
// 1: with irqmode 0 both drivers complete each request inline, depth
// never builds, and depth 32 costs what depth 1 does), counted with the
// instruction-counting plugin in five -icount boots per kernel (five
// boots per arm is the fewest for which the U test on boot means can
// reach p < 0.05). No wall-clock boots: under TCG their IOPS swing by
// tens of percent and say nothing about a 2% question; set WallBoots
// (nullblk-bench -wall-boots) under KVM or on bare metal. Each boot has
// two device instances (Instances), so that the spread drawn when a
// device is created is seen apart from the boot's. N per workload
// (ICountIOs) keeps the job within 15 minutes here.
func DefaultPreset() Preset {
	short := func(p Pattern, bs, qd, n int) Workload {
		w := PublishedWorkload(p, bs, qd, 1)
		w.Runtime, w.Ramp = 2*time.Second, 500*time.Millisecond
		w.ICountIOs = n
		return w
	}
	var wls []Workload
	for _, p := range []Pattern{RandRead, RandWrite} {
		for _, bs := range []struct{ bs, n int }{{4 << 10, 20000}, {16 << 10, 20000}, {64 << 10, 10000}, {1 << 20, 2000}} {
			wls = append(wls, short(p, bs.bs, 1, bs.n))
		}
	}
	return Preset{Name: "default", Workloads: wls,
		WallBoots: 0, ICountBoots: 5, Runs: 2, Warmup: 1, ICountRuns: 1, ICountNoWarmup: true, Instances: 2,
		ICountRuntime: 500 * time.Millisecond, ICountRamp: 200 * time.Millisecond}
}

// PilotPreset sizes an experiment rather than answering its questions:
// four of the default workloads (reads and writes of 4 KiB and 1 MiB)
// in 3 -icount boots per kernel, each with 2 device instances of 2 runs,
// so that boot, instance and run variance can all be estimated (the
// report's design advice then says how many of each the next run
// needs). Without warm-up runs, the report's first-run effect measures
// what a warm-up would absorb.
func PilotPreset() Preset {
	p := DefaultPreset()
	p.Name = "pilot"
	var wls []Workload
	for _, w := range p.Workloads {
		if w.BlockSize == 4<<10 || w.BlockSize == 1<<20 {
			wls = append(wls, w)
		}
	}
	p.Workloads = wls
	p.ICountBoots, p.Instances, p.ICountRuns = 3, 2, 2
	return p
}

// QuickPreset is the CI preset: the plugin path with one workload (4k
// random reads), two -icount boots per kernel of two device instances
// each, no wall-clock boots.
func QuickPreset() Preset {
	w := PublishedWorkload(RandRead, 4<<10, 1, 1)
	w.Runtime, w.Ramp = 2*time.Second, 500*time.Millisecond
	w.ICountIOs = 10000
	return Preset{Name: "quick", Workloads: []Workload{w},
		WallBoots: 0, ICountBoots: 2, Runs: 2, Warmup: 1, ICountRuns: 1, ICountNoWarmup: true, Instances: 2,
		ICountRuntime: 300 * time.Millisecond, ICountRamp: 100 * time.Millisecond}
}
