package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// fakeGuest imitates the guest: configfs devices made by the setup
// scripts, and fio whose IOPS come from a model of the arm.
type fakeGuest struct {
	kernel  KernelArm
	mode    Mode
	bootID  string
	rng     *rand.Rand
	devs    map[string]bool // name -> exists
	sched   map[string]string
	bootMul float64
	failFio int // fail the n-th fio call (1-based), 0 = never
	fioN    int
	log     *[]string
}

var mkdirRE = regexp.MustCompile(`mkdir /sys/kernel/config/(nullb|rnull)/(\w+)`)

// trueInstr is the model: instructions per I/O by kernel and driver.
func trueInstr(helpers bool, d Driver) float64 {
	v := 5062.0
	if d == RNull {
		v = 5016
	}
	if helpers && d == RNull {
		v *= 0.98 // helpers save 2% of rnull's instructions
	}
	return v
}

func (g *fakeGuest) Exec(ctx context.Context, argv ...string) (*GuestResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	*g.log = append(*g.log, strings.Join(argv, " "))
	if len(argv) == 3 && argv[0] == "sh" && argv[1] == "-c" {
		s := argv[2]
		switch {
		case strings.Contains(s, "boot_id"):
			return &GuestResult{Stdout: []byte(g.bootID + "\n")}, nil
		case strings.Contains(s, "osrelease"):
			return &GuestResult{Stdout: []byte("7.2.12\n")}, nil
		case strings.Contains(s, "echo 1 >"):
			m := mkdirRE.FindStringSubmatch(s)
			if m == nil {
				return &GuestResult{ExitCode: 1, Stderr: []byte("bad setup script")}, nil
			}
			if g.devs[m[2]] {
				return &GuestResult{ExitCode: 1, Stderr: []byte("mkdir: File exists")}, nil
			}
			g.devs[m[2]] = true
			if strings.Contains(s, "echo none > /sys/block/"+m[2]+"/queue/scheduler") {
				g.sched[m[2]] = "[none] mq-deadline kyber"
			}
			return &GuestResult{}, nil
		case strings.Contains(s, "blockdev="):
			for name := range g.devs {
				if strings.Contains(s, "q=/sys/block/"+name+"\n") {
					return &GuestResult{Stdout: []byte(fmt.Sprintf("blockdev=1\nsize=8388608\nlbs=4096\nscheduler=%s\n", g.sched[name]))}, nil
				}
			}
			return &GuestResult{Stdout: []byte("blockdev=0\n")}, nil
		case strings.Contains(s, "echo 0 >"):
			for name := range g.devs {
				if strings.Contains(s, "/"+name+"/power") {
					delete(g.devs, name)
				}
			}
			return &GuestResult{}, nil
		}
		return &GuestResult{ExitCode: 127, Stderr: []byte("fake: unknown script")}, nil
	}
	if argv[0] != "fio" {
		return &GuestResult{ExitCode: 127}, nil
	}
	g.fioN++
	if g.fioN == g.failFio {
		return &GuestResult{ExitCode: 1, Stdout: readTestdataNoT("fio-error-nonexistent.json"),
			Stderr: []byte("fio: pid=0, err=22/file:filesetup.c:1155, func=total_file_size, error=Invalid argument")}, nil
	}
	var dev string
	for _, a := range argv {
		if strings.HasPrefix(a, "--filename=/dev/") {
			dev = strings.TrimPrefix(a, "--filename=/dev/")
		}
	}
	if !g.devs[dev] {
		return &GuestResult{ExitCode: 1, Stderr: []byte("fio: no device " + dev)}, nil
	}
	d := NullBlk
	if dev == "rn0" {
		d = RNull
	}
	var iops float64
	if g.mode == ModeICount {
		iops = 1e9 / trueInstr(g.kernel.Helpers, d) * (1 + 1e-5*g.rng.NormFloat64())
	} else {
		// Wall clock: noisy, clustered by boot.
		iops = 1e9 / trueInstr(g.kernel.Helpers, d) / 2.2 * g.bootMul * (1 + 0.03*g.rng.NormFloat64())
	}
	out := fmt.Sprintf("fio: clocksource=cpu may not be reliable\n{\"fio version\":\"fio-3.33\",\"jobs\":[{\"jobname\":\"w\",\"error\":0,"+
		"\"read\":{\"iops\":%f,\"bw_bytes\":%f,\"total_ios\":%d,\"runtime\":3000},\"write\":{\"iops\":0,\"total_ios\":0}}]}\n",
		iops, iops*4096, int64(iops*3))
	return &GuestResult{Stdout: []byte(out)}, nil
}

