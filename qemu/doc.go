// Package qemu boots a built kernel in QEMU, runs commands in the guest
// through rflkit's agent, and watches the console for kernel problems.
//
// A Machine is a value; Machine.Argv maps it to QEMU's command line
// without side effects, and ShellCommand turns that into a line to paste
// in a shell. Start boots a Machine with the agent as /init (from
// BuildInitramfs), waits for the agent's ready message and returns a VM;
// VM.Run executes a command in the guest and returns its stdout, stderr
// and exit code; VM.Stop powers the guest off (reboot(2) with QEMU's
// -no-reboot, as tiny kernels have no ACPI) and VM.Wait waits for the end.
// QEMU runs in its own process group, is killed when the Start context is
// cancelled, and gets SIGKILL if the calling process dies.
//
// The console (ttyS0, on QEMU's stdout) is streamed to StartOptions.Console
// and ConsoleLog and scanned line by line: Oops, BUG, WARN, general
// protection faults, hung tasks, Rust panics and "Kernel panic - not
// syncing" become a *PanicError with the relevant excerpt. Guests run with
// panic=-1 oops=panic, so a fatal problem ends the run at once.
//
// # Accelerator
//
// Accel "" (or "auto") is decided by ChooseAccel: KVM only when a guest
// really boots under it (a bounded probe, cached per host), else TCG. On
// PVM hosts (kvm_pvm) a stock kernel hangs after "early console in setup
// code" and the probe falls back to TCG.
//
// # Machine type and firmware
//
// Measured with the tiny 7.2 Rust kernel under TCG (scripts/boot-time):
// "pc" with qboot (QBootROM) is the fastest combination that works; microvm
// needs a kernel with CONFIG_VIRTIO_MMIO and CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES
// (for the agent's virtio-serial port) and, for direct kernel boot without
// firmware, CONFIG_PVH.
package qemu
