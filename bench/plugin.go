package bench

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// The measures of the instruction-counting plugin (qemu/tcgplugin) in
// -icount boots: guest instructions per I/O counted function by function,
// not derived from fio's IOPS. They carry the conclusions when present.
const (
	// MeasureDriverInsns is the instructions per I/O of the driver's own
	// functions (PluginGroups.Driver).
	MeasureDriverInsns Measure = "driver_insns_per_io"
	// MeasureKernelInsns is the instructions per I/O of the whole kernel.
	MeasureKernelInsns Measure = "kernel_insns_per_io"
	// MeasurePathInsns is the instructions per I/O of the whole path:
	// kernel and user space (fio).
	MeasurePathInsns Measure = "path_insns_per_io"
	// MeasureHelperCalls is the calls per I/O of the C helpers
	// (rust_helper_*): near zero with RUST_INLINE_HELPERS, where the
	// helpers are inlined into the Rust code.
	MeasureHelperCalls Measure = "helper_calls_per_io"
)

// PluginMeasures returns the plugin's measures in the order the analysis
// lists them, the whole path (the conclusive one) first.
func PluginMeasures() []Measure {
	return []Measure{MeasurePathInsns, MeasureDriverInsns, MeasureKernelInsns, MeasureHelperCalls}
}

// IsPlugin reports whether m is one of the plugin's measures.
func (m Measure) IsPlugin() bool {
	switch m {
	case MeasureDriverInsns, MeasureKernelInsns, MeasurePathInsns, MeasureHelperCalls:
		return true
	}
	return false
}

// CountsInstructions reports whether m is an instruction count (the
// plugin's or fio-derived), as opposed to wall-clock IOPS.
func (m Measure) CountsInstructions() bool { return m == MeasureInstr || m.IsPlugin() }

func pluginLabel(m Measure) string {
	switch m {
	case MeasureDriverInsns:
		return "driver-own instructions per I/O (plugin)"
	case MeasureKernelInsns:
		return "kernel instructions per I/O (plugin)"
	case MeasurePathInsns:
		return "whole-path instructions per I/O, kernel + user (plugin)"
	case MeasureHelperCalls:
		return "rust_helper_* calls per I/O (plugin)"
	}
	return string(m)
}

// pluginValue is the sample's value of a plugin measure, NaN when the
// sample has no plugin counts or failed its I/O check.
func pluginValue(m Measure, s Sample) float64 {
	p := s.Plugin
	if p == nil || p.Failed != "" {
		return math.NaN()
	}
	switch m {
	case MeasureDriverInsns:
		return p.Groups.Driver
	case MeasureKernelInsns:
		return p.Groups.Kernel
	case MeasurePathInsns:
		return p.Groups.Path
	case MeasureHelperCalls:
		return p.Groups.HelperCalls
	}
	return math.NaN()
}

// DefaultICountIOs is N, the I/Os per job of the smaller plugin window,
// for a workload that does not set Workload.ICountIOs.
const DefaultICountIOs = 4000

// settleUptime is the guest uptime before the first plugin window of a
// boot: the tsc-early → tsc clocksource switch, ~1 s after boot, costs
// ~8 instructions per I/O in a window it lands in.
const settleUptime = 3 * time.Second

