package kbuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/osutil"
)

// BuildSpec is what to build: a configuration and make targets.
type BuildSpec struct {
	// Config is how to configure the kernel before building.
	Config ConfigSpec
	// Targets are make targets (bzImage, vmlinux, modules, rustavailable,
	// rustdoc, ...). Empty means make's default target (all).
	Targets []string
}

// Result is a finished build.
type Result struct {
	// Artifacts maps names (the Artifact* constants) to absolute paths:
	// "kernel" (bzImage, Image...), "vmlinux", "System.map", "config",
	// "metadata.json", "build.log" and "modules/<path>.ko" for each module,
	// for those that exist.
	Artifacts map[string]string
	// CacheHit is set when the build came from the cache and make did not
	// run.
	CacheHit bool
	// ConfigHash is the hex SHA-256 of the final .config.
	ConfigHash string
	// Key is the build cache key ("" when building in OutDir).
	Key string
	// OutDir is the O= directory holding the build.
	OutDir string
	// SeededFrom is the key of the cache entry whose objects this build
	// started from, if any.
	SeededFrom string
	// Duration is the wall time of the Build call; BuildTime is that of
	// make itself (zero for a cache hit).
	Duration, BuildTime time.Duration
}

// Metadata is the content of metadata.json, written beside each build
// (doc/metadata.md lists it field by field).
type Metadata struct {
	// Source is the kernel source as given (Builder.Src): a tarball or a tree.
	Source string `json:"source"`
	// SourceID identifies the tree's content: "tarball:<sha256>",
	// "git:<HEAD>[+dirty:<hash>]" or "files:<hash of paths, sizes, mtimes>".
	SourceID string `json:"source_id"`
	// Arch is the kernel ARCH (x86_64, arm64).
	Arch string `json:"arch"`
	// MakeArgv is the make command line that built the kernel.
	MakeArgv []string `json:"make_argv"`
	// MakeVars are the validated make variables, ARCH and LLVM included.
	MakeVars map[string]string `json:"make_vars"`
	// Targets are the make targets as requested (null: make's default).
	Targets []string `json:"targets"`
	// Tools maps each role (MAKE, CC, LD, RUSTC, HOSTRUSTC, RUSTDOC,
	// BINDGEN) to "<path>: <first line of --version>", or "missing".
	Tools map[string]string `json:"tools"`
	// Toolchain is a hex hash of Tools: the tools' identities, part of the
	// cache key.
	Toolchain string `json:"toolchain_fingerprint"`
	// CallerToolchain is the caller's toolchain fingerprint
	// (Builder.Fingerprint, toolchain.Report.Fingerprint), recorded but not
	// part of the cache key; omitted when none was given.
	CallerToolchain string `json:"caller_toolchain_fingerprint,omitempty"`
	// ConfigSHA256 is the hex SHA-256 of the final .config.
	ConfigSHA256 string `json:"config_sha256"`
	// CacheKey is the cache entry's key (its directory name); omitted for
	// builds in OutDir.
	CacheKey string `json:"cache_key,omitempty"`
	// SeededFrom is the key of the cached build whose objects this build
	// started from; omitted when it started from nothing.
	SeededFrom string `json:"seeded_from,omitempty"`
	// Started is when Build was called, in UTC.
	Started time.Time `json:"started"`
	// Durations is the wall time per phase in seconds: "configure",
	// "seed_copy" (when seeded), "build" (make).
	Durations map[string]float64 `json:"durations_s"`
	// QuietLines is the number of Kbuild quiet lines ("  CC  kernel/fork.o")
	// make printed: the measure of the next build's progress.
	QuietLines int `json:"quiet_lines"`
	// Reproduce is a shell command that repeats the build by hand.
	Reproduce string `json:"reproduce"`
}

