package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
)

// DefaultTimeout bounds each probe command when Options.Timeout is zero.
// A healthy tool answers --version in milliseconds; bindgen parsing a
// header, or a rustup proxy, in well under a second.
const DefaultTimeout = 10 * time.Second

// maxCapture bounds what is kept of each stream of a probe: the parsers
// read the first lines (a real version output is a few hundred bytes), and
// a tool printing without end must not fill memory until the timeout.
const maxCapture = 1 << 20

// ExitError is a probed program that ran but exited non-zero, could not be
// started, or did not finish within the probe timeout. Check 3 to 5 of
// rust_is_available.sh fail on it.
type ExitError struct {
	Argv   []string
	Code   int    // exit status; -1 when it could not be started or was killed
	Output string // what it printed (stdout and stderr)
	// Timeout is non-zero when the program was killed, with its process
	// group, for running longer than this (errors.Is(err,
	// context.DeadlineExceeded) is then true).
	Timeout time.Duration
	// Skipped is set when the program was not run at all because an
	// earlier probe of the same executable, in the same Detect, did not
	// finish within Timeout.
	Skipped bool
	Err     error
}

// TimedOut reports whether the program was killed (or skipped) for
// exceeding the probe timeout.
func (e *ExitError) TimedOut() bool { return e.Timeout > 0 }

// command is argv as one shell-like string, bounded for messages.
func (e *ExitError) command() string { return excerpt(strings.Join(e.Argv, " ")) }

// Error names the command and how it failed, quoting a bounded excerpt of
// what it printed.
func (e *ExitError) Error() string {
	var s string
	switch {
	case e.Skipped:
		s = fmt.Sprintf("toolchain: %s: not run: an earlier probe of %s did not finish within %s", e.command(), excerpt(e.Argv[0]), e.Timeout)
	case e.TimedOut():
		s = fmt.Sprintf("toolchain: %s: did not finish within %s: killed", e.command(), e.Timeout)
	default:
		s = fmt.Sprintf("toolchain: %s: exit code %d: %v", e.command(), e.Code, e.Err)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		s += "; it printed " + quote(out)
	}
	return s
}

// Unwrap returns the underlying error (from os/exec, or the context's).
func (e *ExitError) Unwrap() error { return e.Err }

// runner runs probe commands with a fixed environment, each in its own
// process group that is killed on cancel or timeout (and, on Linux, when
// the thread that started it dies: Pdeathsig). An executable that timed
// out once is not run again by the same runner.
type runner struct {
	env     []string
	timeout time.Duration
	cache   *probeCache  // nil: nothing cached
	log     *slog.Logger // nil: discard

	hits, misses atomic.Int64 // probe cache statistics

	mu       sync.Mutex
	timedOut map[string]bool // argv[0] of commands that did not finish in time
}

func newRunner(env []string, timeout time.Duration) *runner {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &runner{env: env, timeout: timeout, timedOut: map[string]bool{}}
}

// result of one command.
type result struct {
	stdout, stderr string
}

