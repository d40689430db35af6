package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
)

// perBootLab boots each request in a fake lab seeded by the boot's index,
// so that a boot measures the same on whichever machine (shard) runs it.
func perBootLab(ctx context.Context, req bench.BootRequest) (*bench.Booted, error) {
	l := &benchtest.Lab{Rand: rand.New(rand.NewPCG(uint64(req.Index), 7))}
	return l.Boot(ctx, req)
}

func shardPreset() bench.Preset {
	p := bench.QuickPreset()
	p.WallBoots, p.ICountBoots = 2, 3
	return p
}

func TestShardPlansBalanced(t *testing.T) {
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: bench.PublishedPreset(), Seed: 3}
	plans, err := e.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 8, 13} {
		seen := map[int]int{}
		var sizes []int
		for k := range n {
			mine, err := bench.ShardPlans(plans, 2, bench.Shard{Index: k, Count: n})
			if err != nil {
				t.Fatal(err)
			}
			kernels := map[string]int{}
			for i, p := range mine {
				seen[p.Index]++
				kernels[p.Kernel+"/"+string(p.Mode)]++
				if i > 0 && p.Index <= mine[i-1].Index {
					t.Errorf("n=%d k=%d: boots out of schedule order", n, k)
				}
				if !reflect.DeepEqual(p, plans[p.Index]) {
					t.Errorf("n=%d k=%d: boot %d differs from the schedule's", n, k, p.Index)
				}
			}
			for _, m := range []bench.Mode{bench.ModeWall, bench.ModeICount} {
				if kernels["helpers-on/"+string(m)] != kernels["helpers-off/"+string(m)] {
					t.Errorf("n=%d k=%d: kernels unbalanced in %s boots: %v", n, k, m, kernels)
				}
			}
			sizes = append(sizes, len(mine))
		}
		if len(seen) != len(plans) {
			t.Errorf("n=%d: %d boots covered, want %d", n, len(seen), len(plans))
		}
		for i, c := range seen {
			if c != 1 {
				t.Errorf("n=%d: boot %d in %d shards", n, i, c)
			}
		}
		if slices.Max(sizes)-slices.Min(sizes) > 2 {
			t.Errorf("n=%d: shard sizes %v differ by more than one round", n, sizes)
		}
	}
	// More shards than rounds: boots are dealt, each exactly once.
	for _, n := range []int{14, len(plans)} {
		seen := map[int]int{}
		for k := range n {
			mine, err := bench.ShardPlans(plans, 2, bench.Shard{Index: k, Count: n})
			if err != nil || len(mine) == 0 {
				t.Fatalf("n=%d k=%d: %d boots, %v", n, k, len(mine), err)
			}
			for _, p := range mine {
				seen[p.Index]++
			}
		}
		if len(seen) != len(plans) {
			t.Errorf("n=%d: %d boots covered, want %d", n, len(seen), len(plans))
		}
		for i, c := range seen {
			if c != 1 {
				t.Errorf("n=%d: boot %d in %d shards", n, i, c)
			}
		}
	}
	if _, err := bench.ShardPlans(plans, 2, bench.Shard{Index: 0, Count: len(plans) + 1}); err == nil {
		t.Error("more shards than boots: no error")
	}
}

func TestParseShardAndEnv(t *testing.T) {
	for _, bad := range []string{"", "1", "3/3", "-1/2", "a/b", "0/0"} {
		if _, err := bench.ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q): no error", bad)
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		env   map[string]string
		count int
		want  bench.Shard
		ok    bool
	}{
		{map[string]string{}, 0, bench.Shard{}, false},
		{map[string]string{"RFLKIT_SHARD": "2/5", "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"}, 0, bench.Shard{Index: 2, Count: 5}, true},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, 0, bench.Shard{Index: 1, Count: 3}, true},
		{map[string]string{"JOB_COMPLETION_INDEX": "4"}, 6, bench.Shard{Index: 4, Count: 6}, true},
		{map[string]string{"JOB_COMPLETION_INDEX": "4", "RFLKIT_SHARD_COUNT": "5"}, 0, bench.Shard{Index: 4, Count: 5}, true},
	}
	for _, c := range cases {
		s, ok, err := bench.ShardFromEnv(env(c.env), c.count)
		if err != nil || ok != c.ok || s != c.want {
			t.Errorf("%v: %v %v %v, want %v %v", c.env, s, ok, err, c.want, c.ok)
		}
	}
	if _, _, err := bench.ShardFromEnv(env(map[string]string{"JOB_COMPLETION_INDEX": "1"}), 0); err == nil {
		t.Error("index without count: no error")
	}
}

