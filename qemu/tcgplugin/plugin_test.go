package tcgplugin

import (
	"reflect"
	"testing"
)

func TestQEMUArgs(t *testing.T) {
	for _, c := range []struct {
		p    Plugin
		want []string
	}{
		{
			Plugin{Path: "/c/insncount.so", Map: "/run/k.map", Out: "/run/out.txt", Trigger: 0xffffffff81352230},
			[]string{"-plugin", "/c/insncount.so,map=/run/k.map,out=/run/out.txt,trigger=0xffffffff81352230"},
		},
		{
			Plugin{Path: "/c/insncount.so", Map: "/run/k.map", Out: "/run/out.txt"},
			[]string{"-plugin", "/c/insncount.so,map=/run/k.map,out=/run/out.txt"},
		},
		{
			// QEMU's option syntax doubles a comma in a value; '=' needs nothing.
			Plugin{Path: "/a,b/p.so", Map: "/x=y/k,,.map", Out: "o,", Trigger: 1},
			[]string{"-plugin", "/a,,b/p.so,map=/x=y/k,,,,.map,out=o,,,trigger=0x1"},
		},
	} {
		if got := c.p.QEMUArgs(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v:\n got %q\nwant %q", c.p, got, c.want)
		}
	}
}
