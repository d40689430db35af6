package bench

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

const fakeRNullQueueRQ = "_RNvMNtNtNtCs1_6kernel5block2mq10operationsINtB2_16OperationsVTableNtCs2_5rnull13NullBlkDeviceE17queue_rq_callbackB1e_"

const fakeSystemMap = `ffffffff81000000 T _stext
ffffffff81000000 T ksys_sync
ffffffff81000100 t null_queue_rq
ffffffff81000200 T blk_mq_submit_bio
ffffffff81000300 T io_issue_sqe
ffffffff81000400 T rust_helper_blk_mq_end_request
ffffffff81000500 T ` + fakeRNullQueueRQ + `
ffffffff81000600 T sbitmap_find_bit
ffffffff81000700 T _etext
`

// fakePluginGuest imitates a guest with the plugin: the step script's
// three syncs append snapshots whose counters follow a per-I/O model,
// with a fixed start-up cost per fio run that the differencing cancels.
type fakePluginGuest struct {
	tab    *tcgplugin.SymbolTable
	snaps  []tcgplugin.Snapshot
	cur    tcgplugin.Snapshot
	helper bool // rnull calls rust_helper_* (helpers off)
	// extraRQ adds queue_rq entries to the 2N window (a broken I/O
	// count); extraSync adds a snapshot (something else synced).
	extraRQ   uint64
	extraSync bool
	// mode adds sbitmap_find_bit's per-boot +3.
	mode bool
	// module runs the driver's code outside the map (a loaded module:
	// the unknown bucket).
	module bool
	files  map[string]string
	log    []string
}

func newFakePluginGuest(t *testing.T) *fakePluginGuest {
	t.Helper()
	tab, err := tcgplugin.ReadSystemMap(strings.NewReader(fakeSystemMap))
	if err != nil {
		t.Fatal(err)
	}
	return &fakePluginGuest{tab: tab, cur: tcgplugin.Snapshot{Counts: map[int]tcgplugin.Count{}}, files: map[string]string{}}
}

func (g *fakePluginGuest) add(name string, insns, entries uint64) {
	f, _ := g.tab.ByName(name)
	c := g.cur.Counts[f.ID]
	c.Insns += insns
	c.Entries += entries
	g.cur.Counts[f.ID] = c
}

// sync snapshots the counters (the trigger, ksys_sync, runs first).
func (g *fakePluginGuest) sync() {
	g.add("ksys_sync", 10, 1)
	s := tcgplugin.Snapshot{Index: len(g.snaps), Reason: "trigger", Counts: map[int]tcgplugin.Count{}, User: g.cur.User, Unknown: g.cur.Unknown, VCPUs: 1}
	for k, v := range g.cur.Counts {
		s.Counts[k] = v
	}
	g.snaps = append(g.snaps, s)
}

// fio runs n I/Os of driver d.
func (g *fakePluginGuest) fio(d Driver, n uint64, extra uint64) {
	g.cur.User += 1000000 + 1842*n // start-up and exit, then per I/O
	g.cur.Unknown += 7
	g.add("blk_mq_submit_bio", 5000+650*n, n)
	g.add("io_issue_sqe", 3000+1045*n, n)
	g.add("sbitmap_find_bit", 0, 0)
	if g.mode {
		g.add("sbitmap_find_bit", 3*n, n)
	} else {
		g.add("sbitmap_find_bit", 0, n)
	}
	if g.module {
		if d == NullBlk {
			g.cur.Unknown += 98 * n
		} else {
			g.cur.Unknown += 45 * n
		}
	} else if d == NullBlk {
		g.add("null_queue_rq", 98*n, n+extra)
		return
	} else {
		g.add(fakeRNullQueueRQ, 45*n, n+extra)
	}
	if d == NullBlk {
		return
	}
	if g.helper {
		g.add("rust_helper_blk_mq_end_request", 5*2*n, 2*n)
	}
}

var numberIOsRE = regexp.MustCompile(`--number_ios=(\d+)`)

