package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

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
			summary: "exit 1 and list the requested values that FINAL (after olddefconfig) does not have",
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

// parseFlags parses args; a usage error becomes exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitError(0)
		}
		return exitError(2)
	}
	return nil
}

func usageError(e *env, fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(e.stderr, "kconfig %s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.Usage()
	return exitError(2)
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
	for _, w := range c.Warnings() {
		fmt.Fprintf(e.stderr, "%s:%d:%d: warning: %s\n", w.File, w.Line, w.Col, w.Msg)
	}
	return c, nil
}

func runSet(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "set", "-config FILE [-lenient] SYM=VAL...")
	file := fs.String("config", ".config", "the `file` to edit in place")
	lenient := fs.Bool("lenient", false, "skip malformed lines (with a warning) instead of failing, as conf does")
	if err := parseFlags(fs, args); err != nil {
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
		sym, val, ok := strings.Cut(a, "=")
		if !ok {
			return usageError(e, fs, "%q: want SYM=VAL", a)
		}
		sym = strings.TrimPrefix(sym, prefix)
		if val == "n" {
			err = c.Unset(sym)
		} else {
			err = c.SetString(sym, val)
		}
		if err != nil {
			return err
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
	if err := parseFlags(fs, args); err != nil {
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
				return exitError(1)
			}
		}
	}
	return nil
}

func runDiff(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "diff", "[-m] A B")
	merge := fs.Bool("m", false, "print the changed and new values as a fragment (diffconfig -m)")
	if err := parseFlags(fs, args); err != nil {
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError(e, fs, "want two files")
	}
	req, err := readConfig(e, fs.Arg(0), parseOpts(e, true))
	if err != nil {
		return err
	}
	final, err := readConfig(e, fs.Arg(1), parseOpts(e, true))
	if err != nil {
		return err
	}
	ms := kconfig.Verify(req, final)
	for _, m := range ms {
		fmt.Fprintf(e.stdout, "%s:%d: %s\n", req.Name(), m.Line, m)
	}
	if len(ms) > 0 {
		fmt.Fprintf(e.stdout, "%d of the requested values are not in %s\n", len(ms), final.Name())
		return exitError(1)
	}
	return nil
}
