package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/rflkit/rflkit/bench"
)

// fmtCV is a variance component as a standard deviation in percent of
// the mean, "n/a" when it is not estimable.
func fmtCV(vc bench.VarianceComponents, c float64) string {
	cv := vc.CV(c)
	if math.IsNaN(cv) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f%%", 100*cv)
}

// writeDesign is the report's section on the experiment's own variance:
// the variance components of the conclusive measure's arms, the modes of
// instance means, the first-run effect, the design advice and the
// sequential stopping record.
func writeDesign(bw *errWriter, r *bench.Results, a *bench.Analysis) {
	d := a.Design
	if d == nil {
		return
	}
	m := d.Measure
	bw.printf("## Where the spread lies: boots, device instances, runs\n\n")
	bw.printf("Design: %d device instance(s) per boot (devices created afresh through configfs), %d run(s) per instance, %d boots per kernel. "+
		"The variance components are ANOVA moment estimates of the nested model boot > instance > run, "+
		"shown as standard deviations in percent of the arm's mean (%s).", d.Current.Instances, d.Current.Runs, d.Current.Boots, m.Label())
	var instInBoot, runInInst bool
	for _, s := range a.Arms {
		if s.Measure == m {
			instInBoot = instInBoot || s.Components.InstanceInBoot
			runInInst = runInInst || s.Components.RunInInstance
		}
	}
	var folded []string
	if instInBoot {
		folded = append(folded, "with one instance per boot, the boot column holds the instance spread too")
	}
	if runInInst {
		folded = append(folded, "with one run per instance, the instance column holds the run spread too")
	}
	if len(folded) > 0 {
		bw.printf(" Levels the design does not repeat cannot be told apart: %s.", strings.Join(folded, "; "))
	}
	bw.printf("\n\n| workload | kernel | driver | boot | instance | run | modes of instance means | first run vs later [95%% CI] |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range a.Arms {
		if s.Measure != m {
			continue
		}
		vc := s.Components
		modes := "-"
		if im := s.InstanceModality; im != nil {
			modes = "1"
			if im.Multimodal {
				var parts []string
				for _, md := range im.Modes {
					parts = append(parts, fmt.Sprintf("%.6g (%d)", (md.Min+md.Max)/2, len(md.BootIDs)))
				}
				modes = fmt.Sprintf("%d: %s", len(im.Modes), strings.Join(parts, ", "))
			}
		}
		first := "-"
		if f := s.FirstRun; f != nil {
			first = fmt.Sprintf("%+.4f%% [%+.4f%%, %+.4f%%]", 100*f.Change, 100*f.Lo, 100*f.Hi)
			if f.Warmup {
				first += " (warm-up)"
			}
		}
		trunc := ""
		if len(vc.Truncated) > 0 {
			trunc = " (" + strings.Join(vc.Truncated, ", ") + " set to 0)"
		}
		bw.printf("| %s | %s | %s | %s | %s | %s%s | %s | %s |\n", s.Key.Workload, s.Key.Kernel, s.Key.Driver,
			fmtCV(vc, vc.Boot), fmtCV(vc, vc.Instance), fmtCV(vc, vc.Run), trunc, modes, first)
	}
	bw.printf("\nMeasured costs per level (wall time, this host): boot %.1f s (start, settling, everything but its instances), "+
		"instance %.3f s (creating its devices), run %.1f s (one run of every workload and driver).\n\n", d.Costs.Boot, d.Costs.Instance, d.Costs.Run)
	rec := d.Recommended
	bw.printf("**Sizing the next run** (Kalibera & Jones: per level, sqrt(cost above × variance below / (cost below × variance above)), "+
		"the median over the arms): %d instance(s) per boot, %d run(s) per instance, about %.0f s per boot.", rec.Instances, rec.Runs, rec.Seconds)
	if d.Widest != "" {
		bw.printf(" The widest pooled interval here is ±%.3f%% (%s)", 100*d.WidestHalfWidth, d.Widest)
		if rec.Boots > 0 {
			bw.printf("; for ±%.3f%% it would take about %d boots per kernel with that design (%.0f min of boots for two kernels)",
				100*d.Target, rec.Boots, 2*float64(rec.Boots)*rec.Seconds/60)
			if d.CurrentBoots > 0 {
				bw.printf(", or %d with this run's design (%.0f min)", d.CurrentBoots, 2*float64(d.CurrentBoots)*d.Current.Seconds/60)
			}
		}
		bw.printf(".")
	}
	if c := d.Cheapest; c.Boots > 0 {
		bw.printf(" **Cheapest design for ±%.3f%%**, searched over 1-16 instances and runs with these components and costs: %d boots per kernel of %d instance(s) × %d run(s), about %.0f s each (%.0f min of boots for two kernels).",
			100*d.Target, c.Boots, c.Instances, c.Runs, c.Seconds, 2*float64(c.Boots)*c.Seconds/60)
	}
	bw.printf(" The per-level optimum assumes many boots; at 2 to 4 boots the t quantile, not the variance, sets the width, and fewer, fuller boots can cost more. "+
		"These are estimates from %d boots per arm: the boot component rests on few degrees of freedom.\n\n", d.Current.Boots)
	for _, n := range d.Notes {
		bw.printf("- %s\n", n)
	}
	if len(d.Notes) > 0 {
		bw.printf("\n")
	}
	if st := r.Stop; st != nil {
		bw.printf("**Sequential stopping**: target ±%.3f%%", 100*st.TargetHalfWidth)
		if st.Each {
			bw.printf(" for every comparison and pooled estimate")
		} else {
			bw.printf(" for the pooled estimates")
		}
		if st.BudgetSeconds > 0 {
			bw.printf(", budget %.0f s", st.BudgetSeconds)
		}
		bw.printf("; stopped after %d of %d rounds: %s.", st.Rounds, st.PlannedRounds, st.Reason)
		if len(st.Checks) > 0 {
			var cs []string
			for _, c := range st.Checks {
				cs = append(cs, fmt.Sprintf("%d rounds ±%.3f%%", c.Rounds, 100*c.HalfWidth))
			}
			bw.printf(" Checks: %s.", strings.Join(cs, ", "))
		}
		bw.printf(" The rule watches the intervals' widths, not their positions, so it does not select an effect; the stated 95%% is " +
			"still approximate after a data-dependent stop.\n\n")
	}
}
