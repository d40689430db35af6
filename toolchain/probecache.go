package toolchain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/fileid"
)

// probeCacheDir is the sub-directory of the cache root that holds probe
// results.
const probeCacheDir = "toolchain-probes"

// probeFormat is the version of probeEntry and of its key; a change
// makes every older entry a miss.
const probeFormat = 1

// probeKeyEnv are the environment variables a probe's answer may depend
// on besides the executable itself (the dynamic loader's, clang's, and
// those bindgen's libclang search reads: clang-sys looks at PATH for
// llvm-config and clang). Every entry is keyed by their values; the
// variables whose name starts with BINDGEN_ are added.
var probeKeyEnv = []string{
	"PATH", "LD_LIBRARY_PATH", "LD_PRELOAD",
	"LIBCLANG_PATH", "LIBCLANG_STATIC_PATH", "LLVM_CONFIG_PATH", "CLANG_PATH",
	"CCC_OVERRIDE_OPTIONS", "CLANG_NO_DEFAULT_CONFIG",
}

// probeEntry is one cached probe: a command that exited 0, and what it
// printed. It is stored as JSON in CACHE/toolchain-probes/KEY.json, where
// KEY hashes probeFormat, the command line, the identity of the executable
// (resolved path, size, modification and change times, device and inode),
// the name and content of the files named on the command line (the
// kernel's scripts and headers; what the tools print about them is only
// parsed for versions), the standard input,
// the extra environment and the values of probeKeyEnv. Failures and
// timeouts are never stored, nor are rustup proxies run.
type probeEntry struct {
	// Format is probeFormat when the entry was written.
	Format int `json:"format"`
	// Argv is the command that was run (for people reading the cache;
	// the key covers it).
	Argv []string `json:"argv"`
	// Stdout and Stderr are what the command printed.
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	// Libclang is, for bindgen's libclang probe, the libclang the
	// dynamic loader loaded ("" when it did not say).
	Libclang string `json:"libclang,omitempty"`
	// Deps maps files the answer depends on, other than the executable
	// (bindgen's libclang), to their identity when it was stored; an
	// entry whose file changed since is a miss.
	Deps map[string]string `json:"deps,omitempty"`
}

// probeCache remembers probe results in a directory. A nil *probeCache
// caches nothing.
type probeCache struct {
	dir    string
	envKey string // the values of probeKeyEnv, and BINDGEN_*
}

// newProbeCache returns the cache below root, or nil when root is "".
func newProbeCache(root string, env []string) *probeCache {
	if root == "" {
		return nil
	}
	var b strings.Builder
	for _, k := range probeKeyEnv {
		v, ok := envLookup(env, k)
		fmt.Fprintf(&b, "%s %t %q\n", k, ok, v)
	}
	var bg []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "BINDGEN_") {
			bg = append(bg, kv)
		}
	}
	slices.Sort(bg)
	for _, kv := range slices.Compact(bg) {
		k, _, _ := strings.Cut(kv, "=")
		v, _ := envLookup(env, k)
		fmt.Fprintf(&b, "%s %q\n", k, v)
	}
	return &probeCache{dir: filepath.Join(root, probeCacheDir), envKey: b.String()}
}

// key returns the cache key of running argv (argv[0] resolved to exe) with
// stdin and extraEnv, or ok false when the command must not be cached: a
// rustup proxy, an executable or a file argument that cannot be read.
func (c *probeCache) key(exe string, stdin string, extraEnv []string, argv []string) (string, bool) {
	if c == nil || exe == "" || fileid.IsRustupProxy(exe) {
		return "", false
	}
	id, ok := fileid.Identity(exe)
	if !ok {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "format %d\nexe %q %s\n", probeFormat, exe, id)
	for i, a := range argv {
		// A file argument (a header, a script) counts by its name and
		// content, not its directory: the headers Detect writes to a
		// fresh scratch directory when there is no tree are the same
		// probe every time.
		if fi, err := os.Stat(a); i > 0 && err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(a)
			if err != nil {
				return "", false
			}
			fmt.Fprintf(h, "file %q %x\n", filepath.Base(a), sha256.Sum256(b))
			continue
		}
		fmt.Fprintf(h, "arg %q\n", a)
	}
	env := slices.Clone(extraEnv)
	slices.Sort(env)
	fmt.Fprintf(h, "stdin %q\nenv %q\n%s", stdin, env, c.envKey)
	return hex.EncodeToString(h.Sum(nil)[:20]), true
}

// get returns the entry stored under key whose dependencies are unchanged.
func (c *probeCache) get(key string) (probeEntry, bool) {
	var e probeEntry
	b, err := os.ReadFile(filepath.Join(c.dir, key+".json"))
	if err != nil || json.Unmarshal(b, &e) != nil || e.Format != probeFormat {
		return probeEntry{}, false
	}
	for p, id := range e.Deps {
		if now, ok := fileid.Identity(p); !ok || now != id {
			return probeEntry{}, false
		}
	}
	return e, true
}

// put stores e under key (atomically: a concurrent Detect reads the old
// entry, the new one or none).
func (c *probeCache) put(key string, e probeEntry) error {
	e.Format = probeFormat
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(c.dir, key+".json"), b, 0o644)
}
