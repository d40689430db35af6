package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rflkit/rflkit/bench"
	"github.com/rflkit/rflkit/bench/report"
)

// Re-analyse a results.json and write every output of a run beside it
// (what nullblk-bench -analyze does).
func ExampleWriteAll() {
	res, err := bench.ReadResults("../testdata/results-quick-aa.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	files, err := report.WriteAll(filepath.Join(dir, "out"), res, report.WriteOptions{Reanalyse: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(files, " "))
	// Output: bench.txt plot.svg plot.png analysis.json report.md
}

// The benchmark lines benchstat reads, one per measured run.
func ExampleWriteBenchfmt() {
	res := &bench.Results{Preset: bench.Preset{Name: "quick"}, Seed: 1, GuestCPUs: 1,
		Boots: []bench.BootRecord{{Kernel: "helpers-on", Mode: bench.ModeICount, Samples: []bench.Sample{
			{Workload: "randread-4k-qd32-nj1", Driver: bench.RNull, Run: 0, Warmup: true, IOPS: 199000, InstrPerIO: 5025.1},
			{Workload: "randread-4k-qd32-nj1", Driver: bench.RNull, Run: 1, IOPS: 200000, InstrPerIO: 5000},
		}}}}
	if err := report.WriteBenchfmt(os.Stdout, res); err != nil {
		fmt.Println(err)
	}
	// Output:
	// goos: linux
	// goarch: amd64
	// pkg: github.com/rflkit/rflkit/bench
	// preset: quick
	// seed: 1
	// BenchmarkNullBlk/measure=icount/kernel=helpers-on/driver=rnull/wl=randread-4k-qd32-nj1 1 5000.0 ns/op 200000.0 iops 5000.00 instr/io
}
