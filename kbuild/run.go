package kbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
)

// Phase is the stage of a build an Event belongs to.
type Phase string

// The phases of Configure and Build, in order.
const (
	PhaseSource    Phase = "source"    // unpacking a tarball, identifying the tree
	PhaseConfigure Phase = "configure" // base config, fragments, olddefconfig
	PhaseWait      Phase = "wait"      // waiting for another process's build (cache lock)
	PhaseSeed      Phase = "seed"      // copying the nearest cached build's objects
	PhaseBuild     Phase = "build"     // make is running
	PhaseDone      Phase = "done"      // finished (successfully or from the cache)
)

// Event reports progress. In PhaseBuild, each quiet line of kbuild's output
// ("  CC      init/main.o") gives one event.
type Event struct {
	Phase Phase
	// Kind is the quiet command (CC, RUSTC L, BINDGEN, LD, AR, HOSTCC...)
	// and Path its target, in PhaseBuild.
	Kind, Path string
	// Lines is the number of quiet lines so far, Expected the number the
	// last build of the same configuration printed (0 when unknown).
	Lines, Expected int
	// Percent is the estimated completion, 0..100, or -1 when unknown.
	Percent float64
	// Elapsed is the time since Build or Configure started.
	Elapsed time.Duration
	// Message is a human-readable note for phases other than PhaseBuild.
	Message string
	// CacheHit is set on the PhaseDone event of a build served by the cache.
	CacheHit bool
	// Dir is the O= directory make runs in, in PhaseBuild.
	Dir string
}

// quietRE matches kbuild's short command lines: two spaces, the command
// padded to 7 columns ("RUSTC L" has a one-letter suffix), the target.
var quietRE = regexp.MustCompile(`^  ([A-Z][A-Z0-9_-]*(?: [A-Z])?)\s+(\S.*)$`)

// ParseQuietLine splits a kbuild short command line such as
// "  CC      init/main.o" or "  RUSTC L rust/core.o" into its command and
// target. ok is false for other lines.
func ParseQuietLine(line string) (kind, target string, ok bool) {
	m := quietRE.FindStringSubmatch(line)
	if m == nil {
		return "", "", false
	}
	target = strings.TrimSpace(m[2])
	if target == "" {
		return "", "", false
	}
	return m[1], target, true
}

// runOutcome is what one make run produced besides its error.
type runOutcome struct {
	quietLines int
	diags      []Diagnostic
	tail       []string
	infra      InfraReason
	infraLine  string
	duration   time.Duration
}

const tailLines = 40

// lineSink receives make's output: it copies the bytes to the log and
// splits them into lines for the parsers.
type lineSink struct {
	log     io.Writer
	partial []byte
	onLine  func(string)
	logErr  error
}

func (s *lineSink) Write(p []byte) (int, error) {
	if s.log != nil && s.logErr == nil {
		if _, err := s.log.Write(p); err != nil {
			s.logErr = err // keep building; report later
		}
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.onLine(strings.TrimRight(string(s.partial[:i]), "\r"))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > 1<<20 { // a pathological line: cut it
		s.onLine(string(s.partial))
		s.partial = s.partial[:0]
	}
	return len(p), nil
}

func (s *lineSink) flush() {
	if len(s.partial) > 0 {
		s.onLine(string(s.partial))
		s.partial = nil
	}
}

// runMake runs inv in its own process group, streaming its output to log
// and onQuiet. Cancelling ctx kills the whole group. The error is nil, a
// *KernelError or an *InfraError.
func runMake(ctx context.Context, inv Invocation, log io.Writer, onQuiet func(kind, target string, n int)) (runOutcome, error) {
	var out runOutcome
	dp := newDiagParser()
	sink := &lineSink{log: log}
	sink.onLine = func(l string) {
		if k, t, ok := ParseQuietLine(l); ok {
			out.quietLines++
			if onQuiet != nil {
				onQuiet(k, t, out.quietLines)
			}
		} else {
			dp.line(l)
			if out.infra == "" {
				if r, ok := infraReasonForLine(l); ok {
					out.infra, out.infraLine = r, l
				}
			}
		}
		out.tail = append(out.tail, l)
		if len(out.tail) > 2*tailLines {
			out.tail = append(out.tail[:0], out.tail[len(out.tail)-tailLines:]...)
		}
	}
	if len(inv.Argv) == 0 {
		return out, &UsageError{"Argv", "empty command"}
	}
	if err := ctx.Err(); err != nil {
		return out, cancelledBeforeMake(err)
	}
	// Its own process group (make, its sub-makes, the compilers), killed
	// as a group on cancel, and with rflkit if rflkit dies.
	cmd := osutil.Command(ctx, inv.Argv[0], inv.Argv[1:]...)
	cmd.Env = inv.Env
	cmd.Stdout = sink
	cmd.Stderr = sink
	start := time.Now()
	err := cmd.Start()
	if err != nil {
		out.duration = time.Since(start)
		if ctx.Err() != nil {
			return out, cancelledBeforeMake(ctx.Err())
		}
		reason := ReasonMake
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) {
			reason = ReasonToolMissing
		}
		return out, &InfraError{Reason: reason, Detail: inv.Argv[0], ExitCode: -1, Err: err}
	}
	err = cmd.Wait()
	// Whatever happened, no member of the group outlives the build.
	_ = osutil.KillGroup(cmd)
	sink.flush()
	out.duration = time.Since(start)
	out.diags = dp.diags
	if len(out.tail) > tailLines {
		out.tail = out.tail[len(out.tail)-tailLines:]
	}
	if err == nil {
		if sink.logErr != nil {
			return out, &InfraError{Reason: ReasonIO, Detail: "writing the build log", Err: sink.logErr}
		}
		return out, nil
	}
	if ctx.Err() != nil {
		return out, &InfraError{Reason: ReasonCancelled, Detail: "make was killed", ExitCode: -1, Tail: out.tail, Err: ctx.Err()}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return out, &InfraError{Reason: ReasonKilled, Detail: "make killed by signal " + ws.Signal().String(), ExitCode: -1, Tail: out.tail, Err: err}
		}
		code := ee.ExitCode()
		switch {
		case out.infra == ReasonDiskFull || out.infra == ReasonIO:
			return out, &InfraError{Reason: out.infra, Detail: out.infraLine, ExitCode: code, Tail: out.tail, Err: err}
		case len(out.diags) > 0:
			return out, &KernelError{Diagnostics: out.diags, ExitCode: code, Tail: out.tail}
		case out.infra != "":
			return out, &InfraError{Reason: out.infra, Detail: out.infraLine, ExitCode: code, Tail: out.tail, Err: err}
		}
		return out, &InfraError{Reason: ReasonMake, Detail: lastMakeError(out.tail, code), ExitCode: code, Tail: out.tail, Err: err}
	}
	return out, &InfraError{Reason: ReasonMake, Detail: err.Error(), ExitCode: -1, Tail: out.tail, Err: err}
}

// cancelledBeforeMake is the error of a build whose context was done
// before make could start.
func cancelledBeforeMake(err error) *InfraError {
	return &InfraError{Reason: ReasonCancelled, Detail: "before make started", ExitCode: -1, Err: err}
}

// lastMakeError returns the most telling line of a failed make's output:
// the first "make...: ***" line, else the last line.
func lastMakeError(tail []string, code int) string {
	for _, l := range tail {
		if strings.Contains(l, "*** ") && strings.HasPrefix(l, "make") {
			return l
		}
	}
	if len(tail) > 0 {
		return fmt.Sprintf("exit status %d: %s", code, tail[len(tail)-1])
	}
	return fmt.Sprintf("exit status %d", code)
}
