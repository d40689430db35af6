package tcgplugin

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sampleOutput is two snapshots as the plugin writes them.
const sampleOutput = `rflkit-insncount 1 functions=11 vcpus=1
snapshot 0 trigger
user 1000
unknown 5
4 100 2
7 9 1
end 0
snapshot 1 exit
user 1500
unknown 5
4 350 7
7 18 2
10 3 1
end 1
`

func TestParseOutput(t *testing.T) {
	snaps, err := ParseOutput(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := []Snapshot{
		{Index: 0, Reason: "trigger", User: 1000, Unknown: 5, VCPUs: 1, Counts: map[int]Count{4: {100, 2}, 7: {9, 1}}},
		{Index: 1, Reason: "exit", User: 1500, Unknown: 5, VCPUs: 1, Counts: map[int]Count{4: {350, 7}, 7: {18, 2}, 10: {3, 1}}},
	}
	if !reflect.DeepEqual(snaps, want) {
		t.Errorf("got  %+v\nwant %+v", snaps, want)
	}

	// Only the header: QEMU still running, no snapshot yet.
	snaps, err = ParseOutput(strings.NewReader("rflkit-insncount 1 functions=3 vcpus=2 future=x\n"))
	if err != nil || len(snaps) != 0 {
		t.Errorf("header only: %+v, %v", snaps, err)
	}
	// Buckets are optional; an empty snapshot is one.
	snaps, err = ParseOutput(strings.NewReader("rflkit-insncount 1 functions=3 vcpus=2\nsnapshot 0 trigger\nend 0\n"))
	if err != nil || len(snaps) != 1 || snaps[0].VCPUs != 2 || len(snaps[0].Counts) != 0 {
		t.Errorf("empty snapshot: %+v, %v", snaps, err)
	}
}

func TestParseOutputErrors(t *testing.T) {
	const hdr = "rflkit-insncount 1 functions=11 vcpus=1\n"
	for _, c := range []struct {
		name, in string
		line     int // of the *OutputError
		complete int // snapshots returned with it
	}{
		{"empty", "", 1, 0},
		{"magic", "rflkit-insncount-map 1 2\n", 1, 0},
		{"version", "rflkit-insncount 2 functions=1\n", 1, 0},
		{"no functions", "rflkit-insncount 1 vcpus=1\n", 1, 0},
		{"bad functions", "rflkit-insncount 1 functions=x\n", 1, 0},
		{"bad field", "rflkit-insncount 1 functions=1 junk\n", 1, 0},
		{"not a snapshot", hdr + "4 100 2\n", 2, 0},
		{"snapshot number", hdr + "snapshot 1 trigger\nend 1\n", 2, 0},
		{"end number", hdr + "snapshot 0 trigger\nend 1\n", 3, 0},
		{"counter fields", hdr + "snapshot 0 trigger\n4 100\nend 0\n", 3, 0},
		{"negative id", hdr + "snapshot 0 trigger\n-4 100 2\nend 0\n", 3, 0},
		{"id too big", hdr + "snapshot 0 trigger\n2147483648 100 2\nend 0\n", 3, 0},
		{"count", hdr + "snapshot 0 trigger\n4 1e3 2\nend 0\n", 3, 0},
		{"overflow", hdr + "snapshot 0 trigger\n4 18446744073709551616 2\nend 0\n", 3, 0},
		{"repeated id", hdr + "snapshot 0 trigger\n4 1 1\n4 2 2\nend 0\n", 4, 0},
		{"repeated user", hdr + "snapshot 0 trigger\nuser 1\nuser 2\nend 0\n", 4, 0},
		{"bad user", hdr + "snapshot 0 trigger\nuser x\nend 0\n", 3, 0},
		{"truncated", hdr + "snapshot 0 trigger\n4 1 1\nend 0\nsnapshot 1 trigger\n4 2 2\n", 5, 1},
		{"cut mid-line", hdr + "snapshot 0 trigger\nend 0\nsnapshot 1 trigger\n4 2", 5, 1},
		{"garbage after", hdr + "snapshot 0 exit\nend 0\nhello\n", 4, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			snaps, err := ParseOutput(strings.NewReader(c.in))
			var oe *OutputError
			if !errors.As(err, &oe) || oe.Line != c.line {
				t.Fatalf("error %v: want an *OutputError on line %d", err, c.line)
			}
			if len(snaps) != c.complete {
				t.Errorf("%d snapshots returned with the error, want %d", len(snaps), c.complete)
			}
			if !strings.HasPrefix(err.Error(), "tcgplugin: output line ") {
				t.Errorf("error %q", err)
			}
		})
	}
	// A bad line is quoted, bounded.
	_, err := ParseOutput(strings.NewReader(hdr + strings.Repeat("y", 1000) + "\n"))
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "(1000 bytes)") {
		t.Errorf("long bad line: %v", err)
	}
}
