package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZHand(t *testing.T) {
	k := "/tmp/dev/out-on/arch/x86/boot/bzImage"
	kernels := []KernelArm{{Name: "helpers-on", Helpers: true, BzImage: k, Config: "/tmp/dev/out-on/.config"}, {Name: "helpers-off", BzImage: k}}
	p := QuickPreset()
	e := &Experiment{Kernels: kernels, Preset: p, Seed: 1, Boot: QEMUBoot(QEMUOptions{}),
		Progress: func(pr Progress) { t.Logf("%d/%d %d/%d %s ~%s left: %s", pr.Boot, pr.Boots, pr.Done, pr.Total, pr.Elapsed.Round(time.Second), pr.Remaining.Round(time.Second), pr.Message) }}
	res, err := e.Run(context.Background())
	if res != nil {
		res.WriteFile("/tmp/bench-aa/results.json")
	}
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Analyze(res, AnalyzeOptions{})
	WriteTable(os.Stdout, a)
}