// PluginSample is what the instruction-counting plugin measured for one
// step of an -icount boot: fio ran N and then 2N I/Os per job, each run
// between two `sync`s (the plugin's trigger, ksys_sync, snapshots its
// counters), and the difference of the two windows divided by N·numjobs
// is the cost of one I/O (tcgplugin.PerOp). Figures are guest
// instructions (or entries) per I/O; they are counts, not cycles.
type PluginSample struct {
	// N is the I/Os per job of the smaller window (fio --number_ios=N;
	// the larger window has 2N).
	N int `json:"n"`
	// IOs is N·numjobs, the I/Os the two windows differ by: the divisor
	// of every per-I/O figure.
	IOs int `json:"ios"`
	// QueueRQ is the function whose entries check the I/O count: the
	// driver's queue_rq (null_queue_rq; rnull's queue_rq callback, a Rust
	// v0-mangled symbol).
	QueueRQ string `json:"queue_rq"`
	// QueueRQCalls is its entries in the 2N window minus those in the N
	// window, and WantQueueRQCalls what they must be: IOs ×
	// RequestsPerIO. Any difference fails the sample (Failed).
	QueueRQCalls     int64 `json:"queue_rq_calls"`
	WantQueueRQCalls int64 `json:"want_queue_rq_calls"`
	// RequestsPerIO is the block requests one fio I/O becomes: the block
	// size over the device's max_sectors_kb, rounded up (1 when it fits).
	RequestsPerIO int `json:"requests_per_io"`
	// Failed is why the sample is not a measurement (the I/O check did
	// not hold, a window is missing); "" for a good sample. Failed
	// samples are kept and left out of the plugin measures.
	Failed string `json:"failed,omitempty"`
	// Windows are the total instructions (kernel and user) of the N and
	// the 2N windows.
	Windows [2]uint64 `json:"window_insns"`
	// Groups are the per-I/O totals of the function groups.
	Groups PluginGroups `json:"groups"`
	// Funcs holds every function with a non-zero per-I/O figure, by
	// tcgplugin.Func.Key (the System.map name, "name@addr" where a name
	// is not unique).
	Funcs map[string]FuncPerIO `json:"funcs,omitempty"`
}

// FuncPerIO is one function's cost per I/O: instructions executed in it
// and entries (calls, and jumps back to its first instruction). Either can
// be fractional, or negative for a function that ran less in the larger
// window (noise such as a timer tick, not cost).
type FuncPerIO struct {
	Insns   float64 `json:"insns"`
	Entries float64 `json:"entries"`
}

// PluginGroups are per-I/O totals over groups of functions. The groups
// are bench's name-pattern heuristics (FuncGroup), not anything the
// kernel declares. Instructions unless the name says calls.
type PluginGroups struct {
	// Driver is the driver's own functions: for null_blk names starting
	// null_ or nullb_; for rnull the Rust symbols of crate rnull (names
	// containing "5rnull", which includes kernel-crate generics
	// instantiated for rnull's types).
	Driver float64 `json:"driver_insns"`
	// Helpers and HelperCalls are the instructions and the entries
	// (calls) of the C helpers, rust_helper_*.
	Helpers     float64 `json:"helper_insns"`
	HelperCalls float64 `json:"helper_calls"`
	// BlkMQ is blk_mq_* and __blk_mq_*; Block the other block-layer
	// functions (blk_*, __blk_*, bio_*, __bio_*, submit_bio*).
	BlkMQ float64 `json:"blk_mq_insns"`
	Block float64 `json:"block_insns"`
	// IOUring is io_* and __io_*.
	IOUring float64 `json:"io_uring_insns"`
	// Kernel is every kernel instruction (functions and the unknown
	// bucket), Unknown the kernel addresses no function holds, User user
	// space (fio), Path kernel + user.
	Kernel  float64 `json:"kernel_insns"`
	Unknown float64 `json:"unknown_insns"`
	User    float64 `json:"user_insns"`
	Path    float64 `json:"path_insns"`
}

// Function groups (FuncGroup).
const (
	GroupDriver  = "driver"
	GroupHelper  = "rust_helper"
	GroupBlkMQ   = "blk-mq"
	GroupBlock   = "block"
	GroupIOUring = "io_uring"
	GroupOther   = "other"
)

