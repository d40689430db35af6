package slurm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/osutil"
)

// Job is a job array of Tasks tasks, task k running Command with the
// environment variable RFLKIT_SHARD set to "k/Tasks" (bench.EnvShard).
type Job struct {
	// Name is the job name (sbatch --job-name); "" = "rflkit-bench".
	Name string
	// Tasks is the array's size n: tasks 0..n-1.
	Tasks int
	// MaxRunning is K in --array=0-(n-1)%K, how many tasks run at once;
	// 0 = no limit.
	MaxRunning int
	// Partition is sbatch --partition; "" = the cluster's default.
	Partition string
	// CPUsPerTask and MemoryMiB are each task's --cpus-per-task and
	// --mem; 0 = the cluster's default.
	CPUsPerTask, MemoryMiB int
	// TimeLimit is each task's --time; 0 = the partition's.
	TimeLimit time.Duration
	// Dir is a directory on storage shared by every node: the script and
	// the tasks' logs (Dir/logs/NAME-JOBID_TASK.out) go there, and the
	// tasks start in it.
	Dir string
	// Command is the argv each task runs (exec'd by the script).
	Command []string
	// Env are extra NAME=value pairs exported by the script.
	Env []string
	// Extra are further sbatch options, one per #SBATCH line
	// ("--constraint=qemu").
	Extra []string
}

func (j Job) name() string {
	if j.Name == "" {
		return "rflkit-bench"
	}
	return j.Name
}

