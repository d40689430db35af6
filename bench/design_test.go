package bench_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
)

// icountPreset is one workload measured only under -icount, with the
// given boots per kernel, device instances per boot and runs per
// instance.
func icountPreset(boots, instances, runs int) bench.Preset {
	p := bench.QuickPreset()
	p.ICountBoots, p.Instances, p.ICountRuns = boots, instances, runs
	return p
}

// Instances are consecutive within a boot, each holding every workload
// and driver; with one instance the schedule is the old one (Instance 0
// everywhere, and the same steps as the two-instance schedule's first
// instance is not required: the random draws differ).
func TestScheduleInstances(t *testing.T) {
	p := bench.DefaultPreset()
	p.Instances = 3
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: p, Seed: 5}
	plans, err := e.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range plans {
		per := len(p.Workloads) * 2 * p.ICountRuns
		if len(b.Steps) != 3*per {
			t.Fatalf("boot %d: %d steps, want %d", b.Index, len(b.Steps), 3*per)
		}
		for i, s := range b.Steps {
			if want := i / per; s.Instance != want {
				t.Fatalf("boot %d step %d: instance %d, want %d", b.Index, i, s.Instance, want)
			}
		}
		if b.Round != b.Index/2 {
			t.Errorf("boot %d: round %d, want %d", b.Index, b.Round, b.Index/2)
		}
	}
	e.Preset.Instances = 0
	one, err := e.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	e.Preset.Instances = 1
	one1, _ := e.Schedule()
	for i := range one {
		for j, s := range one[i].Steps {
			if s.Instance != 0 || s != one1[i].Steps[j] {
				t.Fatalf("Instances 0 and 1 differ at boot %d step %d", i, j)
			}
		}
	}
}

// The schedule of the default run committed before device instances
// (testdata/schedule-one-instance.json: its preset, seed, kernels and
// schedule, one instance per boot) is what Schedule still draws from its
// seed: old results stay reproducible.
func TestScheduleOneInstanceUnchanged(t *testing.T) {
	r, err := bench.ReadResults("testdata/schedule-one-instance.json")
	if err != nil {
		t.Fatal(err)
	}
	var kernels []bench.KernelArm
	for _, k := range r.Kernels {
		kernels = append(kernels, bench.KernelArm{Name: k.Name, Helpers: k.InlineHelpers})
	}
	e := &bench.Experiment{Kernels: kernels, Preset: r.Preset, Seed: r.Seed}
	plans, err := e.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != len(r.Schedule) {
		t.Fatalf("%d boots, committed %d", len(plans), len(r.Schedule))
	}
	for i, p := range plans {
		c := r.Schedule[i]
		if p.Kernel != c.Kernel || p.Mode != c.Mode || len(p.Steps) != len(c.Steps) {
			t.Fatalf("boot %d: %s %s %d steps, committed %s %s %d", i, p.Kernel, p.Mode, len(p.Steps), c.Kernel, c.Mode, len(c.Steps))
		}
		for j := range p.Steps {
			if p.Steps[j] != c.Steps[j] {
				t.Fatalf("boot %d step %d: %+v, committed %+v", i, j, p.Steps[j], c.Steps[j])
			}
		}
	}
}

// A run with instances creates and removes each instance's devices, and
// the analysis separates the lab's boot, instance and run spreads.
func TestInstancesVarianceComponents(t *testing.T) {
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(21, 22)), ICountBootSD: 0.0002, ICountInstanceSD: 0.001, ICountRunSD: 0.0001}
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: icountPreset(8, 4, 3), Seed: 3, Boot: lab.Boot}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mkdirs := 0
	for _, l := range lab.Log {
		if strings.Contains(l, "mkdir /sys/kernel/config/") {
			mkdirs++
		}
	}
	if want := 16 * 4 * 2; mkdirs != want {
		t.Errorf("%d devices created, want %d (16 boots x 4 instances x 2 drivers)", mkdirs, want)
	}
	for _, b := range res.Boots {
		if len(b.Instances) != 4 {
			t.Fatalf("boot %d records %d instances", b.Index, len(b.Instances))
		}
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range a.Arms {
		if s.Measure != bench.MeasureInstr {
			continue
		}
		n++
		vc := s.Components
		if vc.Boots != 8 || vc.Instances != 32 || vc.Runs != 96 || vc.InstanceInBoot || vc.RunInInstance {
			t.Fatalf("%s: %+v", s.Key, vc)
		}
		// Within a factor 2 of the lab's truth (df: 24 instance, 64 run).
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"instance", vc.CV(vc.Instance), 0.001}, {"run", vc.CV(vc.Run), 0.0001}} {
			if c.got < c.want/2 || c.got > c.want*2 {
				t.Errorf("%s: %s CV %.5f, lab's %.5f", s.Key, c.name, c.got, c.want)
			}
		}
		if s.InstanceModality == nil || s.InstanceModality.N != 32 {
			t.Errorf("%s: instance modality %+v", s.Key, s.InstanceModality)
		}
		if s.FirstRun == nil || s.FirstRun.Boots != 8 || s.FirstRun.Warmup {
			t.Errorf("%s: first-run effect %+v", s.Key, s.FirstRun)
		} else if !(s.FirstRun.Lo <= 0 && 0 <= s.FirstRun.Hi) && math.Abs(s.FirstRun.Change) > 1e-4 {
			t.Errorf("%s: first-run effect %+v where the lab has none", s.Key, s.FirstRun)
		}
	}
	if n != 4 {
		t.Fatalf("%d instr arms", n)
	}
	d := a.Design
	if d == nil || d.Current.Instances != 4 || d.Current.Runs != 3 || d.Measure != bench.MeasureInstr {
		t.Fatalf("design advice %+v", d)
	}
	// Instances carry the spread and cost nothing here: the advice wants
	// more of them and fewer runs.
	if d.Recommended.Instances <= d.Current.Instances || d.Recommended.Runs > d.Current.Runs {
		t.Errorf("recommended %+v from current %+v", d.Recommended, d.Current)
	}
	// The cheapest design for the target costs no more than the current
	// one or the per-level optimum at the boots each would need.
	c := d.Cheapest
	if c.Boots == 0 || d.CurrentBoots == 0 || d.Recommended.Boots == 0 {
		t.Fatalf("no boots for the target: cheapest %+v, current needs %d, recommended %+v", c, d.CurrentBoots, d.Recommended)
	}
	cost := func(b int, sec float64) float64 { return float64(b) * sec }
	if cost(c.Boots, c.Seconds) > cost(d.CurrentBoots, d.Current.Seconds)+1e-9 || cost(c.Boots, c.Seconds) > cost(d.Recommended.Boots, d.Recommended.Seconds)+1e-9 {
		t.Errorf("cheapest %+v costs more than current (%d boots of %.3g s) or recommended %+v", c, d.CurrentBoots, d.Current.Seconds, d.Recommended)
	}
}

