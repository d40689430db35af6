package bench

import (
	"errors"
	"fmt"
	"strings"
)

// PooledEstimate is one question's answer over all the workloads of a
// measure: the mean over workloads of the relative change B/A - 1, the
// statistic of the published figures (the 2% of inline helpers is the
// mean relative IOPS change over 120 workloads), with its interval.
type PooledEstimate struct {
	Question Question
	Measure  Measure
	// A and B are the arms compared (their Workload is ""): the same
	// kernel's null_blk and rnull for Rust vs C, the same driver under
	// helpers-off and helpers-on for helpers on vs off.
	A, B ArmKey
	// Workloads are the workloads averaged over, in the order of
	// Analysis.Comparisons.
	Workloads []string
	// Ratio is 1 + the mean relative change over the workloads, from the
	// boots with every workload; set whenever both arms have such boots.
	Ratio float64
	// BootsA and BootsB are the boots used per arm: those with every
	// workload (and, for paired arms, in both arms).
	BootsA, BootsB int
	// Interval is Ratio with its bootstrap interval over boots (Pool);
	// zero when Note or Err is set.
	Interval Interval
	// Note is NoteTooFewBoots when an arm has fewer than
	// MinIntervalBoots boots with every workload; "" otherwise.
	Note string
	// Err is why there is no estimate (a workload's comparison failed);
	// "" otherwise.
	Err string
	// Warnings name the boots left out because they lack a workload.
	Warnings []string
}

// Label names the estimate: "question: A vs B" ("rnull vs null_blk:
// helpers-on/null_blk vs helpers-on/rnull").
func (p PooledEstimate) Label() string {
	return fmt.Sprintf("%s: %s vs %s", p.Question, p.A, p.B)
}

// Change is the mean relative change over workloads, Ratio - 1.
func (p PooledEstimate) Change() float64 { return p.Ratio - 1 }

// HasInterval reports whether the estimate carries an interval (neither
// Note nor Err is set).
func (p PooledEstimate) HasInterval() bool { return p.Err == "" && p.Note == "" }

// Pool computes a's pooled estimates: for every question, measure and
// kernel (Rust vs C) or driver (helpers on vs off) that has comparisons,
// the mean over those workloads of each workload's ratio of means of boot
// means, less 1, and its interval.
//
// The interval comes from a bootstrap that treats the boot as the unit of
// repetition and the workloads as fixed. The workloads are the question
// (like the published 120, they are the population the mean is about, not
// a sample of one). Every workload runs in every boot, so a boot carries
// all its workloads into a resample; boot effects shared between
// workloads (in the committed run, a boot whose null_blk runs are 0.1%
// high is so in all three workloads) stay together, where combining the
// per-workload intervals as if independent would understate the spread.
// Paired arms (the two drivers of a kernel, in the same boots) resample
// boots jointly; independent arms (the two kernels) resample each arm's
// boots. Runs within a boot are not resampled a second time: a second
// stage adds their variance again (the boot means already hold it), and
// under icount a boot has one run. A mixed model with boot as a random
// effect would answer the same question, but it assumes normal boot
// effects, which the two-mode icount boots are not, and its variance
// component rests on 5 boots per arm here. The percentile interval is
// widened as RatioCI's is, with Welch-Satterthwaite degrees of freedom
// from the boots' linearised contributions (see meanRatioCI); with one
// workload the estimate and interval are RatioCI's.
//
// Boots that lack a workload in an arm (an experiment that stopped early)
// are left out of that arm, with a warning. Pool returns an error only
// for a nil analysis; a group whose comparisons failed carries Err.
func Pool(a *Analysis, bo BootstrapOptions) ([]PooledEstimate, error) {
	if a == nil {
		return nil, errors.New("bench: nil analysis")
	}
	arms := map[Measure]map[ArmKey]*ArmStats{}
	for i := range a.Arms {
		s := &a.Arms[i]
		if arms[s.Measure] == nil {
			arms[s.Measure] = map[ArmKey]*ArmStats{}
		}
		arms[s.Measure][s.Key] = s
	}
	type group struct {
		q    Question
		m    Measure
		a, b ArmKey
	}
	var order []group
	members := map[group][]Comparison{}
	for _, c := range a.Comparisons {
		ka, kb := c.A, c.B
		ka.Workload, kb.Workload = "", ""
		g := group{c.Question, c.Measure, ka, kb}
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], c)
	}
	var out []PooledEstimate
	for _, g := range order {
		p := PooledEstimate{Question: g.q, Measure: g.m, A: g.a, B: g.b}
		paired := g.q == RustVsC
		var as, bs []*ArmStats
		for _, c := range members[g] {
			p.Workloads = append(p.Workloads, c.Workload)
			if c.Err != "" && p.Err == "" {
				p.Err = fmt.Sprintf("%s: %s", c.Workload, c.Err)
			}
			as, bs = append(as, arms[g.m][c.A]), append(bs, arms[g.m][c.B])
		}
		if p.Err == "" {
			pool(&p, as, bs, paired, bo)
		}
		out = append(out, p)
	}
	return out, nil
}

