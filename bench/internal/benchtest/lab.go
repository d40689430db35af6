package benchtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"

	"github.com/rflkit/rflkit/bench"
)

// TrueInstr is the model: guest instructions per I/O by kernel (inline
// helpers or not) and driver. rnull retires fewer instructions than
// null_blk, and inline helpers save 2% of rnull's; null_blk, written in
// C, does not care.
func TrueInstr(helpers bool, d bench.Driver) float64 {
	v := 5062.0
	if d == bench.RNull {
		v = 5016
	}
	if helpers && d == bench.RNull {
		v *= 0.98 // helpers save 2% of rnull's instructions
	}
	return v
}

// Kernels returns the two kernel arms of the fake laboratory, helpers on
// and off (their images do not exist).
func Kernels() []bench.KernelArm {
	return []bench.KernelArm{{Name: "helpers-on", Helpers: true, BzImage: "/k/on"}, {Name: "helpers-off", BzImage: "/k/off"}}
}

// Lab boots fake guests. Its zero value is not usable: set Rand.
type Lab struct {
	// Rand draws the noise of every run and boot.
	Rand *rand.Rand
	// FailFio makes the n-th fio run (1-based) of the first boot fail
	// with exit code 1, FailStdout as its output and an EINVAL message
	// on stderr; 0 = never.
	FailFio    int
	FailStdout []byte
	// ICountBootSD and ICountInstanceSD are relative standard deviations
	// of -icount values shared by a whole boot and by one device
	// instance (drawn when the device is created); ICountRunSD is a
	// run's own, 0 meaning 1e-5.
	ICountBootSD, ICountInstanceSD, ICountRunSD float64

	// Boots are the requests Boot received, Stopped the number of
	// guests stopped, and Log every command run in any guest.
	Boots   []bench.BootRequest
	Stopped int
	Log     []string
}

// Boot is a bench.BootFunc: it returns a fake guest for req.
func (l *Lab) Boot(ctx context.Context, req bench.BootRequest) (*bench.Booted, error) {
	l.Boots = append(l.Boots, req)
	g := &guest{kernel: req.Kernel, mode: req.Mode, bootID: fmt.Sprintf("boot-%d", req.Index), rng: l.Rand,
		devs: map[string]bool{}, sched: map[string]string{}, bootMul: 1 + 0.1*l.Rand.NormFloat64(), log: &l.Log,
		icountMul: 1, instMul: map[string]float64{}, instSD: l.ICountInstanceSD, runSD: l.ICountRunSD}
	if l.ICountBootSD > 0 {
		g.icountMul = 1 + l.ICountBootSD*l.Rand.NormFloat64()
	}
	if g.runSD == 0 {
		g.runSD = 1e-5
	}
	if len(l.Boots) == 1 {
		g.failFio, g.failStdout = l.FailFio, l.FailStdout
	}
	argv := []string{"qemu-system-x86_64", "-kernel", req.Kernel.BzImage}
	if req.Mode == bench.ModeICount {
		argv = append(argv, "-icount", "shift=0,sleep=off")
	}
	return &bench.Booted{Guest: g, QEMUArgv: argv, Accel: "tcg", Stop: func(context.Context) error { l.Stopped++; return nil }}, nil
}

// guest imitates the guest: configfs devices made by the setup scripts,
// and fio whose IOPS come from the model of the arm.
type guest struct {
	kernel     bench.KernelArm
	mode       bench.Mode
	bootID     string
	rng        *rand.Rand
	devs       map[string]bool // name -> exists
	sched      map[string]string
	bootMul    float64
	failFio    int // fail the n-th fio call (1-based), 0 = never
	failStdout []byte
	fioN       int
	log        *[]string
	icountMul  float64            // the boot's -icount factor
	instMul    map[string]float64 // device name -> its instance's factor
	instSD     float64
	runSD      float64
}

var mkdirRE = regexp.MustCompile(`mkdir /sys/kernel/config/(nullb|rnull)/(\w+)`)

