package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shard is one part of an experiment's schedule split across machines:
// shard Index (0-based) of Count. The zero value (Count 0) is the whole
// schedule on one machine.
//
// The unit of sharding is the round: the Schedule's consecutive boots of
// one mode that hold each kernel once, in a random order. Rounds are dealt
// like cards, all wall-clock rounds first and then all icount rounds, round
// c of that order going to shard c mod Count. So every shard boots every
// kernel equally often and alternates them as the whole schedule does, each
// shard's wall-clock and icount rounds differ from any other shard's by at
// most one, and its total by at most one. With more shards than rounds
// (and at most as many as boots) the unit is the boot instead, dealt the
// same way: every boot still runs exactly once and the schedule as a whole
// stays balanced, but a shard no longer holds every kernel. A shard runs
// its boots in schedule order, and each keeps its index in the whole
// schedule.
type Shard struct {
	// Index is the shard's number, 0 <= Index < Count.
	Index int
	// Count is the number of shards; 0 means no sharding.
	Count int
}

// String is "k/n" ("" for the zero Shard).
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

func (s Shard) validate() error {
	if s.Count == 0 && s.Index == 0 {
		return nil
	}
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("bench: bad shard %d/%d: want 0 <= k < n", s.Index, s.Count)
	}
	return nil
}

// ParseShard parses "k/n" (0 <= k < n).
func ParseShard(v string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(v), "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("bench: shard %q: want k/n", v)
	}
	s := Shard{Index: k, Count: n}
	if err := s.validate(); err != nil || n == 0 {
		return Shard{}, fmt.Errorf("bench: shard %q: want 0 <= k < n", v)
	}
	return s, nil
}

// Environment variables ShardFromEnv reads, in this order.
const (
	// EnvShard is "k/n", set by the Slurm job script of bench/slurm (a
	// resubmitted array holds only some tasks, so SLURM_ARRAY_TASK_COUNT
	// is not n there).
	EnvShard = "RFLKIT_SHARD"
	// EnvSlurmTaskID and EnvSlurmTaskCount are set by Slurm in each task
	// of a job array.
	EnvSlurmTaskID    = "SLURM_ARRAY_TASK_ID"
	EnvSlurmTaskCount = "SLURM_ARRAY_TASK_COUNT"
	// EnvK8sIndex is set by Kubernetes in each pod of an Indexed Job; the
	// count comes from EnvShardCount (or the caller).
	EnvK8sIndex = "JOB_COMPLETION_INDEX"
	// EnvShardCount is the shard count beside JOB_COMPLETION_INDEX.
	EnvShardCount = "RFLKIT_SHARD_COUNT"
)

// ShardFromEnv finds the shard of this process: RFLKIT_SHARD ("k/n"), else
// SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, else Kubernetes'
// JOB_COMPLETION_INDEX of count (when count > 0) or RFLKIT_SHARD_COUNT.
// getenv is os.Getenv or a test's map. ok is false when none is set.
func ShardFromEnv(getenv func(string) string, count int) (s Shard, ok bool, err error) {
	if v := getenv(EnvShard); v != "" {
		s, err := ParseShard(v)
		return s, err == nil, err
	}
	if id := getenv(EnvSlurmTaskID); id != "" {
		s, err := ParseShard(id + "/" + getenv(EnvSlurmTaskCount))
		if err != nil {
			return Shard{}, false, fmt.Errorf("bench: %s=%q %s=%q: %w", EnvSlurmTaskID, id, EnvSlurmTaskCount, getenv(EnvSlurmTaskCount), err)
		}
		return s, true, nil
	}
	if idx := getenv(EnvK8sIndex); idx != "" {
		n := strconv.Itoa(count)
		if count <= 0 {
			n = getenv(EnvShardCount)
		}
		if n == "" || n == "0" {
			return Shard{}, false, fmt.Errorf("bench: %s=%q but no shard count (set %s or pass it)", EnvK8sIndex, idx, EnvShardCount)
		}
		s, err := ParseShard(idx + "/" + n)
		return s, err == nil, err
	}
	return Shard{}, false, nil
}

// ShardInfo is the shard a partial results.json holds.
type ShardInfo struct {
	// Index and Count are the shard, k of n (0-based k).
	Index int `json:"index"`
	Count int `json:"count"`
	// Boots are the indices in the schedule of the boots the shard was
	// to run, in running order.
	Boots []int `json:"boots"`
}

// PartInfo describes one partial results.json merged by Merge.
type PartInfo struct {
	// Shard is the part's shard (zero for an unsharded run).
	Shard ShardInfo `json:"shard"`
	// Hostname is the machine that ran the part.
	Hostname string `json:"hostname"`
	// Started and Finished are the part's own (UTC).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Complete is the part's completeness; Error why it stopped early.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
	// Boots are the indices of the part's boots that were merged
	// (complete ones); a boot cut short is left out.
	Boots []int `json:"boots"`
}

