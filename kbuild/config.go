package kbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rflkit/rflkit/internal/atomicfile"

	"github.com/rflkit/rflkit/internal/fragment"
	"github.com/rflkit/rflkit/kconfig"
)

// ConfigSpec says how to configure a kernel: a base, then fragments merged
// on top (later ones win), then `make olddefconfig`, then a check that
// every value the fragments request survived.
type ConfigSpec struct {
	// Base is a make configuration target (tinyconfig, defconfig,
	// allnoconfig, x86_64_defconfig, ...) or the path of a .config file
	// (anything containing a "/" or naming an existing file). Empty means
	// defconfig.
	Base string
	// Fragments are paths of config fragments (.config syntax).
	Fragments []string
	// Inline are fragments given as text, applied after Fragments.
	Inline []string
	// Configs are fragments given as values, applied last.
	Configs []*kconfig.Config
}

// TinyRust returns the tiny Rust configuration (internal/fragment):
// tinyconfig plus the fragment that boots an x86_64 guest with both
// null-block drivers, MODVERSIONS off, and RUST_INLINE_HELPERS on or off.
// It needs LLVM=1 and a rustc whose LLVM matches clang's.
func TinyRust(helpers bool) ConfigSpec {
	return ConfigSpec{Base: "tinyconfig", Inline: []string{fragment.TinyRust(helpers)}}
}

// TinyRustFor returns the tiny Rust configuration of a kernel ARCH:
// TinyRust(helpers) for x86_64 (and x86), and for arm64 tinyconfig plus
// internal/fragment's arm64 fragment, which boots QEMU's virt machine
// (PL011 console ttyAMA0, virtio-mmio) with both null-block drivers built
// in. Build the arm64 one with the target "Image". Other architectures are
// an error.
func TinyRustFor(arch string, helpers bool) (ConfigSpec, error) {
	frag, ok := fragment.TinyRustFor(arch, helpers)
	if !ok {
		return ConfigSpec{}, fmt.Errorf("kbuild: no tiny Rust configuration for ARCH=%s (have x86_64, arm64)", arch)
	}
	return ConfigSpec{Base: "tinyconfig", Inline: []string{frag}}, nil
}

// TinyRustModules returns the tiny Rust configuration with loadable
// modules (internal/fragment.Modules): TinyRust(helpers) plus MODULES=y,
// MODULE_UNLOAD=y, KALLSYMS=y (for /sys/module/<name>/sections/ and module
// symbols in /proc/kallsyms), MODVERSIONS, MODULE_SIG and MODULE_COMPRESS
// off, and both null-block drivers as modules: null_blk.ko and
// rnull_mod.ko. Build it with the targets "bzImage" and "modules"; the
// modules are then in Result.Artifacts (ModuleNullBlk, ModuleRustNull).
// Built through the cache, it starts from the objects of the built-in
// TinyRust kernel of the same helpers setting.
func TinyRustModules(helpers bool) ConfigSpec {
	return ConfigSpec{Base: "tinyconfig", Inline: []string{fragment.TinyRust(helpers), fragment.Modules()}}
}

// TinyRustModulesFor returns the module kernel's configuration of a
// kernel ARCH: TinyRustModules(helpers) for x86_64 (and x86), and for arm64
// tinyconfig plus the arm64 fragment and the same module fragment
// (internal/fragment.TinyRustModulesFor). Build the arm64 one with the
// targets "Image" and "modules"; through the cache it starts from the
// objects of the built-in arm64 kernel of the same helpers setting. Other
// architectures are an error.
func TinyRustModulesFor(arch string, helpers bool) (ConfigSpec, error) {
	switch arch {
	case "x86_64", "x86":
		return TinyRustModules(helpers), nil
	}
	base, ok := fragment.TinyRustFor(arch, helpers)
	if !ok {
		return ConfigSpec{}, fmt.Errorf("kbuild: no tiny Rust module configuration for ARCH=%s (have x86_64, arm64)", arch)
	}
	return ConfigSpec{Base: "tinyconfig", Inline: []string{base, fragment.Modules()}}, nil
}

// ConfigResult is a configured kernel.
type ConfigResult struct {
	// Path is the final .config (in OutDir, or in the cache).
	Path string
	// Hash is the hex SHA-256 of the final .config.
	Hash string
	// Requested is the number of values the fragments requested (all
	// verified present).
	Requested int
	// FromCache is set when the configuration came from the cache and
	// make did not run.
	FromCache bool
	// Duration is how long Configure took.
	Duration time.Duration
}

var configTargetRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]*config$`)

// baseIsTarget reports whether base names a make target rather than a file.
func baseIsTarget(base string) bool {
	if strings.Contains(base, "/") || !configTargetRE.MatchString(base) {
		return false
	}
	if _, err := os.Stat(base); err == nil {
		return false
	}
	return true
}

// fragments reads the spec's fragments (files, texts, then Configs) and
// returns them in order, plus what they request together (later ones win).
func (spec ConfigSpec) fragments() ([]*kconfig.Config, *kconfig.Config, error) {
	var frags []*kconfig.Config
	for _, p := range spec.Fragments {
		c, err := kconfig.ReadFile(p, kconfig.ParseOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("kbuild: fragment: %w", err)
		}
		frags = append(frags, c)
	}
	for i, text := range spec.Inline {
		c, err := kconfig.Parse(strings.NewReader(text), fmt.Sprintf("inline fragment %d", i+1), kconfig.ParseOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("kbuild: %w", err)
		}
		frags = append(frags, c)
	}
	for i, c := range spec.Configs {
		if c == nil {
			return nil, nil, &UsageError{"Configs", fmt.Sprintf("fragment %d is nil", i)}
		}
		frags = append(frags, c)
	}
	req, _ := kconfig.Merge(kconfig.NewConfig("requested", kconfig.ParseOptions{}), frags...)
	return frags, req, nil
}

// digest hashes everything the spec's outcome depends on (the contents of
// files, not their names).
func (spec ConfigSpec) digest() (string, error) {
	h := sha256.New()
	base := spec.Base
	if base == "" {
		base = "defconfig"
	}
	if baseIsTarget(base) {
		fmt.Fprintf(h, "base target %s\n", base)
	} else {
		data, err := os.ReadFile(base)
		if err != nil {
			return "", fmt.Errorf("kbuild: base config: %w", err)
		}
		fmt.Fprintf(h, "base file %x\n", sha256.Sum256(data))
	}
	_, req, err := spec.fragments()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "fragments %x\n", sha256.Sum256(req.Bytes()))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// configureIn configures dir from scratch (or over whatever is there): base,
// fragments, olddefconfig, verification. It returns the final .config.
func (s *session) configureIn(ctx context.Context, dir string, spec ConfigSpec) ([]byte, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("kbuild: %w", err)
	}
	frags, req, err := spec.fragments()
	if err != nil {
		return nil, 0, err
	}
	base := spec.Base
	if base == "" {
		base = "defconfig"
	}
	cfgPath := filepath.Join(dir, ".config")
	if baseIsTarget(base) {
		s.event(Event{Phase: PhaseConfigure, Message: "make " + base})
		if err := s.make(ctx, dir, nil, base); err != nil {
			return nil, 0, fmt.Errorf("kbuild: configure: make %s: %w", base, err)
		}
	} else {
		c, err := kconfig.ReadFile(base, kconfig.ParseOptions{})
		if err != nil {
			return nil, 0, fmt.Errorf("kbuild: base config: %w", err)
		}
		if err := writeFileAtomic(cfgPath, c.Bytes(), 0o644); err != nil {
			return nil, 0, err
		}
	}
	var merged *kconfig.Config
	if len(frags) > 0 {
		cur, err := kconfig.ReadFile(cfgPath, kconfig.ParseOptions{Lenient: true})
		if err != nil {
			return nil, 0, fmt.Errorf("kbuild: configure: %w", err)
		}
		merged, _ = kconfig.Merge(cur, frags...)
		if err := writeFileAtomic(cfgPath, merged.Bytes(), 0o644); err != nil {
			return nil, 0, err
		}
	}
	s.event(Event{Phase: PhaseConfigure, Message: "make olddefconfig"})
	if err := s.make(ctx, dir, nil, "olddefconfig"); err != nil {
		return nil, 0, fmt.Errorf("kbuild: configure: make olddefconfig: %w", err)
	}
	final, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, 0, fmt.Errorf("kbuild: configure: %w", err)
	}
	fc, err := kconfig.Parse(bytes.NewReader(final), cfgPath, kconfig.ParseOptions{Lenient: true})
	if err != nil {
		return nil, 0, fmt.Errorf("kbuild: configure: %w", err)
	}
	if mm := kconfig.Verify(req, fc); len(mm) > 0 {
		ce := &ConfigError{Config: cfgPath, Mismatches: mm}
		s.explain(ctx, ce, merged)
		return nil, 0, ce
	}
	return final, req.Len(), nil
}

// Configure configures the kernel: in OutDir when set, else in the cache
// (where an identical earlier configuration is reused without running
// make). A requested value that did not survive olddefconfig is a
// *ConfigError.
func (b *Builder) Configure(ctx context.Context, spec ConfigSpec) (*ConfigResult, error) {
	s, err := b.newSession(ctx)
	if err != nil {
		return nil, err
	}
	final, n, cached, err := s.finalConfig(ctx, spec)
	if err != nil {
		return nil, err
	}
	res := &ConfigResult{Hash: sha256Hex(final), Requested: n, FromCache: cached}
	if s.b.OutDir != "" {
		res.Path = filepath.Join(s.b.OutDir, ".config")
		if err := s.placeConfig(res.Path, final); err != nil {
			return nil, err
		}
		if cached {
			// Make O= usable at once, as after a real configure.
			if err := s.make(ctx, s.b.OutDir, nil, "olddefconfig"); err != nil {
				return nil, fmt.Errorf("kbuild: configure: %w", err)
			}
		}
	} else {
		res.Path = s.configCachePath(s.lastConfigKey)
	}
	res.Duration = time.Since(s.start)
	return res, nil
}

// finalConfig returns the final .config for spec: from the config cache,
// or by configuring (in OutDir when set, else in a scratch directory).
func (s *session) finalConfig(ctx context.Context, spec ConfigSpec) (final []byte, requested int, cached bool, err error) {
	d, err := spec.digest()
	if err != nil {
		return nil, 0, false, err
	}
	_, req, err := spec.fragments()
	if err != nil {
		return nil, 0, false, err
	}
	key := s.configKey(d)
	s.lastConfigKey = key
	if data, err := os.ReadFile(s.configCachePath(key)); err == nil {
		s.event(Event{Phase: PhaseConfigure, Message: "configuration from the cache"})
		return data, req.Len(), true, nil
	}
	dir := s.b.OutDir
	if dir == "" {
		if err := os.MkdirAll(filepath.Join(s.root, "tmp"), 0o755); err != nil {
			return nil, 0, false, fmt.Errorf("kbuild: %w", err)
		}
		dir, err = os.MkdirTemp(filepath.Join(s.root, "tmp"), "configure-")
		if err != nil {
			return nil, 0, false, fmt.Errorf("kbuild: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	final, n, err := s.configureIn(ctx, dir, spec)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && s.b.OutDir == "" {
			// The scratch directory goes away: keep the final config.
			keep := s.configCachePath(key) + ".rejected"
			if data, rerr := os.ReadFile(ce.Config); rerr == nil && writeFileAtomic(keep, data, 0o644) == nil {
				ce.Config = keep
			}
		}
		return nil, 0, false, err
	}
	if err := writeFileAtomic(s.configCachePath(key), final, 0o644); err != nil {
		return nil, 0, false, err
	}
	return final, n, false, nil
}

func (s *session) configKey(specDigest string) string {
	h := sha256.New()
	fmt.Fprintf(h, "rflkit-kbuild-config-v1\nsource %s\ntoolchain %s\nspec %s\n", s.src.ID, s.fp, specDigest)
	for _, k := range sortedKeys(s.keyVars) {
		fmt.Fprintf(h, "var %s=%s\n", k, s.keyVars[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}

func (s *session) configCachePath(key string) string {
	return filepath.Join(s.root, "configs", key+".config")
}

// placeConfig writes final as dir's .config unless it already holds it
// (so that an unchanged configuration does not touch the file's mtime).
func (s *session) placeConfig(path string, final []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(final) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("kbuild: %w", err)
	}
	return writeFileAtomic(path, final, 0o644)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, fsynced and renamed; an existing file's permissions are kept.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("kbuild: %w", err)
	}
	if err := atomicfile.Update(path, data, perm); err != nil {
		return fmt.Errorf("kbuild: writing %s: %w", path, err)
	}
	return nil
}

// explain attaches to ce why each symbol could not take its value, from
// kconfig's evaluation of the tree's Kconfig (input is what olddefconfig
// was given). A failure to explain is recorded, never fatal.
func (s *session) explain(ctx context.Context, ce *ConfigError, input *kconfig.Config) {
	if s.b.NoExplain || input == nil {
		return
	}
	tr, err := kconfig.Load(ctx, kconfig.LoadOptions{
		SrcDir: s.src.Dir, Arch: s.vars["ARCH"], MakeVars: s.vars, Env: s.env,
		CacheDir: s.cacheDir, Fingerprint: s.fp,
	})
	if err != nil {
		ce.ExplainErr = err
		return
	}
	ce.Explanations = map[string]*kconfig.Explanation{}
	for _, m := range ce.Mismatches {
		want := strings.Trim(m.Requested.String(), `"`)
		x, err := tr.Explain(input, m.Symbol, want)
		if err != nil {
			ce.ExplainErr = err
			continue
		}
		ce.Explanations[m.Symbol] = x
	}
}
