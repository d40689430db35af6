// Package osutil is rflkit's one way to run a child process: in its own
// process group, killed as a group (SIGKILL) when its context ends, killed
// by the kernel when the Go process that started it dies (Pdeathsig), and
// with one bound on how long Wait waits for pipes a stray grandchild holds
// open. Every package that starts make, QEMU, a toolchain probe, a Kconfig
// macro or `go build` does it through Command; Run adds captured output and
// a typed error for the short commands whose output is their result.
package osutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// WaitDelay bounds how long Wait waits, after the process exited or was
// killed, for its output pipes to close (a background grandchild may hold
// them). It is the same for every child rflkit starts.
const WaitDelay = 5 * time.Second

// Command returns an *exec.Cmd for name and args that, once started, runs
// in a process group of its own; cancelling ctx kills the whole group; the
// kernel sends it SIGKILL if the thread that started it dies (so a killed
// rflkit leaves no orphan); Wait gives up on its pipes after WaitDelay.
// Set Env, Dir, Stdin, Stdout and Stderr as for exec.Command.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return KillGroup(cmd) }
	cmd.WaitDelay = WaitDelay
	return cmd
}

// KillGroup sends SIGKILL to the process group of a started cmd (one made
// by Command). It does nothing for a command that never started.
func KillGroup(cmd *exec.Cmd) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// MaxCapture bounds the bytes of stdout and of stderr that Run keeps; the
// rest is counted and dropped.
const MaxCapture = 16 << 20

// Options are Run's optional settings; the zero value runs argv with the
// process's environment, no stdin and no timeout beyond ctx.
type Options struct {
	// Env is the child's environment; nil means the parent's.
	Env []string
	// Dir is the working directory; "" means the parent's.
	Dir string
	// Stdin is the child's standard input; nil means none.
	Stdin io.Reader
	// Timeout, when positive, ends the command (as ctx would) after that long.
	Timeout time.Duration
	// MaxOutput bounds the bytes kept of stdout and of stderr each; zero
	// means MaxCapture.
	MaxOutput int
}

// Result is what a command printed.
type Result struct {
	// Stdout and Stderr are the captured output, at most Options.MaxOutput
	// bytes each.
	Stdout, Stderr []byte
}

// ExitError is Run's error for a command that could not start, exited
// non-zero, was killed, or outlived its context.
type ExitError struct {
	// Argv is the command line.
	Argv []string
	// Code is the exit code, -1 when the command did not exit by itself.
	Code int
	// Signal is the signal that killed it, 0 when none did.
	Signal syscall.Signal
	// Output is a bounded excerpt of its stderr, else of its stdout.
	Output string
	// Err is the underlying error: from os/exec, or the context's
	// (context.Canceled, context.DeadlineExceeded) when that ended it.
	Err error
}

// Error names the command, how it ended and what it said.
func (e *ExitError) Error() string {
	var how string
	switch {
	case e.Signal != 0 && e.Code < 0:
		how = "killed by " + e.Signal.String()
	case e.Code >= 0:
		how = fmt.Sprintf("exit code %d", e.Code)
	default:
		how = "failed"
	}
	msg := fmt.Sprintf("%s: %s: %v", strings.Join(e.Argv, " "), how, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// Run runs argv (through Command) to its end, capturing its output. A
// command that does not exit 0 gives an *ExitError; when ctx or the timeout
// ended it, errors.Is(err, ctx.Err()) holds.
func Run(ctx context.Context, opts Options, argv ...string) (Result, error) {
	if len(argv) == 0 {
		return Result{}, &ExitError{Code: -1, Err: errors.New("empty command")}
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	cmd := Command(ctx, argv[0], argv[1:]...)
	cmd.Env = opts.Env
	cmd.Dir = opts.Dir
	cmd.Stdin = opts.Stdin
	max := opts.MaxOutput
	if max <= 0 {
		max = MaxCapture
	}
	stdout, stderr := capWriter{max: max}, capWriter{max: max}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Whatever happened, no member of the group outlives the command.
	_ = KillGroup(cmd)
	res := Result{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()}
	if err == nil {
		return res, nil
	}
	e := &ExitError{Argv: argv, Code: -1, Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		e.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal()
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		e.Err = fmt.Errorf("%w (%w)", cerr, err)
	}
	out := res.Stderr
	if len(bytes.TrimSpace(out)) == 0 {
		out = res.Stdout
	}
	e.Output = Excerpt(string(bytes.TrimSpace(out)), 200)
	return res, e
}

// capWriter keeps the first max bytes written to it.
type capWriter struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		if len(p) <= room {
			w.buf.Write(p)
		} else {
			w.buf.Write(p[:room])
			w.dropped += int64(len(p) - room)
		}
	} else {
		w.dropped += int64(len(p))
	}
	return len(p), nil
}

// Excerpt returns s when it is at most max bytes, else its first max bytes
// (cut at a rune boundary) and a note of the full length, so that an error
// quoting untrusted output stays small.
func Excerpt(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}
