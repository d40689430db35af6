package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/slurmtest"
	"github.com/rflkit/rflkit/internal/testenv"
	"github.com/rflkit/rflkit/internal/testkernel"
)

// TestIntegrationSlurmShards runs a real experiment as three shards of a
// Slurm job array on a private single-node cluster (internal/slurmtest):
// the quick preset with three icount rounds (one boot per kernel per shard,
// six real TCG guests, -no-plugin), a prebuilt nullblk-bench as the tasks'
// command, then the merge and its report.
func TestIntegrationSlurmShards(t *testing.T) {
	testenv.Integration(t)
	cache := testenv.CacheDir(t)
	on, off := testkernel.TinyRust(t, true), testkernel.TinyRust(t, false)
	kernels := []bench.KernelArm{{Name: "helpers-on", Helpers: true, BzImage: on.BzImage, Config: on.Config},
		{Name: "helpers-off", BzImage: off.BzImage, Config: off.Config}}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	work := t.TempDir()
	bin := filepath.Join(work, "nullblk-bench")
	if _, err := osutil.Run(ctx, osutil.Options{Timeout: 10 * time.Minute}, "go", "build", "-o", bin, "."); err != nil {
		t.Fatal(err)
	}
	c := slurmtest.Start(t, 2)

	p := bench.QuickPreset()
	p.ICountBoots = 3
	pl, err := makePlan(ctx, p, 1, 3, kernels, cache, map[string]string{"fingerprint": "test"})
	if err != nil {
		t.Fatal(err)
	}
	pl.NoPlugin = true
	planPath := filepath.Join(work, "plan.json")
	if err := pl.write(planPath); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out")
	var stdout bytes.Buffer
	t0 := time.Now()
	err = submitSlurm(ctx, clusterOptions{work: work, maxParallel: 2, retries: 1, poll: 2 * time.Second, bin: bin},
		pl, planPath, cache, out, c.Env, &stdout)
	t.Logf("slurm run took %s:\n%s", time.Since(t0).Round(time.Second), stdout.String())
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(work, "logs", "*.out"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, osutil.Excerpt(string(b), 3000))
		}
		c.DumpLogs(t)
		t.Fatal(err)
	}
	r, err := bench.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || len(r.Boots) != 6 || len(r.Parts) != 3 || r.Experiment != pl.Experiment || r.Shard != nil {
		t.Fatalf("merged: complete %v, %d boots, %d parts, experiment %s (want %s)", r.Complete, len(r.Boots), len(r.Parts), r.Experiment, pl.Experiment)
	}
	ids := map[string]int{}
	for i, b := range r.Boots {
		t.Logf("boot %d: %s %s, %d samples, boot id %s", i, b.Kernel, b.Mode, len(b.Samples), b.BootID)
		if b.Index != i || len(b.Samples) != len(r.Schedule[i].Steps) || b.Accel != "tcg" {
			t.Errorf("boot %d: index %d, %d samples for %d steps, accel %s", i, b.Index, len(b.Samples), len(r.Schedule[i].Steps), b.Accel)
		}
		if j, dup := ids[b.BootID]; dup {
			// Not this test's subject: an -icount guest without RDRAND
			// (qemu64) can draw the same boot_id as another boot of the
			// same kernel.
			t.Logf("boots %d and %d report the same boot_id %s", j, i, b.BootID)
		}
		ids[b.BootID] = i
	}
	for _, f := range []string{"report.md", "analysis.json", "bench.txt"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "3/3 tasks done") || !strings.Contains(stdout.String(), "estimate (") {
		t.Errorf("progress and estimate missing:\n%s", stdout.String())
	}
	mean := map[bench.Mode]float64{}
	for _, b := range r.Boots {
		mean[b.Mode] += b.WallSeconds / float64(len(r.Boots))
	}
	t.Logf("measured per-boot wall time: %.1f s (icount, quick, -no-plugin, 2 tasks at a time on 2 shared cores)", mean[bench.ModeICount])
}