// run runs argv with extra environment entries (overriding env), stdin
// from in (nil = none), through internal/osutil (own process group, killed
// with it on cancel or timeout, Pdeathsig). A non-zero exit, a failure to
// start and a timeout are an *ExitError carrying the output.
func (r *runner) run(ctx context.Context, in io.Reader, extraEnv []string, argv ...string) (result, error) {
	if len(argv) == 0 {
		return result{}, &ExitError{Argv: []string{""}, Code: -1, Err: errors.New("empty command")}
	}
	r.mu.Lock()
	skip := r.timedOut[argv[0]]
	r.mu.Unlock()
	if skip {
		return result{}, &ExitError{Argv: argv, Code: -1, Timeout: r.timeout, Skipped: true,
			Err: fmt.Errorf("%w: an earlier probe of %s timed out", context.DeadlineExceeded, argv[0])}
	}
	out, err := osutil.Run(ctx, osutil.Options{
		Env:       mergeEnv(r.env, append([]string{"LC_ALL=C"}, extraEnv...)),
		Stdin:     in,
		Timeout:   r.timeout,
		MaxOutput: maxCapture,
	}, argv...)
	res := result{stdout: string(out.Stdout), stderr: string(out.Stderr)}
	if err == nil {
		return res, nil
	}
	code := -1
	var oe *osutil.ExitError
	if errors.As(err, &oe) {
		code = oe.Code
		err = oe.Err
	}
	e := &ExitError{Argv: argv, Code: code, Output: res.stdout + res.stderr, Err: err}
	switch {
	case ctx.Err() != nil: // the caller cancelled: not the tool's fault
	case errors.Is(err, context.DeadlineExceeded):
		e.Timeout = r.timeout
		e.Err = fmt.Errorf("%w: killed after %s", err, r.timeout)
		r.mu.Lock()
		r.timedOut[argv[0]] = true
		r.mu.Unlock()
	}
	return res, e
}

// probe is run for a probe whose answer depends only on the executable,
// its arguments (and the files they name), stdin, extraEnv and the
// variables of probeKeyEnv: with a probe cache, a command that exited 0
// before is answered from it without running anything, and one that exits
// 0 now is stored. Failures and timeouts are not stored; rustup proxies
// are always run.
func (r *runner) probe(ctx context.Context, stdin string, extraEnv []string, argv ...string) (result, error) {
	key, ok := r.cacheKey(stdin, extraEnv, argv)
	if ok {
		if e, hit := r.cache.get(key); hit {
			r.hits.Add(1)
			return result{stdout: e.Stdout, stderr: e.Stderr}, nil
		}
	}
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	res, err := r.run(ctx, in, extraEnv, argv...)
	if err == nil && ok {
		r.store(key, probeEntry{Argv: argv, Stdout: res.stdout, Stderr: res.stderr})
	}
	return res, err
}

// cacheKey is the probe cache's key for the command, or false when there
// is no cache or the command must not be cached.
func (r *runner) cacheKey(stdin string, extraEnv, argv []string) (string, bool) {
	if r.cache == nil || len(argv) == 0 {
		return "", false
	}
	return r.cache.key(r.lookExe(argv[0]), stdin, extraEnv, argv)
}

// store writes a probe cache entry; a failure only costs a miss later.
func (r *runner) store(key string, e probeEntry) {
	r.misses.Add(1)
	if err := r.cache.put(key, e); err != nil && r.log != nil {
		r.log.Debug("probe cache", "err", err)
	}
}

// lookExe returns the executable argv0 names, as the child's exec would
// find it in the runner's PATH ("" when it finds none).
func (r *runner) lookExe(argv0 string) string {
	if strings.Contains(argv0, "/") {
		if a, err := filepath.Abs(argv0); err == nil {
			return a
		}
		return argv0
	}
	p, _ := envLookup(r.env, "PATH")
	for _, d := range filepath.SplitList(p) {
		if d == "" {
			d = "."
		}
		if c := filepath.Join(d, argv0); isExec(c) {
			if a, err := filepath.Abs(c); err == nil {
				return a
			}
			return c
		}
	}
	return ""
}

// mergeEnv returns base with the entries of over replacing those of the
// same name (later entries win).
func mergeEnv(base, over []string) []string {
	out := make([]string, 0, len(base)+len(over))
	names := map[string]bool{}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !names[k] {
			out = append(out, kv)
		}
	}
	return append(out, over...)
}

// envLookup returns the value of name in env (the last one wins, as in
// os/exec) and whether it is set.
func envLookup(env []string, name string) (string, bool) {
	val, ok := "", false
	for _, kv := range env {
		if k, v, found := strings.Cut(kv, "="); found && k == name {
			val, ok = v, true
		}
	}
	return val, ok
}
