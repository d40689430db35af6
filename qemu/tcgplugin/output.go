package tcgplugin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rflkit/rflkit/internal/osutil"
)

// outMagic starts the plugin's output file (shared with insncount.c).
const outMagic = "rflkit-insncount"

// Count is one function's counters: the instructions executed in it and
// the executions of its first instruction (entries: calls, and any jump
// back to its start).
type Count struct {
	Insns   uint64
	Entries uint64
}

// Snapshot is the plugin's counters at one moment, cumulative since QEMU
// started.
type Snapshot struct {
	// Index is the snapshot's number in the file, from 0.
	Index int
	// Reason is why it was taken: "trigger" (the guest ran the trigger
	// instruction) or "exit" (QEMU exited).
	Reason string
	// Counts holds the functions whose counters are not zero, by ID.
	Counts map[int]Count
	// User counts the instructions below the first function (user space
	// on x86_64), Unknown those above it that no function holds (modules,
	// holes between text sections).
	User, Unknown uint64
	// VCPUs is the number of vCPUs QEMU reported to the plugin (from the
	// header); with more than one the counters are not exact, since the
	// plugin's inline additions are not atomic.
	VCPUs int
}

// OutputError is a line of the plugin's output that ParseOutput cannot
// accept, or the output's end where a snapshot is unfinished.
type OutputError struct {
	Line    int    // 1-based line number
	Excerpt string // the line, bounded ("" at the end of the output)
	Msg     string
}

// Error is "tcgplugin: output line N: MSG: EXCERPT".
func (e *OutputError) Error() string {
	if e.Excerpt == "" {
		return fmt.Sprintf("tcgplugin: output line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("tcgplugin: output line %d: %s: %q", e.Line, e.Msg, e.Excerpt)
}

// ParseOutput reads the plugin's output file (see the package
// documentation for the format). Every line is checked: the header, the
// snapshots' numbers (0, 1, ... in order), each counter line, ids not
// repeated in a snapshot, and each snapshot's end line (whether an id is
// a function of the kernel is SymbolTable.Diff's check). A bad line, or output that ends inside a snapshot
// (QEMU killed while writing one), is an *OutputError naming the line;
// the snapshots completed before it are returned with the error.
func ParseOutput(r io.Reader) ([]Snapshot, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	var s string
	bad := func(msg string) error {
		return &OutputError{Line: line, Excerpt: osutil.Excerpt(s, excerptLen), Msg: msg}
	}
	var snaps []Snapshot
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("tcgplugin: output: %w", err)
		}
		return nil, &OutputError{Line: 1, Msg: "empty output (the plugin did not start?)"}
	}
	line, s = 1, sc.Text()
	vcpus, err := parseHeader(s)
	if err != nil {
		return nil, bad(err.Error())
	}
	var cur *Snapshot // the open snapshot
	var curLine int   // and its first line
	var curText string
	var seenUser, seenUnknown bool
	for sc.Scan() {
		line++
		s = sc.Text()
		f := strings.Fields(s)
		if cur == nil {
			if len(f) != 3 || f[0] != "snapshot" {
				return snaps, bad(`want "snapshot INDEX REASON"`)
			}
			idx, err := strconv.Atoi(f[1])
			if err != nil || idx != len(snaps) {
				return snaps, bad(fmt.Sprintf("want snapshot %d", len(snaps)))
			}
			cur = &Snapshot{Index: idx, Reason: f[2], Counts: map[int]Count{}, VCPUs: vcpus}
			curLine, curText = line, s
			seenUser, seenUnknown = false, false
			continue
		}
		switch {
		case len(f) == 2 && f[0] == "end":
			if idx, err := strconv.Atoi(f[1]); err != nil || idx != cur.Index {
				return snaps, bad(fmt.Sprintf("want end %d", cur.Index))
			}
			snaps = append(snaps, *cur)
			cur = nil
		case len(f) == 2 && (f[0] == "user" || f[0] == "unknown"):
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return snaps, bad("count is not a decimal number")
			}
			seen := &seenUser
			dst := &cur.User
			if f[0] == "unknown" {
				seen, dst = &seenUnknown, &cur.Unknown
			}
			if *seen {
				return snaps, bad(f[0] + " repeated")
			}
			*seen, *dst = true, n
		case len(f) == 3:
			id, err := strconv.Atoi(f[0])
			if err != nil || id < 0 || id > maxID {
				return snaps, bad(fmt.Sprintf("want an id in 0..%d", maxID))
			}
			var c Count
			var e1, e2 error
			c.Insns, e1 = strconv.ParseUint(f[1], 10, 64)
			c.Entries, e2 = strconv.ParseUint(f[2], 10, 64)
			if e1 != nil || e2 != nil {
				return snaps, bad("counts are not decimal numbers")
			}
			if _, dup := cur.Counts[id]; dup {
				return snaps, bad(fmt.Sprintf("id %d repeated", id))
			}
			cur.Counts[id] = c
		default:
			return snaps, bad(`want "ID INSNS ENTRIES", "user N", "unknown N" or "end INDEX"`)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return snaps, &OutputError{Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return snaps, fmt.Errorf("tcgplugin: output line %d: %w", line+1, err)
	}
	if cur != nil {
		return snaps, &OutputError{Line: curLine, Excerpt: osutil.Excerpt(curText, excerptLen),
			Msg: fmt.Sprintf("snapshot %d has no end line (output truncated: QEMU killed?)", cur.Index)}
	}
	return snaps, nil
}

// parseHeader reads "rflkit-insncount 1 functions=N vcpus=V" and returns
// V; other key=value fields are ignored.
func parseHeader(s string) (vcpus int, err error) {
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != outMagic {
		return 0, fmt.Errorf("want a %q header", outMagic+" VERSION functions=N vcpus=V")
	}
	if v, err := strconv.Atoi(f[1]); err != nil || v != formatVersion {
		return 0, fmt.Errorf("want version %d", formatVersion)
	}
	funcs, vcpus := 0, 1
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return 0, errors.New("want key=value fields")
		}
		n, err := strconv.Atoi(v)
		switch k {
		case "functions":
			if err != nil || n < 1 || n > maxRanges {
				return 0, fmt.Errorf("functions= wants 1..%d", maxRanges)
			}
			funcs = n
		case "vcpus":
			if err != nil || n < 1 {
				return 0, errors.New("vcpus= wants a positive number")
			}
			vcpus = n
		}
	}
	if funcs == 0 {
		return 0, errors.New("no functions= field")
	}
	return vcpus, nil
}