// Exec runs the setup, check and teardown scripts of bench.Device, the
// reads of boot_id and osrelease, and fio.
func (g *guest) Exec(ctx context.Context, argv ...string) (*bench.GuestResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	*g.log = append(*g.log, strings.Join(argv, " "))
	if len(argv) == 3 && argv[0] == "sh" && argv[1] == "-c" {
		s := argv[2]
		switch {
		case strings.Contains(s, "boot_id"):
			return &bench.GuestResult{Stdout: []byte(g.bootID + "\n")}, nil
		case strings.Contains(s, "osrelease"):
			return &bench.GuestResult{Stdout: []byte("7.2.12\n")}, nil
		case strings.Contains(s, "echo 1 >"):
			m := mkdirRE.FindStringSubmatch(s)
			if m == nil {
				return &bench.GuestResult{ExitCode: 1, Stderr: []byte("bad setup script")}, nil
			}
			if g.devs[m[2]] {
				return &bench.GuestResult{ExitCode: 1, Stderr: []byte("mkdir: File exists")}, nil
			}
			g.devs[m[2]] = true
			g.instMul[m[2]] = 1
			if g.instSD > 0 {
				g.instMul[m[2]] = 1 + g.instSD*g.rng.NormFloat64()
			}
			if strings.Contains(s, "echo none > /sys/block/"+m[2]+"/queue/scheduler") {
				g.sched[m[2]] = "[none] mq-deadline kyber"
			}
			return &bench.GuestResult{}, nil
		case strings.Contains(s, "blockdev="):
			for name := range g.devs {
				if strings.Contains(s, "q=/sys/block/"+name+"\n") {
					return &bench.GuestResult{Stdout: []byte(fmt.Sprintf("blockdev=1\nsize=8388608\nlbs=4096\nscheduler=%s\n", g.sched[name]))}, nil
				}
			}
			return &bench.GuestResult{Stdout: []byte("blockdev=0\n")}, nil
		case strings.Contains(s, "echo 0 >"):
			for name := range g.devs {
				if strings.Contains(s, "/"+name+"/power") {
					delete(g.devs, name)
				}
			}
			return &bench.GuestResult{}, nil
		}
		return &bench.GuestResult{ExitCode: 127, Stderr: []byte("fake: unknown script")}, nil
	}
	if argv[0] != "fio" {
		return &bench.GuestResult{ExitCode: 127}, nil
	}
	g.fioN++
	if g.fioN == g.failFio {
		return &bench.GuestResult{ExitCode: 1, Stdout: g.failStdout,
			Stderr: []byte("fio: pid=0, err=22/file:filesetup.c:1155, func=total_file_size, error=Invalid argument")}, nil
	}
	var dev string
	for _, a := range argv {
		if strings.HasPrefix(a, "--filename=/dev/") {
			dev = strings.TrimPrefix(a, "--filename=/dev/")
		}
	}
	if !g.devs[dev] {
		return &bench.GuestResult{ExitCode: 1, Stderr: []byte("fio: no device " + dev)}, nil
	}
	d := bench.NullBlk
	if dev == "rn0" {
		d = bench.RNull
	}
	var iops float64
	if g.mode == bench.ModeICount {
		iops = 1e9 / (TrueInstr(g.kernel.Helpers, d) * g.icountMul * g.instMul[dev] * (1 + g.runSD*g.rng.NormFloat64()))
	} else {
		// Wall clock: noisy, clustered by boot.
		iops = 1e9 / TrueInstr(g.kernel.Helpers, d) / 2.2 * g.bootMul * (1 + 0.03*g.rng.NormFloat64())
	}
	out := fmt.Sprintf("fio: clocksource=cpu may not be reliable\n{\"fio version\":\"fio-3.33\",\"jobs\":[{\"jobname\":\"w\",\"error\":0,"+
		"\"read\":{\"iops\":%f,\"bw_bytes\":%f,\"total_ios\":%d,\"runtime\":3000},\"write\":{\"iops\":0,\"total_ios\":0}}]}\n",
		iops, iops*4096, int64(iops*3))
	return &bench.GuestResult{Stdout: []byte(out)}, nil
}
