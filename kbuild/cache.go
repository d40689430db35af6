package kbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/kconfig"
)

// The build cache lives in CacheDir/builds:
//
//	build.lock           held (exclusively) by the process running make
//	configs/<key>.config final .config per (source, toolchain, vars, spec)
//	entries/<key>/       one build: out/ (the O= dir), build.log,
//	                     metadata.json and entry.json, written last: an
//	                     entry without entry.json is incomplete
//	entries/<key>.lock   shared while an entry is read or copied
//	progress/<hash>      quiet line count of the last build of a config
//	tools/<hash>         memoized --version output per executable
//	work/out             the O= directory of the build running now
//	tmp/                 scratch configure directories
//	trash/               entries being deleted

// entryMeta is entry.json: what the cache needs to know about an entry.
type entryMeta struct {
	// Key is the entry's cache key (its directory name).
	Key string `json:"key"`
	// Source is the source identity (Source.ID).
	Source string `json:"source"`
	// Toolchain is the hash of the probed tools (Metadata.Toolchain).
	Toolchain string `json:"toolchain"`
	// VarsHash is the hash of the make variables that are part of the key.
	VarsHash string `json:"vars_hash"`
	// ConfigSHA256 is the hex SHA-256 of the final .config.
	ConfigSHA256 string `json:"config_sha256"`
	// Targets are the make targets built.
	Targets []string `json:"targets"`
	// Created is when the entry was completed.
	Created time.Time `json:"created"`
	// BuildSeconds is make's wall time in seconds.
	BuildSeconds float64 `json:"build_seconds"`
	// SeededFrom is the key of the entry whose objects the build started from.
	SeededFrom string `json:"seeded_from,omitempty"`
	// QuietLines is the number of Kbuild quiet lines make printed.
	QuietLines int `json:"quiet_lines"`
	// Size is the entry's size on disk in bytes (for eviction).
	Size int64 `json:"size"`
	// BuiltAt is the O= path make ran in.
	BuiltAt string `json:"built_at,omitempty"`
	// Artifacts maps artifact names to paths relative to the entry.
	Artifacts map[string]string `json:"artifacts"`
}

const entryFile = "entry.json"

func (s *session) varsHash() string {
	h := sha256.New()
	for _, k := range sortedKeys(s.keyVars) {
		fmt.Fprintf(h, "%s=%s\n", k, s.keyVars[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// buildKey is the cache key: source identity, final .config, toolchain
// fingerprint, make variables and targets.
func (s *session) buildKey(configSHA string, targets []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "rflkit-kbuild-v1\nsource %s\nconfig %s\ntoolchain %s\nvars %s\ntargets %s\n",
		s.src.ID, configSHA, s.fp, s.varsHash(), strings.Join(normTargets(targets), " "))
	return hex.EncodeToString(h.Sum(nil))[:40]
}

func normTargets(t []string) []string {
	out := append([]string(nil), t...)
	sort.Strings(out)
	return out
}

func (s *session) entryDir(key string) string { return filepath.Join(s.root, "entries", key) }

// readEntry returns the metadata of a complete entry.
func (s *session) readEntry(key string) (*entryMeta, error) {
	data, err := os.ReadFile(filepath.Join(s.entryDir(key), entryFile))
	if err != nil {
		return nil, err
	}
	var m entryMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("kbuild: %s: %w", filepath.Join(s.entryDir(key), entryFile), err)
	}
	if m.Key != key {
		return nil, fmt.Errorf("kbuild: cache entry %s: key mismatch", key)
	}
	for _, rel := range m.Artifacts {
		if _, err := os.Stat(filepath.Join(s.entryDir(key), rel)); err != nil {
			return nil, fmt.Errorf("kbuild: cache entry %s: artifact missing: %w", key, err)
		}
	}
	return &m, nil
}

// touchEntry records a use of an entry (for LRU eviction).
func (s *session) touchEntry(key string) {
	now := time.Now()
	_ = os.Chtimes(filepath.Join(s.entryDir(key), entryFile), now, now)
}

// lockFile takes a flock on path (how = syscall.LOCK_EX or LOCK_SH),
// waiting until ctx is done; onWait is called once if it has to wait.
func lockFile(ctx context.Context, path string, how int, onWait func()) (*flock.Lock, error) {
	l, err := flock.Acquire(ctx, path, flock.Options{Shared: how == syscall.LOCK_SH, OnWait: onWait, Poll: 200 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	return l, nil
}

// tryLock takes a flock without waiting; nil when it is held elsewhere.
func tryLock(path string, how int) *flock.Lock {
	l, _ := flock.TryAcquire(path, how == syscall.LOCK_SH)
	return l
}

// listEntries returns the keys of all complete entries.
func (s *session) listEntries() []string {
	ents, err := os.ReadDir(filepath.Join(s.root, "entries"))
	if err != nil {
		return nil
	}
	var keys []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(s.root, "entries", e.Name(), entryFile)); err == nil {
				keys = append(keys, e.Name())
			}
		}
	}
	return keys
}

// removeIncomplete deletes entries without entry.json: builds that were
// interrupted. Only called with the build lock held.
func (s *session) removeIncomplete() {
	ents, err := os.ReadDir(filepath.Join(s.root, "entries"))
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.root, "entries", e.Name(), makeOKFile)); err == nil {
			continue // resumable: its make succeeded
		}
		if _, err := os.Stat(filepath.Join(s.root, "entries", e.Name(), entryFile)); errors.Is(err, fs.ErrNotExist) {
			s.removeEntryDir(e.Name())
		}
	}
	// Scratch configure directories older than a day are leftovers.
	tmps, _ := os.ReadDir(filepath.Join(s.root, "tmp"))
	for _, e := range tmps {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(filepath.Join(s.root, "tmp", e.Name()))
		}
	}
}

