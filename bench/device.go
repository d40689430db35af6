package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Driver is a null block driver under test.
type Driver string

// The two drivers compared.
const (
	NullBlk Driver = "null_blk" // the C driver, drivers/block/null_blk
	RNull   Driver = "rnull"    // the Rust driver, drivers/block/rnull
)

// Drivers returns the drivers compared, C first.
func Drivers() []Driver { return []Driver{NullBlk, RNull} }

// GuestResult is a finished command in the guest.
type GuestResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// Guest runs commands in a booted guest. qemu's *VM satisfies it through
// QEMUGuest; tests use fakes.
type Guest interface {
	Exec(ctx context.Context, argv ...string) (*GuestResult, error)
}

// Device is a null block device created through configfs with the fair
// parameters (the matched settings of rflkit's README): 4096-byte blocks, irqmode 0 (complete
// in the submission context), 4096 MiB, no memory backing; null_blk also
// gets hw_queue_depth 256 (rnull's fixed tag count) and completion_nsec 0.
// The I/O scheduler is set to none on both.
type Device struct {
	Driver    Driver
	Name      string // configfs directory and /dev/<Name>
	BlockSize int    // bytes; 0 means 4096
	SizeMiB   int    // 0 means 4096
}

// DefaultDevice returns the device used for driver d: /dev/nb0 for
// null_blk, /dev/rn0 for rnull.
func DefaultDevice(d Driver) Device {
	name := "nb0"
	if d == RNull {
		name = "rn0"
	}
	return Device{Driver: d, Name: name}
}

func (d Device) blockSize() int {
	if d.BlockSize == 0 {
		return 4096
	}
	return d.BlockSize
}

func (d Device) sizeMiB() int {
	if d.SizeMiB == 0 {
		return 4096
	}
	return d.SizeMiB
}

// Path is the device node, /dev/<Name>.
func (d Device) Path() string { return "/dev/" + d.Name }

// ConfigDir is the device's configfs directory.
func (d Device) ConfigDir() string {
	sub := "nullb"
	if d.Driver == RNull {
		sub = "rnull"
	}
	return "/sys/kernel/config/" + sub + "/" + d.Name
}

// Attr is one configfs attribute write, in order.
type Attr struct{ Name, Value string }

// Attrs returns the configfs attributes written before power=1, in order.
func (d Device) Attrs() ([]Attr, error) {
	bs, size := strconv.Itoa(d.blockSize()), strconv.Itoa(d.sizeMiB())
	switch d.Driver {
	case NullBlk:
		return []Attr{{"blocksize", bs}, {"irqmode", "0"}, {"hw_queue_depth", "256"},
			{"completion_nsec", "0"}, {"memory_backed", "0"}, {"size", size}}, nil
	case RNull:
		return []Attr{{"blocksize", bs}, {"irqmode", "0"}, {"size", size}}, nil
	}
	return nil, fmt.Errorf("bench: unknown driver %q", d.Driver)
}

func (d Device) validName() error {
	if d.Name == "" || strings.Trim(d.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return fmt.Errorf("bench: device name %q: want [a-z0-9_]+", d.Name)
	}
	return nil
}

// shPrelude makes the few external commands the scripts use work with a
// bare busybox that has no applet links.
const shPrelude = `for a in mkdir rmdir sleep; do command -v $a >/dev/null 2>&1 || eval "$a() { busybox $a \"\$@\"; }"; done
`

// SetupScript is the shell script that creates the device, powers it on,
// waits for its block device and sets the scheduler to none.
func (d Device) SetupScript() (string, error) {
	if err := d.validName(); err != nil {
		return "", err
	}
	attrs, err := d.Attrs()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("set -e\n" + shPrelude)
	parent := d.ConfigDir()[:strings.LastIndexByte(d.ConfigDir(), '/')]
	fmt.Fprintf(&b, "[ -d %s ] || { echo '%s: %s missing (driver not built in, or configfs not mounted)' >&2; exit 3; }\n", parent, d.Driver, parent)
	fmt.Fprintf(&b, "mkdir %s\n", d.ConfigDir())
	for _, a := range attrs {
		fmt.Fprintf(&b, "echo %s > %s/%s\n", a.Value, d.ConfigDir(), a.Name)
	}
	fmt.Fprintf(&b, "echo 1 > %s/power\n", d.ConfigDir())
	fmt.Fprintf(&b, "i=0; while [ ! -b %s ] || [ ! -e /sys/block/%s/queue/scheduler ]; do i=$((i+1)); [ $i -le 100 ] || { echo '%s: %s did not appear' >&2; exit 4; }; sleep 0.05; done\n", d.Path(), d.Name, d.Driver, d.Path())
	fmt.Fprintf(&b, "echo none > /sys/block/%s/queue/scheduler\n", d.Name)
	return b.String(), nil
}

