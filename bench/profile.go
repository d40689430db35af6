package bench

import (
	"cmp"
	"math"
	"slices"
)

// FuncDiff is one function's line of a differential profile: its mean
// instructions per I/O in arms A and B (means of boot means; a boot in
// which it did not run counts 0), B − A, and the per-boot values, so that
// a function with modes (sbitmap_find_bit costs one of two exact values
// per device instance) shows which boots it split.
type FuncDiff struct {
	Key  string  `json:"key"`
	A    float64 `json:"a"`
	B    float64 `json:"b"`
	Diff float64 `json:"diff"`
	// Group is the function's FuncGroup for its driver ("driver" in one
	// arm's driver is named by the arm with that driver: GroupA, GroupB).
	GroupA string `json:"group_a"`
	GroupB string `json:"group_b"`
	// ABoots and BBoots are the per-boot means, in the arms' boot order.
	ABoots []float64 `json:"a_boots"`
	BBoots []float64 `json:"b_boots"`
}

// ProfileDiff compares two arms of one workload function by function:
// where the instructions per I/O of B differ from A's.
type ProfileDiff struct {
	Workload string `json:"workload"`
	A        ArmKey `json:"a"`
	B        ArmKey `json:"b"`
	// ABootIDs and BBootIDs are the boots of each arm, in order.
	ABootIDs []string `json:"a_boot_ids"`
	BBootIDs []string `json:"b_boot_ids"`
	// PathA and PathB are the arms' whole-path instructions per I/O.
	PathA float64 `json:"path_a"`
	PathB float64 `json:"path_b"`
	// Funcs are the functions with the largest |Diff|, largest first
	// (ties by key).
	Funcs []FuncDiff `json:"funcs"`
}

// armProfile is an arm's per-boot mean of every function's per-I/O
// instructions.
type armProfile struct {
	bootIDs []string
	boots   []map[string]float64
	path    []float64
}

func collectProfile(r *Results, k ArmKey) armProfile {
	var ap armProfile
	for _, b := range r.Boots {
		if b.Kernel != k.Kernel || b.Mode != ModeICount {
			continue
		}
		sum := map[string]float64{}
		path, n := 0.0, 0
		for _, s := range b.Samples {
			if s.Warmup || s.Driver != k.Driver || s.Workload != k.Workload || s.Plugin == nil || s.Plugin.Failed != "" {
				continue
			}
			for f, c := range s.Plugin.Funcs {
				sum[f] += c.Insns
			}
			path += s.Plugin.Groups.Path
			n++
		}
		if n == 0 {
			continue
		}
		for f := range sum {
			sum[f] /= float64(n)
		}
		ap.bootIDs = append(ap.bootIDs, b.BootID)
		ap.boots = append(ap.boots, sum)
		ap.path = append(ap.path, path/float64(n))
	}
	return ap
}

// DiffProfile compares arms a and b (same workload) of r's plugin samples
// function by function and returns the top functions by |B − A| (all
// for top < 0). Arms without plugin samples give an empty profile.
func DiffProfile(r *Results, a, b ArmKey, top int) ProfileDiff {
	pa, pb := collectProfile(r, a), collectProfile(r, b)
	pd := ProfileDiff{Workload: a.Workload, A: a, B: b, ABootIDs: pa.bootIDs, BBootIDs: pb.bootIDs}
	if len(pa.boots) == 0 || len(pb.boots) == 0 {
		return pd
	}
	pd.PathA, pd.PathB = Mean(pa.path), Mean(pb.path)
	keys := map[string]bool{}
	for _, p := range [][]map[string]float64{pa.boots, pb.boots} {
		for _, m := range p {
			for k := range m {
				keys[k] = true
			}
		}
	}
	perBoot := func(p []map[string]float64, k string) []float64 {
		out := make([]float64, len(p))
		for i, m := range p {
			out[i] = m[k]
		}
		return out
	}
	for k := range keys {
		fd := FuncDiff{Key: k, ABoots: perBoot(pa.boots, k), BBoots: perBoot(pb.boots, k),
			GroupA: FuncGroup(a.Driver, k), GroupB: FuncGroup(b.Driver, k)}
		fd.A, fd.B = Mean(fd.ABoots), Mean(fd.BBoots)
		fd.Diff = fd.B - fd.A
		pd.Funcs = append(pd.Funcs, fd)
	}
	slices.SortFunc(pd.Funcs, func(x, y FuncDiff) int {
		if c := cmp.Compare(math.Abs(y.Diff), math.Abs(x.Diff)); c != 0 {
			return c
		}
		return cmp.Compare(x.Key, y.Key)
	})
	if top >= 0 && top < len(pd.Funcs) {
		pd.Funcs = pd.Funcs[:top]
	}
	return pd
}

// ProfileTop is the number of functions a standard differential profile
// keeps.
const ProfileTop = 15

// StandardProfiles are the differential profiles of the benchmark's
// questions for every workload with plugin samples: rnull against
// null_blk in each kernel, and helpers on against off for each driver
// (null_blk's is the control), ProfileTop functions each.
func StandardProfiles(r *Results) []ProfileDiff {
	var wls []string
	seen := map[string]bool{}
	for _, b := range r.Boots {
		for _, s := range b.Samples {
			if s.Plugin != nil && !seen[s.Workload] {
				seen[s.Workload] = true
				wls = append(wls, s.Workload)
			}
		}
	}
	slices.Sort(wls)
	on, off := helperArms(r)
	var out []ProfileDiff
	for _, wl := range wls {
		for _, k := range r.Kernels {
			out = appendProfile(out, r, ArmKey{k.Name, NullBlk, wl}, ArmKey{k.Name, RNull, wl})
		}
		if on != "" && off != "" {
			for _, d := range Drivers() {
				out = appendProfile(out, r, ArmKey{off, d, wl}, ArmKey{on, d, wl})
			}
		}
	}
	return out
}

func appendProfile(out []ProfileDiff, r *Results, a, b ArmKey) []ProfileDiff {
	if p := DiffProfile(r, a, b, ProfileTop); len(p.Funcs) > 0 {
		out = append(out, p)
	}
	return out
}
