package slurm_test

import (
	"fmt"
	"time"

	"github.com/rflkit/rflkit/bench/slurm"
)

func ExampleJob_Script() {
	j := slurm.Job{Name: "nullblk", Tasks: 8, MaxRunning: 4, Partition: "qemu", CPUsPerTask: 2,
		TimeLimit: 90 * time.Minute, Dir: "/shared/run1",
		Command: []string{"/shared/bin/nullblk-bench", "-plan", "/shared/run1/plan.json", "-out", "/shared/run1/shards"}}
	s, err := j.Script()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s)
	fmt.Println(slurm.ArraySpec([]int{1, 4, 5, 6}, 2))
	// Output:
	// #!/bin/bash
	// # Written by rflkit bench/slurm: one shard of the experiment per array task.
	// #SBATCH --job-name=nullblk
	// #SBATCH --array=0-7%4
	// #SBATCH --output=/shared/run1/logs/%x-%A_%a.out
	// #SBATCH --chdir=/shared/run1
	// #SBATCH --nodes=1
	// #SBATCH --ntasks=1
	// #SBATCH --partition=qemu
	// #SBATCH --cpus-per-task=2
	// #SBATCH --time=1:30:00
	// set -euo pipefail
	// export RFLKIT_SHARD="${SLURM_ARRAY_TASK_ID}/8"
	// echo "rflkit: shard $RFLKIT_SHARD on $(hostname) (job ${SLURM_JOB_ID:-?})" >&2
	// exec /shared/bin/nullblk-bench -plan /shared/run1/plan.json -out /shared/run1/shards
	// 1,4-6%2
}
