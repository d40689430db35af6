package kconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/fileid"
	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/internal/osutil"
)

// MacroStats counts what the preprocessor's $(shell,...) calls cost.
type MacroStats struct {
	Calls  int           // $(shell) expansions in the final parse
	Hits   int           // commands answered from the on-disk cache
	Runs   int           // commands actually run
	Rounds int           // parse passes (1 with a warm cache)
	RunFor time.Duration // wall time spent running commands
}

// MacroRun records one command the preprocessor ran for $(shell,...):
// what ran, its exit status and the first lines of what it said. For the
// $(success,...) family (Kconfig.include's if-success: "{ CMD; }
// >/dev/null 2>&1 && echo A || echo B"), CMD itself is run with its
// output captured, which gives the same result and keeps the diagnostic
// that the redirection would have thrown away (what rust_is_available.sh
// said, for RUST_IS_AVAILABLE). Runs are cached with the results.
type MacroRun struct {
	// Command is the command run with sh -c (CMD for $(success,...)).
	Command string `json:"cmd"`
	// Success is set for the $(success,...) family: Result is then
	// Then or Else by Status.
	Success bool `json:"success,omitempty"`
	// Status is the exit status (-1 when it was killed by a signal).
	Status int `json:"status"`
	// Output is the beginning of its stdout and stderr, at most
	// macroRunLines lines.
	Output string `json:"output,omitempty"`
	// Result is what $(shell,...) expanded to.
	Result string `json:"result"`
}

// macroRunLines bounds MacroRun.Output.
const macroRunLines = 8

// successRe matches Kconfig.include's if-success expansion.
var successRe = regexp.MustCompile(`^\{ ((?s).*); \} >/dev/null 2>&1 && echo "([^"]*)" \|\| echo "([^"]*)"$`)

// firstLines returns at most n lines of b, each line bounded.
func firstLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d more lines)", len(lines)-n))
	}
	for i, l := range lines {
		lines[i] = osutil.Excerpt(l, 200)
	}
	return strings.Join(lines, "\n")
}

// pendingMarker stands for the output of a command that has not run
// yet during a speculative parse.
const pendingMarker = "\x00rflkit-pending\x00"

// shellRunner runs $(shell,...) commands as conf does (sh -c, stdout
// only, at most 4095 bytes), caching their output by command, environment
// and toolchain fingerprint.
type shellRunner struct {
	ctx     context.Context
	dir     string // cache directory ("" = no disk cache)
	workDir string // cwd of the commands (conf runs in the O= directory)
	env     []string
	envKey  string
	mu      sync.Mutex
	mem     map[string]string // results of this Load, by key
	stats   MacroStats
	pending map[string]bool
	jobs    int
	fprint  string
	bundle  map[string]string // the bundle file's results (one read per Load)
	bundled bool
	used    map[string]string   // results this Load used, for the bundle
	runs    map[string]MacroRun // by key: how each result was made
}

func shellCacheRoot(cacheDir string) (string, error) { return cachedir.Resolve(cacheDir) }

func newShellRunner(ctx context.Context, opts LoadOptions) (*shellRunner, error) {
	r := &shellRunner{ctx: ctx, mem: map[string]string{}, jobs: runtime.GOMAXPROCS(0), fprint: opts.Fingerprint,
		used: map[string]string{}, runs: map[string]MacroRun{}}
	if !opts.NoMacroCache {
		root, err := shellCacheRoot(opts.CacheDir)
		if err != nil {
			return nil, err
		}
		r.dir = filepath.Join(root, "kconfig-macros")
	}
	wd, err := os.MkdirTemp("", "rflkit-kconfig-")
	if err != nil {
		return nil, err
	}
	r.workDir = wd
	return r, nil
}

func (r *shellRunner) close() { os.RemoveAll(r.workDir) }

func (r *shellRunner) setEnv(env []string) {
	r.env = env
	r.envKey = r.envHash(env)
}

