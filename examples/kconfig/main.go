// Command kconfig works on kernel configuration files with rflkit's kconfig
// package: it edits, merges, compares and verifies .config files the way
// the kernel's scripts do.
//
//	kconfig set -config FILE SYM=VAL...    edit FILE in place (atomically)
//	kconfig merge -o OUT BASE FRAGMENT...  merge_config.sh -m, with its warnings
//	kconfig diff A B                       what scripts/diffconfig A B prints
//	kconfig verify REQUESTED FINAL         exit 1 and a list when values did not survive
//
// Symbol prefixes come from the CONFIG_ environment variable, as in the
// kernel's tools (CONFIG_ by default). Run "kconfig help" for the list of
// subcommands, including those that read the Kconfig tree.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
)

// command is one subcommand. run returns an exitError to choose the exit
// status without printing anything more.
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

// exitError ends the program with a status, its message already printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "kconfig: unknown subcommand %q\n", args[0])
		usage(e.stderr, cmds)
		return 2
	}
	err := c.run(ctx, e, args[1:])
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return int(ee)
	default:
		fmt.Fprintf(e.stderr, "kconfig %s: %v\n", args[0], err)
		return 1
	}
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
