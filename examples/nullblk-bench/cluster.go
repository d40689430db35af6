package main

// The experiment sharded across machines (issue 15): a plan written once
// where the kernels are built, shards run by Slurm array tasks or by the
// pods of a Kubernetes Indexed Job, and a merge of their partial results.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/report"
	"github.com/rflkit/rflkit/bench/slurm"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/toolchain"
)

// clusterOptions are the flags of the sharded modes.
type clusterOptions struct {
	plan        string // run a shard of this plan.json
	shard       string // k/n
	shardCount  int    // n beside JOB_COMPLETION_INDEX
	merge       bool
	slurm       bool
	k8s         bool
	work        string // shared work directory
	shards      int
	maxParallel int
	retries     int
	partition   string
	poll        time.Duration
	costs       string // results.json with measured boot costs
	bin         string // the binary the tasks run
	image       string // container image of the Kubernetes manifest
	claim       string // the manifest's shared volume claim
	mergeArgs   []string
	estimate    bool
}

func (c *clusterOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.plan, "plan", "", "run one shard of this plan.json (written by -slurm or -k8s-manifest); the shard is -shard, else $RFLKIT_SHARD, $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT or $JOB_COMPLETION_INDEX")
	fs.StringVar(&c.shard, "shard", "", "the shard k/n to run with -plan")
	fs.IntVar(&c.shardCount, "shard-count", 0, "shard count beside $JOB_COMPLETION_INDEX (default $RFLKIT_SHARD_COUNT)")
	fs.BoolVar(&c.merge, "merge", false, "merge the partial results (files or directories of shard-*.json given as arguments) into -out")
	fs.BoolVar(&c.slurm, "slurm", false, "build once, write the plan into -work, run -shards shards as a Slurm job array, wait, merge into -out")
	fs.BoolVar(&c.k8s, "k8s-manifest", false, "build once, write the plan into -work and print a Kubernetes Indexed Job (JSON) running its shards")
	fs.StringVar(&c.work, "work", "", "work directory on storage shared by every node (plan, job script, logs, shards)")
	fs.IntVar(&c.shards, "shards", 0, "number of shards (default: one per round of boots)")
	fs.IntVar(&c.maxParallel, "max-parallel", 0, "shards running at once (Slurm %K, Kubernetes parallelism); 0 = all")
	fs.IntVar(&c.retries, "retries", 2, "resubmissions of failed shards")
	fs.StringVar(&c.partition, "partition", "", "Slurm partition (default: the cluster's)")
	fs.DurationVar(&c.poll, "poll", 10*time.Second, "Slurm polling interval")
	fs.BoolVar(&c.estimate, "estimate", false, "print the preset's boots and estimated wall time on one machine and as -shards shards (-max-parallel at a time), then stop")
	fs.StringVar(&c.costs, "costs", "", "a results.json whose boots give the measured per-boot costs of the estimate")
	fs.StringVar(&c.bin, "bin", "", "the nullblk-bench binary the tasks run, on shared storage (default: this one)")
	fs.StringVar(&c.image, "k8s-image", "rflkit/nullblk-bench:latest", "container image of the Kubernetes manifest (QEMU, this binary)")
	fs.StringVar(&c.claim, "k8s-claim", "rflkit-shared", "PersistentVolumeClaim of the shared work directory in the manifest")
}

// wantsPlan is set for the modes that build, then plan.
func (c *clusterOptions) wantsPlan() bool { return c.slurm || c.k8s }

// PlanFormat is the version of plan.json.
const planFormat = 1

// plan is plan.json: everything a shard needs, written once by the
// machine that built the kernels, read by every shard.
type plan struct {
	// Format is planFormat.
	Format int `json:"format"`
	// Experiment is the bench.ExperimentID the shards must reproduce
	// from the files they find.
	Experiment string `json:"experiment"`
	// Preset is the preset in full; Seed the schedule's seed.
	Preset bench.Preset `json:"preset"`
	Seed   uint64       `json:"seed"`
	// Shards is the shard count n.
	Shards int `json:"shards"`
	// Kernels are the arms: name, claim, paths on shared storage (the
	// kbuild cache entries) and their content hashes.
	Kernels []planKernel `json:"kernels"`
	// Initramfs is the guests' initramfs on shared storage, and its
	// SHA-256.
	Initramfs       string `json:"initramfs"`
	InitramfsSHA256 string `json:"initramfs_sha256"`
	// NoPlugin runs the -icount boots without the instruction-counting
	// plugin (nullblk-bench -no-plugin).
	NoPlugin bool `json:"no_plugin,omitempty"`
	// Toolchain is the builder's toolchain, copied into each shard's
	// results (bench.Results.Toolchain).
	Toolchain map[string]string `json:"toolchain,omitempty"`
}

