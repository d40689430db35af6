package bench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"
)

// ResultsFormat is the version of the results.json layout.
const ResultsFormat = 1

// Results is everything an experiment measured and the context needed to
// re-analyse it without re-running: raw samples, boot ids, kernels,
// toolchain, host, accelerator, QEMU argv and the seed. It is the content
// of results.json; doc/metadata.md lists its fields.
type Results struct {
	// Format is the layout version, ResultsFormat; ReadResults refuses
	// any other.
	Format int `json:"format"`
	// Preset is the preset that ran, in full (workloads, boots, runs),
	// so that a re-analysis needs nothing else.
	Preset Preset `json:"preset"`
	// Seed seeded the boot schedule (and, by default, the bootstrap of
	// the analysis).
	Seed uint64 `json:"seed"`
	// Started and Finished are when the experiment began and ended (UTC,
	// RFC 3339 in JSON).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Complete is false when the experiment stopped early; Error says why.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`

	// Arch is the guests' kernel ARCH as internal/karch names it
	// ("x86_64", "arm64"), set by Experiment.Run from the kernels'
	// .configs (RecordArch for results made otherwise); omitted in
	// files written before arm64 guests, which are x86_64
	// (Results.Architecture says so).
	Arch string `json:"arch,omitempty"`
	// Host is the machine that ran QEMU.
	Host HostInfo `json:"host"`
	// Toolchain describes the compilers the kernels were built with:
	// "fingerprint" (toolchain.Report.Fingerprint), "make_args" (the make
	// variables, space-separated) and, per tool ("rustc", "bindgen",
	// ...), its path and version. It is filled by the caller (the
	// experiment does not build kernels); omitted when empty.
	Toolchain map[string]string `json:"toolchain,omitempty"`
	// Kernels are the kernel arms, in the experiment's order.
	Kernels []KernelMeta `json:"kernels"`
	// GuestCPUs is the guests' vCPU count (recorded; instructions per
	// I/O are not multiplied by it: QEMU's icount counts all vCPUs).
	GuestCPUs int `json:"guest_cpus"`
	// GuestCPU is QEMU's -cpu model of the -icount boots (pinned: it
	// decides which code alternatives the kernel patches in); "" when
	// not pinned.
	GuestCPU string `json:"guest_cpu,omitempty"`
	// Stop is the sequential stopping rule's record (Experiment.Until):
	// why the run ended, after how many rounds, and every check; nil
	// when the experiment ran its whole schedule without a rule.
	Stop *StopRecord `json:"stop,omitempty"`
	// Schedule is every planned boot in running order, including those
	// that did not run when the experiment stopped early.
	Schedule []BootPlan `json:"schedule"`
	// Boots are the boots that ran, in order, with their samples.
	Boots []BootRecord `json:"boots"`
	// Experiment identifies the experiment (ExperimentID: preset, seed,
	// guest vCPUs, drivers, kernels' content hashes); shards of one
	// experiment and their merge share it. Omitted when empty (older
	// files).
	Experiment string `json:"experiment,omitempty"`
	// Shard is set on a shard's partial results: which shard, and the
	// boots it was to run. Omitted for a whole run and a merge.
	Shard *ShardInfo `json:"shard,omitempty"`
	// Parts lists the partial results a merge (Merge) joined, one per
	// part; omitted otherwise.
	Parts []PartInfo `json:"parts,omitempty"`
}

// HostInfo describes the machine that ran QEMU. Fields that could not be
// found are empty.
type HostInfo struct {
	// Hostname is os.Hostname.
	Hostname string `json:"hostname"`
	// OS and Arch are runtime.GOOS and runtime.GOARCH ("linux", "amd64").
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// CPUs is the number of logical CPUs usable by the process.
	CPUs int `json:"cpus"`
	// CPUModel is /proc/cpuinfo's first "model name".
	CPUModel string `json:"cpu_model,omitempty"`
	// KernelRelease is the host kernel's release (uname -r).
	KernelRelease string `json:"kernel_release,omitempty"`
	// QEMUVersion and FioVersion are the first lines of the guests'
	// QEMU binary's `--version` (qemu-system-x86_64, qemu-system-aarch64
	// for arm64 guests: DescribeHostFor) and of the host's `fio --version`.
	QEMUVersion string `json:"qemu_version,omitempty"`
	FioVersion  string `json:"fio_version,omitempty"`
}

