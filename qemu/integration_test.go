package qemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/testenv"
)

// testWriter streams the console into t.Logf, line by line.
type testWriter struct {
	t   testing.TB
	buf []byte
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Logf("console: %s", bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
	}
}

// boot starts the tiny Rust kernel under TCG with the given initramfs spec.
func boot(t *testing.T, ctx context.Context, spec InitramfsSpec, mod func(*Machine)) *VM {
	t.Helper()
	kernel := tinyKernel(t)
	spec.CacheDir = testenv.CacheDir(t)
	initrd, err := BuildInitramfs(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	m := Machine{Kernel: kernel, Initramfs: initrd, Accel: AccelTCG}
	if mod != nil {
		mod(&m)
	}
	vm, err := Start(ctx, m, StartOptions{Console: &testWriter{t: t}, CacheDir: testenv.CacheDir(t),
		ConsoleLog: filepath.Join(t.TempDir(), "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted in %v (guest uptime %v): %s", vm.BootTime(), vm.GuestUptime(), ShellCommand(vm.Argv()))
	t.Cleanup(func() {
		_ = vm.Stop(context.Background())
		assertGone(t, vm)
	})
	return vm
}

// assertGone checks that no process of the VM is left: not QEMU's pid,
// and nothing that mentions the VM's agent socket.
func assertGone(t *testing.T, vm *VM) {
	t.Helper()
	select {
	case <-vm.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("QEMU %d still running", vm.Pid())
	}
	if err := syscall.Kill(vm.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("QEMU pid %d still exists (kill 0: %v)", vm.Pid(), err)
	}
	sock := vm.Machine().AgentSocket
	if sock == "" {
		sock = vm.Machine().AgentSerialSocket
	}
	if sock == "" {
		t.Fatal("the VM has no agent socket")
	}
	tmp := filepath.Dir(sock)
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(tmp+"/")) {
			t.Errorf("process %s still runs this VM: %q", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind (%v)", tmp, err)
	}
}

func TestIntegrationRun(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{}, nil)
	if vm.Accel().Accel != AccelTCG {
		t.Errorf("accel %+v", vm.Accel())
	}

	res, err := vm.Run(ctx, "cat", "/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.HasPrefix(string(res.Stdout), "Linux version 7.2") {
		t.Errorf("cat /proc/version: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}

	res, err = vm.Run(ctx, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 42")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 42 || string(res.Stdout) != "to-stdout\n" || string(res.Stderr) != "to-stderr\n" {
		t.Errorf("failing command: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}

	res, err = vm.Run(ctx, "ls", "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "nonexistent") {
		t.Errorf("ls /nonexistent: %d %q", res.ExitCode, res.Stderr)
	}

	var streamed bytes.Buffer
	res, err = vm.Exec(ctx, Command{Argv: []string{"/no/such/program"}, Stderr: &streamed})
	if err != nil {
		t.Fatal(err)
	}
	want := "rflkit-agent: /no/such/program: no such file or directory\n"
	if res.ExitCode != 127 || string(res.Stderr) != want || streamed.String() != want {
		t.Errorf("missing program: exit %d, stderr %q, streamed %q; want %q", res.ExitCode, res.Stderr, streamed.String(), want)
	}

	// Streamed stdin: far beyond the flow-control window, binary, and
	// EOF ends the command.
	in := bytes.Repeat([]byte("stdin \x00\x01\xfe\xff line\n"), 50000)
	res, err = vm.Exec(ctx, Command{Argv: []string{"sh", "-c", "cat; echo end"}, Stdin: bytes.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !bytes.Equal(res.Stdout, append(append([]byte(nil), in...), "end\n"...)) {
		t.Errorf("cat of %d bytes of stdin: exit %d, %d bytes back", len(in), res.ExitCode, len(res.Stdout))
	}
	// A command that reads part of its input ends the run.
	res, err = vm.Exec(ctx, Command{Argv: []string{"head", "-c", "3"}, Stdin: bytes.NewReader(make([]byte, 8<<20))})
	if err != nil || res.ExitCode != 0 || len(res.Stdout) != 3 {
		t.Errorf("head -c 3: %+v %v", res, err)
	}

	res, err = vm.Exec(ctx, Command{Argv: []string{"sleep", "60"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.ExitCode != 128+9 {
		t.Errorf("timeout: %+v", res)
	}

	// The agent mounted what it promised.
	res, err = vm.Run(ctx, "cat", "/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, fs := range []string{" /proc proc", " /sys sysfs", " /dev devtmpfs", " /sys/kernel/config configfs", " /tmp tmpfs"} {
		if !strings.Contains(string(res.Stdout), fs) {
			t.Errorf("/proc/mounts lacks %q:\n%s", fs, res.Stdout)
		}
	}

	// An rnull device through configfs (drivers/block/rnull/configfs.rs).
	res, err = vm.Run(ctx, "sh", "-c", `set -e
cd /sys/kernel/config/rnull
cat features
mkdir r0
echo 4096 > r0/blocksize
echo 1 > r0/power
test -b /dev/r0
cat /sys/block/r0/queue/logical_block_size /sys/block/r0/size`)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("rnull: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	// blocksize 4096; size 4096 MiB = 8388608 sectors of 512 bytes.
	if f := strings.Fields(string(res.Stdout)); len(f) < 3 || f[len(f)-2] != "4096" || f[len(f)-1] != "8388608" {
		t.Errorf("rnull device: %q", res.Stdout)
	}

	if len(vm.Problems()) != 0 {
		t.Errorf("kernel problems: %v", vm.Problems())
	}
	if err := vm.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("Wait after Stop: %v", err)
	}
}

func TestIntegrationFio(t *testing.T) {
	testenv.Integration(t)
	fio := testenv.LookPath(t, "fio")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{Binaries: []string{fio}, Stubs: fioStubs()}, nil)
	res, err := vm.Run(ctx, "fio", "--version")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.HasPrefix(string(res.Stdout), "fio-") {
		t.Fatalf("fio --version: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err = vm.Run(ctx, "sh", "-c", `set -e
mkdir /sys/kernel/config/rnull/r0
echo 1 > /sys/kernel/config/rnull/r0/power
for dev in /dev/nullb0 /dev/r0; do
  fio --name=t --filename=$dev --ioengine=io_uring --direct=1 --rw=randread --bs=4k --iodepth=8 \
      --size=16M --io_size=16M --output-format=terse --terse-version=3 | cut -d';' -f1-3,6-8
done`)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("fio io_uring: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) != 2 {
		t.Fatalf("fio output: %q", res.Stdout)
	}
	for _, l := range lines {
		f := strings.Split(l, ";")
		// terse v3: version;fio;name;...;read_kb;read_bw;read_iops
		if len(f) < 6 || f[3] != "16384" {
			t.Errorf("fio read %q KiB, want 16384 (line %q)", f[3], l)
		}
	}
	t.Logf("fio: %s", res.Stdout)
}

func TestIntegrationSysrqPanic(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{}, nil)
	res, err := vm.Run(ctx, "sh", "-c", "echo c > /proc/sysrq-trigger")
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Run = %v, %v; want *PanicError", res, err)
	}
	if pe.Kind != KindPanic || !pe.Fatal || !strings.Contains(pe.Title, "sysrq triggered crash") ||
		!strings.Contains(pe.Excerpt, "sysrq: Trigger a crash") {
		t.Errorf("panic report %+v", pe)
	}
	if err := vm.Wait(ctx); !errors.As(err, &pe) {
		t.Errorf("Wait = %v, want *PanicError", err)
	}
	assertGone(t, vm)
	// The VM is gone: further commands fail quickly.
	if _, err := vm.Run(ctx, "true"); err == nil {
		t.Error("Run on a dead VM succeeded")
	}
}

func TestIntegrationCancel(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{}, nil)
	done := make(chan error, 1)
	go func() {
		_, err := vm.Run(context.Background(), "sleep", "600")
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run survived the cancellation")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the Start context was cancelled")
	}
	assertGone(t, vm)
}

func TestIntegrationSerialTransport(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{}, func(m *Machine) { m.Transport = TransportSerial })
	// Binary-safe over the UART in raw mode.
	res, err := vm.Exec(ctx, Command{Argv: []string{"cat"}, Stdin: strings.NewReader("a\x00\x03\x11\x13\r\n\xffz")})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "a\x00\x03\x11\x13\r\n\xffz" {
		t.Errorf("cat over ttyS1: %q", res.Stdout)
	}
	// Beyond the flow-control window over the UART.
	in := bytes.Repeat([]byte("serial\x00\x03\x11\x13\r\n"), 20000)
	res, err = vm.Exec(ctx, Command{Argv: []string{"cat"}, Stdin: bytes.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Stdout, in) {
		t.Errorf("cat of %d bytes over ttyS1: %d bytes back", len(in), len(res.Stdout))
	}
}

func TestIntegrationAccelProbe(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kernel := tinyKernel(t)
	cache := t.TempDir()
	initrd, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	m := Machine{Kernel: kernel, Initramfs: initrd}
	t0 := time.Now()
	c, err := ChooseAccel(ctx, m, ProbeOptions{CacheDir: cache, Timeout: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verdict after %v: %+v", time.Since(t0), c)
	if c.Cached || c.Reason == "" || (c.Accel != AccelKVM && c.Accel != AccelTCG) {
		t.Errorf("first verdict %+v", c)
	}
	if _, err := os.Stat("/dev/kvm"); err == nil && c.Accel == AccelTCG && !strings.Contains(c.Reason, "KVM") {
		t.Errorf("TCG chosen with /dev/kvm present but the reason does not say why: %q", c.Reason)
	}
	c2, err := ChooseAccel(ctx, m, ProbeOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Cached || c2.Accel != c.Accel {
		t.Errorf("second verdict %+v, want the cached %s", c2, c.Accel)
	}
	// The verdict is used by Start with Accel "" and the guest works.
	vm, err := Start(ctx, m, StartOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop(ctx)
	if vm.Accel().Accel != c.Accel || !vm.Accel().Cached {
		t.Errorf("Start chose %+v", vm.Accel())
	}
	if res, err := vm.Run(ctx, "true"); err != nil || res.ExitCode != 0 {
		t.Errorf("true: %v %v", res, err)
	}
}

// SMP guests: SeaBIOS hands a kernel without ACPI only the boot CPU, which
// Start reports; qboot gives it every CPU (and the agent moves to ttyS1,
// as virtio-pci gets no interrupt there).
func TestIntegrationSMP(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	vm := boot(t, ctx, InitramfsSpec{}, func(m *Machine) { m.CPUs = 2; m.BIOS = QBootROM })
	res, err := vm.Run(ctx, "nproc")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(res.Stdout)) != "2" || vm.GuestCPUs() != 2 {
		t.Errorf("nproc %q, GuestCPUs %d, want 2", res.Stdout, vm.GuestCPUs())
	}

	initrd, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, Machine{Kernel: tinyKernel(t), Initramfs: initrd, Accel: AccelTCG, CPUs: 2}, StartOptions{})
	var ge *GuestError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "1 of 2 vCPUs") {
		t.Errorf("SeaBIOS with 2 CPUs: %v, want the vCPU error", err)
	}
}

// With the real QEMU: a file that is not a kernel fails under KVM and
// under TCG; that is not a verdict on KVM and nothing is cached, while
// the real kernel then gets its own probe.
func TestIntegrationAccelProbeGarbageKernel(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cache := t.TempDir()
	initrd, err := BuildInitramfs(ctx, InitramfsSpec{CacheDir: testenv.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "bzImage")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a kernel\n"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := ProbeOptions{CacheDir: cache, Timeout: 8 * time.Second, ConfirmTimeout: time.Minute}
	c, err := ChooseAccel(ctx, Machine{Kernel: garbage, Initramfs: initrd}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("garbage kernel: %+v", c)
	if c.Accel != AccelTCG || c.Cached || !strings.Contains(c.Reason, "not cached") {
		t.Errorf("garbage kernel: %+v", c)
	}
	if files, _ := filepath.Glob(filepath.Join(cache, "qemu", "*.json")); len(files) != 0 {
		t.Errorf("verdicts cached for a garbage kernel: %q", files)
	}
	// Start with auto returns QEMU's own complaint, first.
	_, err = Start(ctx, Machine{Kernel: garbage, Initramfs: initrd}, StartOptions{CacheDir: cache, Probe: opts})
	var ge *GuestError
	if !errors.As(err, &ge) || !ge.Exited || !strings.HasPrefix(err.Error(), "qemu: boot: QEMU exited (exit status 1): qemu") {
		t.Errorf("Start of a garbage kernel: %v", err)
	}
	t.Logf("Start: %v", err)
	c, err = ChooseAccel(ctx, Machine{Kernel: tinyKernel(t), Initramfs: initrd}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cached || !strings.Contains(c.Reason, "KVM probe") {
		t.Errorf("the real kernel after a garbage one: %+v, want its own probe", c)
	}
}