// planKernel is one kernel arm of a plan.
type planKernel struct {
	// Name and Helpers are bench.KernelArm's.
	Name    string `json:"name"`
	Helpers bool   `json:"helpers"`
	// BzImage and Config are the image's and .config's paths.
	BzImage string `json:"bzimage"`
	Config  string `json:"config,omitempty"`
	// SystemMap is the build's System.map (the plugin measure's
	// symbols); omitted when none.
	SystemMap string `json:"system_map,omitempty"`
	// BzImageSHA256 and ConfigSHA256 are their hex SHA-256.
	BzImageSHA256 string `json:"bzimage_sha256"`
	ConfigSHA256  string `json:"config_sha256,omitempty"`
}

// kernelMismatchError is a shard's error for a file on its node that is
// not the one planned.
type kernelMismatchError struct {
	What, Path, Want, Got string
}

func (e *kernelMismatchError) Error() string {
	return fmt.Sprintf("%s %s has sha256 %s, the plan says %s: the shared cache is not the one the plan was made with (rebuild with -build-only and re-plan)", e.What, e.Path, e.Got, e.Want)
}

// makePlan describes the built kernels and the initramfs as a plan.
func makePlan(ctx context.Context, p bench.Preset, seed uint64, shards int, kernels []bench.KernelArm, cache string, toolchain map[string]string) (*plan, error) {
	pl := &plan{Format: planFormat, Preset: p, Seed: seed, Shards: shards, Toolchain: toolchain}
	var metas []bench.KernelMeta
	for _, k := range kernels {
		m, err := bench.DescribeKernel(k)
		if err != nil {
			return nil, err
		}
		metas = append(metas, m)
		pl.Kernels = append(pl.Kernels, planKernel{Name: k.Name, Helpers: k.Helpers, BzImage: k.BzImage, Config: k.Config, SystemMap: k.SystemMap,
			BzImageSHA256: m.BzImageSHA256, ConfigSHA256: m.ConfigSHA256})
	}
	pl.Experiment = bench.ExperimentID(p, seed, 1, bench.Drivers(), metas)
	initrd, err := bench.BuildFioInitramfs(ctx, bench.QEMUOptions{CacheDir: cache})
	if err != nil {
		return nil, err
	}
	pl.Initramfs = initrd
	if pl.InitramfsSHA256, err = bench.FileSHA256(initrd); err != nil {
		return nil, err
	}
	if pl.Shards == 0 {
		e := &bench.Experiment{Kernels: kernels, Preset: p, Seed: seed}
		s, err := e.Schedule()
		if err != nil {
			return nil, err
		}
		pl.Shards = len(s) / len(kernels)
	}
	return pl, nil
}

func (pl *plan) arms() []bench.KernelArm {
	var ks []bench.KernelArm
	for _, k := range pl.Kernels {
		ks = append(ks, bench.KernelArm{Name: k.Name, Helpers: k.Helpers, BzImage: k.BzImage, Config: k.Config, SystemMap: k.SystemMap})
	}
	return ks
}

