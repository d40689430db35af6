package qemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/rflkit/rflkit/internal/agent"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/initramfs"
	"github.com/rflkit/rflkit/internal/karch"
	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/sysroot"
)

// File is a file to put in the initramfs.
type File struct {
	Path   string      // in the guest ("/etc/fio/job.fio")
	Source string      // host file to copy; or
	Data   []byte      // the contents
	Mode   fs.FileMode // permissions; 0 = 0644 (0755 for Source files that are executable)
}

// InitramfsSpec describes an initramfs for Start: the guest agent as
// /init, busybox with its applet links, and extra host binaries with their
// shared libraries. The zero value gives the agent and busybox.
type InitramfsSpec struct {
	// CacheDir is rflkit's cache root ("" = $RFLKIT_CACHE_DIR, else
	// os.UserCacheDir()/rflkit); archives go to <CacheDir>/initramfs/.
	CacheDir string
	// Agent is a prebuilt agent binary; "" = build it (agent.Build).
	Agent string
	// Go is the go command used to build the agent ("" = go on PATH).
	Go string
	// Busybox is a static busybox; "" = "busybox" on PATH. NoBusybox
	// leaves it out (then only the agent and Binaries are in the guest).
	Busybox   string
	NoBusybox bool
	// Binaries are host executables, put at the same path in the guest
	// ("/usr/bin/fio"), with their loader and libraries.
	Binaries []string
	// Stubs are the DT_NEEDED names of libraries to replace by generated
	// stubs of a few KB that define the symbols the binaries import (every
	// call prints an error and exits 127); nil = none. Which libraries a
	// program can do without is its user's knowledge (bench.FioStubs for
	// fio). Names no binary needs are ignored. FullLibraries keeps every
	// real library even when Stubs names some.
	Stubs         []string
	FullLibraries bool
	// Modules are kernel modules (.ko files on the host), put in
	// ModuleDir (/lib/modules/) by base name: VM.LoadModule(ctx, "rnull_mod",
	// params) loads /lib/modules/rnull_mod.ko (busybox insmod works too).
	Modules []string
	// Files are extra files.
	Files []File
	// Logger receives what was added and the size; nil = discard.
	Logger *slog.Logger
	// Arch is the guest's kernel ARCH ("" = x86_64). For arm64 the agent
	// is cross-compiled (GOARCH=arm64), the default busybox is
	// busybox-static:arm64 from the distribution, unpacked into a
	// sysroot in the cache (internal/sysroot), and its applet links are
	// those of the host's busybox (the same Debian package, which cannot
	// run here to list its own).
	Arch string
	// Sysroot is the root Binaries are found in and resolved against
	// (their loader and libraries too, in the architecture's multiarch
	// directories); "" = the host's /. Binaries are then guest paths
	// ("/usr/bin/fio" is <Sysroot>/usr/bin/fio on the host).
	Sysroot string
}

// archFacts returns the table's facts about spec's architecture and
// whether it differs from the host's (its programs cannot run here).
func (spec InitramfsSpec) archFacts() (karch.Info, bool, error) {
	arch := spec.Arch
	if arch == "" {
		arch = defaultArch
	}
	in, ok := karch.Lookup(arch)
	if !ok || in.GOARCH == "" {
		return in, false, fmt.Errorf("qemu: initramfs: no guest architecture %q", spec.Arch)
	}
	return in, in.GOARCH != runtime.GOARCH, nil
}