func (g *fakePluginGuest) Exec(ctx context.Context, argv ...string) (*GuestResult, error) {
	cmd := strings.Join(argv, " ")
	g.log = append(g.log, cmd)
	switch {
	case strings.Contains(cmd, "/proc/uptime"):
		return &GuestResult{Stdout: []byte("1.50 1.20\n")}, nil
	case strings.Contains(cmd, "max_sectors_kb"):
		return &GuestResult{Stdout: []byte("124\n")}, nil
	case argv[0] == "sleep" || argv[0] == "rm":
		return &GuestResult{}, nil
	case argv[0] == "cat":
		return &GuestResult{Stdout: []byte(g.files[argv[1]])}, nil
	case strings.HasPrefix(cmd, "sh -c sleep 1; sync; fio"):
		d := NullBlk
		if strings.Contains(cmd, "/dev/rn0") {
			d = RNull
		}
		ns := numberIOsRE.FindAllStringSubmatch(cmd, -1)
		if len(ns) != 2 || strings.Contains(cmd, "time_based") || strings.Contains(cmd, "--runtime") {
			return &GuestResult{ExitCode: 2, Stderr: []byte("bad step script " + cmd)}, nil
		}
		g.sync()
		for i, m := range ns {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			extra := uint64(0)
			if i == 1 {
				extra = g.extraRQ
			}
			g.fio(d, n, extra)
			if i == 1 && g.extraSync {
				g.sync()
			}
			g.sync()
			out := pluginOutN
			if i == 1 {
				out = pluginOut2N
			}
			iops := 1e9 / 5000.0
			g.files[out] = fmt.Sprintf(`{"fio version":"fio-3.33","jobs":[{"jobname":"w","error":0,"read":{"iops":%f,"bw_bytes":%f,"total_ios":%d,"runtime":%d},"write":{"iops":0,"total_ios":0}}]}`,
				iops, iops*4096, n, int(float64(n)/iops*1000))
		}
		return &GuestResult{Stdout: []byte("0 0\n")}, nil
	}
	return &GuestResult{ExitCode: 127, Stderr: []byte("fake: unknown command " + cmd)}, nil
}

func (g *fakePluginGuest) counters() *PluginCounters {
	return &PluginCounters{Symbols: g.tab, CPU: "qemu64", Snapshots: func() ([]tcgplugin.Snapshot, error) {
		return append([]tcgplugin.Snapshot(nil), g.snaps...), nil
	}}
}

func pluginStep(t *testing.T, g *fakePluginGuest, d Driver, w Workload) Sample {
	t.Helper()
	ctx := context.Background()
	devs := map[Driver]Device{NullBlk: DefaultDevice(NullBlk), RNull: DefaultDevice(RNull)}
	pb, err := newPluginBoot(ctx, g, g.counters(), devs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pb.runStep(ctx, g, Step{Workload: w.Name(), Driver: d}, w, devs[d])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPluginStep(t *testing.T) {
	w := QuickPreset().Workloads[0]
	w.ICountIOs = 1000
	for _, d := range Drivers() {
		g := newFakePluginGuest(t)
		g.helper = d == RNull
		s := pluginStep(t, g, d, w)
		p := s.Plugin
		if p == nil || p.Failed != "" {
			t.Fatalf("%s: plugin sample %+v", d, p)
		}
		driver, calls := 98.0, 0.0
		if d == RNull {
			driver, calls = 45, 2
		}
		want := PluginGroups{Driver: driver, Helpers: 5 * calls, HelperCalls: calls, BlkMQ: 650, IOUring: 1045, User: 1842}
		want.Kernel = driver + 5*calls + 650 + 1045
		want.Path = want.Kernel + want.User
		if p.Groups != want {
			t.Errorf("%s: groups %+v, want %+v", d, p.Groups, want)
		}
		if p.N != 1000 || p.IOs != 1000 || p.QueueRQCalls != 1000 || p.WantQueueRQCalls != 1000 || p.RequestsPerIO != 1 {
			t.Errorf("%s: I/O check %+v", d, p)
		}
		if got := p.Funcs["blk_mq_submit_bio"]; got != (FuncPerIO{650, 1}) {
			t.Errorf("%s: blk_mq_submit_bio %+v", d, got)
		}
		if _, ok := p.Funcs["ksys_sync"]; ok {
			t.Errorf("%s: the trigger, once per window, does not cancel", d)
		}
		if s.InstrPerIO != 5000 || s.TotalIOs != 2000 {
			t.Errorf("%s: fio-derived %v from %d I/Os, want 5000 from the 2N run", d, s.InstrPerIO, s.TotalIOs)
		}
		if p.Windows[1]-p.Windows[0] != uint64(want.Path*1000) {
			t.Errorf("%s: windows %v", d, p.Windows)
		}
		// The boot settled once (uptime 1.5 s: sleep 2), before the step.
		if !strings.Contains(strings.Join(g.log, "\n"), "sleep 2\n") {
			t.Errorf("%s: no settling sleep in %q", d, g.log)
		}
	}
}

// A queue_rq count that does not match the I/Os, or a sync too many, is a
// failed sample with its reason, never a number.
func TestPluginStepIOCheck(t *testing.T) {
	w := QuickPreset().Workloads[0]
	w.ICountIOs = 1000
	g := newFakePluginGuest(t)
	g.extraRQ = 1
	p := pluginStep(t, g, RNull, w).Plugin
	if p.Failed == "" || !strings.Contains(p.Failed, "I/O check") || p.QueueRQCalls != 1001 || p.Groups != (PluginGroups{}) {
		t.Errorf("mismatch: %+v", p)
	}
	g = newFakePluginGuest(t)
	g.extraSync = true
	if p := pluginStep(t, g, NullBlk, w).Plugin; !strings.Contains(p.Failed, "4 new plugin snapshots") {
		t.Errorf("extra sync: %q", p.Failed)
	}
	if v := pluginValue(MeasurePathInsns, Sample{Plugin: p}); !math.IsNaN(v) {
		t.Errorf("failed sample has value %v", v)
	}
}

func TestRequestsPerIO(t *testing.T) {
	for _, c := range []struct{ bs, kb, want int }{{4096, 124, 1}, {64 << 10, 124, 1}, {124 << 10, 124, 1}, {128 << 10, 124, 2}, {1 << 20, 124, 9}, {4096, 0, 1}} {
		if got := requestsPerIO(c.bs, c.kb); got != c.want {
			t.Errorf("requestsPerIO(%d, %d) = %d, want %d", c.bs, c.kb, got, c.want)
		}
	}
}

func TestCountArgs(t *testing.T) {
	w := DefaultPreset().Workloads[0]
	got := strings.Join(countArgs(w, "/dev/rn0", 3000, "/tmp/a.json"), " ")
	for _, bad := range []string{"time_based", "--runtime", "--ramp_time"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q in %s", bad, got)
		}
	}
	for _, want := range []string{"--number_ios=3000", "--output=/tmp/a.json", "--filename=/dev/rn0", "--ioengine=io_uring", "--output-format=json+"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in %s", want, got)
		}
	}
}