// pool fills p's interval from the arms of its workloads (as[w], bs[w]).
func pool(p *PooledEstimate, as, bs []*ArmStats, paired bool, bo BootstrapOptions) {
	for w := range as {
		if as[w] == nil || bs[w] == nil {
			p.Err = fmt.Sprintf("%s: no arm", p.Workloads[w])
			return
		}
	}
	// Boots with every workload, in the order of the first workload's
	// arm; for paired arms, in both arms.
	idsA, droppedA := commonBoots(as)
	idsB, droppedB := commonBoots(bs)
	if paired {
		inA, inB := map[string]bool{}, map[string]bool{}
		for _, id := range idsA {
			inA[id] = true
		}
		for _, id := range idsB {
			inB[id] = true
		}
		var both []string
		for _, id := range idsA {
			if inB[id] {
				both = append(both, id)
			} else {
				droppedA = append(droppedA, id)
			}
		}
		for _, id := range idsB {
			if !inA[id] {
				droppedB = append(droppedB, id)
			}
		}
		idsA, idsB = both, both
	}
	for _, d := range []struct {
		arm ArmKey
		ids []string
	}{{p.A, droppedA}, {p.B, droppedB}} {
		if len(d.ids) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: boots %s left out: they lack a workload", d.arm, strings.Join(d.ids, ", ")))
		}
	}
	p.BootsA, p.BootsB = len(idsA), len(idsB)
	ma, mb := bootMatrix(as, idsA), bootMatrix(bs, idsB)
	if len(ma) > 0 && len(mb) > 0 {
		p.Ratio = meanRatio(ma, mb)
	}
	if min(len(idsA), len(idsB)) < MinIntervalBoots {
		p.Note = NoteTooFewBoots
		return
	}
	iv, err := meanRatioCI(ma, mb, paired, bo, welchDF)
	if err != nil {
		p.Err = err.Error()
		return
	}
	p.Interval = iv
}

// commonBoots returns the boot ids present in every arm (workload), in
// the first arm's order, and those of the first arm that are not.
func commonBoots(arms []*ArmStats) (ids, dropped []string) {
	count := map[string]int{}
	for _, s := range arms {
		seen := map[string]bool{}
		for _, id := range s.BootIDs {
			if !seen[id] {
				seen[id] = true
				count[id]++
			}
		}
	}
	for _, id := range arms[0].BootIDs {
		if count[id] == len(arms) {
			ids = append(ids, id)
		} else {
			dropped = append(dropped, id)
		}
	}
	return ids, dropped
}

// bootMatrix returns, for each boot id, its mean on each arm (workload).
func bootMatrix(arms []*ArmStats, ids []string) [][]float64 {
	m := make([][]float64, len(ids))
	for w, s := range arms {
		ix := map[string]int{}
		for i, id := range s.BootIDs {
			ix[id] = i
		}
		for i, id := range ids {
			if w == 0 {
				m[i] = make([]float64, len(arms))
			}
			m[i][w] = Mean(s.ByBoot[ix[id]])
		}
	}
	return m
}

// meanRatio is the mean over workloads (columns) of the ratio of the
// column means of b and a.
func meanRatio(a, b [][]float64) float64 {
	r := 0.0
	for w := range a[0] {
		sa, sb := 0.0, 0.0
		for _, row := range a {
			sa += row[w]
		}
		for _, row := range b {
			sb += row[w]
		}
		r += (sb / float64(len(b))) / (sa / float64(len(a)))
	}
	return r / float64(len(a[0]))
}
