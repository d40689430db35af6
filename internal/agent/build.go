//go:build !rflkit_guest

// This file is the host's builder of the guest program, and the one file
// of the package that the guest program leaves out (Build compiles it with
// -tags rflkit_guest): it imports internal/osutil and internal/cachedir,
// which the guest's scratch module does not have.

package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/cachedir"
	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/internal/osutil"
)

// sources holds this package and the guest program, so that the agent can
// be built from any copy of rflkit: a checkout, or the read-only module
// cache when rflkit is a dependency. Build copies them into a scratch
// module of their own (stdlib only, so no network and no go.sum).
//
//go:embed *.go guest/*.go
var sources embed.FS

// guestTag is the build tag of the guest program: it leaves out this file,
// the only one of the package that needs more than the standard library.
const guestTag = "rflkit_guest"

// BuildOptions configures Build. The zero value is ready to use.
type BuildOptions struct {
	// CacheDir is rflkit's cache root; "" = $RFLKIT_CACHE_DIR, else
	// os.UserCacheDir()/rflkit. The binary goes to CacheDir/agent/<hash>/init.
	CacheDir string
	// Go is the go command; "" = "go" on PATH, else $GOROOT/bin/go.
	Go string
	// GoOutput receives the go command's output (stdout and stderr, as
	// it printed them); nil = discard. It is written only when Build
	// actually runs go build.
	GoOutput io.Writer
	// Log is GoOutput's old name; it is used when GoOutput is nil.
	//
	// Deprecated: use GoOutput.
	Log io.Writer
	// GOARCH is the guest's architecture as Go names it (karch's
	// Info.GOARCH: "amd64", "arm64"); "" = amd64. It is part of the cache
	// key.
	GOARCH string
}

// goarch returns the target GOARCH, amd64 by default.
func (o BuildOptions) goarch() string {
	if o.GOARCH == "" {
		return "amd64"
	}
	return o.GOARCH
}

// goarchEnv is the environment of go build for goarch: GOAMD64=v1 on amd64,
// GOARM64=v8.0 on arm64, so that the binary runs on any CPU QEMU emulates.
func goarchEnv(goarch string) []string {
	env := []string{"GOARCH=" + goarch}
	switch goarch {
	case "amd64":
		env = append(env, "GOAMD64=v1")
	case "arm64":
		env = append(env, "GOARM64=v8.0")
	}
	return env
}

// goOutput returns where go build's output goes, nil for nowhere.
func (o BuildOptions) goOutput() io.Writer {
	if o.GoOutput != nil {
		return o.GoOutput
	}
	return o.Log
}

// DefaultCacheDir resolves rflkit's cache root as HACKING.md describes
// (internal/cachedir's rule): dir, else $RFLKIT_CACHE_DIR, else
// os.UserCacheDir()/rflkit.
func DefaultCacheDir(dir string) (string, error) {
	return cachedir.Resolve(dir)
}

// SourceHash is the hash of the embedded agent sources plus the target
// (linux/amd64) and build flags (tags included): the cache key of Build.
func SourceHash() (string, error) { return SourceHashFor("amd64") }

// SourceHashFor is SourceHash for the target linux/goarch: the cache key
// of Build with BuildOptions.GOARCH = goarch ("" = amd64).
func SourceHashFor(goarch string) (string, error) {
	if goarch == "" {
		goarch = "amd64"
	}
	files, err := sourceFiles()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if goarch == "amd64" {
		fmt.Fprintf(h, "rflkit-agent v2 linux/amd64 CGO_ENABLED=0 -tags=%s -trimpath -ldflags=-s -w\n", guestTag)
	} else {
		fmt.Fprintf(h, "rflkit-agent v2 linux/%s %s CGO_ENABLED=0 -tags=%s -trimpath -ldflags=-s -w\n", goarch, strings.Join(goarchEnv(goarch), " "), guestTag)
	}
	for _, f := range files {
		b, err := sources.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

func sourceFiles() ([]string, error) {
	var files []string
	err := fs.WalkDir(sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Build returns the path of the static guest agent for linux/amd64 (or
// linux/BuildOptions.GOARCH),
// building it with the go command when the cache has no binary for the
// current sources. Concurrent callers (threads or processes) build once:
// the cache entry is locked with flock.
//
// The go command must be installed (it is, wherever rflkit itself is
// built). The build uses GOTOOLCHAIN=local, GOWORK=off, GOFLAGS= and a
// module made of the embedded sources only, so it works from the module
// cache and never touches the network.
func Build(ctx context.Context, opts BuildOptions) (string, error) {
	root, err := DefaultCacheDir(opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	key, err := SourceHashFor(opts.goarch())
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	dir := filepath.Join(root, "agent", key)
	bin := filepath.Join(dir, "init")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	defer unlock()
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil // built by someone else while we waited
	}

	work, err := os.MkdirTemp(dir, "src-")
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	defer os.RemoveAll(work)
	files, err := sourceFiles()
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	const pkgDir = "internal/agent"
	for _, f := range files {
		b, err := sources.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("agent: %w", err)
		}
		dst := filepath.Join(work, pkgDir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("agent: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", fmt.Errorf("agent: %w", err)
		}
	}
	gomod := "module github.com/rflkit/rflkit\n\ngo 1.22\n"
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}

	goBin := opts.Go
	if goBin == "" {
		goBin, err = exec.LookPath("go")
		if err != nil {
			if gr := os.Getenv("GOROOT"); gr != "" {
				goBin = filepath.Join(gr, "bin", "go")
			} else {
				return "", fmt.Errorf("agent: the go command is needed to build the guest agent: %w", err)
			}
		}
	}
	tmpBin := filepath.Join(dir, ".init.tmp")
	cmd := osutil.Command(ctx, goBin, "build", "-tags="+guestTag, "-trimpath", "-ldflags=-s -w", "-o", tmpBin, "./"+path.Join(pkgDir, "guest"))
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	cmd.Env = append(cmd.Env, goarchEnv(opts.goarch())...)
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=", "GOPROXY=off")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	// The compilers go build started die with it.
	_ = osutil.KillGroup(cmd)
	if w := opts.goOutput(); w != nil {
		_, _ = w.Write(out.Bytes())
	}
	if err != nil {
		os.Remove(tmpBin)
		return "", fmt.Errorf("agent: %s build ./%s/guest: %w\n%s", goBin, pkgDir, err, strings.TrimSpace(out.String()))
	}
	if err := os.Rename(tmpBin, bin); err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	return bin, nil
}

// lockFile takes an exclusive flock on path (internal/flock), waiting until ctx
// is done. The returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	l, err := flock.Acquire(ctx, path, flock.Options{Poll: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}