// runShards runs the experiment as n shards (n = 0: whole).
func runShards(t *testing.T, n int) []*bench.Results {
	t.Helper()
	var out []*bench.Results
	for k := range max(n, 1) {
		e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: shardPreset(), Seed: 11, Boot: perBootLab}
		if n > 0 {
			e.Shard = bench.Shard{Index: k, Count: n}
		}
		r, err := e.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func analysisJSON(t *testing.T, r *bench.Results) string {
	t.Helper()
	a, err := bench.Analyze(r, bench.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Design == nil {
		t.Fatal("no design advice")
	}
	// The design advice's costs (and so its recommendation) are wall
	// times, which differ from machine to machine; the rest must not.
	a.Design.Costs, a.Design.Current.Seconds, a.Design.Recommended, a.Design.Cheapest = bench.DesignCosts{}, 0, bench.Design{}, bench.Design{}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMergeEqualsOneMachine(t *testing.T) {
	whole := runShards(t, 0)[0]
	parts := runShards(t, 3)
	for k, p := range parts {
		if p.Shard == nil || p.Shard.Index != k || p.Shard.Count != 3 || p.Experiment != whole.Experiment {
			t.Fatalf("part %d: shard %+v experiment %s, want %d/3 of %s", k, p.Shard, p.Experiment, k, whole.Experiment)
		}
		if len(p.Schedule) != len(whole.Schedule) {
			t.Errorf("part %d records %d planned boots, want the whole %d", k, len(p.Schedule), len(whole.Schedule))
		}
	}
	// Merge in any order.
	m, err := bench.Merge(parts[2], parts[0], parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if !m.Complete || m.Shard != nil || len(m.Parts) != 3 {
		t.Fatalf("merged: complete %v shard %v parts %d", m.Complete, m.Shard, len(m.Parts))
	}
	if len(m.Boots) != len(whole.Boots) {
		t.Fatalf("merged %d boots, one machine %d", len(m.Boots), len(whole.Boots))
	}
	for i := range m.Boots {
		a, b := m.Boots[i], whole.Boots[i]
		if a.Index != b.Index || a.BootID != b.BootID || !reflect.DeepEqual(stripWall(a.Samples), stripWall(b.Samples)) {
			t.Fatalf("boot %d differs after the merge", i)
		}
	}
	if got, want := analysisJSON(t, m), analysisJSON(t, whole); got != want {
		t.Errorf("merged analysis differs from one machine's:\n%s\n%s", got, want)
	}
}

func stripWall(s []bench.Sample) []bench.Sample {
	s = slices.Clone(s)
	for i := range s {
		s[i].WallSeconds = 0
	}
	return s
}

func TestMergeRefuses(t *testing.T) {
	parts := runShards(t, 3)

	// A missing shard: merged, incomplete, the boots named.
	m, err := bench.Merge(parts[0], parts[2])
	var me *bench.MissingBootsError
	if !errors.As(err, &me) || m == nil || m.Complete {
		t.Fatalf("missing shard: %v, %v", m, err)
	}
	if !reflect.DeepEqual(me.Indices, parts[1].Shard.Boots) {
		t.Errorf("missing %v, want shard 1's %v", me.Indices, parts[1].Shard.Boots)
	}

	// A part cut short in a boot: that boot is missing, the others merged.
	cut := *parts[1]
	cut.Boots = slices.Clone(cut.Boots)
	last := &cut.Boots[len(cut.Boots)-1]
	last.Samples = last.Samples[:len(last.Samples)-1]
	cut.Complete, cut.Error = false, "bench: boot 7: fio failed"
	m, err = bench.Merge(parts[0], &cut, parts[2])
	if !errors.As(err, &me) || len(me.Indices) != 1 || me.Indices[0] != last.Index || m.Complete {
		t.Fatalf("cut boot: %v", err)
	}
	if len(m.Boots) != len(parts[0].Boots)+len(parts[1].Boots)+len(parts[2].Boots)-1 {
		t.Errorf("cut boot: %d boots merged", len(m.Boots))
	}

	// Duplicated boots.
	var de *bench.DuplicateBootsError
	if _, err := bench.Merge(parts[0], parts[1], parts[2], parts[1]); !errors.As(err, &de) || !reflect.DeepEqual(de.Indices, parts[1].Shard.Boots) {
		t.Errorf("duplicates: %v", err)
	}

	// Another experiment (seed).
	other := *parts[1]
	other.Experiment = "sha256:000000000000000000000000"
	var mx *bench.MixedExperimentsError
	if _, err := bench.Merge(parts[0], &other); !errors.As(err, &mx) {
		t.Errorf("mixed: %v", err)
	}

	// Another kernel image under the same name.
	odd := *parts[2]
	odd.Kernels = slices.Clone(odd.Kernels)
	odd.Kernels[0].BzImageSHA256 = "ff"
	var ke *bench.KernelArtifactsError
	if _, err := bench.Merge(parts[0], &odd); !errors.As(err, &ke) || ke.Kernel != odd.Kernels[0].Name || ke.Part != 1 {
		t.Errorf("kernels: %v", err)
	}
}

func TestExpectID(t *testing.T) {
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: shardPreset(), Seed: 11, Boot: perBootLab,
		ExpectID: "sha256:0123456789abcdef01234567"}
	_, err := e.Run(context.Background())
	var me *bench.ExperimentMismatchError
	if !errors.As(err, &me) || me.Want != e.ExpectID || me.Got == "" {
		t.Fatalf("Run: %v", err)
	}
}

func TestEstimateShards(t *testing.T) {
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: bench.PublishedPreset(), Seed: 1}
	one, err := e.EstimateShards(1, 1, bench.BootCosts{})
	if err != nil {
		t.Fatal(err)
	}
	eight, err := e.EstimateShards(8, 0, bench.BootCosts{})
	if err != nil {
		t.Fatal(err)
	}
	if one.Parallel != one.Serial || eight.Serial != one.Serial || eight.Parallel >= one.Serial || eight.Parallel*8 < one.Serial {
		t.Errorf("estimates: one %v/%v, eight %v/%v", one.Serial, one.Parallel, eight.Serial, eight.Parallel)
	}
	r := runShards(t, 0)[0]
	for i := range r.Boots {
		r.Boots[i].WallSeconds = 1000
	}
	c := e.MeasureBootCosts(r)
	if !c.Measured || c.Scale[bench.ModeICount] <= 0 || c.Scale[bench.ModeWall] <= 0 {
		t.Errorf("measured costs %+v", c)
	}
}
