package qemu

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rflkit/rflkit/internal/agent"
)

// ProbeOptions configures ChooseAccel. The zero value is ready to use.
type ProbeOptions struct {
	// CacheDir is rflkit's cache root; verdicts go to <CacheDir>/qemu/.
	CacheDir string
	// Timeout bounds the KVM probe boot; 0 = 8 seconds. A kernel that
	// works under KVM reaches the agent in well under a second.
	Timeout time.Duration
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

// HostKey describes what a KVM verdict depends on: the host kernel
// release, the kvm modules loaded (/proc/modules) and QEMU's version.
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
	out, err := exec.CommandContext(ctx, qemuBinary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("qemu: %s --version: %w", qemuBinary, err)
	}
	ver, _, _ := strings.Cut(string(out), "\n")
	return fmt.Sprintf("probe v2; host %s; %s; %s", rel, mods, strings.TrimSpace(ver)), nil
}

// ChooseAccel decides between KVM and TCG for m by trying: when the KVM
// device can be opened, it boots m under KVM (with a bounded timeout) and
// takes KVM only if the guest agent reports ready. The verdict is cached
// per host (HostKey) under <CacheDir>/qemu/, so the probe runs once. It
// never hangs: a guest that does not come up in time means TCG.
//
// On PVM hosts (module kvm_pvm) /dev/kvm opens but a stock kernel hangs
// after "early console in setup code": the probe times out and TCG wins.
func ChooseAccel(ctx context.Context, m Machine, opts ProbeOptions) (AccelChoice, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dev := opts.KVMDevice
	if dev == "" {
		dev = "/dev/kvm"
	}
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return AccelChoice{Accel: AccelTCG, Reason: fmt.Sprintf("KVM unusable: %v", err)}, nil
	}
	f.Close()

	key, err := HostKey(ctx, m.Binary())
	if err != nil {
		return AccelChoice{}, err
	}
	root, err := agent.DefaultCacheDir(opts.CacheDir)
	if err != nil {
		return AccelChoice{}, fmt.Errorf("qemu: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(root, "qemu")
	file := filepath.Join(dir, "accel-"+hex.EncodeToString(sum[:8])+".json")
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
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return AccelChoice{}, fmt.Errorf("qemu: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(dir, "accel.lock"))
	if err != nil {
		return AccelChoice{}, err
	}
	defer unlock()
	if c, ok := read(); ok {
		return c, nil
	}

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 8 * time.Second
	}
	log.Info("qemu: probing KVM", "device", dev, "timeout", timeout, "host", key)
	choice := probeKVM(ctx, m, timeout, log)
	if ctx.Err() != nil {
		return AccelChoice{}, fmt.Errorf("qemu: KVM probe: %w", ctx.Err())
	}
	b, _ := json.MarshalIndent(accelVerdict{Accel: choice.Accel, Reason: choice.Reason, Key: key, When: time.Now().UTC()}, "", "  ")
	if err := writeAtomic(file, append(b, '\n'), 0o644); err != nil {
		log.Warn("qemu: cannot cache the accelerator verdict", "err", err)
	}
	return choice, nil
}

func probeKVM(ctx context.Context, m Machine, timeout time.Duration, log *slog.Logger) AccelChoice {
	m.Accel = AccelKVM
	m.ICount = nil
	// The boot stub's early console shows how far a hanging guest got
	// ("early console in setup code" on PVM hosts; printed with "debug").
	m.Append = strings.TrimSpace(m.Append + " earlyprintk=ttyS0 debug")
	pctx, cancel := context.WithTimeout(ctx, timeout+2*time.Second)
	defer cancel()
	t0 := time.Now()
	vm, err := Start(pctx, m, StartOptions{BootTimeout: timeout, Logger: log})
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
				reason += fmt.Sprintf("; QEMU: %q", firstLine(s))
			}
		case errors.As(err, &pe):
			reason += fmt.Sprintf("; the kernel reported %s: %s", pe.Kind, pe.Title)
		default:
			reason += ": " + firstLine(err.Error())
		}
		return AccelChoice{Accel: AccelTCG, Reason: reason}
	}
	took := time.Since(t0)
	_ = vm.Stop(pctx)
	return AccelChoice{Accel: AccelKVM, Reason: fmt.Sprintf("KVM probe: the guest agent was ready under KVM in %v", took.Round(time.Millisecond))}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// lock takes an exclusive flock on path, polling so that ctx ends the wait.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("qemu: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("qemu: lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