// KernelMeta identifies one kernel arm.
type KernelMeta struct {
	// Name is the arm's name, KernelArm.Name ("helpers-on",
	// "helpers-off"); BootRecord.Kernel refers to it.
	Name string `json:"name"`
	// InlineHelpers is what the arm claims: built with
	// CONFIG_RUST_INLINE_HELPERS=y.
	InlineHelpers bool `json:"inline_helpers"`
	// BzImage is the host path of the kernel image that was booted.
	BzImage string `json:"bzimage"`
	// BzImageSHA256 and ConfigSHA256 are the hex SHA-256 of the image and
	// of its .config (empty when unknown).
	BzImageSHA256 string `json:"bzimage_sha256,omitempty"`
	ConfigSHA256  string `json:"config_sha256,omitempty"`
	// ConfigHelpers is RUST_INLINE_HELPERS as found in the .config ("y",
	// "" when unset, "unknown" when no .config was given), recorded to
	// prove the arms differ as claimed.
	ConfigHelpers string `json:"config_rust_inline_helpers"`
	// Arch is the kernel's ARCH as its .config says ("x86_64" for
	// CONFIG_X86_64=y, "arm64" for CONFIG_ARM64=y; DescribeKernel);
	// omitted when no .config was given or it names no known
	// architecture.
	Arch string `json:"arch,omitempty"`
	// Release is the kernel release the guest reported
	// (/proc/sys/kernel/osrelease).
	Release string `json:"release,omitempty"`
	// CacheHit is set when the kernel came from the kbuild cache without
	// running make (filled by the caller).
	CacheHit bool `json:"cache_hit,omitempty"`
	// DriverKind is how the arm has its null-block drivers: "built-in"
	// (DriverBuiltIn) or "module" (DriverModule: loaded and unloaded for
	// every sample, Sample.Module). Omitted in experiments without module
	// arms (every arm built in).
	DriverKind string `json:"driver_kind,omitempty"`
	// Modules are a module arm's modules (KernelArm.Modules); omitted for
	// built-in arms.
	Modules []ModuleMeta `json:"modules,omitempty"`
	// InlineCheck is kbuild.InlineCheck's count of the rust_helper_*
	// symbols each module of the arm leaves undefined (with helpers on,
	// none should be); omitted when the caller gave none.
	InlineCheck *InlineCheckMeta `json:"inline_check,omitempty"`
}

// BootRecord is one boot and its samples.
type BootRecord struct {
	// Index is the boot's position in Results.Schedule (0-based).
	Index int `json:"index"`
	// Kernel is the KernelMeta.Name of the kernel booted.
	Kernel string `json:"kernel"`
	// Mode is how the boot measured: "wall" or "icount".
	Mode Mode `json:"mode"`
	// BootID is the guest's /proc/sys/kernel/random/boot_id, a UUID
	// unique to the boot.
	BootID string `json:"boot_id"`
	// GuestRelease is the guest's /proc/sys/kernel/osrelease.
	GuestRelease string `json:"guest_release"`
	// Accel is the accelerator QEMU used ("tcg", "kvm").
	Accel string `json:"accel"`
	// QEMUArgv is QEMU's full command line for this boot.
	QEMUArgv []string `json:"qemu_argv"`
	// CPU is QEMU's -cpu model of the boot ("" = QEMU's default).
	CPU string `json:"cpu,omitempty"`
	// Plugin is set when the boot counted instructions with the TCG
	// plugin (its samples carry Sample.Plugin).
	Plugin bool `json:"plugin,omitempty"`
	// PluginFailures is the number of the boot's plugin samples that
	// failed their I/O check (Sample.Plugin.Failed).
	PluginFailures int `json:"plugin_failures,omitempty"`
	// ModuleFailures is the number of the boot's module samples that
	// failed (Sample.Module.Failed: load, device, unload).
	ModuleFailures int `json:"module_failures,omitempty"`
	// Started is when the boot was requested (UTC).
	Started time.Time `json:"started"`
	// WallSeconds is the boot's wall time in seconds, from the request to
	// the VM stopped, runs included.
	WallSeconds float64 `json:"wall_seconds"`
	// BootSeconds is QEMU start to guest ready (wall seconds), and
	// GuestUptimeSeconds the guest's uptime then (guest seconds).
	BootSeconds        float64 `json:"boot_seconds"`
	GuestUptimeSeconds float64 `json:"guest_uptime_seconds"`
	// Samples are the boot's fio runs in the order they ran, warm-up runs
	// included.
	Samples []Sample `json:"samples"`
	// Instances are the boot's device instances in the order they were
	// created (built-in arms; module arms create a device per sample).
	Instances []InstanceRecord `json:"instances,omitempty"`
}

// InstanceRecord is one device instance of a boot: the devices of every
// driver created through configfs, used by the instance's steps, removed.
type InstanceRecord struct {
	// Instance is the instance's number in the boot (Step.Instance).
	Instance int `json:"instance"`
	// SetupSeconds is the host wall time of creating the instance's
	// devices (all drivers), in seconds: the cost of one more instance
	// besides its runs.
	SetupSeconds float64 `json:"setup_seconds"`
}

