package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestWorkloadArgs(t *testing.T) {
	w := PublishedWorkload(RandWrite, 256<<10, 128, 6)
	got := strings.Join(w.FioArgs("/dev/rn0"), " ")
	want := "--name=randwrite-256k-qd128-nj6 --filename=/dev/rn0 --ioengine=io_uring --direct=1 --rw=randwrite --bs=262144 " +
		"--iodepth=128 --numjobs=6 --time_based --runtime=30s --ramp_time=10s --gtod_reduce=1 --clocksource=cpu --fixedbufs=1 " +
		"--registerfiles=1 --nonvectored=1 --norandommap --random_generator=lfsr --cpus_allowed_policy=split --group_reporting --output-format=json+"
	if got != want {
		t.Errorf("FioArgs:\n got %s\nwant %s", got, want)
	}
	q := QuickPreset()
	if s := strings.Join(q.Workloads[0].FioArgs("/dev/nb0"), " "); !strings.Contains(s, "--runtime=2s --ramp_time=500ms") {
		t.Errorf("quick: %s", s)
	}
	pub := PublishedPreset()
	if len(pub.Workloads) != 120 {
		t.Errorf("published: %d workloads", len(pub.Workloads))
	}
	names := map[string]bool{}
	for _, w := range pub.Workloads {
		if err := w.Validate(); err != nil {
			t.Error(err)
		}
		names[w.Name()] = true
	}
	if len(names) != 120 || !names["randread-16m-qd1-nj2"] || !names["randwrite-4k-qd128-nj6"] {
		t.Errorf("published names: %d", len(names))
	}
	for _, n := range PresetNames() {
		if _, err := PresetByName(n); err != nil {
			t.Error(err)
		}
	}
	var ue *UnknownPresetError
	if _, err := PresetByName("huge"); !errors.As(err, &ue) {
		t.Errorf("unknown preset: %v", err)
	}
	if err := (Workload{Pattern: "randread", BlockSize: 100, IODepth: 1, Runtime: 1}).Validate(); err == nil {
		t.Error("bad block size accepted")
	}
}