func readTestdataNoT(name string) []byte {
	b, _ := os.ReadFile(filepath.Join("testdata", name))
	return b
}

type fakeLab struct {
	rng     *rand.Rand
	boots   []BootRequest
	stopped int
	failFio int // in the first boot
	log     []string
}

func (l *fakeLab) boot(ctx context.Context, req BootRequest) (*Booted, error) {
	l.boots = append(l.boots, req)
	g := &fakeGuest{kernel: req.Kernel, mode: req.Mode, bootID: fmt.Sprintf("boot-%d", req.Index), rng: l.rng,
		devs: map[string]bool{}, sched: map[string]string{}, bootMul: 1 + 0.1*l.rng.NormFloat64(), log: &l.log}
	if len(l.boots) == 1 {
		g.failFio = l.failFio
	}
	argv := []string{"qemu-system-x86_64", "-kernel", req.Kernel.BzImage}
	if req.Mode == ModeICount {
		argv = append(argv, "-icount", "shift=0,sleep=off")
	}
	return &Booted{Guest: g, QEMUArgv: argv, Accel: "tcg", Stop: func(context.Context) error { l.stopped++; return nil }}, nil
}

func testKernels() []KernelArm {
	return []KernelArm{{Name: "helpers-on", Helpers: true, BzImage: "/k/on"}, {Name: "helpers-off", BzImage: "/k/off"}}
}

func TestScheduleReproducible(t *testing.T) {
	e := &Experiment{Kernels: testKernels(), Preset: DefaultPreset(), Seed: 42}
	s1, err := e.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := e.Schedule()
	if !reflect.DeepEqual(s1, s2) {
		t.Fatal("same seed, different schedules")
	}
	e.Seed = 43
	s3, _ := e.Schedule()
	if reflect.DeepEqual(s1, s3) {
		t.Error("different seeds, same schedule")
	}
	p := DefaultPreset()
	if want := 2 * (p.WallBoots + p.ICountBoots); len(s1) != want {
		t.Fatalf("%d boots, want %d", len(s1), want)
	}
	counts := map[string]int{}
	for i, b := range s1 {
		counts[b.Kernel+"/"+string(b.Mode)]++
		// Kernels come in rounds: each pair of boots holds both kernels.
		if i%2 == 1 && b.Kernel == s1[i-1].Kernel {
			t.Errorf("boots %d and %d both %s", i-1, i, b.Kernel)
		}
		runs := p.Runs
		if b.Mode == ModeICount {
			runs = p.ICountRuns
		}
		if want := len(p.Workloads) * 2 * (runs + p.Warmup); len(b.Steps) != want {
			t.Errorf("boot %d: %d steps, want %d", i, len(b.Steps), want)
		}
		// Drivers alternate within a boot.
		for k := 1; k < len(b.Steps); k += 2 {
			if b.Steps[k].Driver == b.Steps[k-1].Driver {
				t.Errorf("boot %d: steps %d, %d same driver", i, k-1, k)
			}
		}
		warm := 0
		for _, s := range b.Steps {
			if s.Warmup {
				warm++
				if s.Run >= p.Warmup {
					t.Errorf("run %d marked warm-up", s.Run)
				}
			}
		}
		if warm != len(p.Workloads)*2*p.Warmup {
			t.Errorf("boot %d: %d warm-up steps", i, warm)
		}
	}
	for k, n := range counts {
		if (strings.HasSuffix(k, "wall") && n != p.WallBoots) || (strings.HasSuffix(k, "icount") && n != p.ICountBoots) {
			t.Errorf("%s: %d boots", k, n)
		}
	}
	// The order is randomised: over many seeds both kernels go first.
	first := map[string]bool{}
	for seed := range uint64(20) {
		e.Seed = seed
		s, _ := e.Schedule()
		first[s[0].Kernel] = true
	}
	if len(first) != 2 {
		t.Errorf("first kernel always %v", first)
	}
}

