package tcgplugin

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/internal/osutil"
)

// source is the plugin's C source, built by Build.
//
//go:embed csrc/insncount.c
var source []byte

// cflags are the compiler flags of the plugin: a shared object that
// exports only qemu_plugin_install and qemu_plugin_version.
var cflags = []string{"-shared", "-fPIC", "-O2", "-pthread", "-fvisibility=hidden", "-Wall"}

// PluginName is the file name of the built plugin in its cache directory.
const PluginName = "insncount.so"

// BuildOptions configures Build; the zero value builds with cc into
// rflkit's cache.
type BuildOptions struct {
	// CacheDir is rflkit's cache root; "" = $RFLKIT_CACHE_DIR, else
	// os.UserCacheDir()/rflkit. The plugin goes to
	// <CacheDir>/tcgplugin/<key>/insncount.so.
	CacheDir string
	// CC is the C compiler, a name looked up on PATH or a path; "" = cc.
	CC string
	// Logger receives the compiler's command line and the cache's
	// decisions; nil = discard.
	Logger *slog.Logger
}

// Build compiles the embedded plugin source with the host C compiler
// (CC -shared -fPIC -O2 ...) and returns the path of the shared object.
// The result is cached under a key made of the source, the flags and the
// compiler's identity (its resolved path and --version output): a second
// call, from any process, finds it. Concurrent builds of one key wait on a
// lock instead of compiling twice, and the file appears atomically. A
// compiler that is not found is an error wrapping exec.ErrNotFound that
// names it; a failed compilation an error carrying its output.
func Build(ctx context.Context, opts BuildOptions) (string, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := cachedir.Resolve(opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("tcgplugin: %w", err)
	}
	cc := opts.CC
	if cc == "" {
		cc = "cc"
	}
	ccPath, err := exec.LookPath(cc)
	if err != nil {
		return "", fmt.Errorf("tcgplugin: the C compiler %q is needed to build the QEMU plugin (install gcc or clang, or set BuildOptions.CC): %w", cc, err)
	}
	key, err := buildKey(ctx, ccPath)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "tcgplugin", key)
	so := filepath.Join(dir, PluginName)
	if built(so) {
		log.Debug("tcgplugin: cached plugin", "path", so)
		return so, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("tcgplugin: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if built(so) {
		return so, nil // built by another process while we waited
	}
	// We hold the lock: a work directory left here was a killed build's.
	old, _ := filepath.Glob(filepath.Join(dir, "work-*"))
	for _, d := range old {
		_ = os.RemoveAll(d)
	}
	work, err := os.MkdirTemp(dir, "work-")
	if err != nil {
		return "", fmt.Errorf("tcgplugin: %w", err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "insncount.c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", fmt.Errorf("tcgplugin: %w", err)
	}
	tmp := filepath.Join(work, PluginName)
	argv := append(append([]string{ccPath}, cflags...), "-o", tmp, src)
	log.Info("tcgplugin: building the QEMU plugin", "cmd", strings.Join(argv, " "))
	t0 := time.Now()
	if _, err := osutil.Run(ctx, osutil.Options{Env: ccEnv()}, argv...); err != nil {
		return "", fmt.Errorf("tcgplugin: building the QEMU plugin: %w", err)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return "", fmt.Errorf("tcgplugin: %w", err)
	}
	if err := atomicfile.WriteFile(so, data, 0o755); err != nil {
		return "", fmt.Errorf("tcgplugin: %w", err)
	}
	log.Info("tcgplugin: built the QEMU plugin", "path", so, "took", time.Since(t0).Round(time.Millisecond))
	return so, nil
}

// buildKey hashes the source, the flags and the compiler's identity.
func buildKey(ctx context.Context, ccPath string) (string, error) {
	resolved, err := filepath.EvalSymlinks(ccPath)
	if err != nil {
		return "", fmt.Errorf("tcgplugin: C compiler %s: %w", ccPath, err)
	}
	res, err := osutil.Run(ctx, osutil.Options{Env: ccEnv(), Timeout: time.Minute}, ccPath, "--version")
	if err != nil {
		return "", fmt.Errorf("tcgplugin: C compiler %s: %w", ccPath, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "rflkit-insncount v%d\ncc %s\nflags %s\n", formatVersion, resolved, strings.Join(cflags, " "))
	h.Write(res.Stdout)
	fmt.Fprintf(h, "\nsource %d\n", len(source))
	h.Write(source)
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// ccEnv is the compiler's environment: ours, with messages in English.
func ccEnv() []string { return append(os.Environ(), "LC_ALL=C") }

// built reports whether path is a non-empty regular file.
func built(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// lock takes an exclusive flock on path (internal/flock), waiting until
// ctx is done; the returned function releases it.
func lock(ctx context.Context, path string) (func(), error) {
	l, err := flock.Acquire(ctx, path, flock.Options{Poll: 50 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("tcgplugin: %w", err)
	}
	return l.Unlock, nil
}