// envHash identifies an environment for the cache: every variable except
// the ones that change from shell to shell, plus the toolchain
// fingerprint.
func (r *shellRunner) envHash(env []string) string {
	h := sha256.New()
	for _, kv := range env {
		if strings.HasPrefix(kv, "PWD=") || strings.HasPrefix(kv, "OLDPWD=") || strings.HasPrefix(kv, "SHLVL=") ||
			strings.HasPrefix(kv, "_=") || strings.HasPrefix(kv, "RFLKIT_") {
			continue
		}
		h.Write([]byte(kv))
		h.Write([]byte{0})
	}
	h.Write([]byte("fingerprint=" + r.fprint))
	// The tools the macros run, by identity: a package upgrade that
	// replaces /usr/bin/rustc under the same path (and the same
	// environment) must re-run $(rustc-version) and friends (seen here: a
	// cache filled while trixie-backports' rustc 1.97 was installed kept
	// answering 1.97 after the downgrade to 1.85).
	for _, id := range toolIdentities(env) {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// macroToolVars are the make variables naming programs that Kconfig's
// macros run.
var macroToolVars = []string{"CC", "LD", "AR", "NM", "OBJCOPY", "HOSTCC", "HOSTCXX", "RUSTC", "HOSTRUSTC", "RUSTDOC", "BINDGEN", "PAHOLE"}

// toolIdentities returns, for each tool variable set in env, its program
// resolved through env's PATH and that file's identity (internal/fileid):
// what changes when a package replaces the program.
func toolIdentities(env []string) []string {
	vals := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vals[k] = v
		}
	}
	var out []string
	for _, name := range macroToolVars {
		f := strings.Fields(vals[name])
		if len(f) == 0 {
			continue
		}
		prog := f[len(f)-1] // "ccache clang" runs clang
		if p, err := osutil.LookPath(prog, env); err == nil {
			prog = p
		}
		id, _ := fileid.Identity(prog)
		out = append(out, name+"="+prog+" "+id)
	}
	return out
}

func (r *shellRunner) key(cmd string, env []string) string {
	h := sha256.New()
	h.Write([]byte("rflkit-kconfig-macro-v2\x00"))
	if env == nil {
		h.Write([]byte(r.envKey))
	} else {
		h.Write([]byte(r.envHash(env)))
	}
	h.Write([]byte{0})
	h.Write([]byte(cmd))
	return hex.EncodeToString(h.Sum(nil))
}

func (r *shellRunner) cachePath(key string) string {
	return filepath.Join(r.dir, key[:2], key)
}

// bundlePath is the file holding every result of one environment, so a
// warm Load reads one file instead of one per command.
func (r *shellRunner) bundlePath() string {
	return filepath.Join(r.dir, "bundle2-"+r.envKey[:32]+".json")
}

func (r *shellRunner) loadBundle() {
	r.bundled = true
	if r.dir == "" || r.envKey == "" {
		return
	}
	data, err := os.ReadFile(r.bundlePath())
	if err != nil {
		return
	}
	var b macroBundle
	if json.Unmarshal(data, &b) == nil {
		r.bundle = b.Results
		for k, v := range b.Runs {
			r.runs[k] = v
		}
	}
}

// saveBundle rewrites the bundle when this Load used results it lacks.
func (r *shellRunner) saveBundle() {
	if r.dir == "" || r.envKey == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stale := false
	for k, v := range r.used {
		if bv, ok := r.bundle[k]; !ok || bv != v {
			stale = true
			break
		}
	}
	if !stale {
		return
	}
	b := macroBundle{Results: r.used, Runs: map[string]MacroRun{}}
	for k := range r.used {
		if run, ok := r.runs[k]; ok {
			b.Runs[k] = run
		}
	}
	data, err := json.Marshal(b)
	if err != nil {
		return
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return
	}
	// Best effort, like every cache write: a failure costs a re-run.
	_ = atomicfile.WriteFile(r.bundlePath(), data, 0o644)
}

// macroBundle is the bundle file: every result of one environment and
// how it was made.
type macroBundle struct {
	Results map[string]string   `json:"results"`
	Runs    map[string]MacroRun `json:"runs"`
}

// lookup returns a cached result.
func (r *shellRunner) lookup(key string) (string, bool) {
	r.mu.Lock()
	v, ok := r.mem[key]
	if ok {
		r.used[key] = v
		r.mu.Unlock()
		return v, true
	}
	if !r.bundled && r.envKey != "" {
		r.loadBundle()
	}
	if v, ok := r.bundle[key]; ok {
		r.mem[key] = v
		r.used[key] = v
		r.stats.Hits++
		r.mu.Unlock()
		return v, true
	}
	r.mu.Unlock()
	if r.dir == "" {
		return "", false
	}
	data, err := os.ReadFile(r.cachePath(key))
	if err != nil {
		return "", false
	}
	var run MacroRun
	runData, runErr := os.ReadFile(r.cachePath(key) + ".run")
	r.mu.Lock()
	if runErr == nil && json.Unmarshal(runData, &run) == nil {
		r.runs[key] = run
	}
	r.mem[key] = string(data)
	r.used[key] = string(data)
	r.stats.Hits++
	r.mu.Unlock()
	return string(data), true
}

