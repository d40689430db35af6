package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"
)

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{errors.New("x"), 1},
		{Usagef("bad %s", "flag"), 2},
		{Exit(7, nil), 7},
		{fmt.Errorf("wrapped: %w", Exit(3, errors.New("y"))), 3},
		{fmt.Errorf("build: %w", context.Canceled), 130},
	} {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	Report(&b, "tool", Exit(1, nil))
	Report(&b, "tool", flag.ErrHelp)
	Report(&b, "tool", nil)
	if b.Len() != 0 {
		t.Fatalf("silent errors printed %q", b.String())
	}
	Report(&b, "tool", Usagef("-x %q: want NAME=value", "a"))
	if b.String() != "tool: -x \"a\": want NAME=value\n" {
		t.Fatalf("got %q", b.String())
	}
}

func TestParse(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("v", false, "")
	if err := Parse(fs, []string{"-nope"}); Code(err) != 2 {
		t.Errorf("bad flag: %v (code %d)", err, Code(err))
	}
	if err := Parse(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if err := Parse(fs, []string{"-v"}); err != nil {
		t.Errorf("-v: %v", err)
	}
}
