// Package cli is the shape every example binary shares: a
// `run(ctx, args, stdout, stderr) error` function that parses its own flag
// set and composes library calls, and a main that gives it a context ended
// by SIGINT or SIGTERM and turns its error into an exit code. Tests call
// run directly.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is an example's body.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// ExitError asks for a particular exit code. Its Err, when not nil, is
// printed; a nil Err means the message was already written (a command's own
// output, or a report that ends with a verdict).
type ExitError struct {
	// Code is the process's exit code.
	Code int
	// Err is the cause, printed to stderr by Main; nil prints nothing.
	Err error
}

// Error returns the cause's message, or "exit status N".
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *ExitError) Unwrap() error { return e.Err }

// Exit returns an *ExitError with code and cause err (nil: silent).
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Usagef is a command-line mistake: exit code 2 with the message.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// Code is the exit code for err: 0 for nil and for flag.ErrHelp, 2 for other
// flag parse errors (the flag package has printed them), an *ExitError's
// code, 130 for a cancelled context, 1 otherwise.
func Code(err error) int {
	var ee *ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

// Parse parses args with fs (which must use flag.ContinueOnError), turning
// its error into one Code understands: -h is flag.ErrHelp, a bad flag exit
// code 2 with nothing more to print.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return Exit(2, nil)
}

// Main runs run with the process's arguments, standard streams and a
// context that SIGINT and SIGTERM cancel, prints its error as "name: err"
// (unless it asks for silence) and exits with Code(err).
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, name, run, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run is Main without the process: it runs run, reports its error to stderr
// as Main does and returns the exit code. Tests use it to check what a user
// sees.
func Run(ctx context.Context, name string, run RunFunc, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	Report(stderr, name, err)
	return Code(err)
}

// Report prints err to w as Main does: "name: message", nothing for nil,
// flag.ErrHelp or a silent *ExitError.
func Report(w io.Writer, name string, err error) {
	var ee *ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ee) && ee.Err == nil:
	default:
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
}
