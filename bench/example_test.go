package bench_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/rflkit/rflkit/bench"
)

func ExampleWorkload_FioArgs() {
	w := bench.PublishedWorkload(bench.RandRead, 4096, 32, 1)
	fmt.Println(w.Name())
	fmt.Println(strings.Join(w.FioArgs("/dev/rn0")[:8], " "))
	// Output:
	// randread-4k-qd32-nj1
	// --name=randread-4k-qd32-nj1 --filename=/dev/rn0 --ioengine=io_uring --direct=1 --rw=randread --bs=4096 --iodepth=32 --numjobs=1
}

func ExampleParseFio() {
	out, err := os.ReadFile("testdata/fio-rnull-randread-4k-qd32-icount.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := bench.ParseFio(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Under -icount shift=0 one guest nanosecond is one instruction.
	fmt.Printf("%.0f IOPS, %.0f instructions per I/O\n", r.IOPS, 1e9/r.IOPS)
	// Output: 199771 IOPS, 5006 instructions per I/O
}

func ExampleRatioCI() {
	// Instructions per I/O, three boots per arm, two runs per boot.
	nullBlk := [][]float64{{5062.0, 5062.1}, {5061.9, 5062.0}, {5062.1, 5062.0}}
	rnull := [][]float64{{5016.0, 5016.1}, {5015.9, 5016.0}, {5016.0, 5016.0}}
	iv, err := bench.RatioCI(nullBlk, rnull, true, bench.BootstrapOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("rnull/null_blk = %.4f, interval contains 1: %v\n", iv.Ratio, iv.Contains(1))
	// Output: rnull/null_blk = 0.9909, interval contains 1: false
}

func ExampleDevice_SetupScript() {
	s, _ := bench.DefaultDevice(bench.RNull).SetupScript()
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "echo") {
			fmt.Println(l)
		}
	}
	// Output:
	// echo 4096 > /sys/kernel/config/rnull/rn0/blocksize
	// echo 0 > /sys/kernel/config/rnull/rn0/irqmode
	// echo 4096 > /sys/kernel/config/rnull/rn0/size
	// echo 1 > /sys/kernel/config/rnull/rn0/power
	// echo none > /sys/block/rn0/queue/scheduler
}
