package kbuild

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A build whose context is done before make starts says it was cancelled
// (not "make failed: make"), and wraps the context's error.
func TestCancelledBeforeMakeStarted(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.b.Build(ctx, tinySpec(true))
	var ie *InfraError
	if !errors.As(err, &ie) || ie.Reason != ReasonCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("Build: %T %v, want a cancelled *InfraError wrapping context.Canceled", err, err)
	}
	if got, want := err.Error(), "kbuild: build cancelled before make started: context canceled"; got != want {
		t.Errorf("Build: %q, want %q", got, want)
	}
	if n := f.makeRuns(t); n != 0 {
		t.Errorf("make ran %d times", n)
	}

	// Configure goes through runMake: the same reason, whatever wraps it.
	_, err = f.b.Configure(ctx, tinySpec(true).Config)
	if !errors.As(err, &ie) || ie.Reason != ReasonCancelled || !errors.Is(err, context.Canceled) ||
		!strings.Contains(err.Error(), "build cancelled before make started: context canceled") || strings.Contains(err.Error(), "make failed") {
		t.Errorf("Configure: %T %v", err, err)
	}

	// runMake itself, with a deadline.
	dctx, dcancel := context.WithTimeout(context.Background(), 0)
	defer dcancel()
	_, err = runMake(dctx, Invocation{Argv: []string{"make", "--version"}}, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "kbuild: build cancelled before make started: context deadline exceeded" {
		t.Errorf("runMake: %v", err)
	}
}

func TestInfraErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		e    *InfraError
		want string
	}{
		{&InfraError{Reason: ReasonCancelled, Detail: "make was killed", Err: context.Canceled}, "kbuild: build cancelled (make was killed): context canceled"},
		{&InfraError{Reason: ReasonCancelled, Err: context.Canceled}, "kbuild: build cancelled: context canceled"},
		{&InfraError{Reason: ReasonMake, Detail: "make: *** [Makefile:1: x] Error 2", Err: errors.New("exit status 2")}, "kbuild: build infrastructure failed: make failed: make: *** [Makefile:1: x] Error 2"},
		{&InfraError{Reason: ReasonToolMissing, Detail: "make", Err: errors.New("not found")}, "kbuild: build infrastructure failed: tool missing: make: not found"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
