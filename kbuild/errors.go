package kbuild

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rflkit/rflkit/kconfig"
)

// Diagnostic is one error reported by a compiler or linker.
type Diagnostic struct {
	Tool    string // "clang", "rustc", "ld.lld", "objtool", ...
	File    string // as printed (relative to the source or O= dir), or ""
	Line    int    // 0 when unknown
	Col     int    // 0 when unknown
	Code    string // rustc's error code (E0425), else ""
	Message string
}

// String returns "file:line:col: message" (parts that are unknown are left
// out), with rustc's error code in brackets.
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.File != "" {
		b.WriteString(d.File)
		if d.Line > 0 {
			fmt.Fprintf(&b, ":%d", d.Line)
			if d.Col > 0 {
				fmt.Fprintf(&b, ":%d", d.Col)
			}
		}
		b.WriteString(": ")
	} else if d.Tool != "" {
		b.WriteString(d.Tool + ": ")
	}
	if d.Code != "" {
		b.WriteString("error[" + d.Code + "]: ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// KernelError means the kernel does not build: make failed and the
// compilers or linker reported errors. Diagnostics are in the order they
// were printed (first error first).
type KernelError struct {
	Diagnostics []Diagnostic
	ExitCode    int
	Tail        []string // the last lines of output
	Log         string   // the full build log, when kept on disk
}

// Error names the first diagnostic and counts the others.
func (e *KernelError) Error() string {
	if len(e.Diagnostics) == 0 {
		return fmt.Sprintf("kbuild: the kernel does not build (make exit status %d)", e.ExitCode)
	}
	s := "kbuild: the kernel does not build: " + e.Diagnostics[0].String()
	if n := len(e.Diagnostics) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more error(s))", n)
	}
	return s
}

// InfraReason classifies an InfraError.
type InfraReason string

// The reasons for an InfraError.
const (
	ReasonToolMissing InfraReason = "tool missing"
	ReasonDiskFull    InfraReason = "disk full"
	ReasonKilled      InfraReason = "killed"
	ReasonCancelled   InfraReason = "cancelled"
	ReasonMake        InfraReason = "make failed"
	ReasonIO          InfraReason = "I/O"
)

// InfraError means the build failed for reasons outside the kernel's
// code: a tool is missing, the disk is full, make was killed or cancelled,
// or make itself failed without any compiler diagnostic.
type InfraError struct {
	Reason   InfraReason
	Detail   string   // the line or condition that shows the reason
	ExitCode int      // make's exit status, -1 when killed by a signal
	Tail     []string // the last lines of output
	Log      string   // the full build log, when kept on disk
	Err      error    // underlying error (context.Canceled, *exec.ExitError...)
}

// Error gives the reason and the line or condition that shows it. A
// cancelled build says so first ("kbuild: build cancelled before make
// started: context canceled").
func (e *InfraError) Error() string {
	if e.Reason == ReasonCancelled {
		s := "kbuild: build cancelled"
		switch {
		case strings.HasPrefix(e.Detail, "before "), strings.HasPrefix(e.Detail, "while "):
			s += " " + e.Detail
		case e.Detail != "":
			s += " (" + e.Detail + ")"
		}
		if e.Err != nil {
			s += ": " + e.Err.Error()
		}
		return s
	}
	s := "kbuild: build infrastructure failed: " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil && e.Reason != ReasonMake {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *InfraError) Unwrap() error { return e.Err }

// ConfigError means a requested configuration value did not survive
// olddefconfig (a dependency is missing, or the value is not allowed).
type ConfigError struct {
	Mismatches []Mismatch
	Config     string // path of the final .config
	// Explanations holds, per symbol, kconfig's account of why it could
	// not take the requested value: the blocking dependencies, the root
	// causes and a fix (nil when Builder.NoExplain is set or the Kconfig
	// tree could not be evaluated; see ExplainErr).
	Explanations map[string]*kconfig.Explanation
	ExplainErr   error
}

// Error lists each requested value against the final one, with kconfig's
// root causes and fix when known.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kbuild: %d requested option(s) did not survive olddefconfig:", len(e.Mismatches))
	for i, m := range e.Mismatches {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " CONFIG_%s requested %s, final %s", m.Symbol, m.Requested, m.Final)
		if m.Absent {
			b.WriteString(" (not in .config)")
		}
		x := e.Explanations[m.Symbol]
		if x == nil {
			continue
		}
		var why []string
		for _, chain := range x.Causes {
			var parts []string
			for _, c := range chain {
				parts = append(parts, c.Symbol+"="+c.Value)
			}
			why = append(why, strings.Join(parts, " <- "))
		}
		if len(why) == 0 {
			for _, t := range x.DependsOn {
				if t.Blocks {
					why = append(why, fmt.Sprintf("depends on %s [%s]", t.Expr, t.Value))
				}
			}
		}
		if len(why) > 0 {
			fmt.Fprintf(&b, ", because %s", strings.Join(why, ", "))
		}
		if len(x.Fix) > 0 {
			var fix []string
			for _, a := range x.Fix {
				fix = append(fix, a.String())
			}
			fmt.Fprintf(&b, "; fix: %s", strings.Join(fix, ", "))
		} else if x.Unfixable != "" {
			fmt.Fprintf(&b, "; no assignment fixes it: %s", x.Unfixable)
		}
	}
	return b.String()
}

