package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MixedExperimentsError is Merge's error for parts of different
// experiments (ExperimentID): other presets, seeds, drivers or kernels.
type MixedExperimentsError struct {
	// IDs are the experiment ids found, by part (in Merge's order).
	IDs []string
}

func (e *MixedExperimentsError) Error() string {
	return fmt.Sprintf("bench: merge: results of different experiments: %s", strings.Join(e.IDs, ", "))
}

// KernelArtifactsError is Merge's error for parts that booted different
// images (or .configs) under one kernel name.
type KernelArtifactsError struct {
	// Kernel is the arm's name; Part the index of the part that differs
	// from part 0; Want and Got the two bzImage (or .config) hashes.
	Kernel    string
	Part      int
	Want, Got string
}

func (e *KernelArtifactsError) Error() string {
	return fmt.Sprintf("bench: merge: kernel %s differs in part %d: sha256 %s, part 0 has %s", e.Kernel, e.Part, orUnknown(e.Got), orUnknown(e.Want))
}

// DuplicateBootsError is Merge's error for boots that more than one part
// ran to completion.
type DuplicateBootsError struct {
	// Indices are the boots' indices in the schedule, ascending.
	Indices []int
}

func (e *DuplicateBootsError) Error() string {
	return fmt.Sprintf("bench: merge: boots %s are in more than one part", fmtIndices(e.Indices))
}

// MissingBootsError is Merge's error when the parts do not hold every boot
// of the schedule to completion; Merge returns the merged results too,
// marked incomplete.
type MissingBootsError struct {
	// Indices are the missing boots' indices in the schedule, ascending.
	Indices []int
	// Boots is the schedule's size.
	Boots int
}

func (e *MissingBootsError) Error() string {
	return fmt.Sprintf("bench: merge: %d of %d boots missing: %s", len(e.Indices), e.Boots, fmtIndices(e.Indices))
}

// fmtIndices prints indices as ranges: "0-3, 7, 9-10".
func fmtIndices(ix []int) string {
	var parts []string
	for i := 0; i < len(ix); {
		j := i
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(ix[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ix[i], ix[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// bootComplete reports whether b holds one sample for each step of its
// plan, in order: a boot cut short (its part failed during it) does not.
func bootComplete(b BootRecord, p BootPlan) bool {
	if b.Kernel != p.Kernel || b.Mode != p.Mode || len(b.Samples) != len(p.Steps) {
		return false
	}
	for i, s := range p.Steps {
		m := b.Samples[i]
		if m.Workload != s.Workload || m.Driver != s.Driver || m.Run != s.Run || m.Warmup != s.Warmup || m.Instance != s.Instance {
			return false
		}
	}
	return true
}

// Merge joins the partial results of one experiment's shards into one
// Results, as if the schedule had run on one machine: the boots of all
// parts in schedule order, the host, toolchain and kernels of the first
// part, Started the earliest and Finished the latest, and Parts recording
// each part. It refuses (nil and a typed error) parts of different
// experiments (*MixedExperimentsError), parts that booted different kernel
// images (*KernelArtifactsError) and a boot complete in two parts
// (*DuplicateBootsError). Only complete boots are merged: a part that
// failed contributes the boots it finished, never the one it was cut short
// in. When boots are missing, Merge returns the merged results with
// Complete false and a *MissingBootsError naming them.
func Merge(parts ...*Results) (*Results, error) {
	if len(parts) == 0 {
		return nil, errors.New("bench: merge: no results")
	}
	for i, p := range parts {
		if p == nil {
			return nil, fmt.Errorf("bench: merge: part %d is nil", i)
		}
	}
	first := parts[0]
	ids := make([]string, len(parts))
	mixed := false
	for i, p := range parts {
		ids[i] = p.Experiment
		if p.Experiment == "" {
			return nil, fmt.Errorf("bench: merge: part %d has no experiment id (written by an older rflkit?)", i)
		}
		mixed = mixed || p.Experiment != first.Experiment
	}
	for i, p := range parts[1:] {
		if err := sameKernels(first.Kernels, p.Kernels, i+1); err != nil {
			return nil, err
		}
	}
	if mixed {
		return nil, &MixedExperimentsError{IDs: ids}
	}
	sched := map[int]BootPlan{}
	for _, p := range first.Schedule {
		sched[p.Index] = p
	}
	m := *first
	m.Shard = nil
	m.Boots = nil
	m.Parts = nil
	m.Kernels = slices.Clone(first.Kernels)
	m.Error = ""
	owner := map[int]int{}
	var dups []int
	var errs []string
	for pi, p := range parts {
		info := PartInfo{Hostname: p.Host.Hostname, Started: p.Started, Finished: p.Finished, Complete: p.Complete, Error: p.Error, Boots: []int{}}
		if p.Shard != nil {
			info.Shard = *p.Shard
		}
		if p.Started.Before(m.Started) {
			m.Started = p.Started
		}
		if p.Finished.After(m.Finished) {
			m.Finished = p.Finished
		}
		if p.Error != "" {
			errs = append(errs, fmt.Sprintf("part %d (shard %d/%d): %s", pi, info.Shard.Index, info.Shard.Count, p.Error))
		}
		for _, b := range p.Boots {
			plan, ok := sched[b.Index]
			if !ok || !bootComplete(b, plan) {
				continue
			}
			if _, seen := owner[b.Index]; seen {
				dups = append(dups, b.Index)
				continue
			}
			owner[b.Index] = pi
			m.Boots = append(m.Boots, b)
			info.Boots = append(info.Boots, b.Index)
		}
		for i := range m.Kernels {
			for _, k := range p.Kernels {
				if k.Name == m.Kernels[i].Name && m.Kernels[i].Release == "" {
					m.Kernels[i].Release = k.Release
				}
			}
		}
		m.Parts = append(m.Parts, info)
	}
	if len(dups) > 0 {
		slices.Sort(dups)
		return nil, &DuplicateBootsError{Indices: slices.Compact(dups)}
	}
	slices.SortFunc(m.Boots, func(a, b BootRecord) int { return a.Index - b.Index })
	var missing []int
	for _, p := range first.Schedule {
		if _, ok := owner[p.Index]; !ok {
			missing = append(missing, p.Index)
		}
	}
	if len(missing) > 0 {
		err := &MissingBootsError{Indices: missing, Boots: len(first.Schedule)}
		m.Complete = false
		m.Error = err.Error()
		if len(errs) > 0 {
			m.Error += "; " + strings.Join(errs, "; ")
		}
		return &m, err
	}
	m.Complete = true
	return &m, nil
}

// sameKernels compares the kernel arms of part 0 and part i by name and
// content.
func sameKernels(a, b []KernelMeta, i int) error {
	for _, ka := range a {
		for _, kb := range b {
			if ka.Name != kb.Name {
				continue
			}
			if ka.BzImageSHA256 != kb.BzImageSHA256 {
				return &KernelArtifactsError{Kernel: ka.Name, Part: i, Want: ka.BzImageSHA256, Got: kb.BzImageSHA256}
			}
			if ka.ConfigSHA256 != kb.ConfigSHA256 {
				return &KernelArtifactsError{Kernel: ka.Name + " (.config)", Part: i, Want: ka.ConfigSHA256, Got: kb.ConfigSHA256}
			}
		}
	}
	return nil
}