func (pl *plan) write(path string) error {
	b, err := json.MarshalIndent(pl, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Update(path, append(b, '\n'), 0o644)
}

func readPlan(path string) (*plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pl plan
	if err := json.Unmarshal(b, &pl); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if pl.Format != planFormat {
		return nil, fmt.Errorf("%s: plan format %d, want %d", path, pl.Format, planFormat)
	}
	return &pl, nil
}

// verify checks the kernels and the initramfs found on this node against
// the plan's hashes, before anything boots.
func (pl *plan) verify() error {
	check := func(what, path, want string) error {
		if path == "" || want == "" {
			return nil
		}
		got, err := bench.FileSHA256(path)
		if err != nil {
			return fmt.Errorf("%s: %w (is the shared cache mounted here?)", what, err)
		}
		if got != want {
			return &kernelMismatchError{What: what, Path: path, Want: want, Got: got}
		}
		return nil
	}
	for _, k := range pl.Kernels {
		if err := check("kernel "+k.Name, k.BzImage, k.BzImageSHA256); err != nil {
			return err
		}
		if err := check("kernel "+k.Name+" .config", k.Config, k.ConfigSHA256); err != nil {
			return err
		}
	}
	return check("initramfs", pl.Initramfs, pl.InitramfsSHA256)
}

// shardFile is where shard k of n writes its partial results in dir.
func shardFile(dir string, k, n int) string {
	return filepath.Join(dir, fmt.Sprintf("shard-%03d-of-%03d.json", k, n))
}

// runShard runs one shard of a plan: it never builds; it checks the files
// it was given, boots its rounds and writes its partial results.
func runShard(ctx context.Context, o options, stdout, stderr io.Writer) error {
	c := o.cl
	pl, err := readPlan(c.plan)
	if err != nil {
		return err
	}
	var s bench.Shard
	if c.shard != "" {
		if s, err = bench.ParseShard(c.shard); err != nil {
			return err
		}
	} else {
		var ok bool
		if s, ok, err = bench.ShardFromEnv(os.Getenv, c.shardCount); err != nil {
			return err
		}
		if !ok {
			return errors.New("-plan needs a shard: -shard k/n, $RFLKIT_SHARD, a Slurm array task or a Kubernetes Indexed Job")
		}
	}
	if s.Count != pl.Shards {
		return fmt.Errorf("shard %s of a plan of %d shards", s, pl.Shards)
	}
	if err := pl.verify(); err != nil {
		return err
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ui := newUI(stdout)
	e := &bench.Experiment{Kernels: pl.arms(), Preset: pl.Preset, Seed: pl.Seed, Logger: log, Shard: s, ExpectID: pl.Experiment,
		Boot:     bench.QEMUBoot(bench.QEMUOptions{Initramfs: pl.Initramfs, CacheDir: o.cache, Logger: log, NoPlugin: pl.NoPlugin}),
		Progress: ui.progress}
	ui.line("shard %s of experiment %s", s, pl.Experiment)
	res, runErr := e.Run(ctx)
	if res == nil {
		return runErr
	}
	res.Toolchain = pl.Toolchain
	out := shardFile(o.out, s.Index, s.Count)
	if err := res.WriteFile(out); err != nil {
		return errors.Join(runErr, err)
	}
	ui.done("shard %s: %d of %d boots, complete %v: %s", s, len(res.Boots), len(res.Shard.Boots), res.Complete, out)
	return runErr
}

// partFiles expands the -merge arguments: files as given, directories to
// their shard-*.json.
func partFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "shard-*.json"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no shard-*.json", a)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, errors.New("-merge: no results given")
	}
	return files, nil
}

