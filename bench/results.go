package bench

import (
	"encoding/json"
	"fmt"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"os"
	"time"
)

// ResultsFormat is the version of the results.json layout.
const ResultsFormat = 1

// Results is everything an experiment measured and the context needed to
// re-analyse it without re-running: raw samples, boot ids, kernels,
// toolchain, host, accelerator, QEMU argv and the seed.
type Results struct {
	Format   int       `json:"format"`
	Preset   Preset    `json:"preset"`
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Complete is false when the experiment stopped early; Error says why.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`

	Host      HostInfo          `json:"host"`
	Toolchain map[string]string `json:"toolchain,omitempty"`
	Kernels   []KernelMeta      `json:"kernels"`
	GuestCPUs int               `json:"guest_cpus"`
	Schedule  []BootPlan        `json:"schedule"`
	Boots     []BootRecord      `json:"boots"`
}

// HostInfo describes the machine that ran QEMU.
type HostInfo struct {
	Hostname      string `json:"hostname"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model,omitempty"`
	KernelRelease string `json:"kernel_release,omitempty"`
	QEMUVersion   string `json:"qemu_version,omitempty"`
	FioVersion    string `json:"fio_version,omitempty"`
}

// KernelMeta identifies one kernel arm.
type KernelMeta struct {
	Name          string `json:"name"` // "helpers-on" / "helpers-off"
	InlineHelpers bool   `json:"inline_helpers"`
	BzImage       string `json:"bzimage"`
	BzImageSHA256 string `json:"bzimage_sha256,omitempty"`
	ConfigSHA256  string `json:"config_sha256,omitempty"`
	// ConfigHelpers is RUST_INLINE_HELPERS as found in the .config ("y",
	// or "" when unset), recorded to prove the arms differ as claimed.
	ConfigHelpers string `json:"config_rust_inline_helpers"`
	Release       string `json:"release,omitempty"` // from the guest
	CacheHit      bool   `json:"cache_hit,omitempty"`
}

// BootRecord is one boot and its samples.
type BootRecord struct {
	Index        int       `json:"index"`
	Kernel       string    `json:"kernel"`
	Mode         Mode      `json:"mode"`
	BootID       string    `json:"boot_id"` // /proc/sys/kernel/random/boot_id
	GuestRelease string    `json:"guest_release"`
	Accel        string    `json:"accel"`
	QEMUArgv     []string  `json:"qemu_argv"`
	Started      time.Time `json:"started"`
	WallSeconds  float64   `json:"wall_seconds"`
	// BootSeconds is QEMU start to guest ready (wall), and
	// GuestUptimeSeconds the guest's uptime then.
	BootSeconds        float64  `json:"boot_seconds"`
	GuestUptimeSeconds float64  `json:"guest_uptime_seconds"`
	Samples            []Sample `json:"samples"`
}

// Sample is one fio run.
type Sample struct {
	Workload  string           `json:"workload"`
	Driver    Driver           `json:"driver"`
	Run       int              `json:"run"`
	Warmup    bool             `json:"warmup"`
	IOPS      float64          `json:"iops"`
	BWBytes   float64          `json:"bw_bytes"`
	TotalIOs  int64            `json:"total_ios"`
	RuntimeMS int64            `json:"runtime_ms"`
	LatencyNS map[string]int64 `json:"latency_ns,omitempty"`
	// InstrPerIO is guest instructions per I/O, guest CPUs x 1e9 / IOPS,
	// set for -icount boots only (1 guest ns = 1 instruction there).
	InstrPerIO  float64 `json:"instr_per_io,omitempty"`
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

// ReadResults reads a results.json written by WriteFile.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
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
