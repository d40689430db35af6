// Package slurm runs the shards of one bench experiment as a Slurm job
// array: it writes the batch script (one task per shard, the shard in
// RFLKIT_SHARD, logs and working directory on shared storage), submits it
// with sbatch, follows the tasks with squeue (and sacct, or scontrol where
// accounting is disabled), resubmits the tasks that failed a bounded number
// of times, and says which tasks completed.
//
// A task counts as done only when the caller's check of its output says so
// (WaitOptions.Done: a shard's results.json, complete, of the expected
// experiment), never on Slurm's COMPLETED alone. The commands run through
// internal/osutil with the process's environment, so SLURM_CONF points
// them at a cluster.
package slurm