// mergeParts merges the partial results in files and writes every output
// into out. Missing boots are reported (and returned as the error) after
// the incomplete report is written.
func mergeParts(files []string, out string, stdout io.Writer) (*bench.Results, error) {
	var parts []*bench.Results
	for _, f := range files {
		r, err := bench.ReadResults(f)
		if err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	m, err := bench.Merge(parts...)
	var missing *bench.MissingBootsError
	if err != nil && !errors.As(err, &missing) {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "merge: %d parts, %d of %d boots, experiment %s\n", len(parts), len(m.Boots), len(m.Schedule), m.Experiment)
	if _, werr := report.WriteAll(out, m, report.WriteOptions{Out: stdout}); werr != nil {
		return m, errors.Join(err, werr)
	}
	if missing != nil {
		fmt.Fprintf(stdout, "merge: INCOMPLETE: %v\n", missing)
	}
	return m, err
}

// printEstimate prints the boots and the expected wall time on one
// machine and as shards, max at once.
func printEstimate(w io.Writer, e *bench.Experiment, shards, maxPar int, costs bench.BootCosts) (*bench.Estimate, error) {
	est, err := e.EstimateShards(shards, maxPar, costs)
	if err != nil {
		return nil, err
	}
	src := "built-in estimates"
	if est.Measured {
		src = "measured per-boot costs"
	}
	var modes []string
	for _, m := range []bench.Mode{bench.ModeWall, bench.ModeICount} {
		if n := est.ByMode[m]; n > 0 {
			modes = append(modes, fmt.Sprintf("%d %s (~%s each)", n, m, est.PerBoot[m].Round(time.Second)))
		}
	}
	fmt.Fprintf(w, "estimate (%s): %d boots: %s; one machine ~%s; %d shards, %d at a time ~%s\n", src, est.Boots,
		strings.Join(modes, ", "), est.Serial.Round(time.Minute), est.Shards, est.Concurrent, est.Parallel.Round(time.Minute))
	return est, nil
}

// submitSlurm writes the job, runs it, waits and merges into out.
func submitSlurm(ctx context.Context, c clusterOptions, pl *plan, planPath, cache, out string, env []string, stdout io.Writer) error {
	shardsDir := filepath.Join(c.work, "shards")
	if err := os.MkdirAll(shardsDir, 0o755); err != nil {
		return err
	}
	// Stale shards of an earlier run are never taken for this one's.
	old, _ := filepath.Glob(filepath.Join(shardsDir, "shard-*.json"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	bin := c.bin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	cmd := []string{bin, "-plan", planPath, "-out", shardsDir}
	if cache != "" {
		cmd = append(cmd, "-cache", cache)
	}
	job := slurm.Job{Name: "nullblk-bench", Tasks: pl.Shards, MaxRunning: c.maxParallel, Partition: c.partition,
		Dir: c.work, Command: cmd}
	e := &bench.Experiment{Kernels: pl.arms(), Preset: pl.Preset, Seed: pl.Seed}
	costs, err := loadCosts(e, c.costs)
	if err != nil {
		return err
	}
	est, err := printEstimate(stdout, e, pl.Shards, c.maxParallel, costs)
	if err != nil {
		return err
	}
	done := func(k int) bool {
		r, err := bench.ReadResults(shardFile(shardsDir, k, pl.Shards))
		return err == nil && r.Complete && r.Experiment == pl.Experiment && r.Shard != nil && r.Shard.Index == k
	}
	last := ""
	cl := &slurm.Client{Env: env}
	res, err := cl.Run(ctx, job, slurm.WaitOptions{Done: done, Retries: c.retries, Poll: c.poll,
		Estimate: est.Serial / time.Duration(max(pl.Shards, 1)),
		Progress: func(s slurm.Status) {
			line := s.String()
			if k := fmt.Sprint(s.Done, s.Failed, s.Running, s.Pending, s.Attempt); k != last {
				last = k
				fmt.Fprintln(stdout, line)
			}
		}})
	if err != nil {
		return err
	}
	for _, f := range res.Failed {
		fmt.Fprintf(stdout, "slurm: shard %d failed after %d attempts (state %s, exit %s); log: %s\n", f.Task, c.retries+1, f.State, f.ExitCode,
			filepath.Join(c.work, "logs", fmt.Sprintf("%s-%s_%d.out", job.Name, res.Jobs[len(res.Jobs)-1], f.Task)))
	}
	files, _ := filepath.Glob(filepath.Join(shardsDir, "shard-*.json"))
	if len(files) == 0 {
		return fmt.Errorf("slurm: no shard wrote results (jobs %s; logs in %s)", strings.Join(res.Jobs, ", "), filepath.Join(c.work, "logs"))
	}
	_, err = mergeParts(files, out, stdout)
	return err
}

func loadCosts(e *bench.Experiment, path string) (bench.BootCosts, error) {
	if path == "" {
		return bench.BootCosts{}, nil
	}
	r, err := bench.ReadResults(path)
	if err != nil {
		return bench.BootCosts{}, err
	}
	return e.MeasureBootCosts(r), nil
}

// k8sManifest is a Kubernetes Indexed Job running the plan's shards, as
// JSON (kubectl apply -f accepts it).
func k8sManifest(c clusterOptions, pl *plan, planPath string) ([]byte, error) {
	bin := c.bin
	if bin == "" {
		bin = "/usr/local/bin/nullblk-bench"
	}
	par := c.maxParallel
	if par <= 0 || par > pl.Shards {
		par = pl.Shards
	}
	shards := filepath.Join(c.work, "shards")
	type obj = map[string]any
	m := obj{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   obj{"name": "nullblk-bench", "labels": obj{"rflkit/experiment": strings.TrimPrefix(pl.Experiment, "sha256:")}},
		"spec": obj{
			"completionMode":       "Indexed",
			"completions":          pl.Shards,
			"parallelism":          par,
			"backoffLimitPerIndex": c.retries,
			"maxFailedIndexes":     pl.Shards,
			"template": obj{"spec": obj{
				"restartPolicy": "Never",
				"containers": []obj{{
					"name":    "shard",
					"image":   c.image,
					"command": []string{bin, "-plan", planPath, "-out", shards, "-cache", filepath.Join(c.work, "cache")},
					"env":     []obj{{"name": bench.EnvShardCount, "value": fmt.Sprint(pl.Shards)}},
					"resources": obj{
						"requests": obj{"cpu": "1", "memory": "1Gi"},
						"limits":   obj{"memory": "2Gi"},
					},
					"volumeMounts": []obj{{"name": "shared", "mountPath": c.work}},
				}},
				"volumes": []obj{{"name": "shared", "persistentVolumeClaim": obj{"claimName": c.claim}}},
			}},
		},
	}
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// planAndRun is what -slurm and -k8s-manifest do once the kernels are
// built: write the plan into the work directory, print the estimate, then
// print the manifest or run the Slurm job and merge.
func planAndRun(ctx context.Context, o options, p bench.Preset, kernels []bench.KernelArm, toolchain map[string]string, stdout io.Writer) error {
	c := o.cl
	if c.work == "" {
		return errors.New("-slurm and -k8s-manifest need -work DIR on storage every node shares")
	}
	work, err := filepath.Abs(c.work)
	if err != nil {
		return err
	}
	c.work = work
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	pl, err := makePlan(ctx, p, o.seed, c.shards, kernels, o.cache, toolchain)
	if err != nil {
		return err
	}
	pl.NoPlugin = o.noPlugin
	planPath := filepath.Join(work, "plan.json")
	if err := pl.write(planPath); err != nil {
		return err
	}
	if c.k8s {
		b, err := k8sManifest(c, pl, planPath)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	fmt.Fprintf(stdout, "plan: %s (experiment %s, %d shards)\n", planPath, pl.Experiment, pl.Shards)
	return submitSlurm(ctx, c, pl, planPath, o.cache, o.out, nil, stdout)
}

// estimateOnly is -estimate: no build, no boot.
func estimateOnly(o options, stdout io.Writer) error {
	p, err := bench.PresetByName(o.preset)
	if err != nil {
		return err
	}
	if o.wallBoots >= 0 {
		p.WallBoots = o.wallBoots
	}
	e := &bench.Experiment{Kernels: []bench.KernelArm{{Name: "helpers-on", Helpers: true}, {Name: "helpers-off"}}, Preset: p, Seed: o.seed}
	costs, err := loadCosts(e, o.cl.costs)
	if err != nil {
		return err
	}
	shards := o.cl.shards
	if shards == 0 {
		s, err := e.Schedule()
		if err != nil {
			return err
		}
		shards = len(s) / 2
	}
	_, err = printEstimate(stdout, e, shards, o.cl.maxParallel, costs)
	return err
}

// toolchainInfo is bench.Results.Toolchain for a toolchain report.
func toolchainInfo(rep *toolchain.Report) map[string]string {
	m := map[string]string{"fingerprint": rep.Fingerprint, "make_args": strings.Join(rep.MakeArgs(), " ")}
	for tool, c := range rep.Chosen {
		m[string(tool)] = c.Path + " " + c.Version
	}
	return m
}

// runCluster runs the modes that need no build (-plan, -merge); handled
// is false for the others.
func runCluster(ctx context.Context, o options, stdout, stderr io.Writer) (handled bool, err error) {
	switch {
	case o.cl.estimate:
		return true, estimateOnly(o, stdout)
	case o.cl.plan != "":
		return true, runShard(ctx, o, stdout, stderr)
	case o.cl.merge:
		files, err := partFiles(o.cl.mergeArgs)
		if err != nil {
			return true, err
		}
		slices.Sort(files)
		_, err = mergeParts(files, o.out, stdout)
		return true, err
	}
	return false, nil
}
