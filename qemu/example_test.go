package qemu_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rflkit/rflkit/qemu"
)

// A Machine is data: its command line can be inspected, logged and pasted
// into a shell without starting anything.
func ExampleMachine_Argv() {
	m := qemu.Machine{
		Kernel:    "/build/arch/x86/boot/bzImage",
		Initramfs: "/cache/initramfs/agent.cpio",
		Accel:     qemu.AccelTCG,
		ICount:    &qemu.ICount{Shift: 0},
		Append:    "rflkit.example=1",
	}
	argv, err := m.Argv()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.ReplaceAll(qemu.ShellCommand(argv), " -", " \\\n  -"))
	// Output:
	// qemu-system-x86_64 \
	//   -nodefaults \
	//   -no-user-config \
	//   -display none \
	//   -no-reboot \
	//   -machine pc \
	//   -accel tcg \
	//   -smp 1 \
	//   -m 256 \
	//   -icount shift=0,sleep=off \
	//   -kernel /build/arch/x86/boot/bzImage \
	//   -initrd /cache/initramfs/agent.cpio \
	//   -append 'console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd i8042.noaux noapictimer no_timer_check rflkit.example=1' \
	//   -chardev stdio,id=con,signal=off \
	//   -serial chardev:con
}

// Recognise finds kernel problem reports in a console log.
func ExampleRecognise() {
	log := `Run /init as init process
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
Kernel Offset: disabled
`
	for _, p := range qemu.Recognise(log) {
		fmt.Printf("%s (fatal %v): %s\n", p.Kind, p.Fatal, p.Title)
	}
	// Output:
	// panic (fatal true): Kernel panic - not syncing: sysrq triggered crash
}

// Boot a kernel, run a command in the guest and power it off. (Not run by
// go test: it needs a kernel; see TestIntegrationRun.)
func ExampleStart() {
	ctx := context.Background()
	// fio with stubs for the libraries of ioengines it will not use (the
	// list bench.FioStubs returns): 10 MB instead of 93 MB.
	initrd, err := qemu.BuildInitramfs(ctx, qemu.InitramfsSpec{
		Binaries: []string{"/usr/bin/fio"},
		Stubs: []string{"libgfapi.so.0", "libnbd.so.0", "libibverbs.so.1", "librdmacm.so.1",
			"librados.so.2", "librbd.so.1", "libpmemblk.so.1", "libpmem.so.1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	vm, err := qemu.Start(ctx, qemu.Machine{Kernel: "arch/x86/boot/bzImage", Initramfs: initrd}, qemu.StartOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vm.Stop(ctx)
	res, err := vm.Run(ctx, "fio", "--version")
	var pe *qemu.PanicError
	switch {
	case errors.As(err, &pe):
		fmt.Printf("kernel %s:\n%s\n", pe.Kind, pe.Excerpt)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Printf("exit %d: %s", res.ExitCode, res.Stdout)
	}
}