func (r *shellRunner) store(key string, run MacroRun) {
	val := run.Result
	r.mu.Lock()
	r.mem[key] = val
	r.used[key] = val
	r.runs[key] = run
	r.mu.Unlock()
	if r.dir == "" {
		return
	}
	p := r.cachePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	if data, err := json.Marshal(run); err == nil {
		_ = atomicfile.WriteFile(p+".run", data, 0o644)
	}
	_ = atomicfile.WriteFile(p, []byte(val), 0o644)
}

// run returns how the result of cmd was made, if this Load knows.
func (r *shellRunner) run(cmd string) (MacroRun, bool) {
	k := r.key(cmd, nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[k]
	return run, ok
}

// exec runs cmd with sh -c and returns its output as do_shell does,
// with the record of the run.
func (r *shellRunner) exec(cmd string, env []string) (MacroRun, error) {
	if err := r.ctx.Err(); err != nil {
		return MacroRun{}, err
	}
	run := MacroRun{Command: cmd}
	then, els := "", ""
	if m := successRe.FindStringSubmatch(cmd); m != nil {
		run.Command, run.Success, then, els = m[1], true, m[2], m[3]
	}
	start := time.Now()
	script := cmd
	if run.Success {
		script = "{ " + run.Command + "; }"
	}
	c := osutil.Command(r.ctx, "/bin/sh", "-c", script)
	c.Dir = r.workDir
	c.Env = env
	var out, diag bytes.Buffer
	c.Stdout = &out
	if run.Success {
		c.Stdout = &diag
	}
	c.Stderr = &diag
	err := c.Run()
	_ = osutil.KillGroup(c)
	r.mu.Lock()
	r.stats.Runs++
	r.stats.RunFor += time.Since(start)
	r.mu.Unlock()
	if err != nil {
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return MacroRun{}, ctxErr
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return MacroRun{}, err
		}
		run.Status = ee.ExitCode()
	}
	if run.Success {
		run.Output = firstLines(diag.Bytes(), macroRunLines)
		run.Result = els
		if run.Status == 0 {
			run.Result = then
		}
		return run, nil
	}
	run.Result = shellOutput(out.Bytes())
	run.Output = firstLines(append(out.Bytes(), diag.Bytes()...), macroRunLines)
	return run, nil
}

// shellOutput is do_shell's post-processing: at most 4095 bytes,
// trailing newlines removed, other newlines turned into spaces.
func shellOutput(b []byte) string {
	if len(b) >= 4096 {
		b = b[:4095]
	}
	for len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return strings.ReplaceAll(string(b), "\n", " ")
}

// runSync returns the cached output of cmd, running it when needed.
func (r *shellRunner) runSync(cmd string, env []string) (string, error) {
	e := env
	if e == nil {
		e = r.env
	}
	k := r.key(cmd, env)
	if v, ok := r.lookup(k); ok {
		return v, nil
	}
	run, err := r.exec(cmd, e)
	if err != nil {
		return "", err
	}
	r.store(k, run)
	return run.Result, nil
}

// speculative answers from the cache, and otherwise records the command
// (unless it depends on another pending result) and returns a marker.
func (r *shellRunner) speculative(cmd string) (string, error) {
	if v, ok := r.lookup(r.key(cmd, nil)); ok {
		return v, nil
	}
	if !strings.Contains(cmd, pendingMarker) {
		r.pending[cmd] = true
	}
	return pendingMarker, nil
}

// lock takes an exclusive flock on the cache for this environment, so
// that two processes loading the same tree do not run the same commands
// twice; the returned function releases it.
func (r *shellRunner) lock() func() {
	if r.dir == "" || r.envKey == "" {
		return func() {}
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return func() {}
	}
	l, err := flock.Acquire(r.ctx, filepath.Join(r.dir, "lock-"+r.envKey[:16]), flock.Options{})
	if err != nil {
		return func() {}
	}
	return l.Unlock
}

// runPending runs the recorded commands concurrently.
func (r *shellRunner) runPending() error {
	unlock := r.lock()
	defer unlock()
	cmds := make([]string, 0, len(r.pending))
	for c := range r.pending {
		cmds = append(cmds, c)
	}
	slices.Sort(cmds)
	r.pending = map[string]bool{}
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	sem := make(chan struct{}, max(r.jobs, 1)*2)
	for _, c := range cmds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := r.runSync(c, nil); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}