// FuncGroup classifies a function of driver d's path by its name (a
// tcgplugin.Func.Key): the driver's own code, the C helpers, blk-mq, the
// rest of the block layer, io_uring or other. It is a heuristic on
// names: null_blk's functions start null_ or nullb_; rnull's are Rust
// symbols whose mangled name holds the crate "5rnull".
func FuncGroup(d Driver, key string) string {
	name, _, _ := strings.Cut(key, "@")
	has := func(ps ...string) bool {
		for _, p := range ps {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	switch {
	case d == NullBlk && has("null_", "nullb_"):
		return GroupDriver
	case d == RNull && strings.HasPrefix(name, "_R") && strings.Contains(name, "5rnull"):
		return GroupDriver
	case has("rust_helper_"):
		return GroupHelper
	case has("blk_mq_", "__blk_mq_"):
		return GroupBlkMQ
	case has("blk_", "__blk_", "bio_", "__bio_", "submit_bio"):
		return GroupBlock
	case has("io_", "__io_"):
		return GroupIOUring
	}
	return GroupOther
}

// pluginGroups sums an operation profile into the groups of driver d.
func pluginGroups(d Driver, op tcgplugin.OpProfile) PluginGroups {
	g := PluginGroups{Kernel: op.Kernel, Unknown: op.Unknown, User: op.User, Path: op.Kernel + op.User}
	for k, c := range op.Funcs {
		switch FuncGroup(d, k) {
		case GroupDriver:
			g.Driver += c.Insns
		case GroupHelper:
			g.Helpers += c.Insns
			g.HelperCalls += c.Entries
		case GroupBlkMQ:
			g.BlkMQ += c.Insns
		case GroupBlock:
			g.Block += c.Insns
		case GroupIOUring:
			g.IOUring += c.Insns
		}
	}
	return g
}

// QueueRQFunc finds driver d's queue_rq in the table, the function whose
// entries count the requests: null_queue_rq for null_blk; for rnull the
// one Rust symbol of crate rnull naming queue_rq_callback (the
// kernel::block::mq vtable's callback instantiated for rnull's device).
func QueueRQFunc(tab *tcgplugin.SymbolTable, d Driver) (string, error) {
	if d == NullBlk {
		f, ok := tab.ByName("null_queue_rq")
		if !ok {
			return "", fmt.Errorf("bench: null_queue_rq is not in System.map (null_blk not built in?)")
		}
		return f.Key, nil
	}
	var found []string
	for _, f := range tab.Funcs() {
		if FuncGroup(RNull, f.Key) == GroupDriver && strings.Contains(f.Name, "queue_rq_callback") {
			found = append(found, f.Key)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("bench: %d rnull queue_rq_callback symbols in System.map, want 1", len(found))
	}
	return found[0], nil
}

// PluginCounters is how the experiment reads the plugin in a booted
// guest (Booted.Plugin).
type PluginCounters struct {
	// Symbols is the kernel's function table (from its System.map).
	Symbols *tcgplugin.SymbolTable
	// Snapshots returns every snapshot the plugin has written so far.
	Snapshots func() ([]tcgplugin.Snapshot, error)
	// CPU is QEMU's -cpu model of the boot.
	CPU string
}

// pluginBoot is the plugin's per-boot state in runBoot.
type pluginBoot struct {
	pc       *PluginCounters
	queueRQ  map[Driver]string
	maxKB    map[Driver]int
	settled  bool
	failures int
}

func newPluginBoot(ctx context.Context, g Guest, pc *PluginCounters, devs map[Driver]Device) (*pluginBoot, error) {
	pb := &pluginBoot{pc: pc, queueRQ: map[Driver]string{}, maxKB: map[Driver]int{}}
	for d, dev := range devs {
		k, err := QueueRQFunc(pc.Symbols, d)
		if err != nil {
			return nil, err
		}
		pb.queueRQ[d] = k
		v, err := readGuestFile(ctx, g, "/sys/block/"+dev.Name+"/queue/max_sectors_kb")
		if err != nil {
			return nil, err
		}
		kb, err := strconv.Atoi(v)
		if err != nil || kb <= 0 {
			return nil, fmt.Errorf("bench: %s: max_sectors_kb %q", dev.Name, v)
		}
		pb.maxKB[d] = kb
	}
	return pb, nil
}

// settle waits, once per boot, until the guest has been up settleUptime.
func (pb *pluginBoot) settle(ctx context.Context, g Guest) error {
	if pb.settled {
		return nil
	}
	v, err := readGuestFile(ctx, g, "/proc/uptime")
	if err != nil {
		return err
	}
	f := strings.Fields(v)
	if len(f) == 0 {
		return fmt.Errorf("bench: /proc/uptime: %q", v)
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return fmt.Errorf("bench: /proc/uptime: %q", v)
	}
	if wait := settleUptime.Seconds() - up; wait > 0 {
		r, err := g.Exec(ctx, "sleep", strconv.Itoa(int(math.Ceil(wait))))
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		if r.ExitCode != 0 {
			return fmt.Errorf("settle: sleep: exit %d", r.ExitCode)
		}
	}
	pb.settled = true
	return nil
}

// countArgs is fio's argv (without "fio") for one plugin window: the
// workload's options without time_based, runtime and ramp, bounded by
// --number_ios, JSON into out. --io_size is twice the window's bytes, so
// that the device's size (4 GiB: 4096 I/Os of 1 MiB) never ends a run
// before number_ios does (the I/O check catches it if it did).
func countArgs(w Workload, dev string, n int, out string) []string {
	var args []string
	for _, a := range w.FioArgs(dev) {
		if a == "--time_based" || strings.HasPrefix(a, "--runtime=") || strings.HasPrefix(a, "--ramp_time=") {
			continue
		}
		args = append(args, a)
	}
	ioSize := 2 * int64(n) * int64(w.BlockSize)
	return append(args, "--number_ios="+strconv.Itoa(n), "--io_size="+strconv.FormatInt(ioSize, 10), "--output="+out)
}

// Guest files of the two windows' fio output.
const (
	pluginOutN  = "/tmp/rflkit-fio-n.json"
	pluginOut2N = "/tmp/rflkit-fio-2n.json"
)

// PluginStepScript is the one guest command of a plugin step: a second
// of sleep (the agent's own reads settle), then sync, fio with n I/Os
// per job, sync, fio with 2n, sync; the exit codes of both fio runs are
// printed at the end ("A B"), their JSON goes to files read afterwards,
// so that the agent reads nothing inside a window.
func PluginStepScript(w Workload, dev string, n int) string {
	q := func(args []string) string {
		for i, a := range args {
			args[i] = osutil.ShellQuote(a)
		}
		return "fio " + strings.Join(args, " ")
	}
	return "sleep 1; sync; " + q(countArgs(w, dev, n, pluginOutN)) + " >/dev/null 2>&1; a=$?; sync; " +
		q(countArgs(w, dev, 2*n, pluginOut2N)) + " >/dev/null 2>&1; b=$?; sync; echo \"$a $b\""
}

// runStep runs one plugin step and returns its sample. An error is a
// failure of the experiment (fio failed, the guest is gone); a sample
// whose I/O check does not hold comes back with Plugin.Failed set.
func (pb *pluginBoot) runStep(ctx context.Context, g Guest, s Step, w Workload, dev Device) (Sample, error) {
	if err := pb.settle(ctx, g); err != nil {
		return Sample{}, err
	}
	n := w.ICountIOs
	if n <= 0 {
		n = DefaultICountIOs
	}
	nj := max(w.NumJobs, 1)
	before, err := pb.pc.Snapshots()
	if err != nil {
		return Sample{}, fmt.Errorf("plugin counters: %w", err)
	}
	ts := time.Now()
	r, err := g.Exec(ctx, "sh", "-c", PluginStepScript(w, dev.Path(), n))
	if err != nil {
		return Sample{}, fmt.Errorf("fio %s on %s: %w", w.Name(), dev.Path(), err)
	}
	wall := time.Since(ts).Seconds()
	codes := strings.Fields(string(r.Stdout))
	if r.ExitCode != 0 || len(codes) != 2 {
		return Sample{}, fmt.Errorf("%s on %s: plugin step: exit %d, output %q: %s", w.Name(), dev.Path(), r.ExitCode, tail(r.Stdout, 100), tail(r.Stderr, 200))
	}
	var frs [2]*FioResult
	for i, f := range []string{pluginOutN, pluginOut2N} {
		out, err := g.Exec(ctx, "cat", f)
		if err != nil {
			return Sample{}, fmt.Errorf("read %s: %w", f, err)
		}
		code, _ := strconv.Atoi(codes[i])
		if frs[i], err = checkFioRun(w.Name(), code, out.Stdout, out.Stderr); err != nil {
			return Sample{}, fmt.Errorf("%s on %s (%d I/Os per job): %w", w.Name(), dev.Path(), (i+1)*n, err)
		}
	}
	if _, err := g.Exec(ctx, "rm", "-f", pluginOutN, pluginOut2N); err != nil {
		return Sample{}, err
	}
	after, err := pb.pc.Snapshots()
	if err != nil {
		return Sample{}, fmt.Errorf("plugin counters: %w", err)
	}
	fr := frs[1]
	smp := Sample{Workload: s.Workload, Driver: s.Driver, Run: s.Run, Warmup: s.Warmup, Instance: s.Instance, IOPS: fr.IOPS,
		BWBytes: fr.BWBytes, TotalIOs: fr.TotalIOs, RuntimeMS: fr.RuntimeMS, LatencyNS: fr.LatencyNS,
		WallSeconds: wall, InstrPerIO: 1e9 / fr.IOPS}
	rpi := requestsPerIO(w.BlockSize, pb.maxKB[s.Driver])
	ps := &PluginSample{N: n, IOs: n * nj, QueueRQ: pb.queueRQ[s.Driver], RequestsPerIO: rpi,
		WantQueueRQCalls: int64(n * nj * rpi)}
	smp.Plugin = ps
	if err := pb.measure(ps, s.Driver, before, after); err != nil {
		ps.Failed = err.Error()
		pb.failures++
	}
	return smp, nil
}

// requestsPerIO is the block requests an I/O of bs bytes becomes on a
// queue with max_sectors_kb maxKB.
func requestsPerIO(bs, maxKB int) int {
	if maxKB <= 0 {
		return 1
	}
	lim := maxKB << 10
	return max(1, (bs+lim-1)/lim)
}

// measure differences the step's three new snapshots into ps; an error is
// why the sample fails.
func (pb *pluginBoot) measure(ps *PluginSample, d Driver, before, after []tcgplugin.Snapshot) error {
	if len(after) < len(before) {
		return fmt.Errorf("plugin output shrank from %d to %d snapshots", len(before), len(after))
	}
	snaps := after[len(before):]
	if len(snaps) != 3 {
		return fmt.Errorf("%d new plugin snapshots, want 3 (one per sync): something else entered the trigger, or a sync was lost", len(snaps))
	}
	for _, sn := range snaps {
		if sn.Reason != "trigger" {
			return fmt.Errorf("plugin snapshot %d: reason %q, want trigger", sn.Index, sn.Reason)
		}
	}
	tab := pb.pc.Symbols
	wn, err := tab.Diff(snaps[0], snaps[1])
	if err != nil {
		return err
	}
	w2n, err := tab.Diff(snaps[1], snaps[2])
	if err != nil {
		return err
	}
	ps.Windows = [2]uint64{wn.Total(), w2n.Total()}
	ps.QueueRQCalls = int64(w2n.Funcs[ps.QueueRQ].Entries) - int64(wn.Funcs[ps.QueueRQ].Entries)
	// Without a queue_rq in the map (a module's, loaded after the map
	// was fixed) the caller checks fio's I/O count instead.
	if ps.QueueRQ != "" && ps.QueueRQCalls != ps.WantQueueRQCalls {
		return fmt.Errorf("I/O check: %s entered %d more times in the 2N window than in the N window, want %d (%d I/Os x %d requests per I/O)",
			ps.QueueRQ, ps.QueueRQCalls, ps.WantQueueRQCalls, ps.IOs, ps.RequestsPerIO)
	}
	op, err := tcgplugin.PerOp(wn, w2n, ps.IOs)
	if err != nil {
		return err
	}
	ps.Groups = pluginGroups(d, op)
	ps.Funcs = map[string]FuncPerIO{}
	for k, c := range op.Funcs {
		if c.Insns != 0 || c.Entries != 0 {
			ps.Funcs[k] = FuncPerIO{Insns: c.Insns, Entries: c.Entries}
		}
	}
	return nil
}