// removeEntryDir deletes an entry directory: first renamed away (so that it
// vanishes at once), then removed.
func (s *session) removeEntryDir(key string) error {
	trash := filepath.Join(s.root, "trash")
	if err := os.MkdirAll(trash, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(trash, key+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(s.entryDir(key), dst); err != nil {
		return err
	}
	return os.RemoveAll(dst)
}

// nearest returns the complete entry that is the best seed for a build of
// cfg: same source, toolchain and variables, fewest differing options, and
// preferably built in the work directory (objects built elsewhere see
// objtool rebuilt, which recompiles everything). ok is false when there is
// none worth copying.
func (s *session) nearest(cfg *kconfig.Config) (key string, diff int, ok bool) {
	vh := s.varsHash()
	workOut := filepath.Join(s.workDir(), "out")
	best, bestDiff, bestScore := "", -1, 0
	for _, k := range s.listEntries() {
		m, err := s.readEntry(k)
		if err != nil || m.Source != s.src.ID || m.Toolchain != s.fp || m.VarsHash != vh {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.entryDir(k), "out", ".config"))
		if err != nil {
			continue
		}
		c, err := parseDotConfig(k, data)
		if err != nil {
			continue
		}
		d := diffCount(cfg, c)
		score := d
		if m.BuiltAt != workOut {
			score += 1 << 20
		}
		if bestDiff < 0 || score < bestScore {
			best, bestDiff, bestScore = k, d, score
		}
	}
	if best == "" {
		return "", 0, false
	}
	// A very different configuration rebuilds nearly everything: copying
	// its objects would only cost time and disk.
	if limit := max(200, cfg.Len()/4); bestDiff > limit {
		return "", bestDiff, false
	}
	return best, bestDiff, true
}

// copyTree copies src to dst (which must not exist), preserving modes,
// symlinks and modification times, so that make sees the copy as up to
// date.
func copyTree(ctx context.Context, src, dst string) (int64, error) {
	var total int64
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	n := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n%512 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, fi.Mode().Perm()|0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{target, fi.ModTime()})
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(p, target, fi); err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("kbuild: copying %s: %w", src, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t)
	}
	return total, nil
}

func copyFile(src, dst string, fi fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

// dirSize is the total size of the regular files below dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// evict removes least recently used entries until the cache is below its
// limit. Entries in use (locked by another process) and keep are spared.
func (s *session) evict(keep string) []string {
	limit := s.b.CacheLimit
	if limit == 0 {
		limit = DefaultCacheLimit
	}
	if limit < 0 {
		return nil
	}
	type ent struct {
		key  string
		size int64
		used time.Time
	}
	var ents []ent
	var total int64
	for _, k := range s.listEntries() {
		fi, err := os.Stat(filepath.Join(s.entryDir(k), entryFile))
		if err != nil {
			continue
		}
		m, err := s.readEntry(k)
		size := int64(0)
		if err == nil {
			size = m.Size
		}
		ents = append(ents, ent{k, size, fi.ModTime()})
		total += size
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].used.Before(ents[j].used) })
	var removed []string
	for _, e := range ents {
		if total <= limit {
			break
		}
		if e.key == keep {
			continue
		}
		l := tryLock(s.entryDir(e.key)+".lock", syscall.LOCK_EX)
		if l == nil {
			continue // in use
		}
		err := s.removeEntryDir(e.key)
		l.Unlock()
		if err == nil {
			total -= e.size
			removed = append(removed, e.key)
		}
	}
	return removed
}

// progressPath is where the quiet line count of the last build of a
// configuration (from scratch or from a given seed) is kept.
func (s *session) progressPath(configSHA, seedConfigSHA string, targets []string) string {
	h := sha256.Sum256([]byte(configSHA + "|" + seedConfigSHA + "|" + strings.Join(normTargets(targets), " ") + "|" + s.src.ID + "|" + s.fp))
	return filepath.Join(s.root, "progress", hex.EncodeToString(h[:16]))
}

func (s *session) expectedLines(p string) int {
	data, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}
