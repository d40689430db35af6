package qemu

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/agent"
	"github.com/rflkit/rflkit/internal/atomicfile"
	"github.com/rflkit/rflkit/internal/flock"
	"github.com/rflkit/rflkit/internal/osutil"
)

// ProbeOptions configures ChooseAccel. The zero value is ready to use.
type ProbeOptions struct {
	// CacheDir is rflkit's cache root; verdicts go to <CacheDir>/qemu/.
	CacheDir string
	// Timeout bounds the KVM probe boot; 0 = 8 seconds. A kernel that
	// works under KVM reaches the agent in well under a second.
	Timeout time.Duration
	// ConfirmTimeout bounds the TCG boot with which ChooseAccel confirms
	// a failed KVM probe; 0 = 2 minutes. (Start needs no extra boot: its
	// own boot under TCG is the confirmation.)
	ConfirmTimeout time.Duration
	// NoCache probes even when a verdict is cached (and stores the new one).
	NoCache bool
	// Logger receives the probe's progress; nil = discard.
	Logger *slog.Logger
	// KVMDevice is the KVM device; "" = /dev/kvm.
	KVMDevice string
}

// accelVerdict is the cached result of a probe.
type accelVerdict struct {
	Accel  string    `json:"accel"`
	Reason string    `json:"reason"`
	Key    string    `json:"key"`
	When   time.Time `json:"when"`
}

// HostKey describes the host side of what a KVM verdict depends on: the
// host kernel release, the kvm modules loaded (/proc/modules), and the
// QEMU binary (its resolved path, size and modification time, and the
// version it reports).
func HostKey(ctx context.Context, qemuBinary string) (string, error) {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "", fmt.Errorf("qemu: uname: %w", err)
	}
	rel := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	mods := "no /proc/modules"
	if f, err := os.Open("/proc/modules"); err == nil {
		var names []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if n, _, _ := strings.Cut(sc.Text(), " "); strings.HasPrefix(n, "kvm") {
				names = append(names, n)
			}
		}
		f.Close()
		sort.Strings(names)
		mods = "modules " + strings.Join(names, ",")
	}
	bin, err := exec.LookPath(qemuBinary)
	if err != nil {
		return "", &MachineError{Field: "QEMU", Err: err}
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if p, err := filepath.EvalSymlinks(bin); err == nil {
		bin = p
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", &MachineError{Field: "QEMU", Err: err}
	}
	res, err := osutil.Run(ctx, osutil.Options{}, bin, "--version")
	if err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	ver, _, _ := strings.Cut(string(res.Stdout), "\n")
	return fmt.Sprintf("probe v3; host %s; %s; qemu %s %d bytes %s: %s",
		rel, mods, bin, fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano), strings.TrimSpace(ver)), nil
}

