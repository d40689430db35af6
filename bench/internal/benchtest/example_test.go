package benchtest_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/internal/benchtest"
)

// A whole quick experiment against the fake laboratory.
func ExampleLab() {
	lab := &benchtest.Lab{Rand: rand.New(rand.NewPCG(1, 1))}
	e := &bench.Experiment{Kernels: benchtest.Kernels(), Preset: bench.QuickPreset(), Seed: 1, Boot: lab.Boot}
	res, err := e.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("complete %v, %d boots, %d stopped\n", res.Complete, len(res.Boots), lab.Stopped)
	// Output: complete true, 4 boots, 4 stopped
}
