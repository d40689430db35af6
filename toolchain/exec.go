package toolchain

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

// ExitError is a probed program that ran but exited non-zero (or could not
// be started). Check 3 to 5 of rust_is_available.sh fail on it.
type ExitError struct {
	Argv   []string
	Code   int    // exit status; -1 when it could not be started or was killed
	Output string // what it printed (stdout and stderr)
	Err    error
}

func (e *ExitError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 400 {
		out = out[:400] + "..."
	}
	if out != "" {
		return fmt.Sprintf("toolchain: %s: exit code %d: %v; it printed %q", strings.Join(e.Argv, " "), e.Code, e.Err, out)
	}
	return fmt.Sprintf("toolchain: %s: exit code %d: %v", strings.Join(e.Argv, " "), e.Code, e.Err)
}

func (e *ExitError) Unwrap() error { return e.Err }

// runner runs probe commands with a fixed environment, each in its own
// process group that is killed on cancel or timeout.
type runner struct {
	env     []string
	timeout time.Duration
}

// result of one command.
type result struct {
	stdout, stderr string
}

// run runs argv with extra environment entries (overriding env), stdin
// from in (nil = none). A non-zero exit is an *ExitError carrying the output.
func (r *runner) run(ctx context.Context, in io.Reader, extraEnv []string, argv ...string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = mergeEnv(r.env, append([]string{"LC_ALL=C"}, extraEnv...))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = in
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return res, &ExitError{Argv: argv, Code: code, Output: res.stdout + res.stderr, Err: err}
	}
	return res, nil
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
