package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench"
)

func TestK8sManifest(t *testing.T) {
	pl := &plan{Format: planFormat, Experiment: "sha256:00112233445566778899aabb", Shards: 8}
	b, err := k8sManifest(clusterOptions{work: "/shared/run", maxParallel: 3, retries: 2, image: "img:1", claim: "pvc"}, pl, "/shared/run/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Kind string
		Spec struct {
			CompletionMode       string
			Completions          int
			Parallelism          int
			BackoffLimitPerIndex int
			Template             struct {
				Spec struct {
					RestartPolicy string
					Containers    []struct {
						Image   string
						Command []string
						Env     []struct{ Name, Value string }
					}
					Volumes []struct {
						PersistentVolumeClaim struct{ ClaimName string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	s := m.Spec
	c := s.Template.Spec.Containers
	if m.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions != 8 || s.Parallelism != 3 || s.BackoffLimitPerIndex != 2 ||
		s.Template.Spec.RestartPolicy != "Never" || len(c) != 1 || c[0].Image != "img:1" ||
		strings.Join(c[0].Command, " ") != "/usr/local/bin/nullblk-bench -plan /shared/run/plan.json -out /shared/run/shards -cache /shared/run/cache" ||
		len(c[0].Env) != 1 || c[0].Env[0].Name != bench.EnvShardCount || c[0].Env[0].Value != "8" ||
		s.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "pvc" {
		t.Errorf("manifest:\n%s", b)
	}
}

// fakeParts writes n shards' partial results of a quick schedule, made
// up (the fake lab is internal to bench).
func fakeParts(t *testing.T, dir string, n int) {
	t.Helper()
	p := bench.QuickPreset()
	p.ICountBoots = 3
	kernels := []bench.KernelArm{{Name: "helpers-on", Helpers: true, BzImage: "/k/on"}, {Name: "helpers-off", BzImage: "/k/off"}}
	e := &bench.Experiment{Kernels: kernels, Preset: p, Seed: 5}
	sched, err := e.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range n {
		mine, err := bench.ShardPlans(sched, 2, bench.Shard{Index: k, Count: n})
		if err != nil {
			t.Fatal(err)
		}
		r := &bench.Results{Format: bench.ResultsFormat, Preset: p, Seed: 5, GuestCPUs: 1, Schedule: sched, Complete: true,
			Experiment: "sha256:0123456789abcdef01234567", Shard: &bench.ShardInfo{Index: k, Count: n},
			Kernels: []bench.KernelMeta{{Name: "helpers-on", InlineHelpers: true, ConfigHelpers: "unknown"}, {Name: "helpers-off", ConfigHelpers: "unknown"}}}
		for _, pl := range mine {
			r.Shard.Boots = append(r.Shard.Boots, pl.Index)
			b := bench.BootRecord{Index: pl.Index, Kernel: pl.Kernel, Mode: pl.Mode, BootID: "boot-" + string(rune('a'+pl.Index))}
			for _, st := range pl.Steps {
				iops := 2e5 * (1 + 1e-4*rng.NormFloat64())
				b.Samples = append(b.Samples, bench.Sample{Workload: st.Workload, Driver: st.Driver, Run: st.Run, Warmup: st.Warmup, Instance: st.Instance,
					IOPS: iops, TotalIOs: 2000, RuntimeMS: 10, InstrPerIO: 1e9 / iops})
			}
			r.Boots = append(r.Boots, b)
		}
		if err := r.WriteFile(shardFile(dir, k, n)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMergeCommand(t *testing.T) {
	parts, out := t.TempDir(), t.TempDir()
	fakeParts(t, parts, 3)
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-merge", "-out", out, parts}, &stdout, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	r, err := bench.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || len(r.Boots) != 6 || len(r.Parts) != 3 {
		t.Errorf("merged: complete %v, %d boots, %d parts", r.Complete, len(r.Boots), len(r.Parts))
	}
	// One shard missing: the report is written, the error names the boots.
	os.Remove(shardFile(parts, 1, 3))
	stdout.Reset()
	err = run(context.Background(), []string{"-merge", "-out", out, parts}, &stdout, &stdout)
	var me *bench.MissingBootsError
	if !errors.As(err, &me) || len(me.Indices) != 2 || !strings.Contains(stdout.String(), "INCOMPLETE") {
		t.Errorf("missing shard: %v\n%s", err, stdout.String())
	}
}

func TestShardRefusesOtherKernels(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "bzImage")
	os.WriteFile(img, []byte("kernel"), 0o644)
	pl := &plan{Format: planFormat, Shards: 2, Preset: bench.QuickPreset(), Seed: 1,
		Kernels: []planKernel{{Name: "helpers-on", Helpers: true, BzImage: img, BzImageSHA256: "00"}}}
	path := filepath.Join(dir, "plan.json")
	if err := pl.write(path); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-plan", path, "-shard", "0/2", "-out", dir}, &bytes.Buffer{}, &bytes.Buffer{})
	var ke *kernelMismatchError
	if !errors.As(err, &ke) || ke.Path != img || ke.Want != "00" {
		t.Errorf("err = %v", err)
	}
	err = run(context.Background(), []string{"-plan", path, "-shard", "0/3", "-out", dir}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "plan of 2 shards") {
		t.Errorf("wrong count: %v", err)
	}
}
