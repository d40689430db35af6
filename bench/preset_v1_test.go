package bench

import "time"

// defaultPresetV1 is the default preset the earlier committed results
// (testdata/bench-v1.txt) were measured with: three 4k workloads, two wall-clock
// and five -icount boots per kernel, fio-derived instructions per I/O.
func defaultPresetV1() Preset {
	short := func(p Pattern, bs, qd int) Workload {
		w := PublishedWorkload(p, bs, qd, 1)
		w.Runtime, w.Ramp = 2*time.Second, 500*time.Millisecond
		return w
	}
	return Preset{Name: "default",
		Workloads: []Workload{
			short(RandRead, 4<<10, 32),
			short(RandWrite, 4<<10, 32),
			short(RandRead, 4<<10, 1),
		},
		WallBoots: 2, ICountBoots: 5, Runs: 2, Warmup: 1, ICountRuns: 1,
		ICountRuntime: 500 * time.Millisecond, ICountRamp: 200 * time.Millisecond}
}
