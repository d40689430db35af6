// Command kconfig works on kernel configuration files with rflkit's kconfig
// package: it edits, merges, compares and verifies .config files the way
// the kernel's scripts do.
//
//	kconfig set -config FILE SYM=VAL...    edit FILE in place (atomically)
//	kconfig merge -o OUT BASE FRAGMENT...  merge_config.sh -m, with its warnings
//	kconfig diff A B                       what scripts/diffconfig A B prints
//	kconfig verify REQUESTED FINAL         exit 1 and a list when values did not survive
//	                                       or lines of REQUESTED cannot be read
//
// Symbol prefixes come from the CONFIG_ environment variable, as in the
// kernel's tools (CONFIG_ by default). Run "kconfig help" for the list of
// subcommands, including those that read the Kconfig tree.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/rflkit/rflkit/internal/cli"
)

// command is one subcommand. run returns a *cli.ExitError (cli.Exit) to
// choose the exit status without printing anything more.
type command struct {
	usage   string // arguments, after the subcommand's name
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a subcommand may use of its surroundings.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// commands is the table of subcommands: the file layer's (files.go) and
// the Kconfig tree's (tree.go).
func commands() map[string]command {
	cmds := fileCommands()
	for name, c := range treeCommands() {
		cmds[name] = c
	}
	return cmds
}

func main() {
	tuneGC(os.Getenv)
	cli.Main("kconfig", run)
}

// gcLimit is the heap size at which the collector runs after tuneGC.
const gcLimit = 1 << 30

// tuneGC turns the garbage collector off below gcLimit (a soft limit:
// past it, it collects as usual), unless GOGC or GOMEMLIMIT says
// otherwise. A run of kconfig is short and allocates little (about 60 MB
// in all for reading the whole x86 tree and evaluating it), so collecting
// during it only costs time: a third of the CPU time of a warm
// olddefconfig.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(gcLimit)
	debug.SetGCPercent(-1)
}

// run dispatches args to a subcommand. Without one it prints the usage
// (exit status 2; 0 for help); a subcommand's error is printed as
// "kconfig SUBCOMMAND: message" (exit status 1) unless it chose its exit
// status itself.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := &env{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return cli.Exit(2, nil)
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kconfig: unknown subcommand %q\n", args[0])
		usage(stderr, cmds)
		return cli.Exit(2, nil)
	}
	err := c.run(ctx, e, args[1:])
	var ee *cli.ExitError
	if err == nil || errors.As(err, &ee) || errors.Is(err, flag.ErrHelp) {
		return err
	}
	fmt.Fprintf(stderr, "kconfig %s: %v\n", args[0], err)
	return cli.Exit(1, nil)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: kconfig SUBCOMMAND [ARGS]")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s %s\n", n, strings.TrimSpace(cmds[n].usage))
		fmt.Fprintf(w, "      %s\n", cmds[n].summary)
	}
}