func TestFuncGroup(t *testing.T) {
	for _, c := range []struct {
		d          Driver
		key, group string
	}{
		{NullBlk, "null_queue_rq", GroupDriver},
		{NullBlk, "nullb_device_power_store", GroupDriver},
		{RNull, "null_queue_rq", GroupOther},
		{RNull, fakeRNullQueueRQ, GroupDriver},
		{NullBlk, fakeRNullQueueRQ, GroupOther},
		{RNull, "rust_helper_blk_mq_end_request", GroupHelper},
		{RNull, "blk_mq_start_request", GroupBlkMQ},
		{NullBlk, "__blk_mq_end_request", GroupBlkMQ},
		{NullBlk, "blk_finish_plug", GroupBlock},
		{NullBlk, "bio_endio@ffffffff81000000", GroupBlock},
		{NullBlk, "io_issue_sqe", GroupIOUring},
		{NullBlk, "sbitmap_find_bit", GroupOther},
	} {
		if got := FuncGroup(c.d, c.key); got != c.group {
			t.Errorf("FuncGroup(%s, %s) = %s, want %s", c.d, c.key, got, c.group)
		}
	}
}

func TestQueueRQFunc(t *testing.T) {
	g := newFakePluginGuest(t)
	for d, want := range map[Driver]string{NullBlk: "null_queue_rq", RNull: fakeRNullQueueRQ} {
		if got, err := QueueRQFunc(g.tab, d); got != want || err != nil {
			t.Errorf("%s: %q, %v", d, got, err)
		}
	}
	tab, _ := tcgplugin.ReadSystemMap(strings.NewReader("ffffffff81000000 T _stext\nffffffff81000000 T ksys_sync\nffffffff81000700 T _etext\n"))
	if _, err := QueueRQFunc(tab, RNull); err == nil {
		t.Error("no rnull queue_rq: no error")
	}
}

// pluginResults is an experiment against fake plugin guests: kernels
// helpers on and off, both drivers, boots with and without the
// sbitmap_find_bit mode.
func pluginResults(t *testing.T, boots int) *Results {
	t.Helper()
	w := QuickPreset().Workloads[0]
	w.ICountIOs = 1000
	r := &Results{Format: ResultsFormat, Complete: true, GuestCPUs: 1, Preset: Preset{Name: "fake", Workloads: []Workload{w}},
		Kernels: []KernelMeta{{Name: "helpers-on", InlineHelpers: true, ConfigHelpers: "y"}, {Name: "helpers-off", ConfigHelpers: ""}}}
	for i := range 2 * boots {
		k := r.Kernels[i%2]
		g := newFakePluginGuest(t)
		g.mode = i%3 == 0
		b := BootRecord{Index: i, Kernel: k.Name, Mode: ModeICount, BootID: fmt.Sprintf("boot-%d", i), Plugin: true}
		for _, d := range Drivers() {
			g.helper = d == RNull && !k.InlineHelpers
			b.Samples = append(b.Samples, pluginStep(t, g, d, w))
		}
		r.Boots = append(r.Boots, b)
	}
	return r
}

