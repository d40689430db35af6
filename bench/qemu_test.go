package bench

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The guests' initramfs stubs fio's unused libraries.
func TestInitramfsSpecStubs(t *testing.T) {
	spec := QEMUOptions{CacheDir: "/cache"}.initramfsSpec("/usr/bin/fio")
	if !reflect.DeepEqual(spec.Stubs, FioStubs()) || !slices.Equal(spec.Binaries, []string{"/usr/bin/fio"}) || spec.CacheDir != "/cache" {
		t.Errorf("initramfs spec %+v", spec)
	}
	if spec.FullLibraries {
		t.Error("FullLibraries set")
	}
}

// The kernel command line of icount boots has the words it had when bench
// added the timer parameters itself (qemu adds them now): the benchmark's
// numbers depend on them. Wall-clock TCG boots have the same words.
func TestBootCommandLine(t *testing.T) {
	before := strings.Fields("console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd i8042.noaux null_blk.nr_devices=0 no_timer_check noapictimer")
	slices.Sort(before)
	for _, mode := range []Mode{ModeICount, ModeWall} {
		m := QEMUOptions{}.machine(BootRequest{Mode: mode}, "/initrd")
		got := strings.Fields(m.CommandLine())
		slices.Sort(got)
		if !slices.Equal(got, before) {
			t.Errorf("%v: kernel command line %q, want the words %q", mode, m.CommandLine(), before)
		}
	}
}