// Build configures and builds spec. Without OutDir it goes through the
// build cache: an identical earlier build is returned without running make;
// otherwise the build starts from a copy of the nearest cached build (same
// source and toolchain, fewest differing options), or from nothing, under a
// lock that keeps two processes from building at once. Failures are
// *KernelError (the code does not build), *InfraError (tools, disk,
// cancellation), *ConfigError or *UsageError.
func (b *Builder) Build(ctx context.Context, spec BuildSpec) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, cancelledBeforeMake(err)
	}
	s, err := b.newSession(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.b.Command(s.src.Dir, "/nonexistent", spec.Targets...); err != nil {
		return nil, err
	}
	final, _, _, err := s.finalConfig(ctx, spec.Config)
	if err != nil {
		return nil, err
	}
	configSHA := sha256Hex(final)
	configTime := time.Since(s.start)
	if s.b.OutDir != "" {
		return s.buildIn(ctx, spec, final, configSHA, configTime)
	}

	key := s.buildKey(configSHA, spec.Targets)
	if res, ok := s.hit(ctx, key, configSHA); ok {
		return res, nil
	}
	lock, err := lockFile(ctx, filepath.Join(s.root, "build.lock"), syscall.LOCK_EX, func() {
		s.event(Event{Phase: PhaseWait, Message: "waiting for another build to finish (" + filepath.Join(s.root, "build.lock") + ")"})
	})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if res, ok := s.hit(ctx, key, configSHA); ok {
		return res, nil
	}
	s.removeIncomplete()
	return s.buildEntry(ctx, spec, key, final, configSHA, configTime)
}

// hit returns the cached build for key, if complete.
func (s *session) hit(ctx context.Context, key, configSHA string) (*Result, bool) {
	l, err := lockFile(ctx, s.entryDir(key)+".lock", syscall.LOCK_SH, nil)
	if err != nil {
		return nil, false
	}
	defer l.Unlock()
	m, err := s.readEntry(key)
	if err != nil {
		return nil, false
	}
	s.touchEntry(key)
	res := &Result{
		Artifacts:  map[string]string{},
		CacheHit:   true,
		ConfigHash: configSHA,
		Key:        key,
		OutDir:     filepath.Join(s.entryDir(key), "out"),
		SeededFrom: m.SeededFrom,
		Duration:   time.Since(s.start),
	}
	for name, rel := range m.Artifacts {
		res.Artifacts[name] = filepath.Join(s.entryDir(key), rel)
	}
	s.event(Event{Phase: PhaseDone, Percent: 100, CacheHit: true, Message: "cache hit " + key})
	return res, true
}

// makeOKFile marks an incomplete entry whose make run succeeded.
const makeOKFile = "make.ok"

// workDir is where every cached build runs (CacheDir/builds/work/out), one
// at a time under the build lock. A fixed path matters: Kbuild's host tools
// (objtool) record absolute paths, so objects copied from a build made
// elsewhere would see objtool rebuilt and recompile everything; objects
// copied back to the path they were built at stay up to date.
func (s *session) workDir() string { return filepath.Join(s.root, "work") }