// initramfsContents returns the archive the spec describes, without
// writing it (the agent is built if needed).
func initramfsContents(ctx context.Context, spec InitramfsSpec) (*initramfs.Archive, error) {
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := new(initramfs.Archive)
	arch, foreign, err := spec.archFacts()
	if err != nil {
		return nil, err
	}
	agentBin := spec.Agent
	if agentBin == "" {
		var err error
		bo := agent.BuildOptions{CacheDir: spec.CacheDir, Go: spec.Go}
		if arch.GOARCH != "amd64" {
			bo.GOARCH = arch.GOARCH
		}
		agentBin, err = agent.Build(ctx, bo)
		if err != nil {
			return nil, fmt.Errorf("qemu: initramfs: %w", err)
		}
	}
	if err := a.AddHostFile("init", agentBin, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "run", "root", "etc"} {
		if err := a.AddDir(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	if err := a.AddDevice("dev/console", initramfs.CharDevice, 0o600, 5, 1); err != nil {
		return nil, err
	}
	if err := a.AddDevice("dev/null", initramfs.CharDevice, 0o666, 1, 3); err != nil {
		return nil, err
	}
	if err := a.AddFile("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return nil, err
	}
	if err := a.AddFile("etc/group", []byte("root:x:0:\n"), 0o644); err != nil {
		return nil, err
	}

	if !spec.NoBusybox {
		bb := spec.Busybox
		if bb == "" && foreign {
			root, err := sysroot.Ensure(ctx, sysroot.Options{CacheDir: spec.CacheDir, Arch: arch.DebArch, Packages: []string{"busybox-static"}})
			if err != nil {
				return nil, fmt.Errorf("qemu: initramfs: busybox: %w", err)
			}
			bb = filepath.Join(root, "bin", "busybox")
		}
		if bb == "" {
			var err error
			if bb, err = exec.LookPath("busybox"); err != nil {
				return nil, fmt.Errorf("qemu: initramfs: busybox: %w (install busybox-static, or set NoBusybox)", err)
			}
		}
		lister := bb
		if foreign {
			// The guest's busybox cannot run here: list the host's
			// (the same Debian package for another architecture).
			var err error
			if lister, err = exec.LookPath("busybox"); err != nil {
				return nil, fmt.Errorf("qemu: initramfs: the host's busybox lists the applets of the %s one: %w (install busybox-static)", arch.SrcArch, err)
			}
		}
		if err := addBusybox(ctx, a, bb, lister); err != nil {
			return nil, err
		}
	}

	if len(spec.Binaries) > 0 {
		stubs := map[string]bool{}
		if !spec.FullLibraries {
			for _, s := range spec.Stubs {
				stubs[s] = true
			}
		}
		r := initramfs.Resolver{Root: spec.Sysroot}
		bins := spec.Binaries
		if spec.Sysroot != "" {
			r.SearchPaths = []string{"/lib/" + arch.Multiarch, "/usr/lib/" + arch.Multiarch, "/lib", "/usr/lib"}
			bins = make([]string, len(spec.Binaries))
			for i, b := range spec.Binaries {
				bins[i] = filepath.Join(spec.Sysroot, b)
			}
		}
		deps, err := r.Resolve(spec.Binaries, stubs) // paths below r.Root
		if err != nil {
			return nil, fmt.Errorf("qemu: %w", err)
		}
		for i, b := range spec.Binaries {
			if err := a.AddHostFile(b, bins[i], 0o755); err != nil {
				return nil, err
			}
		}
		if deps.Interp != "" {
			real, err := filepath.EvalSymlinks(filepath.Join(spec.Sysroot, deps.Interp))
			if err != nil {
				return nil, fmt.Errorf("qemu: initramfs: loader: %w", err)
			}
			if err := a.AddHostFile(deps.Interp, real, 0o755); err != nil {
				return nil, err
			}
		}
		for _, l := range deps.Libraries {
			if !stubs[l.Name] {
				if err := a.AddHostFile(l.GuestPath, l.HostPath, 0o755); err != nil {
					return nil, err
				}
				continue
			}
			stub, err := makeStub(l)
			if err != nil {
				return nil, fmt.Errorf("qemu: %w", err)
			}
			if err := a.AddFile(l.GuestPath, stub, 0o755); err != nil {
				return nil, err
			}
			log.Debug("initramfs: stub library", "lib", l.Name, "bytes", len(stub), "for", l.NeededBy)
		}
	}
	for _, m := range spec.Modules {
		if err := a.AddHostFile(path.Join("lib/modules", filepath.Base(m)), m, 0o644); err != nil {
			return nil, err
		}
	}
	for _, f := range spec.Files {
		mode := f.Mode
		if f.Source != "" {
			fi, err := os.Stat(f.Source)
			if err != nil {
				return nil, fmt.Errorf("qemu: initramfs: %w", err)
			}
			if mode == 0 {
				mode = 0o644
				if fi.Mode()&0o111 != 0 {
					mode = 0o755
				}
			}
			if err := a.AddHostFile(f.Path, f.Source, mode); err != nil {
				return nil, err
			}
			continue
		}
		if mode == 0 {
			mode = 0o644
		}
		if err := a.AddFile(f.Path, f.Data, mode); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// makeStub generates the stub for l from the imports of every object that needs it.
func makeStub(l initramfs.Library) ([]byte, error) {
	var syms []initramfs.StubSymbol
	vers := map[string]bool{}
	seen := map[string]bool{}
	for _, user := range l.NeededBy {
		s, v, err := initramfs.StubImports(user, l.Name, l.HostPath)
		if err != nil {
			return nil, err
		}
		for _, x := range s {
			k := x.Name + "@" + x.Version
			if !seen[k] {
				seen[k] = true
				syms = append(syms, x)
			}
		}
		for _, x := range v {
			vers[x] = true
		}
	}
	var vl []string
	for v := range vers {
		vl = append(vl, v)
	}
	sort.Strings(vl)
	sort.Slice(syms, func(i, j int) bool {
		return syms[i].Name+"@"+syms[i].Version < syms[j].Name+"@"+syms[j].Version
	})
	machine, err := elfMachine(l.HostPath)
	if err != nil {
		return nil, err
	}
	return initramfs.GenerateStubFor(machine, l.Name, syms, vl)
}

// elfMachine is the ELF machine of the file at p: a stub is written for
// the machine of the library it replaces (aarch64 for fio:arm64's).
func elfMachine(p string) (elf.Machine, error) {
	f, err := elf.Open(p)
	if err != nil {
		return 0, fmt.Errorf("initramfs: stub: %w", err)
	}
	defer f.Close()
	return f.Machine, nil
}

// addBusybox adds a static busybox as /bin/busybox and a link for each
// applet (busybox --list-full), so that `sh -c '...'` works in the guest.
// lister is the busybox whose --list-full gives the applets (bb itself
// when it runs here).
func addBusybox(ctx context.Context, a *initramfs.Archive, bb, lister string) error {
	var r initramfs.Resolver
	deps, err := r.Resolve([]string{bb}, nil)
	if err != nil {
		return fmt.Errorf("qemu: initramfs: %w", err)
	}
	if deps.Interp != "" || len(deps.Libraries) > 0 {
		return fmt.Errorf("qemu: initramfs: %s is dynamically linked; a static busybox is needed (busybox-static)", bb)
	}
	res, err := osutil.Run(ctx, osutil.Options{}, lister, "--list-full")
	if err != nil {
		return fmt.Errorf("qemu: initramfs: %w", err)
	}
	out := res.Stdout
	if err := a.AddHostFile("bin/busybox", bb, 0o755); err != nil {
		return err
	}
	for _, p := range strings.Fields(string(out)) {
		p = strings.TrimPrefix(p, "/")
		if p == "bin/busybox" || p == "init" || p == "linuxrc" || strings.HasPrefix(p, "sbin/init") {
			continue
		}
		if _, exists := a.Lookup(p); exists {
			continue
		}
		if err := a.AddSymlink(p, "/bin/busybox"); err != nil {
			return err
		}
	}
	return nil
}

// BuildInitramfs writes the archive of spec (uncompressed cpio, which the
// kernel unpacks fastest) into <CacheDir>/initramfs/<sha256>.cpio and
// returns its path. The name is the hash of the contents, which are
// deterministic, so equal specs share one file; it is written atomically.
func BuildInitramfs(ctx context.Context, spec InitramfsSpec) (string, error) {
	a, err := initramfsContents(ctx, spec)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	root, err := agent.DefaultCacheDir(spec.CacheDir)
	if err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	dir := filepath.Join(root, "initramfs")
	p := filepath.Join(dir, hex.EncodeToString(sum[:16])+".cpio")
	if spec.Logger != nil {
		spec.Logger.Info("initramfs", "path", p, "bytes", buf.Len(), "binaries", spec.Binaries)
	}
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(buf.Len()) {
		return p, nil
	}
	if err := writeAtomic(p, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("qemu: initramfs: %w", err)
	}
	return p, nil
}

// writeAtomic writes data to p via a temporary file in the same directory,
// fsync and rename.
func writeAtomic(p string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, perm)
}