// verdictKey is what one verdict holds for: the host and QEMU (HostKey),
// the kernel's content, and the machine settings that change what the
// guest sees first (type, CPU model, firmware).
func verdictKey(ctx context.Context, m Machine) (string, error) {
	host, err := HostKey(ctx, m.Binary())
	if err != nil {
		return "", err
	}
	sum, err := fileSHA256(m.Kernel)
	if err != nil {
		return "", &MachineError{Field: "Kernel", Err: err}
	}
	return fmt.Sprintf("%s; kernel sha256 %s; machine %q cpu %q bios %q", host, sum, m.Type, m.CPU, m.BIOS), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ChooseAccel decides between KVM and TCG for m by trying: when the KVM
// device can be opened, it boots m under KVM (with a bounded timeout) and
// takes KVM only if the guest agent reports ready. It never hangs: a guest
// that does not come up in time means TCG.
//
// A failed KVM probe only counts against KVM when the same machine then
// boots under TCG (ChooseAccel boots it once more to check): a kernel that
// fails under both is broken, and its failure says nothing about KVM.
// Verdicts are cached under <CacheDir>/qemu/, keyed by the host and QEMU
// binary (HostKey), the kernel's content and the machine type, CPU model
// and firmware, so each kernel is probed once; the verdict of a kernel
// that fails under TCG too is not cached. A Machine with ICount always
// gets TCG, without probing.
//
// On PVM hosts (module kvm_pvm) /dev/kvm opens but a stock kernel hangs
// after "early console in setup code": the probe times out, the TCG boot
// works, and TCG is cached for that kernel.
func ChooseAccel(ctx context.Context, m Machine, opts ProbeOptions) (AccelChoice, error) {
	if m.ICount != nil {
		return AccelChoice{Accel: AccelTCG, Reason: "ICount needs TCG"}, nil
	}
	choice, pending, err := decideAccel(ctx, m, opts)
	if err != nil || pending == nil {
		return choice, err
	}
	defer pending.release()
	timeout := opts.ConfirmTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	pending.log.Info("qemu: KVM probe failed; checking the machine under TCG", "timeout", timeout)
	err = confirmTCG(ctx, m, opts.CacheDir, timeout, pending.log)
	if ctx.Err() != nil {
		return AccelChoice{}, fmt.Errorf("qemu: accelerator probe: %w", ctx.Err())
	}
	return pending.resolve(err), nil
}

// pendingVerdict is a failed KVM probe whose verdict waits for a boot of
// the same machine under TCG. It holds the verdict's lock until resolved
// or released.
type pendingVerdict struct {
	file, key, reason string
	unlock            func()
	log               *slog.Logger
}

// resolve records the outcome of the TCG boot (tcgErr nil: it worked)
// and releases the lock. Only a working TCG boot makes the failed KVM
// probe a verdict about KVM, and only then is it cached.
func (p *pendingVerdict) resolve(tcgErr error) AccelChoice {
	defer p.release()
	if tcgErr != nil {
		reason := fmt.Sprintf("%s; the machine fails under TCG too (%s): a kernel or machine problem, not KVM's; verdict not cached",
			p.reason, firstLine(tcgErr.Error()))
		p.log.Warn("qemu: the machine fails under KVM and TCG; not caching an accelerator verdict", "reason", reason)
		return AccelChoice{Accel: AccelTCG, Reason: reason}
	}
	c := AccelChoice{Accel: AccelTCG, Reason: p.reason + "; the machine boots under TCG"}
	writeVerdict(p.file, p.key, c, p.log)
	return c
}

// release releases the lock without recording anything; it may be called
// more than once.
func (p *pendingVerdict) release() {
	if p.unlock != nil {
		p.unlock()
		p.unlock = nil
	}
}

// decideAccel is ChooseAccel up to the KVM probe. When the probe fails it
// returns TCG with a non-nil *pendingVerdict that the caller must resolve
// (after booting m under TCG) or release.
func decideAccel(ctx context.Context, m Machine, opts ProbeOptions) (AccelChoice, *pendingVerdict, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dev := opts.KVMDevice
	if dev == "" {
		dev = "/dev/kvm"
	}
	if err := m.Check(); err != nil {
		return AccelChoice{}, nil, err
	}
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return AccelChoice{Accel: AccelTCG, Reason: fmt.Sprintf("KVM unusable: %v", err)}, nil, nil
	}
	f.Close()

	key, err := verdictKey(ctx, m)
	if err != nil {
		return AccelChoice{}, nil, err
	}
	root, err := agent.DefaultCacheDir(opts.CacheDir)
	if err != nil {
		return AccelChoice{}, nil, fmt.Errorf("qemu: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(root, "qemu")
	base := filepath.Join(dir, "accel-"+hex.EncodeToString(sum[:12]))
	file := base + ".json"
	read := func() (AccelChoice, bool) {
		if opts.NoCache {
			return AccelChoice{}, false
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return AccelChoice{}, false
		}
		var v accelVerdict
		if json.Unmarshal(b, &v) != nil || v.Key != key || (v.Accel != AccelKVM && v.Accel != AccelTCG) {
			return AccelChoice{}, false
		}
		return AccelChoice{Accel: v.Accel, Reason: v.Reason, Cached: true}, true
	}
	if c, ok := read(); ok {
		return c, nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return AccelChoice{}, nil, fmt.Errorf("qemu: %w", err)
	}
	// One lock per verdict: probes of different kernels do not wait for
	// each other; two probes of one kernel run once.
	unlock, err := lock(ctx, base+".lock")
	if err != nil {
		return AccelChoice{}, nil, err
	}
	if c, ok := read(); ok {
		unlock()
		return c, nil, nil
	}

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 8 * time.Second
	}
	log.Info("qemu: probing KVM", "device", dev, "timeout", timeout, "key", key)
	reason, ok := probeKVM(ctx, m, opts.CacheDir, timeout, log)
	if ctx.Err() != nil {
		unlock()
		return AccelChoice{}, nil, fmt.Errorf("qemu: KVM probe: %w", ctx.Err())
	}
	if ok {
		c := AccelChoice{Accel: AccelKVM, Reason: reason}
		writeVerdict(file, key, c, log)
		unlock()
		return c, nil, nil
	}
	return AccelChoice{Accel: AccelTCG, Reason: reason},
		&pendingVerdict{file: file, key: key, reason: reason, unlock: unlock, log: log}, nil
}

func writeVerdict(file, key string, c AccelChoice, log *slog.Logger) {
	b, _ := json.MarshalIndent(accelVerdict{Accel: c.Accel, Reason: c.Reason, Key: key, When: time.Now().UTC()}, "", "  ")
	if err := atomicfile.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		log.Warn("qemu: cannot cache the accelerator verdict", "err", err)
	}
}