func TestExperimentEndToEndFake(t *testing.T) {
	lab := &fakeLab{rng: rand.New(rand.NewPCG(9, 9))}
	p := DefaultPreset()
	p.WallBoots, p.ICountBoots = 4, 3
	var progress []Progress
	e := &Experiment{Kernels: testKernels(), Preset: p, Seed: 7, Boot: lab.boot,
		Progress: func(pr Progress) { progress = append(progress, pr) }}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(res.Boots) != 14 || lab.stopped != 14 {
		t.Fatalf("complete %v, %d boots, %d stopped", res.Complete, len(res.Boots), lab.stopped)
	}
	if last := progress[len(progress)-1]; last.Done != last.Total || last.Total == 0 {
		t.Errorf("last progress %+v", last)
	}
	for _, b := range res.Boots {
		if b.BootID == "" || b.GuestRelease != "7.2.12" || len(b.QEMUArgv) == 0 {
			t.Errorf("boot record %+v", b)
		}
	}
	// Round trip through results.json, then analyse the copy.
	path := filepath.Join(t.TempDir(), "results.json")
	if err := res.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Boots, res.Boots) || back.Seed != 7 {
		t.Fatal("results.json does not round-trip")
	}
	a, err := Analyze(back, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != MeasureInstr {
		t.Errorf("conclusive %v", a.Conclusive)
	}
	found := 0
	for _, c := range a.Comparisons {
		if c.Measure != MeasureInstr || c.Err != "" {
			continue
		}
		var truth float64
		switch c.Question {
		case RustVsC:
			h := c.A.Kernel == "helpers-on"
			truth = trueInstr(h, RNull) / trueInstr(h, NullBlk)
		case HelpersOnOff:
			truth = trueInstr(true, c.A.Driver) / trueInstr(false, c.A.Driver)
		}
		// Coverage is TestRatioCICoverage's job; here the estimate must
		// recover the model's ratio (noise 1e-5 per run).
		if math.Abs(c.Interval.Ratio/truth-1) > 1e-4 {
			t.Errorf("%s %s %s: %+v, true ratio %v", c.Question, c.Workload, c.A, c.Interval, truth)
		}
		if c.Interval.HalfWidth() > 0.001 {
			t.Errorf("icount interval half-width %v", c.Interval.HalfWidth())
		}
		found++
	}
	if want := len(p.Workloads) * 4; found != want {
		t.Errorf("%d icount comparisons, want %d", found, want)
	}
	var tbl, md, bf bytes.Buffer
	if err := WriteTable(&tbl, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, back, a, ReportOptions{PlotFile: "plot.png"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteBenchfmt(&bf, back); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rnull vs null_blk", "helpers on vs off", "instructions per I/O"} {
		if !strings.Contains(tbl.String(), want) || !strings.Contains(md.String(), want) {
			t.Errorf("table or report lacks %q", want)
		}
	}
	lines := 0
	lineRE := regexp.MustCompile(`^BenchmarkNullBlk/measure=(wall|icount)/kernel=helpers-(on|off)/driver=(null_blk|rnull)/wl=\S+ 1 [0-9.]+ ns/op [0-9.]+ iops( [0-9.]+ instr/io)?$`)
	for _, l := range strings.Split(bf.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			lines++
			if !lineRE.MatchString(l) {
				t.Errorf("bad benchmark line %q", l)
			}
		}
	}
	if want := len(p.Workloads) * 2 * (8*p.Runs + 6*p.ICountRuns); lines != want {
		t.Errorf("%d benchmark lines, want %d (no warm-up)", lines, want)
	}
	svg, png, err := Plot(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || !bytes.Contains(svg, []byte("<svg")) {
		t.Error("plot encodings")
	}
}

func TestExperimentFioFailure(t *testing.T) {
	lab := &fakeLab{rng: rand.New(rand.NewPCG(1, 1)), failFio: 3}
	e := &Experiment{Kernels: testKernels(), Preset: QuickPreset(), Seed: 1, Boot: lab.boot}
	res, err := e.Run(context.Background())
	var fe *FioError
	if !errors.As(err, &fe) || fe.Errno != 22 {
		t.Fatalf("err = %v, want a *FioError with errno 22", err)
	}
	if res == nil || res.Complete || res.Error == "" || len(res.Boots) != 1 || len(res.Boots[0].Samples) != 2 {
		t.Fatalf("partial results %+v", res)
	}
	if lab.stopped != 1 {
		t.Errorf("VM not stopped after failure (%d)", lab.stopped)
	}
}

func TestExperimentCancel(t *testing.T) {
	lab := &fakeLab{rng: rand.New(rand.NewPCG(1, 1))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &Experiment{Kernels: testKernels(), Preset: QuickPreset(), Boot: lab.boot}
	if _, err := e.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if lab.stopped != len(lab.boots) {
		t.Errorf("%d boots, %d stopped", len(lab.boots), lab.stopped)
	}
}

func TestDeviceScripts(t *testing.T) {
	nb := DefaultDevice(NullBlk)
	s, err := nb.SetupScript()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mkdir /sys/kernel/config/nullb/nb0", "echo 4096 > /sys/kernel/config/nullb/nb0/blocksize",
		"echo 0 > /sys/kernel/config/nullb/nb0/irqmode", "echo 256 > /sys/kernel/config/nullb/nb0/hw_queue_depth",
		"echo 0 > /sys/kernel/config/nullb/nb0/completion_nsec", "echo 0 > /sys/kernel/config/nullb/nb0/memory_backed",
		"echo 4096 > /sys/kernel/config/nullb/nb0/size", "echo none > /sys/block/nb0/queue/scheduler"} {
		if !strings.Contains(s, want) {
			t.Errorf("null_blk setup lacks %q", want)
		}
	}
	if strings.Index(s, "/power") < strings.Index(s, "/size") {
		t.Error("power written before size")
	}
	rn := DefaultDevice(RNull)
	s, _ = rn.SetupScript()
	if !strings.Contains(s, "/sys/kernel/config/rnull/rn0/irqmode") || strings.Contains(s, "hw_queue_depth") {
		t.Errorf("rnull setup:\n%s", s)
	}
	if _, err := (Device{Driver: RNull, Name: "x; rm -rf /"}).SetupScript(); err == nil {
		t.Error("shell metacharacters in name accepted")
	}
	if _, err := (Device{Driver: "nvme", Name: "x"}).SetupScript(); err == nil {
		t.Error("unknown driver accepted")
	}
	for _, c := range []struct {
		out string
		ok  bool
	}{
		{"blockdev=1\nsize=8388608\nlbs=4096\nscheduler=[none] mq-deadline kyber\n", true},
		{"blockdev=0\n", false},
		{"blockdev=1\nsize=8388608\nlbs=512\nscheduler=[none] mq-deadline kyber\n", false},
		{"blockdev=1\nsize=1024\nlbs=4096\nscheduler=[none]\n", false},
		{"blockdev=1\nsize=8388608\nlbs=4096\nscheduler=none [mq-deadline] kyber\n", false},
	} {
		err := rn.verify(c.out)
		var de *DeviceError
		if c.ok != (err == nil) || (err != nil && !errors.As(err, &de)) {
			t.Errorf("verify(%q) = %v", c.out, err)
		}
	}
}

func TestWorkloadArgs(t *testing.T) {
	w := PublishedWorkload(RandWrite, 256<<10, 128, 6)
	got := strings.Join(w.FioArgs("/dev/rn0"), " ")
	want := "--name=randwrite-256k-qd128-nj6 --filename=/dev/rn0 --ioengine=io_uring --direct=1 --rw=randwrite --bs=262144 " +
		"--iodepth=128 --numjobs=6 --time_based --runtime=30s --ramp_time=10s --gtod_reduce=1 --clocksource=cpu --fixedbufs=1 " +
		"--registerfiles=1 --nonvectored=1 --norandommap --random_generator=lfsr --cpus_allowed_policy=split --group_reporting --output-format=json+"
	if got != want {
		t.Errorf("FioArgs:\n got %s\nwant %s", got, want)
	}
	q := QuickPreset()
	if s := strings.Join(q.Workloads[0].FioArgs("/dev/nb0"), " "); !strings.Contains(s, "--runtime=2s --ramp_time=500ms") {
		t.Errorf("quick: %s", s)
	}
	pub := PublishedPreset()
	if len(pub.Workloads) != 120 {
		t.Errorf("published: %d workloads", len(pub.Workloads))
	}
	names := map[string]bool{}
	for _, w := range pub.Workloads {
		if err := w.Validate(); err != nil {
			t.Error(err)
		}
		names[w.Name()] = true
	}
	if len(names) != 120 || !names["randread-16m-qd1-nj2"] || !names["randwrite-4k-qd128-nj6"] {
		t.Errorf("published names: %d", len(names))
	}
	for _, n := range PresetNames() {
		if _, err := PresetByName(n); err != nil {
			t.Error(err)
		}
	}
	var ue *UnknownPresetError
	if _, err := PresetByName("huge"); !errors.As(err, &ue) {
		t.Errorf("unknown preset: %v", err)
	}
	if err := (Workload{Pattern: "randread", BlockSize: 100, IODepth: 1, Runtime: 1}).Validate(); err == nil {
		t.Error("bad block size accepted")
	}
}
