package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestDeviceScripts(t *testing.T) {
	nb := DefaultDevice(NullBlk)
	s, err := nb.SetupScript()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mkdir /sys/kernel/config/nullb/nb0", "echo 4096 > /sys/kernel/config/nullb/nb0/blocksize",
		"echo 0 > /sys/kernel/config/nullb/nb0/irqmode", "echo 256 > /sys/kernel/config/nullb/nb0/hw_queue_depth",
		"echo 0 > /sys/kernel/config/nullb/nb0/completion_nsec", "echo 0 > /sys/kernel/config/nullb/nb0/memory_backed",
		"echo 4096 > /sys/kernel/config/nullb/nb0/size", "echo none > /sys/block/nb0/queue/scheduler"} {
		if !strings.Contains(s, want) {
			t.Errorf("null_blk setup lacks %q", want)
		}
	}
	if strings.Index(s, "/power") < strings.Index(s, "/size") {
		t.Error("power written before size")
	}
	rn := DefaultDevice(RNull)
	s, _ = rn.SetupScript()
	if !strings.Contains(s, "/sys/kernel/config/rnull/rn0/irqmode") || strings.Contains(s, "hw_queue_depth") {
		t.Errorf("rnull setup:\n%s", s)
	}
	if _, err := (Device{Driver: RNull, Name: "x; rm -rf /"}).SetupScript(); err == nil {
		t.Error("shell metacharacters in name accepted")
	}
	if _, err := (Device{Driver: "nvme", Name: "x"}).SetupScript(); err == nil {
		t.Error("unknown driver accepted")
	}
	for _, c := range []struct {
		out string
		ok  bool
	}{
		{"blockdev=1\nsize=8388608\nlbs=4096\nscheduler=[none] mq-deadline kyber\n", true},
		{"blockdev=0\n", false},
		{"blockdev=1\nsize=8388608\nlbs=512\nscheduler=[none] mq-deadline kyber\n", false},
		{"blockdev=1\nsize=1024\nlbs=4096\nscheduler=[none]\n", false},
		{"blockdev=1\nsize=8388608\nlbs=4096\nscheduler=none [mq-deadline] kyber\n", false},
	} {
		err := rn.verify(c.out)
		var de *DeviceError
		if c.ok != (err == nil) || (err != nil && !errors.As(err, &de)) {
			t.Errorf("verify(%q) = %v", c.out, err)
		}
	}
}
