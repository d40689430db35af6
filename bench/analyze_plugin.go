package bench

import (
	"fmt"
	"slices"
)

// analyzedMeasures are the measures Analyze looks for, in the order of
// its arms: the plugin's, fio-derived instructions per I/O, IOPS.
func analyzedMeasures() []Measure {
	return append(PluginMeasures(), MeasureInstr, MeasureIOPS)
}

// measureRank orders measures as analyzedMeasures does.
func measureRank(m Measure) int {
	if i := slices.Index(analyzedMeasures(), m); i >= 0 {
		return i
	}
	return len(analyzedMeasures())
}

// zeroAllowed reports whether 0 is a valid value of m: helper calls are
// zero for null_blk, and for rnull with inline helpers.
func (m Measure) zeroAllowed() bool { return m == MeasureHelperCalls }

// resolution is the smallest difference a run's value v of m can show:
// one I/O more or less for fio's figures (v/total_ios), one instruction
// or entry in the windows' difference for the plugin's (1/IOs).
func (m Measure) resolution(s Sample, v float64) float64 {
	if m.IsPlugin() {
		if s.Plugin != nil && s.Plugin.IOs > 0 {
			return 1 / float64(s.Plugin.IOs)
		}
		return 0
	}
	if s.TotalIOs > 0 {
		return v / float64(s.TotalIOs)
	}
	return 0
}

// comparable reports whether arms A and B can form a ratio B/A: helper
// calls are compared only when both arms make some (a ratio to or from
// zero calls means nothing; the report gives the calls themselves, and
// "4 calls per I/O without inline helpers, 0 with" is the check that the
// option acted).
func comparable(m Measure, A, B *ArmStats) bool {
	if m != MeasureHelperCalls {
		return true
	}
	return makesCalls(A) && makesCalls(B)
}

// makesCalls reports whether some run of the arm has a non-zero value.
func makesCalls(s *ArmStats) bool {
	for _, b := range s.ByBoot {
		for _, v := range b {
			if v != 0 {
				return true
			}
		}
	}
	return false
}

// pluginWarnings names the plugin samples that failed their I/O check
// and the -icount boots without plugin counts beside boots with them.
func pluginWarnings(r *Results) []string {
	var ws []string
	with, without := 0, 0
	for _, b := range r.Boots {
		if b.Mode != ModeICount {
			continue
		}
		if b.Plugin {
			with++
		} else {
			without++
		}
		for _, s := range b.Samples {
			if s.Plugin != nil && s.Plugin.Failed != "" {
				ws = append(ws, fmt.Sprintf("boot %d (%s), %s %s run %d: failed plugin sample, left out: %s", b.Index, b.Kernel, s.Driver, s.Workload, s.Run, s.Plugin.Failed))
			}
		}
	}
	if with > 0 && without > 0 {
		ws = append(ws, fmt.Sprintf("%d -icount boots counted with the plugin and %d without: the plugin measures rest on the former only", with, without))
	}
	return ws
}