// probeKVM boots m under KVM and reports whether the agent came up, and a
// reason either way.
func probeKVM(ctx context.Context, m Machine, cacheDir string, timeout time.Duration, log *slog.Logger) (string, bool) {
	m.Accel = AccelKVM
	m.ICount = nil
	// The boot stub's early console shows how far a hanging guest got
	// ("early console in setup code" on PVM hosts; printed with "debug").
	m.Append = strings.TrimSpace(m.Append + " earlyprintk=ttyS0 debug")
	pctx, cancel := context.WithTimeout(ctx, timeout+2*time.Second)
	defer cancel()
	t0 := time.Now()
	vm, err := Start(pctx, m, StartOptions{BootTimeout: timeout, Logger: log, CacheDir: cacheDir})
	if err != nil {
		var ge *GuestError
		var pe *PanicError
		reason := fmt.Sprintf("KVM probe: no guest agent under KVM after %v", time.Since(t0).Round(time.Millisecond))
		switch {
		case errors.As(err, &ge):
			lines := strings.Split(strings.TrimSpace(ge.Console), "\n")
			if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
				reason += fmt.Sprintf("; the console stops at %q", last)
			} else {
				reason += "; no console output"
			}
			if s := strings.TrimSpace(ge.Stderr); s != "" {
				// The last line: QEMU's fatal error follows its warnings.
				reason += fmt.Sprintf("; QEMU: %q", s[strings.LastIndexByte(s, '\n')+1:])
			}
		case errors.As(err, &pe):
			reason += fmt.Sprintf("; the kernel reported %s: %s", pe.Kind, pe.Title)
		default:
			reason += ": " + firstLine(err.Error())
		}
		return reason, false
	}
	took := time.Since(t0)
	_ = vm.Stop(pctx)
	return fmt.Sprintf("KVM probe: the guest agent was ready under KVM in %v", took.Round(time.Millisecond)), true
}

// confirmTCG boots m under TCG and powers it off: nil if the agent came up.
func confirmTCG(ctx context.Context, m Machine, cacheDir string, timeout time.Duration, log *slog.Logger) error {
	m.Accel = AccelTCG
	vm, err := Start(ctx, m, StartOptions{BootTimeout: timeout, Logger: log, CacheDir: cacheDir})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = vm.Stop(sctx) // the agent came up: that is all the probe asks
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// lock takes an exclusive flock on path (internal/flock), waiting until ctx
// is done. The returned function releases it.
func lock(ctx context.Context, path string) (func(), error) {
	l, err := flock.Acquire(ctx, path, flock.Options{Poll: 50 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	return l.Unlock, nil
}