// Sample is one fio run.
type Sample struct {
	// Workload is the Workload.Name of the job ("randread-4k-qd32-nj1").
	Workload string `json:"workload"`
	// Driver is the driver under test: "null_blk" or "rnull".
	Driver Driver `json:"driver"`
	// Run is the run's number for this workload and driver within the
	// boot (0-based, warm-up runs first).
	Run int `json:"run"`
	// Warmup marks a warm-up run, kept but left out of the analysis.
	Warmup bool `json:"warmup"`
	// Instance is the device instance of the boot the run used (0-based,
	// Step.Instance); in module arms every sample has its own device.
	Instance int `json:"instance"`
	// IOPS is fio's I/O operations per second, read and write summed.
	// Under -icount the second is a guest second (1e9 instructions).
	IOPS float64 `json:"iops"`
	// BWBytes is fio's bandwidth in bytes per second.
	BWBytes float64 `json:"bw_bytes"`
	// TotalIOs is the number of I/Os fio completed (ramp excluded).
	TotalIOs int64 `json:"total_ios"`
	// RuntimeMS is fio's measured runtime in milliseconds (guest
	// milliseconds under -icount).
	RuntimeMS int64 `json:"runtime_ms"`
	// LatencyNS maps completion-latency percentiles ("50.000000",
	// "99.000000", ...) to nanoseconds; omitted when fio did not time
	// I/Os (gtod_reduce=1, the published setting).
	LatencyNS map[string]int64 `json:"latency_ns,omitempty"`
	// InstrPerIO is guest instructions per I/O derived from fio: 1e9 /
	// IOPS, set for -icount boots only (1 guest ns = 1 instruction there;
	// QEMU's icount is one counter over all vCPUs, so it is not
	// multiplied by them). fio rounds its runtime up to whole
	// milliseconds, so this is a secondary figure; the plugin's counts
	// (Plugin) are the measurement. In plugin steps it comes from the 2N
	// run (IOPS, TotalIOs and RuntimeMS too).
	InstrPerIO float64 `json:"instr_per_io,omitempty"`
	// Plugin is the instruction-counting plugin's measurement of the
	// step (-icount boots with the plugin); nil otherwise.
	Plugin *PluginSample `json:"plugin,omitempty"`
	// Module is the sample's module life cycle in a module arm (load
	// and unload durations, the module's .text address, the failure if
	// any); nil for built-in arms.
	Module *ModuleSample `json:"module,omitempty"`
	// WallSeconds is the host wall time of the fio command in seconds,
	// from its start to its output back on the host.
	WallSeconds float64 `json:"wall_seconds"`
}

// WriteFile writes r as indented JSON to path, atomically.
func (r *Results) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// maxResultsBytes bounds a gzipped results.json once decompressed.
const maxResultsBytes = 1 << 30

// ReadResults reads a results.json written by WriteFile, or the same
// gzipped (results.json.gz, as doc/results keeps it).
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		if b, err = io.ReadAll(io.LimitReader(zr, maxResultsBytes+1)); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		if len(b) > maxResultsBytes {
			return nil, fmt.Errorf("bench: %s: more than %d bytes once decompressed", path, maxResultsBytes)
		}
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	if r.Format != ResultsFormat {
		return nil, fmt.Errorf("bench: %s: results format %d, want %d", path, r.Format, ResultsFormat)
	}
	return &r, nil
}

// writeFileAtomic writes data to a temporary file in path's directory,
// syncs it and renames it over path, keeping path's permissions when it
// exists (0644 otherwise).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Update(path, data, 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// StopRecord is how a run with a StopRule (sequential stopping) ended.
type StopRecord struct {
	// TargetHalfWidth, Each and BudgetSeconds are the rule
	// (StopRule.HalfWidth, Each, Budget in seconds).
	TargetHalfWidth float64 `json:"target_half_width"`
	Each            bool    `json:"each,omitempty"`
	BudgetSeconds   float64 `json:"budget_seconds,omitempty"`
	// MinRounds and Consecutive are the rule's, defaults applied.
	MinRounds   int `json:"min_rounds"`
	Consecutive int `json:"consecutive"`
	// Reason is why the run ended: StopTarget, StopBudget or
	// StopSchedule.
	Reason string `json:"reason"`
	// Rounds is the rounds run, PlannedRounds those of the schedule.
	Rounds        int `json:"rounds"`
	PlannedRounds int `json:"planned_rounds"`
	// Checks are the analyses after each round from MinRounds on.
	Checks []StopCheck `json:"checks,omitempty"`
}

// StopCheck is one check of a StopRule after a round.
type StopCheck struct {
	// Rounds is the rounds done at the check, ElapsedSeconds the wall
	// time since the experiment started.
	Rounds         int     `json:"rounds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Widest names the estimate with the widest interval (or the first
	// without one), and HalfWidth its relative half-width (0 when it
	// has no interval yet).
	Widest    string  `json:"widest"`
	HalfWidth float64 `json:"half_width"`
	// Complete is set when every watched estimate had an interval.
	Complete bool `json:"complete"`
}

// The reasons of StopRecord.Reason.
const (
	// StopTarget: every watched interval reached the target half-width.
	StopTarget = "target half-width reached"
	// StopBudget: the next round would have ended past the budget.
	StopBudget = "time budget spent"
	// StopSchedule: the schedule ran out first (the preset's boots are
	// the rule's maximum).
	StopSchedule = "schedule finished"
)