// The first run of an instance that costs more shows as a first-run
// effect of that size.
func TestFirstRunEffect(t *testing.T) {
	res := &bench.Results{Complete: true, Preset: icountPreset(3, 2, 3), Kernels: []bench.KernelMeta{{Name: "k"}}}
	for b := range 4 {
		br := bench.BootRecord{Index: b, Kernel: "k", Mode: bench.ModeICount, BootID: string(rune('a' + b))}
		for inst := range 2 {
			for run := range 3 {
				v := 1000.0 + float64(b) + 0.5*float64(inst)
				if run == 0 {
					v *= 1.01
				}
				br.Samples = append(br.Samples, bench.Sample{Workload: "w", Driver: bench.NullBlk, Run: run, Instance: inst, IOPS: 1e9 / v, InstrPerIO: v, TotalIOs: 1e6})
			}
		}
		res.Boots = append(res.Boots, br)
	}
	a, err := bench.Analyze(res, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Arms {
		if s.Measure != bench.MeasureInstr {
			continue
		}
		if s.FirstRun == nil || math.Abs(s.FirstRun.Change-0.01) > 1e-9 || s.FirstRun.Boots != 4 {
			t.Fatalf("first-run effect %+v, want +1%% over 4 boots", s.FirstRun)
		}
		return
	}
	t.Fatal("no instr arm")
}

// Sequential stopping: a target the lab's tiny noise meets stops after
// MinRounds; an unreachable one runs the whole schedule; a budget stops
// before a round that would overrun it; shards are refused.
func TestStopRule(t *testing.T) {
	run := func(rule *bench.StopRule, boots int) (*bench.Results, *benchtest.Lab) {
		t.Helper()
		lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(1, 2))}
		e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: icountPreset(boots, 1, 1), Seed: 9, Boot: lab.Boot, Until: rule}
		res, err := e.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Complete || res.Stop == nil {
			t.Fatalf("complete %v stop %+v", res.Complete, res.Stop)
		}
		return res, lab
	}
	// The defaults: checks from round 5, two in a row.
	res, lab := run(&bench.StopRule{HalfWidth: 0.005}, 10)
	if res.Stop.Reason != bench.StopTarget || res.Stop.Rounds != 6 || len(lab.Boots) != 12 || res.Stop.PlannedRounds != 10 {
		t.Errorf("reachable target: %+v after %d boots", res.Stop, len(lab.Boots))
	}
	if len(res.Stop.Checks) != 2 || res.Stop.Checks[1].HalfWidth > 0.005 || res.Stop.Checks[1].Widest == "" || !res.Stop.Checks[1].Complete {
		t.Errorf("checks %+v", res.Stop.Checks)
	}
	res, lab = run(&bench.StopRule{HalfWidth: 0.005, MinRounds: 3, Consecutive: 1}, 10)
	if res.Stop.Reason != bench.StopTarget || res.Stop.Rounds != 3 || len(lab.Boots) != 6 {
		t.Errorf("one check from round 3: %+v after %d boots", res.Stop, len(lab.Boots))
	}
	res, lab = run(&bench.StopRule{HalfWidth: 1e-12, Each: true, MinRounds: 4}, 5)
	if res.Stop.Reason != bench.StopSchedule || res.Stop.Rounds != 5 || len(lab.Boots) != 10 || len(res.Stop.Checks) != 2 {
		t.Errorf("unreachable target: %+v after %d boots", res.Stop, len(lab.Boots))
	}
	res, lab = run(&bench.StopRule{Budget: time.Nanosecond}, 5)
	if res.Stop.Reason != bench.StopBudget || res.Stop.Rounds != 1 || len(lab.Boots) != 2 {
		t.Errorf("budget: %+v after %d boots", res.Stop, len(lab.Boots))
	}
	lab = &benchtest.Lab{Rand: rand.New(rand.NewPCG(1, 2))}
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: icountPreset(4, 1, 1), Boot: lab.Boot,
		Until: &bench.StopRule{HalfWidth: 0.01}, Shard: bench.Shard{Index: 0, Count: 2}}
	if _, err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "sharded") {
		t.Errorf("sharded stop rule: %v", err)
	}
}
