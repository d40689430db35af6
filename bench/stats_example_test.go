package bench_test

import (
	"fmt"

	"github.com/rflkit/rflkit/bench"
)

// Five boots' instructions per I/O for one arm: one boot sits 0.1% above
// the others, far more than one I/O's worth (the resolution) apart.
func ExampleCheckBootModality() {
	means := []float64{4981.36, 4981.36, 4981.36, 4986.46, 4981.26}
	ids := []string{"boot-a", "boot-b", "boot-c", "boot-d", "boot-e"}
	m := bench.CheckBootModality(means, ids, bench.ModalityOptions{Resolution: 0.05})
	fmt.Println("multimodal:", m.Multimodal)
	for _, md := range m.Modes {
		fmt.Printf("%.2f..%.2f %v\n", md.Min, md.Max, md.BootIDs)
	}
	// Output:
	// multimodal: true
	// 4981.26..4981.36 [boot-a boot-b boot-c boot-e]
	// 4986.46..4986.46 [boot-d]
}

// Twelve comparisons, nine at the 5-vs-5 floor of the U test: none
// survives Holm's family-wise adjustment at 0.05, all nine survive
// Benjamini-Hochberg's at 0.05.
func ExampleHolmAdjust() {
	floor := bench.MinUTestP(5, 5)
	ps := []float64{floor, floor, 0.49, floor, floor, floor, 0.37, floor, floor, floor, 0.98, floor}
	fmt.Printf("floor %.4f, Holm %.3f, BH %.4f\n", floor, bench.HolmAdjust(ps)[0], bench.BHAdjust(ps)[0])
	// Output: floor 0.0079, Holm 0.095, BH 0.0106
}

// Three boots of two device instances of two runs each: most of the
// spread comes with the device instance, and an instance costs far less
// than a boot (0.01 s against 20 s).
func ExampleEstimateComponents() {
	vc, err := bench.EstimateComponents([][][]float64{
		{{100.0, 100.1}, {101.0, 101.1}},
		{{102.2, 102.1}, {101.1, 101.0}},
		{{99.9, 100.0}, {100.9, 101.0}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("boot %.3f%%, instance %.3f%%, run %.3f%% of the mean\n", 100*vc.CV(vc.Boot), 100*vc.CV(vc.Instance), 100*vc.CV(vc.Run))
	// Instances are cheap and carry the spread: repeat them.
	fmt.Println(bench.OptimalPerUpper(20, 0.01, vc.Boot, vc.Instance, 16), "instances per boot")
	// Output:
	// boot 0.369%, instance 0.723%, run 0.070% of the mean
	// 16 instances per boot
}
