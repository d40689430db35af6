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
// The console (ttyS0 on x86_64, on QEMU's stdout) is streamed to
// StartOptions.Console and ConsoleLog and scanned line by line: Oops, BUG,
// WARN, general protection faults, hung tasks, Rust panics and "Kernel
// panic - not syncing" become a *PanicError with the relevant excerpt.
// Guests run with panic=-1 oops=panic, so a fatal problem ends the run at
// once.
//
// # Accelerator
//
// Accel "" (or "auto") is decided by ChooseAccel: KVM only when a guest
// really boots under it (a bounded probe), else TCG. A Machine with ICount
// gets TCG without a probe. Verdicts are cached under <CacheDir>/qemu/,
// one per host (kernel release, kvm modules), QEMU binary (path, size,
// modification time, version) and kernel content (with the machine type,
// CPU model and firmware), so each kernel is probed once. A failed KVM
// probe is not yet a verdict: it is confirmed by booting the same machine
// under TCG (Start's own boot is that confirmation; ChooseAccel boots once
// more), and only a kernel that boots under TCG gets "TCG" cached. A
// kernel that fails under both is broken, says nothing about KVM, and is
// not cached. On PVM hosts (kvm_pvm) a stock kernel hangs after "early
// console in setup code": the probe times out, the TCG boot works, and TCG
// is cached for that kernel.
//
// # Architecture
//
// Machine.Arch ("" = x86_64) picks the QEMU binary, the default machine
// type and the console device from internal/karch's table
// (qemu-system-x86_64, pc, ttyS0 for x86_64; qemu-system-aarch64, virt,
// ttyAMA0 for arm64); an architecture the table has no QEMU machine for is
// an error from Argv and Check. The boot-shortening kernel parameters are
// per architecture too (FastBootArgsArch, a table keyed by SRCARCH): the
// PC's i8042 and timer words on x86_64, none on arm64 virt, which has
// neither an i8042 nor an APIC. Stub libraries (InitramfsSpec.Stubs) are
// written for the ELF machine of the library they replace, so an arm64
// fio from a sysroot gets aarch64 stubs (8.9 MiB initramfs instead of 84).
//
// # Machine type, firmware and boot time
//
// Measured with the tiny 7.2 Rust kernel (tinyconfig + the internal/fragment
// fragment) under TCG on a shared 2-CPU host (scripts/boot-time, 5-10
// interleaved boots per setup): with the defaults, 1.6-1.9 s median from
// Start to the first command's result at load 2.5-3.5 and 2.8 s at load 6
// (1.35-1.5 s in single runs on a quieter host); the guest's uptime is
// 0.55-0.8 s when the agent is ready. The rest is QEMU, the firmware and
// the kernel's decompressor. Without the i8042 and APIC timer parameters
// (FastBootArgsFor): 1.18x; with fio in the initramfs: 9.9 MB with stubs
// (1.07x), 93 MB without (1.37x).
//
//   - The default is "pc" with SeaBIOS and the agent on virtio-serial; q35
//     and qboot were not measurably faster (within the run-to-run noise of a
//     shared host). The time before the kernel's clock starts is mostly the
//     XZ decompression of the kernel (CONFIG_KERNEL_XZ, tinyconfig's
//     choice): 0.7 s from "early console in setup code" to "Linux version"
//     at load 6, 2.5 s at load 16; SeaBIOS takes 0.1-0.3 s. KERNEL_LZ4 (or
//     KERNEL_UNCOMPRESSED) would remove most of it.
//   - qboot (QBootROM) boots the kernel but gives no PCI interrupt routing
//     to a kernel without ACPI, so virtio-pci devices get no interrupts
//     ("can't find IRQ for PCI INT A"); with Transport "auto" the agent
//     sees that its virtio device never interrupted and takes ttyS1 at
//     once. A kernel with CONFIG_PCI_MSI would let virtio-pci work too.
//   - SeaBIOS's MP table lists only the boot CPU to a kernel without ACPI:
//     with CPUs > 1 such a guest runs on one CPU, which Start reports as an
//     error. qboot's MP table lists every CPU: use BIOS: QBootROM for SMP
//     guests of tiny kernels.
//   - microvm boots this kernel (its qboot does the linuxboot) but has a
//     single UART and no PCI, so there is no channel for the agent: it
//     needs CONFIG_VIRTIO_MMIO and CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES (QEMU
//     passes virtio_mmio.device= for microvm), and CONFIG_PVH to skip the
//     firmware and the decompressor altogether (-kernel vmlinux).
//   - The default command line skips the i8042 probes (~0.1 s) and, under
//     TCG (with or without -icount), the local APIC timer's calibration
//     (noapictimer) and the IO-APIC timer check (no_timer_check): see
//     FastBootArgsFor. Measured on the tiny kernel, TCG, 1 vCPU, 3 boots
//     each, Start to the first command's result: under -icount shift=0
//     24.7, 29.2 and 25.2 s without noapictimer (guest uptime 0.26 s at
//     the first command), 2.3, 4.8 and 1.7 s with it (0.05 s), as the
//     calibration loop burns guest instructions, which are guest time;
//     under plain TCG 2.1, 2.0 and 3.3 s against 2.0, 3.5 and 1.5 s, as
//     the timer fails its verification there anyway ("Disabling APIC
//     timer" in both). The IO-APIC check fails at random under TCG on a
//     loaded host and panics the kernel ("IO-APIC + timer doesn't
//     work!"). So every TCG guest runs on the PIT tick. Under KVM neither
//     parameter is added.
//   - The initramfs is an uncompressed cpio (nothing to decompress);
//     replacing fio's unused libraries by stubs (InitramfsSpec.Stubs; nil
//     means none, bench.FioStubs lists fio's) takes it from 93 MB to
//     10 MB.
package qemu
