package bench_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScheduleReproducible(t *testing.T) {
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: bench.DefaultPreset(), Seed: 42}
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
	p := bench.DefaultPreset()
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
		runs, warmup := p.Runs, p.Warmup
		if b.Mode == bench.ModeICount {
			runs = p.ICountRuns
			if p.ICountNoWarmup {
				warmup = 0
			}
		}
		inst := max(p.Instances, 1)
		if want := inst * len(p.Workloads) * 2 * (runs + warmup); len(b.Steps) != want {
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
		if warm != inst*len(p.Workloads)*2*warmup {
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
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(9, 9))}
	p := bench.DefaultPreset()
	p.WallBoots, p.ICountBoots = 4, 3
	var progress []bench.Progress
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: p, Seed: 7, Boot: lab.Boot,
		Progress: func(pr bench.Progress) { progress = append(progress, pr) }}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(res.Boots) != 14 || lab.Stopped != 14 {
		t.Fatalf("complete %v, %d boots, %d stopped", res.Complete, len(res.Boots), lab.Stopped)
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
	back, err := bench.ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Boots, res.Boots) || back.Seed != 7 {
		t.Fatal("results.json does not round-trip")
	}
	a, err := bench.Analyze(back, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Conclusive != bench.MeasureInstr {
		t.Errorf("conclusive %v", a.Conclusive)
	}
	found := 0
	for _, c := range a.Comparisons {
		if c.Measure != bench.MeasureInstr || c.Err != "" {
			continue
		}
		var truth float64
		switch c.Question {
		case bench.RustVsC:
			h := c.A.Kernel == "helpers-on"
			truth = benchtest.TrueInstr(h, bench.RNull) / benchtest.TrueInstr(h, bench.NullBlk)
		case bench.HelpersOnOff:
			truth = benchtest.TrueInstr(true, c.A.Driver) / benchtest.TrueInstr(false, c.A.Driver)
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
}

func TestExperimentFioFailure(t *testing.T) {
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(1, 1)), FailFio: 2, FailStdout: readTestdata(t, "fio-error-nonexistent.json")}
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: bench.QuickPreset(), Seed: 1, Boot: lab.Boot}
	res, err := e.Run(context.Background())
	var fe *bench.FioError
	if !errors.As(err, &fe) || fe.Errno != 22 {
		t.Fatalf("err = %v, want a *FioError with errno 22", err)
	}
	if res == nil || res.Complete || res.Error == "" || len(res.Boots) != 1 || len(res.Boots[0].Samples) != 1 {
		t.Fatalf("partial results %+v", res)
	}
	if lab.Stopped != 1 {
		t.Errorf("VM not stopped after failure (%d)", lab.Stopped)
	}
}

func TestExperimentCancel(t *testing.T) {
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(1, 1))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: bench.QuickPreset(), Boot: lab.Boot}
	if _, err := e.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if lab.Stopped != len(lab.Boots) {
		t.Errorf("%d boots, %d stopped", len(lab.Boots), lab.Stopped)
	}
}