// buildEntry builds a new cache entry; the build lock is held.
func (s *session) buildEntry(ctx context.Context, spec BuildSpec, key string, final []byte, configSHA string, configTime time.Duration) (*Result, error) {
	dir := s.entryDir(key)
	work := s.workDir()
	out := filepath.Join(work, "out")
	cfg, err := parseDotConfig("final .config", final)
	if err != nil {
		return nil, err
	}
	// Whatever an interrupted build left in the work directory goes.
	if err := os.RemoveAll(work); err != nil {
		return nil, fmt.Errorf("kbuild: cleaning %s: %w", work, err)
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	durations := map[string]float64{"configure": configTime.Seconds()}
	seedKey, seedConfigSHA := "", "scratch"

	// An earlier attempt whose make succeeded but whose bookkeeping failed
	// is resumed (make will find nothing to do); anything else goes.
	if _, err := os.Stat(filepath.Join(dir, makeOKFile)); err == nil && os.Rename(filepath.Join(dir, "out"), out) == nil {
		seedConfigSHA = "resume"
	}
	if _, err := os.Stat(dir); err == nil {
		if err := s.removeEntryDir(key); err != nil {
			return nil, fmt.Errorf("kbuild: removing incomplete cache entry: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	makeOK := false
	defer func() {
		if !makeOK {
			_ = s.removeEntryDir(key)
			_ = os.RemoveAll(work)
		}
	}()

	if seedConfigSHA == "scratch" {
		if k, diff, found := s.nearest(cfg); found {
			s.event(Event{Phase: PhaseSeed, Message: fmt.Sprintf("copying the objects of cached build %s (%d option(s) differ)", k, diff)})
			t0 := time.Now()
			l, err := lockFile(ctx, s.entryDir(k)+".lock", syscall.LOCK_SH, nil)
			if err != nil {
				return nil, err
			}
			_, err = copyTree(ctx, filepath.Join(s.entryDir(k), "out"), out)
			l.Unlock()
			if err != nil {
				return nil, err
			}
			if data, err := os.ReadFile(filepath.Join(out, ".config")); err == nil {
				seedConfigSHA = sha256Hex(data)
			}
			seedKey = k
			durations["seed_copy"] = time.Since(t0).Seconds()
		}
	}
	if err := s.placeConfig(filepath.Join(out, ".config"), final); err != nil {
		return nil, err
	}

	logf, err := os.Create(filepath.Join(dir, "build.log"))
	if err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	defer logf.Close()
	pp := s.progressPath(configSHA, seedConfigSHA, spec.Targets)
	expected := s.expectedLines(pp)
	s.event(Event{Phase: PhaseBuild, Dir: out, Expected: expected, Percent: pct(0, expected), Message: "make " + strings.Join(spec.Targets, " ")})
	t0 := time.Now()
	run, err := s.makeRun(ctx, out, logf, func(kind, target string, n int) {
		s.event(Event{Phase: PhaseBuild, Dir: out, Kind: kind, Path: target, Lines: n, Expected: expected, Percent: pct(n, expected)})
	}, spec.Targets...)
	buildTime := time.Since(t0)
	durations["build"] = buildTime.Seconds()
	if err != nil {
		return nil, withLog(err, filepath.Join(dir, "build.log"))
	}
	// Kbuild may not change the configuration it was given.
	got, err := os.ReadFile(filepath.Join(out, ".config"))
	if err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	if sha256Hex(got) != configSHA {
		return nil, &InfraError{Reason: ReasonMake, Detail: "make changed .config during the build (the configuration is not stable under olddefconfig)"}
	}
	inv, _ := s.b.Command(s.src.Dir, out, spec.Targets...)
	// The objects move into the entry; from now on a failure keeps them
	// for a resume.
	entryOut := filepath.Join(dir, "out")
	if err := os.Rename(out, entryOut); err != nil {
		return nil, fmt.Errorf("kbuild: storing the build: %w", err)
	}
	makeOK = true
	_ = os.WriteFile(filepath.Join(dir, makeOKFile), nil, 0o644)
	_ = os.RemoveAll(work)
	_ = writeFileAtomic(pp, []byte(strconv.Itoa(run.quietLines)+"\n"), 0o644)

	arts := collectArtifacts(entryOut, s.vars["ARCH"])
	arts[ArtifactBuildLog] = filepath.Join(dir, "build.log")
	meta := s.metadata(inv, spec, configSHA, key, seedKey, run.quietLines, durations)
	repro := "/tmp/rflkit-build-" + key[:12]
	rinv, _ := s.b.Command(s.src.Dir, repro, spec.Targets...)
	meta.Reproduce = fmt.Sprintf("mkdir -p %s && cp %s %s && %s",
		osutil.ShellQuote(repro), osutil.ShellQuote(filepath.Join(entryOut, ".config")), osutil.ShellQuote(filepath.Join(repro, ".config")), reproduceCmd(rinv, s.vars))
	mdPath := filepath.Join(dir, "metadata.json")
	if err := writeJSON(mdPath, meta); err != nil {
		return nil, err
	}
	arts[ArtifactMetadata] = mdPath
	rel := map[string]string{}
	for name, p := range arts {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, fmt.Errorf("kbuild: %w", err)
		}
		rel[name] = r
	}
	em := &entryMeta{
		Key: key, Source: s.src.ID, Toolchain: s.fp, VarsHash: s.varsHash(), ConfigSHA256: configSHA,
		Targets: normTargets(spec.Targets), Created: time.Now(), BuildSeconds: buildTime.Seconds(),
		SeededFrom: seedKey, QuietLines: run.quietLines, Size: dirSize(dir), Artifacts: rel, BuiltAt: out,
	}
	// entry.json, written last and atomically, makes the entry complete.
	if err := writeJSON(filepath.Join(dir, entryFile), em); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(dir, makeOKFile))
	s.evict(key)
	s.event(Event{Phase: PhaseDone, Lines: run.quietLines, Expected: expected, Percent: 100, Message: "built " + key})
	return &Result{
		Artifacts: arts, ConfigHash: configSHA, Key: key, OutDir: entryOut, SeededFrom: seedKey,
		Duration: time.Since(s.start), BuildTime: buildTime,
	}, nil
}

// buildIn builds in the user's OutDir, without the cache.
func (s *session) buildIn(ctx context.Context, spec BuildSpec, final []byte, configSHA string, configTime time.Duration) (*Result, error) {
	out := s.b.OutDir
	if err := s.placeConfig(filepath.Join(out, ".config"), final); err != nil {
		return nil, err
	}
	// The line-count estimate of an incremental build in place: the last
	// one here.
	pp := s.progressPath(configSHA, "outdir:"+out, spec.Targets)
	expected := s.expectedLines(pp)
	s.event(Event{Phase: PhaseBuild, Dir: out, Expected: expected, Percent: pct(0, expected), Message: "make " + strings.Join(spec.Targets, " ")})
	t0 := time.Now()
	run, err := s.makeRun(ctx, out, nil, func(kind, target string, n int) {
		s.event(Event{Phase: PhaseBuild, Dir: out, Kind: kind, Path: target, Lines: n, Expected: expected, Percent: pct(n, expected)})
	}, spec.Targets...)
	buildTime := time.Since(t0)
	if err != nil {
		return nil, err
	}
	_ = writeFileAtomic(pp, []byte(strconv.Itoa(run.quietLines)+"\n"), 0o644)
	inv, _ := s.b.Command(s.src.Dir, out, spec.Targets...)
	arts := collectArtifacts(out, s.vars["ARCH"])
	meta := s.metadata(inv, spec, configSHA, "", "", run.quietLines, map[string]float64{"configure": configTime.Seconds(), "build": buildTime.Seconds()})
	meta.Reproduce = reproduceCmd(inv, s.vars)
	mdPath := filepath.Join(out, "metadata.json")
	if err := writeJSON(mdPath, meta); err != nil {
		return nil, err
	}
	arts[ArtifactMetadata] = mdPath
	s.event(Event{Phase: PhaseDone, Lines: run.quietLines, Expected: expected, Percent: 100})
	return &Result{Artifacts: arts, ConfigHash: configSHA, OutDir: out, Duration: time.Since(s.start), BuildTime: buildTime}, nil
}

func pct(n, expected int) float64 {
	if expected <= 0 {
		return -1
	}
	return min(99, 100*float64(n)/float64(expected))
}

// withLog records the log path in a build failure.
func withLog(err error, log string) error {
	var ke *KernelError
	var ie *InfraError
	switch {
	case errors.As(err, &ke):
		ke.Log = log
	case errors.As(err, &ie):
		ie.Log = log
	}
	return err
}

func (s *session) metadata(inv Invocation, spec BuildSpec, configSHA, key, seed string, lines int, durations map[string]float64) *Metadata {
	return &Metadata{
		Source: s.b.Src, SourceID: s.src.ID, Arch: s.vars["ARCH"], MakeArgv: inv.Argv, MakeVars: s.vars,
		Targets: spec.Targets, Tools: s.tools.versions, Toolchain: s.fp, ConfigSHA256: configSHA,
		CallerToolchain: s.b.Fingerprint, CacheKey: key, SeededFrom: seed, Started: s.start.UTC(), Durations: durations, QuietLines: lines,
	}
}

// reproduceCmd is a shell command running inv by hand, with make's
// recursion variables cleared as kbuild does.
func reproduceCmd(inv Invocation, _ map[string]string) string {
	return "env -u MAKEFLAGS -u MAKELEVEL -u KBUILD_OUTPUT " + inv.String()
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("kbuild: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}

// collectArtifacts lists what a build left in out.
func collectArtifacts(out, arch string) map[string]string {
	arts := map[string]string{}
	exists := func(rel string) (string, bool) {
		p := filepath.Join(out, rel)
		fi, err := os.Stat(p)
		return p, err == nil && fi.Mode().IsRegular()
	}
	info, _ := karch.Lookup(arch)
	sa := info.SrcArch
	images := info.Images
	if images == nil {
		images = []string{"arch/" + sa + "/boot/Image", "arch/" + sa + "/boot/zImage"}
	}
	for _, rel := range images {
		if p, ok := exists(rel); ok {
			arts[ArtifactKernel] = p
			break
		}
	}
	for name, rel := range map[string]string{ArtifactVmlinux: "vmlinux", ArtifactSystemMap: "System.map", ArtifactConfig: ".config"} {
		if p, ok := exists(rel); ok {
			arts[name] = p
		}
	}
	if data, err := os.ReadFile(filepath.Join(out, "modules.order")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			ko := strings.TrimSuffix(l, ".o") + ".ko"
			if p, ok := exists(ko); ok {
				arts[ArtifactModulePrefix+ko] = p
			}
		}
	}
	return arts
}
