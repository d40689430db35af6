package qemu

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Kinds of kernel problems recognised on the console.
const (
	KindPanic     = "panic"      // Kernel panic - not syncing
	KindOops      = "Oops"       // Oops: ... (arm64: Internal error: Oops...)
	KindBUG       = "BUG"        // BUG: ... / kernel BUG at ... (arm64: Unable to handle kernel ...)
	KindWARN      = "WARN"       // WARNING: CPU: ... at file:line
	KindGPF       = "GPF"        // general protection fault
	KindHungTask  = "hung task"  // INFO: task X:N blocked for more than S seconds.
	KindRustPanic = "Rust panic" // rust_kernel: panicked at ...
)

// PanicError is a kernel problem seen on the guest's console: its kind,
// the line that revealed it and an excerpt of the log around it (a few
// lines before, up to the end of the report).
type PanicError struct {
	Kind    string // one of the Kind constants
	Title   string // the first line of the report, without timestamp
	Excerpt string // the relevant console lines
	// Fatal is set for the kinds that stop the guest (with panic=-1 and
	// oops=panic every kind but WARN and hung task).
	Fatal bool
	// Line is the console line number (1-based) of Title.
	Line int
}

// Error is "qemu: guest kernel <Kind>: <Title>"; Excerpt has the details.
func (e *PanicError) Error() string {
	return fmt.Sprintf("qemu: guest kernel %s: %s", e.Kind, e.Title)
}

// A pattern maps a console line to a kind.
type pattern struct {
	re    *regexp.Regexp
	kind  string
	fatal bool
}

// patterns are checked in order; the first match wins.
var patterns = []pattern{
	{regexp.MustCompile(`^rust_kernel: panicked at`), KindRustPanic, true},
	{regexp.MustCompile(`^(Oops: )?general protection fault`), KindGPF, true},
	{regexp.MustCompile(`^kernel BUG at |^BUG: `), KindBUG, true},
	// arm64's kernel fault (arch/arm64/mm/fault.c die_kernel_fault), x86's
	// "BUG: kernel NULL pointer dereference".
	{regexp.MustCompile(`^Unable to handle kernel .* at virtual address `), KindBUG, true},
	{regexp.MustCompile(`^Oops: `), KindOops, true},
	// arm64's __die() (arch/arm64/kernel/traps.c): "Internal error: %s:
	// %016lx [#%d]  SMP", str "Oops", "Oops - BUG", "Oops - Undefined
	// instruction", ...
	{regexp.MustCompile(`^Internal error: .*\[#\d+\]`), KindOops, true},
	{regexp.MustCompile(`^WARNING: (CPU: \d+ PID: \d+ at |\S+:\d+ at |at \S+, CPU#\d+)`), KindWARN, false},
	{regexp.MustCompile(`^INFO: task .+:\d+ blocked.* for more than \d+ seconds`), KindHungTask, false},
	{regexp.MustCompile(`^Kernel panic - not syncing`), KindPanic, true},
}

// timestamp is printk's "[    1.234567] " prefix (PRINTK_TIME), with an
// optional caller id ("[T1]").
var timestamp = regexp.MustCompile(`^\[\s*\d+\.\d+\](\[\s*[TC]\d+\])?\s?`)

// endOfReport ends an excerpt.
var endOfReport = regexp.MustCompile(`^---\[ end (trace|Kernel panic)`)

const (
	contextBefore = 4   // lines kept before a report's first line
	excerptMax    = 120 // lines at most in an excerpt
)

// Recognise scans a console log and returns every problem report in it,
// in order. It is what the live console watcher does, on a whole log.
func Recognise(log string) []*PanicError {
	w := newWatcher(nil)
	_, _ = io.Copy(w, strings.NewReader(log))
	w.Close()
	return w.Events()
}