func TestAnalyzePlugin(t *testing.T) {
	r := pluginResults(t, 4)
	// One failed sample: left out, and warned about.
	r.Boots[0].Samples[0].Plugin.Failed = "I/O check: test"
	a, err := Analyze(r, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != MeasurePathInsns {
		t.Errorf("conclusive %s", a.Conclusive)
	}
	if !strings.Contains(strings.Join(a.Warnings, "\n"), "failed plugin sample, left out: I/O check: test") {
		t.Errorf("warnings %q", a.Warnings)
	}
	got := map[string]Comparison{}
	for _, c := range a.Comparisons {
		got[fmt.Sprintf("%s|%s|%s", c.Question, c.Measure, c.B)] = c
	}
	c, ok := got["rnull vs null_blk|driver_insns_per_io|helpers-off/rnull"]
	if !ok || !c.HasInterval() || math.Abs(c.Ratio-45.0/98) > 1e-9 {
		t.Errorf("driver-only Rust vs C: %+v", c)
	}
	c, ok = got["helpers on vs off|path_insns_per_io|helpers-on/rnull"]
	want := (45 + 650 + 1045 + 1842.0) / (45 + 10 + 650 + 1045 + 1842.0)
	if !ok || math.Abs(c.Ratio-want) > 1e-3 { // sbitmap_find_bit's +3 in some boots
		t.Errorf("helpers on/off, whole path: %+v, want ratio %v", c, want)
	}
	// Helper calls: no ratio where an arm makes none (4 calls against 0
	// is reported as the arms' values, not as a -100% ratio whose
	// bootstrap cannot take a logarithm); null_blk makes none at all.
	if _, ok := got["helpers on vs off|helper_calls_per_io|helpers-on/rnull"]; ok {
		t.Error("a helper-calls ratio to 0 calls for rnull")
	}
	if _, ok := got["helpers on vs off|helper_calls_per_io|helpers-on/null_blk"]; ok {
		t.Error("a helper-calls ratio of 0/0 for null_blk")
	}
	for _, s := range a.Arms {
		if s.Measure == MeasureHelperCalls && s.Key.Driver == RNull && s.Key.Kernel == "helpers-on" && s.Max != 0 {
			t.Errorf("helper calls with helpers on: %+v", s)
		}
		if s.Measure == MeasureDriverInsns && s.Key.Kernel == "helpers-on" && s.Key.Driver == NullBlk && s.N != 3 {
			t.Errorf("failed sample not left out: %d runs", s.N)
		}
	}
}

func TestDiffProfile(t *testing.T) {
	r := pluginResults(t, 3)
	wl := r.Preset.Workloads[0].Name()
	p := DiffProfile(r, ArmKey{"helpers-off", RNull, wl}, ArmKey{"helpers-on", RNull, wl}, 2)
	if len(p.Funcs) != 2 || p.Funcs[0].Key != "rust_helper_blk_mq_end_request" || p.Funcs[0].A != 10 || p.Funcs[0].B != 0 || p.Funcs[0].Diff != -10 {
		t.Fatalf("profile %+v", p.Funcs)
	}
	// sbitmap_find_bit's per-boot mode shows in the per-boot values.
	p = DiffProfile(r, ArmKey{"helpers-on", NullBlk, wl}, ArmKey{"helpers-on", RNull, wl}, -1)
	for _, f := range p.Funcs {
		if f.Key == "sbitmap_find_bit" && (len(f.ABoots) != 3 || f.ABoots[0] != 3 || f.ABoots[1] != 0) {
			t.Errorf("sbitmap_find_bit per boot %v", f.ABoots)
		}
		if f.Key == "null_queue_rq" && (f.GroupA != GroupDriver || f.Diff != -98) {
			t.Errorf("null_queue_rq %+v", f)
		}
	}
	if ps := StandardProfiles(r); len(ps) != 4 {
		t.Errorf("%d standard profiles, want 4", len(ps))
	}
}