// ArraySpec is sbatch's --array value for tasks (ascending, compressed
// into ranges) with at most maxRunning at once: "0-7%2", "1,4-5".
func ArraySpec(tasks []int, maxRunning int) string {
	tasks = slices.Clone(tasks)
	slices.Sort(tasks)
	tasks = slices.Compact(tasks)
	var parts []string
	for i := 0; i < len(tasks); {
		j := i
		for j+1 < len(tasks) && tasks[j+1] == tasks[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(tasks[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", tasks[i], tasks[j]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ",")
	if maxRunning > 0 {
		s += "%" + strconv.Itoa(maxRunning)
	}
	return s
}

func timeLimit(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("%d:%02d:00", m/60, m%60)
}

// Script returns the batch script of j: #SBATCH lines (the whole array,
// which sbatch's own --array overrides for a resubmission), then the task's
// shard in RFLKIT_SHARD and the command.
func (j Job) Script() (string, error) {
	if j.Tasks < 1 {
		return "", fmt.Errorf("slurm: job has %d tasks", j.Tasks)
	}
	if len(j.Command) == 0 {
		return "", errors.New("slurm: job has no command")
	}
	if j.Dir == "" || !filepath.IsAbs(j.Dir) {
		return "", fmt.Errorf("slurm: job directory %q is not an absolute path", j.Dir)
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# Written by rflkit bench/slurm: one shard of the experiment per array task.\n")
	opt := func(f string, a ...any) { fmt.Fprintf(&b, "#SBATCH "+f+"\n", a...) }
	opt("--job-name=%s", osutil.ShellQuote(j.name()))
	opt("--array=%s", ArraySpec(seq(j.Tasks), j.MaxRunning))
	opt("--output=%s", osutil.ShellQuote(filepath.Join(j.Dir, "logs", "%x-%A_%a.out")))
	opt("--chdir=%s", osutil.ShellQuote(j.Dir))
	opt("--nodes=1")
	opt("--ntasks=1")
	if j.Partition != "" {
		opt("--partition=%s", osutil.ShellQuote(j.Partition))
	}
	if j.CPUsPerTask > 0 {
		opt("--cpus-per-task=%d", j.CPUsPerTask)
	}
	if j.MemoryMiB > 0 {
		opt("--mem=%dM", j.MemoryMiB)
	}
	if j.TimeLimit > 0 {
		opt("--time=%s", timeLimit(j.TimeLimit))
	}
	for _, x := range j.Extra {
		if strings.ContainsAny(x, "\n") {
			return "", fmt.Errorf("slurm: option %q has a newline", x)
		}
		opt("%s", x)
	}
	b.WriteString("set -euo pipefail\n")
	fmt.Fprintf(&b, "export RFLKIT_SHARD=\"${SLURM_ARRAY_TASK_ID}/%d\"\n", j.Tasks)
	for _, e := range j.Env {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n'\"$=") {
			return "", fmt.Errorf("slurm: bad environment entry %q", e)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, osutil.ShellQuote(v))
	}
	b.WriteString("echo \"rflkit: shard $RFLKIT_SHARD on $(hostname) (job ${SLURM_JOB_ID:-?})\" >&2\n")
	b.WriteString("exec")
	for _, a := range j.Command {
		b.WriteString(" " + osutil.ShellQuote(a))
	}
	b.WriteString("\n")
	return b.String(), nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// Client runs Slurm's commands. Its zero value uses sbatch, squeue, sacct
// and scontrol from PATH with the process's environment (so SLURM_CONF is
// honoured).
type Client struct {
	// Sbatch, Squeue, Sacct and Scontrol are the commands' paths; "" =
	// the name on PATH.
	Sbatch, Squeue, Sacct, Scontrol string
	// Env is the commands' environment; nil = the process's.
	Env []string
}

func (c *Client) run(ctx context.Context, name, def string, args ...string) ([]byte, error) {
	if name == "" {
		name = def
	}
	r, err := osutil.Run(ctx, osutil.Options{Env: c.Env, Timeout: 2 * time.Minute, MaxOutput: 4 << 20}, append([]string{name}, args...)...)
	if err != nil {
		return r.Stdout, fmt.Errorf("slurm: %w", err)
	}
	return r.Stdout, nil
}

// Submit submits the script at path for the given tasks (with at most
// maxRunning at once) and returns the job id.
func (c *Client) Submit(ctx context.Context, script string, tasks []int, maxRunning int) (string, error) {
	out, err := c.run(ctx, c.Sbatch, "sbatch", "--parsable", "--array="+ArraySpec(tasks, maxRunning), script)
	if err != nil {
		return "", err
	}
	return ParseSbatch(out)
}

// ParseSbatch reads `sbatch --parsable`'s output: "JOBID" or
// "JOBID;CLUSTER".
func ParseSbatch(out []byte) (string, error) {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:]) // sbatch may warn first
	}
	id, _, _ := strings.Cut(s, ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("slurm: sbatch printed %q, not a job id", osutil.Excerpt(string(out), 200))
	}
	return id, nil
}

// State is a Slurm job state ("PENDING", "RUNNING", "COMPLETED",
// "FAILED", ...).
type State string

// Terminal reports whether a task in state s will not run again by itself.
func (s State) Terminal() bool {
	switch s {
	case "", "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED":
		return false
	}
	return true
}

// TaskState is one array task's state.
type TaskState struct {
	// Task is the array index, State the Slurm state and ExitCode its
	// "code:signal" ("" when unknown).
	Task     int
	State    State
	ExitCode string
}

// ParseSqueue reads `squeue -h -r -o %K|%T` (array index | state) lines;
// a pending array not expanded by -r ("[0-3%2]") gives each listed task.
func ParseSqueue(out []byte) (map[int]TaskState, error) {
	m := map[int]TaskState{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		idx, st, ok := strings.Cut(line, "|")
		if !ok {
			return nil, fmt.Errorf("slurm: squeue line %q: want INDEX|STATE", osutil.Excerpt(line, 100))
		}
		tasks, err := parseIndices(idx)
		if err != nil {
			return nil, fmt.Errorf("slurm: squeue line %q: %w", osutil.Excerpt(line, 100), err)
		}
		for _, t := range tasks {
			m[t] = TaskState{Task: t, State: State(strings.TrimSpace(st))}
		}
	}
	return m, nil
}

// parseIndices reads "3", "[0-3,5%2]" or "0-3".
func parseIndices(s string) ([]int, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	s, _, _ = strings.Cut(s, "%")
	var out []int
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err := strconv.Atoi(a)
		if err != nil {
			return nil, fmt.Errorf("bad array index %q", part)
		}
		hi := lo
		if isRange {
			if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi-lo > 1<<16 {
				return nil, fmt.Errorf("bad array range %q", part)
			}
		}
		for i := lo; i <= hi; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// ParseSacct reads `sacct -n -P -X -o JobID,State,ExitCode` lines for an
// array job ("123_4|COMPLETED|0:0", "123_[5-7]|PENDING|0:0"); states such
// as "CANCELLED by 0" keep their first word.
func ParseSacct(out []byte) (map[int]TaskState, error) {
	m := map[int]TaskState{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) < 3 {
			return nil, fmt.Errorf("slurm: sacct line %q: want JOBID|STATE|EXITCODE", osutil.Excerpt(line, 100))
		}
		_, idx, ok := strings.Cut(f[0], "_")
		if !ok {
			continue // the array's own record, or another job
		}
		tasks, err := parseIndices(idx)
		if err != nil {
			return nil, fmt.Errorf("slurm: sacct line %q: %w", osutil.Excerpt(line, 100), err)
		}
		st, _, _ := strings.Cut(strings.TrimSpace(f[1]), " ")
		for _, t := range tasks {
			m[t] = TaskState{Task: t, State: State(st), ExitCode: strings.TrimSpace(f[2])}
		}
	}
	return m, nil
}

// ParseScontrol reads `scontrol -o show job JOBID` (one line per array
// task: "JobId=5 ArrayJobId=4 ArrayTaskId=1 ... JobState=FAILED ...
// ExitCode=1:0 ..."), the fallback where accounting is disabled.
func ParseScontrol(out []byte) (map[int]TaskState, error) {
	m := map[int]TaskState{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		kv := map[string]string{}
		for _, w := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(w, "="); ok {
				kv[k] = v
			}
		}
		idx, ok := kv["ArrayTaskId"]
		if !ok || kv["JobState"] == "" {
			continue
		}
		tasks, err := parseIndices(idx)
		if err != nil {
			return nil, fmt.Errorf("slurm: scontrol: ArrayTaskId=%q: %w", osutil.Excerpt(idx, 50), err)
		}
		for _, t := range tasks {
			m[t] = TaskState{Task: t, State: State(kv["JobState"]), ExitCode: kv["ExitCode"]}
		}
	}
	return m, sc.Err()
}

// States returns the known states of job's tasks: squeue for those queued
// or running, then sacct (or, where accounting is disabled, scontrol) for
// the finished ones. A task in no answer is absent: it has left the queue
// and the controller has forgotten it.
func (c *Client) States(ctx context.Context, job string) (map[int]TaskState, error) {
	out, err := c.run(ctx, c.Squeue, "squeue", "-h", "-r", "-j", job, "-o", "%K|%T")
	if err != nil {
		return nil, err
	}
	queued, err := ParseSqueue(out)
	if err != nil {
		return nil, err
	}
	var done map[int]TaskState
	if out, err := c.run(ctx, c.Sacct, "sacct", "-n", "-P", "-X", "-j", job, "-o", "JobID,State,ExitCode"); err == nil {
		done, err = ParseSacct(out)
		if err != nil {
			return nil, err
		}
	}
	if len(done) == 0 {
		// scontrol fails once the job is gone: not an error here.
		if out, err := c.run(ctx, c.Scontrol, "scontrol", "-o", "show", "job", job); err == nil {
			if done, err = ParseScontrol(out); err != nil {
				return nil, err
			}
		}
	}
	for t, s := range done {
		if _, ok := queued[t]; !ok {
			queued[t] = s
		}
	}
	return queued, nil
}

// Cancel cancels job (scancel), for a driver that gives up.
func (c *Client) Cancel(ctx context.Context, job string) error {
	_, err := c.run(ctx, "", "scancel", job)
	return err
}

// Status is Wait's progress report.
type Status struct {
	// Job is the current job id, Attempt its number (1 = first
	// submission).
	Job     string
	Attempt int
	// Tasks is the array size; Done, Failed, Running and Pending count
	// tasks (Failed: failed in the current attempt, before any
	// resubmission).
	Tasks, Done, Failed, Running, Pending int
	// Elapsed is the time since the first submission, Remaining an
	// estimate (0 when unknown).
	Elapsed, Remaining time.Duration
}

// String is a one-line summary.
func (s Status) String() string {
	r := "?"
	if s.Remaining > 0 {
		r = s.Remaining.Round(time.Second).String()
	}
	return fmt.Sprintf("slurm job %s (attempt %d): %d/%d tasks done, %d failed, %d running, %d pending; elapsed %s, ~%s left",
		s.Job, s.Attempt, s.Done, s.Tasks, s.Failed, s.Running, s.Pending, s.Elapsed.Round(time.Second), r)
}

// WaitOptions configure Run.
type WaitOptions struct {
	// Done reports whether task k produced its complete output (a
	// shard's results.json, complete, of the right experiment): Slurm's
	// COMPLETED alone is not trusted. Required.
	Done func(task int) bool
	// Retries is how many times failed tasks are resubmitted (together,
	// as one new array); 0 = never.
	Retries int
	// Poll is the polling interval; 0 = 10 s.
	Poll time.Duration
	// Estimate is the expected wall time of one task, used for the time
	// left until a task has finished; 0 = unknown.
	Estimate time.Duration
	// Progress receives a Status after each poll; nil = none.
	Progress func(Status)
}

// Outcome is what Run did.
type Outcome struct {
	// Jobs are the job ids submitted, first one first.
	Jobs []string
	// Done are the tasks that completed (Done true), Failed those that
	// did not after every retry, with their last Slurm state.
	Done   []int
	Failed []TaskState
}

// Run writes j's script into j.Dir, submits the whole array, waits for
// every task to leave the queue, resubmits the tasks that failed (left
// the queue without WaitOptions.Done) up to Retries times, and returns
// which tasks completed. Cancelling ctx cancels the job (scancel) and
// returns ctx's error. Failed tasks are not an error: Outcome.Failed
// lists them.
func (c *Client) Run(ctx context.Context, j Job, opts WaitOptions) (*Outcome, error) {
	if opts.Done == nil {
		return nil, errors.New("slurm: WaitOptions.Done is nil")
	}
	script, err := j.Script()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(j.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	path := filepath.Join(j.Dir, j.name()+".sbatch")
	if err := atomicfile.Update(path, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = 10 * time.Second
	}
	start := time.Now()
	out := &Outcome{}
	todo := seq(j.Tasks)
	done := map[int]bool{}
	var taskTime time.Duration
	var tasksTimed int
	for attempt := 1; ; attempt++ {
		job, err := c.Submit(ctx, path, todo, j.MaxRunning)
		if err != nil {
			return out, err
		}
		out.Jobs = append(out.Jobs, job)
		seenRunning := map[int]time.Time{}
		seen := map[int]bool{}
		var failed []TaskState
		for polls := 1; ; polls++ {
			states, err := c.States(ctx, job)
			if err != nil {
				return out, err
			}
			st := Status{Job: job, Attempt: attempt, Tasks: j.Tasks}
			failed = failed[:0]
			left := 0
			for _, t := range todo {
				s, known := states[t]
				seen[t] = seen[t] || known
				switch {
				case !known && !seen[t] && polls <= 3 && !opts.Done(t):
					// Not listed yet: give the controller a few polls.
					left++
					st.Pending++
				case known && !s.State.Terminal():
					left++
					if s.State == "PENDING" {
						st.Pending++
					} else {
						st.Running++
						if _, ok := seenRunning[t]; !ok {
							seenRunning[t] = time.Now()
						}
					}
				case done[t] || opts.Done(t):
					if !done[t] {
						done[t] = true
						if t0, ok := seenRunning[t]; ok {
							taskTime += time.Since(t0)
							tasksTimed++
						}
					}
				default:
					if !known {
						s = TaskState{Task: t, State: "UNKNOWN"}
					}
					failed = append(failed, s)
				}
			}
			st.Done = len(done)
			st.Failed = len(failed)
			st.Elapsed = time.Since(start)
			per := opts.Estimate
			if tasksTimed > 0 {
				per = taskTime / time.Duration(tasksTimed)
			}
			if per > 0 {
				par := j.MaxRunning
				if par <= 0 || par > left {
					par = max(left, 1)
				}
				waves := (left + par - 1) / par
				st.Remaining = time.Duration(waves) * per
			}
			if opts.Progress != nil {
				opts.Progress(st)
			}
			if left == 0 {
				break
			}
			select {
			case <-ctx.Done():
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				_ = c.Cancel(cctx, job)
				cancel()
				return out, ctx.Err()
			case <-time.After(poll):
			}
		}
		if len(failed) == 0 || attempt > opts.Retries {
			out.Failed = slices.Clone(failed)
			break
		}
		todo = todo[:0]
		for _, f := range failed {
			todo = append(todo, f.Task)
		}
	}
	for t := range done {
		out.Done = append(out.Done, t)
	}
	slices.Sort(out.Done)
	return out, nil
}
