package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/rflkit/rflkit/internal/cli"
	"github.com/rflkit/rflkit/kconfig"
)

// fileCommands returns the subcommands that work on .config files alone.
func fileCommands() map[string]command {
	return map[string]command{
		"set": {
			usage:   "-config FILE [-lenient] SYM=VAL...",
			summary: `edit FILE in place: VAL is y, m, n (written "# CONFIG_X is not set"), "string", 12 or 0x1f`,
			run:     runSet,
		},
		"merge": {
			usage:   "[-r] [-y] [-s] [-Q] -o OUT BASE FRAGMENT...",
			summary: "merge fragments into BASE as scripts/kconfig/merge_config.sh -m does, with its warnings",
			run:     runMerge,
		},
		"diff": {
			usage:   "[-m] A B",
			summary: "print what scripts/diffconfig A B prints",
			run:     runDiff,
		},
		"verify": {
			usage:   "REQUESTED FINAL",
			summary: "exit 1 and list the requested values that FINAL (after olddefconfig) does not have, and the lines of REQUESTED that cannot be read",
			run:     runVerify,
		},
	}
}

// newFlags returns a flag set that reports to e.stderr and returns errors.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: kconfig %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

func usageError(e *env, fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(e.stderr, "kconfig %s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.Usage()
	return cli.Exit(2, nil)
}

// parseOpts are the parse options of every subcommand: the prefix from
// $CONFIG_, as in the kernel's tools.
func parseOpts(e *env, lenient bool) kconfig.ParseOptions {
	return kconfig.ParseOptions{Prefix: e.getenv("CONFIG_"), Lenient: lenient}
}

// readConfig reads a file and prints its parse warnings.
func readConfig(e *env, path string, opts kconfig.ParseOptions) (*kconfig.Config, error) {
	c, err := kconfig.ReadFile(path, opts)
	if err != nil {
		return nil, err
	}
	printParseWarnings(e, c, nil)
	return c, nil
}

// printParseWarnings prints c's parse warnings, except those on the lines
// in skip (reported otherwise). Their messages quote at most an excerpt.
func printParseWarnings(e *env, c *kconfig.Config, skip map[int]bool) {
	for _, w := range c.Warnings() {
		if !skip[w.Line] {
			fmt.Fprintf(e.stderr, "%s:%d:%d: warning: %s\n", w.File, w.Line, w.Col, w.Msg)
		}
	}
}

// argText is a command-line argument for a message: as typed when it is
// short and printable, else quoted by kconfig.Excerpt.
func argText(a string) string {
	if len(a) <= kconfig.ExcerptLen && strings.IndexFunc(a, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return a
	}
	return kconfig.Excerpt(a)
}

// setError words a value that set cannot use in the user's terms: the
// argument as typed, then what is wrong for the type its spelling points
// to (`A=0x: not a valid hex value: "0x" has no digits`).
func setError(arg, sym, val string, err error) error {
	var ve *kconfig.ValueError
	if !errors.As(err, &ve) {
		return err
	}
	msg := ve.Msg
	switch {
	case val == "":
		msg = `missing value (want y, m, n, "string", a decimal number or 0x followed by hex digits)`
	case val[0] != '"' && val[0] != '-' && (val[0] < '0' || val[0] > '9'):
		// A word: a bool/tristate value misspelt, or a string whose
		// quotes the shell ate.
		msg = "not a bool or tristate value (y, m or n), nor a number; a string value needs double quotes"
		if len(val) <= 40 && !strings.ContainsAny(val, `'"\`) {
			msg += ": " + sym + `='"` + val + `"'`
		}
	}
	return fmt.Errorf("%s: %s", argText(arg), msg)
}

func runSet(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "set", "-config FILE [-lenient] SYM=VAL...")
	file := fs.String("config", ".config", "the `file` to edit in place")
	lenient := fs.Bool("lenient", false, "skip malformed lines (with a warning) instead of failing, as conf does")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError(e, fs, "nothing to set")
	}
	c, err := readConfig(e, *file, parseOpts(e, *lenient))
	if err != nil {
		return err
	}
	prefix := c.Prefix()
	for _, a := range fs.Args() {
		typed, val, ok := strings.Cut(a, "=")
		if !ok {
			return usageError(e, fs, "%s: want SYM=VAL", kconfig.Excerpt(a))
		}
		sym := strings.TrimPrefix(typed, prefix)
		if val == "n" {
			err = c.Unset(sym)
		} else {
			err = c.SetString(sym, val)
		}
		if err != nil {
			return setError(a, typed, val, err)
		}
	}
	return c.WriteFile(*file)
}

func runMerge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "merge", "[-r] [-y] [-s] [-Q] -o OUT BASE FRAGMENT...")
	out := fs.String("o", "", "write the merged configuration to `file`")
	redundant := fs.Bool("r", false, "list redundant entries (merge_config.sh -r)")
	builtin := fs.Bool("y", false, "make builtin have precedence over modules (merge_config.sh -y)")
	strict := fs.Bool("s", false, "fail if a fragment redefines a value (merge_config.sh -s)")
	quiet := fs.Bool("Q", false, "no warnings for overridden options (merge_config.sh -Q)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError(e, fs, "-o OUT is required")
	}
	if fs.NArg() < 1 {
		return usageError(e, fs, "no BASE file")
	}
	opts := parseOpts(e, true) // merge_config.sh copies lines it does not understand
	base, err := readConfig(e, fs.Arg(0), opts)
	if err != nil {
		return err
	}
	var frags []*kconfig.Config
	for _, p := range fs.Args()[1:] {
		f, err := readConfig(e, p, opts)
		if err != nil {
			return err
		}
		frags = append(frags, f)
	}
	merged, warns := kconfig.MergeOptions{Builtin: *builtin}.Merge(base, frags...)
	if err := merged.WriteFile(*out); err != nil {
		return err
	}
	logOpts := kconfig.MergeLogOptions{Redundant: *redundant, Quiet: *quiet, Output: *out}
	if err := kconfig.WriteMergeLog(e.stdout, base, frags, warns, logOpts); err != nil {
		return err
	}
	if *strict {
		for _, w := range warns {
			if w.Kind == kconfig.MergeRedefined {
				fmt.Fprintln(e.stdout, "The fragment redefined a value and strict mode had been passed.")
				return cli.Exit(1, nil)
			}
		}
	}
	return nil
}

func runDiff(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "diff", "[-m] A B")
	merge := fs.Bool("m", false, "print the changed and new values as a fragment (diffconfig -m)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError(e, fs, "want two files")
	}
	a, err := readConfig(e, fs.Arg(0), parseOpts(e, true))
	if err != nil {
		return err
	}
	b, err := readConfig(e, fs.Arg(1), parseOpts(e, true))
	if err != nil {
		return err
	}
	d := kconfig.Diff(a, b)
	text := d.String()
	if *merge {
		text = d.MergeStyle()
	}
	_, err = io.WriteString(e.stdout, text)
	return err
}

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify", "REQUESTED FINAL")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError(e, fs, "want two files")
	}
	// Lines of REQUESTED that cannot be read are requests conf ignores:
	// reported (and counted) with the mismatches, not as warnings.
	req, err := kconfig.ReadFile(fs.Arg(0), parseOpts(e, true))
	if err != nil {
		return err
	}
	final, err := readConfig(e, fs.Arg(1), parseOpts(e, true))
	if err != nil {
		return err
	}
	ms := kconfig.Verify(req, final)
	unread := map[int]bool{}
	for _, m := range ms {
		if m.Unparsed != nil {
			unread[m.Line] = true
		}
	}
	printParseWarnings(e, req, unread)
	for _, m := range ms {
		if m.Unparsed != nil {
			fmt.Fprintf(e.stdout, "%s:%d:%d: %s\n", req.Name(), m.Line, m.Unparsed.Col, m)
		} else {
			fmt.Fprintf(e.stdout, "%s:%d: %s\n", req.Name(), m.Line, m)
		}
	}
	if n := len(ms) - len(unread); n > 0 {
		fmt.Fprintf(e.stdout, "%d of the requested values are not in %s\n", n, final.Name())
	}
	if len(unread) > 0 {
		fmt.Fprintf(e.stdout, "%d lines of %s cannot be read (conf ignores them)\n", len(unread), req.Name())
	}
	if len(ms) > 0 {
		return cli.Exit(1, nil)
	}
	return nil
}