var (
	// clang and gcc: file:line:col: error: message
	ccDiagRE = regexp.MustCompile(`^([^\s:][^:]*):(\d+):(\d+): (?:fatal )?error: (.*)$`)
	// file:line: error: (assembler, some tools)
	lineDiagRE = regexp.MustCompile(`^([^\s:][^:]*):(\d+): (?:fatal )?error: (.*)$`)
	// rustc: error[E0425]: message / error: message
	rustDiagRE = regexp.MustCompile(`^error(?:\[(E\d+)\])?: (.*)$`)
	// rustc's location line: "  --> file:line:col"
	rustLocRE = regexp.MustCompile(`^\s*--> (.+):(\d+):(\d+)\s*$`)
	// linkers and other tools: ld.lld: error: message, vmlinux.o: error: objtool: ...
	toolDiagRE = regexp.MustCompile(`^([^\s:]+): error: (.*)$`)
	// make's own failure lines, never diagnostics.
	makeLineRE = regexp.MustCompile(`^make(\[\d+\])?: `)
)

// diagParser turns build output lines into diagnostics.
type diagParser struct {
	diags []Diagnostic
	// pendingRust is the index of a rustc diagnostic still waiting for its
	// "--> file:line:col" line, and how many lines it has waited.
	pendingRust int
	waited      int
}

func newDiagParser() *diagParser { return &diagParser{pendingRust: -1} }

// maxDiagnostics bounds the diagnostics kept from one build.
const maxDiagnostics = 100

func (p *diagParser) line(l string) {
	if p.pendingRust >= 0 {
		if m := rustLocRE.FindStringSubmatch(l); m != nil {
			d := &p.diags[p.pendingRust]
			d.File = m[1]
			d.Line, _ = strconv.Atoi(m[2])
			d.Col, _ = strconv.Atoi(m[3])
			p.pendingRust = -1
			return
		}
		if p.waited++; p.waited > 3 {
			p.pendingRust = -1
		}
	}
	if len(p.diags) >= maxDiagnostics || makeLineRE.MatchString(l) {
		return
	}
	if m := ccDiagRE.FindStringSubmatch(l); m != nil {
		ln, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		p.diags = append(p.diags, Diagnostic{Tool: "cc", File: m[1], Line: ln, Col: col, Message: m[4]})
		return
	}
	if m := lineDiagRE.FindStringSubmatch(l); m != nil {
		ln, _ := strconv.Atoi(m[2])
		p.diags = append(p.diags, Diagnostic{Tool: "cc", File: m[1], Line: ln, Message: m[3]})
		return
	}
	if m := rustDiagRE.FindStringSubmatch(l); m != nil {
		msg := m[2]
		if strings.HasPrefix(msg, "aborting due to") || strings.HasPrefix(msg, "could not compile") {
			return
		}
		p.diags = append(p.diags, Diagnostic{Tool: "rustc", Code: m[1], Message: msg})
		p.pendingRust, p.waited = len(p.diags)-1, 0
		return
	}
	if m := toolDiagRE.FindStringSubmatch(l); m != nil {
		p.diags = append(p.diags, Diagnostic{Tool: m[1], Message: m[2]})
	}
}

// ParseDiagnostics extracts compiler and linker errors from build output,
// first error first. It recognises clang's (and gcc's)
// `file:line:col: error: msg`, rustc's `error[E0425]: msg` followed by
// `--> file:line:col`, and `tool: error: msg` from linkers and objtool.
func ParseDiagnostics(output string) []Diagnostic {
	p := newDiagParser()
	for _, l := range strings.Split(output, "\n") {
		p.line(strings.TrimRight(l, "\r"))
	}
	return p.diags
}

// infraReasonForLine returns the infrastructure failure a line shows, if
// any.
func infraReasonForLine(l string) (InfraReason, bool) {
	switch {
	case strings.Contains(l, "No space left on device"), strings.Contains(l, "Disk quota exceeded"):
		return ReasonDiskFull, true
	case strings.Contains(l, ": command not found"), strings.HasSuffix(l, ": not found"),
		strings.Contains(l, "Command not found"):
		return ReasonToolMissing, true
	case strings.Contains(l, "Input/output error"), strings.Contains(l, "Read-only file system"):
		return ReasonIO, true
	}
	if strings.Contains(l, "No such file or directory") && (strings.HasPrefix(l, "make") || strings.Contains(l, "/bin/sh")) {
		return ReasonToolMissing, true
	}
	return "", false
}
