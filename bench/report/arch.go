package report

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/rflkit/rflkit/bench"
)

// archRow is one estimate present in at least one of the two runs: a
// pooled question (Workload "") or one workload's comparison.
type archRow struct {
	q        bench.Question
	m        bench.Measure
	a, b     bench.ArmKey // Workload cleared for pooled rows
	workload string
}

// archKey names a row independently of its run.
func archKey(q bench.Question, m bench.Measure, a, b bench.ArmKey, workload string) archRow {
	a.Workload, b.Workload = "", ""
	return archRow{q: q, m: m, a: a, b: b, workload: workload}
}

// CompareArchitectures writes two experiments of different guest
// architectures side by side (a first, conventionally x86_64, then arm64):
// for every question and measure, the mean change over workloads with its
// 95% interval (bench.Pool, as Summary gives it) of each run, then each
// workload's change, then the arms' mean values of the plugin's
// driver-own instructions and helper calls per I/O. An estimate that only
// one run has shows "-" for the other. Both runs are analysed with
// bench.Analyze's defaults. It refuses nil results and two runs of the same
// architecture (Results.Architecture).
func CompareArchitectures(w io.Writer, a, b *bench.Results) error {
	if a == nil || b == nil {
		return errors.New("report: compare architectures: nil results")
	}
	archA, archB := a.Architecture(), b.Architecture()
	if archA == archB {
		return fmt.Errorf("report: compare architectures: both runs are %s", archA)
	}
	anA, err := bench.Analyze(a, bench.AnalyzeOptions{})
	if err != nil {
		return fmt.Errorf("report: %s: %w", archA, err)
	}
	anB, err := bench.Analyze(b, bench.AnalyzeOptions{})
	if err != nil {
		return fmt.Errorf("report: %s: %w", archB, err)
	}
	ew := &errWriter{w: w}
	ew.printf("# %s vs %s\n\n", archA, archB)
	for _, r := range []struct {
		arch string
		res  *bench.Results
	}{{archA, a}, {archB, b}} {
		ew.printf("- %s: preset `%s`, seed %d, %d boots, guest CPU %s, %s\n", r.arch, r.res.Preset.Name, r.res.Seed,
			len(r.res.Boots), orNone(r.res.GuestCPU), orNone(r.res.Host.QEMUVersion))
	}
	ew.printf("\nChanges are B/A - 1 of the comparison's arms, with 95%% intervals over boots.\n")

	// Pooled estimates: one line per question, measure and arm pair.
	pooled, order := pairRows(anA.Pooled, anB.Pooled, func(p *bench.PooledEstimate) archRow {
		return archKey(p.Question, p.Measure, p.A, p.B, "")
	})
	ew.printf("\n## Mean change over workloads\n\n| question | A → B | measure | %s | %s |\n|---|---|---|---|---|\n", archA, archB)
	for _, k := range order {
		v := pooled[k]
		cell := func(p *bench.PooledEstimate) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprintf("%s (%d workloads)", fmtPooled(*p), len(p.Workloads))
		}
		ew.printf("| %s | %s → %s | %s | %s | %s |\n", k.q, k.a, k.b, k.m, cell(v[0]), cell(v[1]))
	}

	// Per-workload comparisons.
	comps, order := pairRows(anA.Comparisons, anB.Comparisons, func(c *bench.Comparison) archRow {
		return archKey(c.Question, c.Measure, c.A, c.B, c.Workload)
	})
	ew.printf("\n## Per workload\n\n| question | workload | A → B | measure | %s | %s |\n|---|---|---|---|---|---|\n", archA, archB)
	for _, k := range order {
		v := comps[k]
		cell := func(c *bench.Comparison) string {
			if c == nil {
				return "-"
			}
			return fmtChange(*c)
		}
		ew.printf("| %s | %s | %s → %s | %s | %s | %s |\n", k.q, k.workload, k.a, k.b, k.m, cell(v[0]), cell(v[1]))
	}

	// What the arms cost: driver-own instructions and helper calls per I/O.
	type armKey struct {
		m        bench.Measure
		arm      string
		workload string
	}
	arms := map[armKey][2]float64{}
	var armOrder []armKey
	for i, an := range []*bench.Analysis{anA, anB} {
		for _, s := range an.Arms {
			if s.Measure != bench.MeasureDriverInsns && s.Measure != bench.MeasureHelperCalls {
				continue
			}
			k := armKey{s.Measure, s.Key.String(), s.Key.Workload}
			v, seen := arms[k]
			if !seen {
				v = [2]float64{-1, -1}
				armOrder = append(armOrder, k)
			}
			v[i] = s.Mean
			arms[k] = v
		}
	}
	if len(armOrder) > 0 {
		sort.SliceStable(armOrder, func(i, j int) bool {
			x, y := armOrder[i], armOrder[j]
			if x.m != y.m {
				return x.m < y.m
			}
			if x.workload != y.workload {
				return x.workload < y.workload
			}
			return x.arm < y.arm
		})
		ew.printf("\n## Per I/O, mean over boots\n\n| measure | workload | arm | %s | %s |\n|---|---|---|---|---|\n", archA, archB)
		for _, k := range armOrder {
			v := arms[k]
			cell := func(x float64) string {
				if x < 0 {
					return "-"
				}
				return fmt.Sprintf("%.1f", x)
			}
			ew.printf("| %s | %s | %s | %s | %s |\n", k.m, k.workload, k.arm, cell(v[0]), cell(v[1]))
		}
	}
	return ew.err
}

// sortRows orders rows by question, measure, workload and arms.
func sortRows(rows []archRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		x, y := rows[i], rows[j]
		switch {
		case x.q != y.q:
			return x.q > y.q // "rnull vs null_blk" first, as Summary
		case x.m != y.m:
			return x.m < y.m
		case x.workload != y.workload:
			return x.workload < y.workload
		case x.a.String() != y.a.String():
			return x.a.String() < y.a.String()
		}
		return x.b.String() < y.b.String()
	})
}

// pairRows matches the items of two analyses (a's in slot 0, b's in slot
// 1) by their row key, and returns the rows sorted.
func pairRows[T any](a, b []T, key func(*T) archRow) (map[archRow][2]*T, []archRow) {
	rows := map[archRow][2]*T{}
	var order []archRow
	for i, items := range [][]T{a, b} {
		for j := range items {
			it := &items[j]
			k := key(it)
			v, seen := rows[k]
			if !seen {
				order = append(order, k)
			}
			v[i] = it
			rows[k] = v
		}
	}
	sortRows(order)
	return rows, order
}