// rounds splits a schedule into its rounds: consecutive boots of one mode
// holding each of k kernels once.
func rounds(plans []BootPlan, k int) ([][]BootPlan, error) {
	if k < 1 || len(plans)%k != 0 {
		return nil, fmt.Errorf("bench: a schedule of %d boots does not split into rounds of %d kernels", len(plans), k)
	}
	var rs [][]BootPlan
	for i := 0; i < len(plans); i += k {
		r := plans[i : i+k]
		for _, p := range r {
			if p.Mode != r[0].Mode {
				return nil, fmt.Errorf("bench: boots %d..%d mix modes: not a round", i, i+k-1)
			}
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// ShardPlans returns the boots of plans (a Schedule of k kernels) that
// shard s runs, in running order (see Shard for the rule). The zero Shard
// returns plans. It fails when s is invalid or the schedule has fewer
// boots than shards.
func ShardPlans(plans []BootPlan, k int, s Shard) ([]BootPlan, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Count == 0 {
		return plans, nil
	}
	rs, err := rounds(plans, k)
	if err != nil {
		return nil, err
	}
	if len(rs) < s.Count {
		if len(plans) < s.Count {
			return nil, fmt.Errorf("bench: shard %s: the schedule has %d boots, fewer than %d shards", s, len(plans), s.Count)
		}
		// One boot per unit.
		rs = rs[:0]
		for i := range plans {
			rs = append(rs, plans[i:i+1])
		}
	}
	var mine []BootPlan
	c := 0
	for _, m := range []Mode{ModeWall, ModeICount} {
		for _, r := range rs {
			if r[0].Mode != m {
				continue
			}
			if c%s.Count == s.Index {
				mine = append(mine, r...)
			}
			c++
		}
	}
	slices.SortFunc(mine, func(a, b BootPlan) int { return a.Index - b.Index })
	return mine, nil
}

// ExperimentID identifies an experiment by what makes two runs of it
// comparable: the preset in full, the seed, the guests' vCPUs, the drivers
// in order and each kernel arm's name, claim and content (the SHA-256 of
// its bzImage and .config). Shards of one experiment carry the same id and
// so do their merge; two runs with the same id run the same schedule on the
// same kernels. It is "sha256:" and 24 hex digits.
func ExperimentID(p Preset, seed uint64, guestCPUs int, drivers []Driver, kernels []KernelMeta) string {
	type kern struct {
		Name          string `json:"name"`
		Helpers       bool   `json:"helpers"`
		BzImageSHA256 string `json:"bzimage_sha256"`
		ConfigSHA256  string `json:"config_sha256"`
	}
	v := struct {
		Format    int      `json:"format"`
		Preset    Preset   `json:"preset"`
		Seed      uint64   `json:"seed"`
		GuestCPUs int      `json:"guest_cpus"`
		Drivers   []Driver `json:"drivers"`
		Kernels   []kern   `json:"kernels"`
	}{Format: ResultsFormat, Preset: p, Seed: seed, GuestCPUs: max(guestCPUs, 1), Drivers: drivers}
	for _, k := range kernels {
		v.Kernels = append(v.Kernels, kern{k.Name, k.InlineHelpers, k.BzImageSHA256, k.ConfigSHA256})
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Plain data: Marshal does not fail; hash the Go syntax if it did.
		b = fmt.Appendf(nil, "%#v", v)
	}
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:12])
}

// ExperimentMismatchError is Run's error when the kernels (or preset, seed,
// drivers) found here do not make the experiment the caller expects
// (Experiment.ExpectID): a shard found other kernel images on its node
// than the ones the experiment was planned with.
type ExperimentMismatchError struct {
	// Want is the expected id, Got this node's.
	Want, Got string
	// Kernels are the kernels as found here (paths and hashes).
	Kernels []KernelMeta
}

func (e *ExperimentMismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bench: experiment %s here, want %s (different kernels, preset, seed or drivers); kernels here:", e.Got, e.Want)
	for _, k := range e.Kernels {
		fmt.Fprintf(&b, " %s=%s (sha256 %s)", k.Name, k.BzImage, orUnknown(k.BzImageSHA256))
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// prepareShard stamps res with the experiment id and shard, checks the
// expected id and returns the boots to run. Run calls it once the kernels
// are described, before the first boot.
func (e *Experiment) prepareShard(plans []BootPlan, res *Results) ([]BootPlan, error) {
	res.Experiment = ExperimentID(res.Preset, res.Seed, res.GuestCPUs, e.drivers(), res.Kernels)
	if e.ExpectID != "" && e.ExpectID != res.Experiment {
		return nil, &ExperimentMismatchError{Want: e.ExpectID, Got: res.Experiment, Kernels: res.Kernels}
	}
	mine, err := ShardPlans(plans, len(e.Kernels), e.Shard)
	if err != nil {
		return nil, err
	}
	if e.Shard.Count > 0 {
		si := &ShardInfo{Index: e.Shard.Index, Count: e.Shard.Count, Boots: []int{}}
		for _, p := range mine {
			si.Boots = append(si.Boots, p.Index)
		}
		res.Shard = si
	}
	return mine, nil
}

// BootCosts are wall-time costs per boot by mode, measured or estimated.
type BootCosts struct {
	// Scale multiplies the built-in estimate of a boot of each mode
	// (boot overhead plus its fio runs); 0 means 1.
	Scale map[Mode]float64
	// Measured says the scales came from real boots (MeasureBootCosts).
	Measured bool
}

// MeasureBootCosts derives BootCosts from the boots of a results.json: for
// each mode, the ratio of the boots' real wall time to the built-in
// estimate of their plans. Modes without a boot keep the estimate.
func (e *Experiment) MeasureBootCosts(r *Results) BootCosts {
	real, est := map[Mode]float64{}, map[Mode]float64{}
	sched := map[int]BootPlan{}
	for _, p := range r.Schedule {
		sched[p.Index] = p
	}
	for _, b := range r.Boots {
		p, ok := sched[b.Index]
		if !ok || b.WallSeconds <= 0 {
			continue
		}
		other := *e
		other.Preset = r.Preset
		real[b.Mode] += b.WallSeconds
		est[b.Mode] += other.bootCost(p, BootCosts{}).Seconds()
	}
	c := BootCosts{Scale: map[Mode]float64{}}
	for m, v := range real {
		if est[m] > 0 {
			c.Scale[m] = v / est[m]
			c.Measured = true
		}
	}
	return c
}

// bootCost is the estimated wall time of one boot.
func (e *Experiment) bootCost(p BootPlan, c BootCosts) time.Duration {
	d := e.bootEstimate(p.Mode)
	for _, s := range p.Steps {
		d += e.stepEstimate(s, p.Mode)
	}
	if f := c.Scale[p.Mode]; f > 0 {
		d = time.Duration(float64(d) * f)
	}
	return d
}

// Estimate is the expected wall time of a schedule, on one machine and
// split into shards.
type Estimate struct {
	// Boots is the schedule's boot count, by mode in ByMode.
	Boots  int
	ByMode map[Mode]int
	// PerBoot is the mean estimated wall time of a boot, by mode.
	PerBoot map[Mode]time.Duration
	// Serial is the whole schedule on one machine, one boot at a time.
	Serial time.Duration
	// Shards and Concurrent are the shard count and how many shards run
	// at once; Parallel is the wall time then: shards are started in
	// order whenever one of Concurrent slots is free (as a Slurm array
	// with %K does), so it is at least the longest shard.
	Shards, Concurrent int
	Parallel           time.Duration
	// Measured says the per-boot costs came from real boots.
	Measured bool
}

// EstimateShards estimates the schedule's wall time on one machine and as
// shards shards run concurrent at a time (0 means all at once), from
// costs (zero: the built-in estimates).
func (e *Experiment) EstimateShards(shards, concurrent int, costs BootCosts) (*Estimate, error) {
	plans, err := e.Schedule()
	if err != nil {
		return nil, err
	}
	shards = max(shards, 1)
	if concurrent <= 0 || concurrent > shards {
		concurrent = shards
	}
	est := &Estimate{Boots: len(plans), ByMode: map[Mode]int{}, PerBoot: map[Mode]time.Duration{},
		Shards: shards, Concurrent: concurrent, Measured: costs.Measured}
	sum := map[Mode]time.Duration{}
	for _, p := range plans {
		d := e.bootCost(p, costs)
		est.ByMode[p.Mode]++
		sum[p.Mode] += d
		est.Serial += d
	}
	for m, n := range est.ByMode {
		est.PerBoot[m] = sum[m] / time.Duration(n)
	}
	slots := make([]time.Duration, concurrent)
	for k := range shards {
		mine, err := ShardPlans(plans, len(e.Kernels), Shard{Index: k, Count: shards})
		if shards == 1 {
			mine, err = plans, nil
		}
		if err != nil {
			return nil, err
		}
		var d time.Duration
		for _, p := range mine {
			d += e.bootCost(p, costs)
		}
		i := slices.Index(slots, slices.Min(slots))
		slots[i] += d
	}
	est.Parallel = slices.Max(slots)
	return est, nil
}
