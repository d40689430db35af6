package kbuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rflkit/rflkit/internal/cachedir"
)

// session is one Configure or Build call: the builder with everything
// resolved (source, variables, tools).
type session struct {
	b        *Builder
	start    time.Time
	src      *Source
	vars     map[string]string // validated make variables (with ARCH, LLVM)
	keyVars  map[string]string // the variables that shape the output
	tools    *toolSet
	fp       string // toolchain fingerprint
	env      []string
	cacheDir string
	root     string // cacheDir/builds

	lastConfigKey string
}

// defaultCacheDir returns dir, else $RFLKIT_CACHE_DIR, else
// os.UserCacheDir()/rflkit.
func defaultCacheDir(dir string) (string, error) {
	d, err := cachedir.Resolve(dir)
	if err != nil {
		return "", fmt.Errorf("kbuild: %w", err)
	}
	return d, nil
}

func (b *Builder) newSession(ctx context.Context) (*session, error) {
	s := &session{b: b, start: time.Now()}
	var err error
	if s.vars, err = b.vars(); err != nil {
		return nil, err
	}
	s.keyVars = map[string]string{}
	for k, v := range s.vars {
		s.keyVars[k] = v
	}
	if b.CCache != "" {
		// The wrapper does not change the output.
		delete(s.keyVars, "CC")
		delete(s.keyVars, "HOSTCC")
	}
	if s.cacheDir, err = defaultCacheDir(b.CacheDir); err != nil {
		return nil, err
	}
	if b.OutDir != "" {
		abs, err := filepath.Abs(b.OutDir)
		if err != nil {
			return nil, fmt.Errorf("kbuild: OutDir: %w", err)
		}
		b2 := *b
		b2.OutDir = abs
		s.b = &b2
	}
	s.root = filepath.Join(s.cacheDir, "builds")
	s.env = b.Env
	if s.env == nil {
		s.env = os.Environ()
	}
	s.env = cleanEnv(s.env)
	s.event(Event{Phase: PhaseSource, Message: "source " + b.Src})
	if s.src, err = ResolveSource(ctx, b.Src, s.cacheDir); err != nil {
		return nil, err
	}
	if s.b.OutDir != "" {
		if rel, err := filepath.Rel(s.src.Dir, s.b.OutDir); err == nil && filepath.IsLocal(rel) {
			return nil, &UsageError{"OutDir", fmt.Sprintf("%s is inside the source tree %s: builds are out of tree", s.b.OutDir, s.src.Dir)}
		}
	}
	s.tools = toolsFor(s.vars)
	s.tools.probe(ctx, s.env, filepath.Join(s.root, "tools"))
	// The caller's fingerprint is recorded, not keyed on: the probed tools
	// already identify what decides the output.
	s.fp = s.tools.fingerprint("")
	return s, nil
}

func (s *session) event(e Event) {
	if s.b.Logger != nil && e.Message != "" {
		s.b.Logger.Info("kbuild: "+e.Message, "phase", e.Phase, "elapsed", time.Since(s.start).Round(time.Millisecond), "cache_hit", e.CacheHit)
	}
	if s.b.Progress == nil {
		return
	}
	e.Elapsed = time.Since(s.start)
	if e.Phase != PhaseBuild && e.Percent == 0 {
		e.Percent = -1
	}
	s.b.Progress(e)
}

// make runs make with targets in the O= directory dir. Its output goes to
// the builder's Log and to extraLog.
func (s *session) make(ctx context.Context, dir string, extraLog io.Writer, targets ...string) error {
	_, err := s.makeRun(ctx, dir, extraLog, nil, targets...)
	return err
}

func (s *session) makeRun(ctx context.Context, dir string, extraLog io.Writer, onQuiet func(kind, target string, n int), targets ...string) (runOutcome, error) {
	inv, err := s.b.Command(s.src.Dir, dir, targets...)
	if err != nil {
		return runOutcome{}, err
	}
	inv.Env = s.env
	var w io.Writer
	out := s.b.MakeOutput
	if out == nil {
		out = s.b.Log
	}
	switch {
	case out != nil && extraLog != nil:
		w = io.MultiWriter(out, extraLog)
	case out != nil:
		w = out
	case extraLog != nil:
		w = extraLog
	}
	return runMake(ctx, inv, w, onQuiet)
}