// CheckScript prints the facts Check verifies, one key=value a line.
func (d Device) CheckScript() (string, error) {
	if err := d.validName(); err != nil {
		return "", err
	}
	s := fmt.Sprintf(`q=/sys/block/%[1]s
if [ -b %[2]s ]; then echo blockdev=1; else echo blockdev=0; fi
if [ -d $q ]; then
read v < $q/size; echo size=$v
read v < $q/queue/logical_block_size; echo lbs=$v
read v < $q/queue/scheduler; echo "scheduler=$v"
fi
`, d.Name, d.Path())
	return s, nil
}

// TeardownScript powers the device off and removes its configfs directory.
func (d Device) TeardownScript() (string, error) {
	if err := d.validName(); err != nil {
		return "", err
	}
	return fmt.Sprintf(`set -e
%s[ ! -d %[2]s ] || { echo 0 > %[2]s/power; rmdir %[2]s; }
if [ -e /sys/block/%[3]s ]; then echo '%[4]s: /sys/block/%[3]s still present after teardown' >&2; exit 5; fi
`, shPrelude, d.ConfigDir(), d.Name, d.Driver), nil
}

// DeviceError is a device that could not be set up, is not what was
// asked for, or could not be removed.
type DeviceError struct {
	Device Device
	Op     string // "setup", "check" or "teardown"
	Reason string
}

// Error describes the device, the operation and the reason.
func (e *DeviceError) Error() string {
	return fmt.Sprintf("bench: %s %s (%s): %s", e.Op, e.Device.Path(), e.Device.Driver, e.Reason)
}

// Setup creates and powers on d in g and checks it.
func (d Device) Setup(ctx context.Context, g Guest) error {
	s, err := d.SetupScript()
	if err != nil {
		return err
	}
	if err := runScript(ctx, g, d, "setup", s); err != nil {
		return err
	}
	return d.Check(ctx, g)
}

// Check verifies that d exists as a block device with the expected size
// and logical block size and the none scheduler.
func (d Device) Check(ctx context.Context, g Guest) error {
	s, err := d.CheckScript()
	if err != nil {
		return err
	}
	r, err := g.Exec(ctx, "sh", "-c", s)
	if err != nil {
		return fmt.Errorf("bench: check %s: %w", d.Path(), err)
	}
	if r.ExitCode != 0 {
		return &DeviceError{Device: d, Op: "check", Reason: fmt.Sprintf("exit %d: %s", r.ExitCode, tail(r.Stderr, 300))}
	}
	return d.verify(string(r.Stdout))
}

func (d Device) verify(out string) error {
	facts := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			facts[k] = strings.TrimSpace(v)
		}
	}
	fail := func(f string, a ...any) error {
		return &DeviceError{Device: d, Op: "check", Reason: fmt.Sprintf(f, a...)}
	}
	if facts["blockdev"] != "1" {
		return fail("not a block device")
	}
	wantSectors := int64(d.sizeMiB()) << 11
	if got, err := strconv.ParseInt(facts["size"], 10, 64); err != nil || got != wantSectors {
		return fail("size %q sectors, want %d (%d MiB)", facts["size"], wantSectors, d.sizeMiB())
	}
	if facts["lbs"] != strconv.Itoa(d.blockSize()) {
		return fail("logical block size %q, want %d", facts["lbs"], d.blockSize())
	}
	if !strings.Contains(facts["scheduler"], "[none]") {
		return fail("scheduler %q, want [none]", facts["scheduler"])
	}
	return nil
}

// Teardown powers d off and removes it.
func (d Device) Teardown(ctx context.Context, g Guest) error {
	s, err := d.TeardownScript()
	if err != nil {
		return err
	}
	return runScript(ctx, g, d, "teardown", s)
}

func runScript(ctx context.Context, g Guest, d Device, op, script string) error {
	r, err := g.Exec(ctx, "sh", "-c", script)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", op, d.Path(), err)
	}
	if r.ExitCode != 0 {
		return &DeviceError{Device: d, Op: op, Reason: fmt.Sprintf("exit %d: %s", r.ExitCode, tail(r.Stderr, 300))}
	}
	return nil
}
