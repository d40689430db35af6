package kconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/rflkit/rflkit/internal/cachedir"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MacroStats counts what the preprocessor's $(shell,...) calls cost.
type MacroStats struct {
	Calls  int           // $(shell) expansions in the final parse
	Hits   int           // commands answered from the on-disk cache
	Runs   int           // commands actually run
	Rounds int           // parse passes (1 with a warm cache)
	RunFor time.Duration // wall time spent running commands
}

// macroSpecMarker stands for the output of a command that has not run
// yet during a speculative parse.
const macroSpecMarker = "\x00rflkit-pending\x00"

// macroRunner runs $(shell,...) commands as conf does (sh -c, stdout
// only, at most 4095 bytes), caching their output by command, environment
// and toolchain fingerprint.
type macroRunner struct {
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
	used    map[string]string // results this Load used, for the bundle
}

func macroCacheRoot(cacheDir string) (string, error) { return cachedir.Resolve(cacheDir) }

func newMacroRunner(ctx context.Context, opts LoadOptions) (*macroRunner, error) {
	r := &macroRunner{ctx: ctx, mem: map[string]string{}, jobs: runtime.GOMAXPROCS(0), fprint: opts.Fingerprint,
		used: map[string]string{}}
	if !opts.NoMacroCache {
		root, err := macroCacheRoot(opts.CacheDir)
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

func (r *macroRunner) close() { os.RemoveAll(r.workDir) }

func (r *macroRunner) setEnv(env []string) {
	r.env = env
	r.envKey = r.envHash(env)
}

// envHash identifies an environment for the cache: every variable except
// the ones that change from shell to shell, plus the toolchain
// fingerprint.
func (r *macroRunner) envHash(env []string) string {
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
	return hex.EncodeToString(h.Sum(nil))
}

func (r *macroRunner) key(cmd string, env []string) string {
	h := sha256.New()
	h.Write([]byte("rflkit-kconfig-macro-v1\x00"))
	if env == nil {
		h.Write([]byte(r.envKey))
	} else {
		h.Write([]byte(r.envHash(env)))
	}
	h.Write([]byte{0})
	h.Write([]byte(cmd))
	return hex.EncodeToString(h.Sum(nil))
}

func (r *macroRunner) cachePath(key string) string {
	return filepath.Join(r.dir, key[:2], key)
}

// bundlePath is the file holding every result of one environment, so a
// warm Load reads one file instead of one per command.
func (r *macroRunner) bundlePath() string {
	return filepath.Join(r.dir, "bundle-"+r.envKey[:32]+".json")
}

func (r *macroRunner) loadBundle() {
	r.bundled = true
	if r.dir == "" || r.envKey == "" {
		return
	}
	data, err := os.ReadFile(r.bundlePath())
	if err != nil {
		return
	}
	var m map[string]string
	if json.Unmarshal(data, &m) == nil {
		r.bundle = m
	}
}

// saveBundle rewrites the bundle when this Load used results it lacks.
func (r *macroRunner) saveBundle() {
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
	data, err := json.Marshal(r.used)
	if err != nil {
		return
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(r.dir, ".bundle-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), r.bundlePath()) != nil {
		os.Remove(tmp.Name())
	}
}

// lookup returns a cached result.
func (r *macroRunner) lookup(key string) (string, bool) {
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
	r.mu.Lock()
	r.mem[key] = string(data)
	r.used[key] = string(data)
	r.stats.Hits++
	r.mu.Unlock()
	return string(data), true
}

func (r *macroRunner) store(key, val string) {
	r.mu.Lock()
	r.mem[key] = val
	r.used[key] = val
	r.mu.Unlock()
	if r.dir == "" {
		return
	}
	p := r.cachePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(val)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
	}
}

// exec runs cmd with sh -c and returns its output as do_shell does.
func (r *macroRunner) exec(cmd string, env []string) (string, error) {
	if err := r.ctx.Err(); err != nil {
		return "", err
	}
	start := time.Now()
	c := exec.CommandContext(r.ctx, "/bin/sh", "-c", cmd)
	c.Dir = r.workDir
	c.Env = env
	var out bytes.Buffer
	c.Stdout = &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	err := c.Run()
	r.mu.Lock()
	r.stats.Runs++
	r.stats.RunFor += time.Since(start)
	r.mu.Unlock()
	if err != nil {
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return "", ctxErr
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "", err
		}
	}
	return macroShellOutput(out.Bytes()), nil
}

// macroShellOutput is do_shell's post-processing: at most 4095 bytes,
// trailing newlines removed, other newlines turned into spaces.
func macroShellOutput(b []byte) string {
	if len(b) >= 4096 {
		b = b[:4095]
	}
	for len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return strings.ReplaceAll(string(b), "\n", " ")
}

// runSync returns the cached output of cmd, running it when needed.
func (r *macroRunner) runSync(cmd string, env []string) (string, error) {
	e := env
	if e == nil {
		e = r.env
	}
	k := r.key(cmd, env)
	if v, ok := r.lookup(k); ok {
		return v, nil
	}
	v, err := r.exec(cmd, e)
	if err != nil {
		return "", err
	}
	r.store(k, v)
	return v, nil
}

// speculative answers from the cache, and otherwise records the command
// (unless it depends on another pending result) and returns a marker.
func (r *macroRunner) speculative(cmd string) (string, error) {
	if v, ok := r.lookup(r.key(cmd, nil)); ok {
		return v, nil
	}
	if !strings.Contains(cmd, macroSpecMarker) {
		r.pending[cmd] = true
	}
	return macroSpecMarker, nil
}

// lock takes an exclusive flock on the cache for this environment, so
// that two processes loading the same tree do not run the same commands
// twice; the returned function releases it.
func (r *macroRunner) lock() func() {
	if r.dir == "" || r.envKey == "" {
		return func() {}
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return func() {}
	}
	f, err := os.OpenFile(filepath.Join(r.dir, "lock-"+r.envKey[:16]), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// runPending runs the recorded commands concurrently.
func (r *macroRunner) runPending() error {
	unlock := r.lock()
	defer unlock()
	cmds := make([]string, 0, len(r.pending))
	for c := range r.pending {
		cmds = append(cmds, c)
	}
	sortStrings(cmds)
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