// watcher reads console output line by line and records problem reports.
// It is an io.WriteCloser; Events is safe to call concurrently.
type watcher struct {
	out     io.Writer // console copy, may be nil
	pending []byte
	lineNo  int
	before  []string

	mu      sync.Mutex
	events  []*PanicError
	open    *PanicError // excerpt still growing
	openN   int
	changed chan struct{} // closed and replaced on each new event
	tail    []string      // last lines, for errors
}

func newWatcher(out io.Writer) *watcher {
	return &watcher{out: out, changed: make(chan struct{})}
}

func (w *watcher) Write(p []byte) (int, error) {
	if w.out != nil {
		_, _ = w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	for {
		i := strings.IndexByte(string(w.pending), '\n')
		if i < 0 {
			break
		}
		line := string(w.pending[:i])
		w.pending = w.pending[i+1:]
		w.line(line)
	}
	if len(w.pending) > 64<<10 { // a line without end: judge it anyway
		w.line(string(w.pending))
		w.pending = nil
	}
	return len(p), nil
}

// Close flushes a last unterminated line and ends the open excerpt.
func (w *watcher) Close() error {
	if len(w.pending) > 0 {
		w.line(string(w.pending))
		w.pending = nil
	}
	w.mu.Lock()
	w.open = nil
	w.mu.Unlock()
	return nil
}

func (w *watcher) line(raw string) {
	raw = strings.TrimRight(raw, "\r")
	text := timestamp.ReplaceAllString(raw, "")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lineNo++
	w.tail = append(w.tail, raw)
	if len(w.tail) > 40 {
		w.tail = w.tail[len(w.tail)-40:]
	}
	if w.open != nil {
		w.open.Excerpt += "\n" + raw
		w.openN++
		if endOfReport.MatchString(text) || w.openN >= excerptMax {
			w.open = nil
		}
	}
	for _, p := range patterns {
		if !p.re.MatchString(text) {
			continue
		}
		if w.open != nil {
			// Part of the report being recorded (an Oops after its BUG
			// line, the panic at the end of an Oops); a fatal ending of
			// a non-fatal report makes it fatal.
			if p.fatal && !w.open.Fatal {
				w.open.Fatal = true
			}
			break
		}
		ex := append(append([]string(nil), w.before...), raw)
		e := &PanicError{Kind: p.kind, Title: text, Excerpt: strings.Join(ex, "\n"), Fatal: p.fatal, Line: w.lineNo}
		w.events = append(w.events, e)
		w.open, w.openN = e, 0
		close(w.changed)
		w.changed = make(chan struct{})
		break
	}
	w.before = append(w.before, raw)
	if len(w.before) > contextBefore {
		w.before = w.before[1:]
	}
}

// Events returns copies of the reports seen so far.
func (w *watcher) Events() []*PanicError {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*PanicError, len(w.events))
	for i, e := range w.events {
		c := *e
		out[i] = &c
	}
	return out
}

// waitFatal blocks until a fatal report after console line since appears
// (and returns it) or ctx is done (nil).
func (w *watcher) waitFatal(ctx context.Context, since int) *PanicError {
	for {
		w.mu.Lock()
		for _, e := range w.events {
			if e.Line > since && e.Fatal {
				c := *e
				w.mu.Unlock()
				return &c
			}
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// Tail returns the last console lines.
func (w *watcher) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// lines returns the number of lines seen.
func (w *watcher) lines() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lineNo
}

// firstProblem picks the report to return from a list: the first fatal
// one, else the first one. since filters reports by console line.
func firstProblem(events []*PanicError, since int) *PanicError {
	var first *PanicError
	for _, e := range events {
		if e.Line <= since {
			continue
		}
		if e.Fatal {
			return e
		}
		if first == nil {
			first = e
		}
	}
	return first
}

// consoleReader copies r into w until EOF.
func consoleReader(r io.Reader, w io.WriteCloser, done chan<- struct{}) {
	defer close(done)
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			w.Close()
			return
		}
	}
}
