package kbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rflkit/rflkit/internal/fileid"
	"github.com/rflkit/rflkit/internal/osutil"
)

// toolSet is the tools a build uses, as make will find them, and their
// --version output.
type toolSet struct {
	names    []string          // make variable or role, in a fixed order
	cmds     map[string]string // role -> command
	versions map[string]string // role -> first line of --version, or "missing: ..."
}

// tools lists the tools make will run for the given variables.
func toolsFor(vars map[string]string) *toolSet {
	llvm := vars["LLVM"]
	t := &toolSet{cmds: map[string]string{}, versions: map[string]string{}}
	add := func(role, def string) {
		cmd := def
		if v := vars[role]; v != "" {
			f := strings.Fields(v)
			cmd = f[len(f)-1] // "ccache clang" -> clang
		}
		t.names = append(t.names, role)
		t.cmds[role] = cmd
	}
	add("MAKE", "make")
	add("CC", llvmTool(llvm, "clang"))
	add("LD", llvmTool(llvm, "ld.lld"))
	add("RUSTC", "rustc")
	add("HOSTRUSTC", "rustc")
	add("RUSTDOC", "rustdoc")
	add("BINDGEN", "bindgen")
	return t
}

// probe runs each tool's --version (in parallel, bounded by ctx). With a
// memo directory, the output is remembered per executable (path, size,
// mtime, inode), so a cache hit runs no tool at all; rustup's proxies,
// whose answer depends on rustup's settings, are always run.
func (t *toolSet) probe(ctx context.Context, env []string, memo string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[string]bool{}
	results := map[string]string{}
	for _, role := range t.names {
		cmd := t.cmds[role]
		if seen[cmd] {
			continue
		}
		seen[cmd] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := memoVersion(ctx, cmd, env, memo)
			mu.Lock()
			results[cmd] = v
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, role := range t.names {
		t.versions[role] = results[t.cmds[role]]
	}
}

func memoVersion(ctx context.Context, cmd string, env []string, memo string) string {
	path, err := osutil.LookPath(cmd, env)
	if err != nil {
		return "missing"
	}
	if memo == "" {
		return toolVersion(ctx, path, env)
	}
	if fileid.IsRustupProxy(path) {
		return toolVersion(ctx, path, env) // its answer follows rustup's settings
	}
	id, ok := fileid.Identity(path)
	if !ok {
		return toolVersion(ctx, path, env)
	}
	k := sha256.Sum256([]byte("rflkit-kbuild-tool-version-v2\x00" + path + "\x00" + id))
	file := filepath.Join(memo, hex.EncodeToString(k[:16]))
	if data, err := os.ReadFile(file); err == nil {
		return string(data)
	}
	v := toolVersion(ctx, path, env)
	if !strings.Contains(v, "--version failed") {
		_ = writeFileAtomic(file, []byte(v), 0o644)
	}
	return v
}

// toolVersionTimeout bounds one tool's --version.
const toolVersionTimeout = 10 * time.Second

func toolVersion(ctx context.Context, path string, env []string) string {
	res, err := osutil.Run(ctx, osutil.Options{Env: env, Timeout: toolVersionTimeout, MaxOutput: 64 << 10}, path, "--version")
	if err != nil {
		return fmt.Sprintf("%s: --version failed: %v", path, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(res.Stdout)), "\n")
	return path + ": " + osutil.Excerpt(strings.TrimSpace(first), 200)
}

// fingerprint hashes the tools' versions (and the caller's fingerprint).
func (t *toolSet) fingerprint(extra string) string {
	h := sha256.New()
	for _, role := range t.names {
		fmt.Fprintf(h, "%s=%s\n", role, t.versions[role])
	}
	if extra != "" {
		fmt.Fprintf(h, "caller=%s\n", extra)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
