package tcgplugin_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/rflkit/rflkit/qemu"
	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// From a System.map to instructions per read: the plugin's arguments, then
// its output after `sync; dd count=2; sync; dd count=4; sync` in the
// guest, differenced into the cost of one read.
func Example() {
	const systemMap = `ffffffff81000000 T _stext
ffffffff81000000 T vfs_read
ffffffff81000100 T ksys_read
ffffffff81000180 T ksys_sync
ffffffff81000200 T _etext
ffffffff81200000 D __start_rodata
`
	tab, err := tcgplugin.ReadSystemMap(strings.NewReader(systemMap))
	if err != nil {
		fmt.Println(err)
		return
	}
	sync, _ := tab.Addr("ksys_sync")
	p := tcgplugin.Plugin{Path: "/cache/insncount.so", Map: "/run/kernel.map", Out: "/run/counts.txt", Trigger: sync}
	fmt.Printf("%q\n", p.QEMUArgs())

	// What the plugin wrote: one snapshot per sync, counters cumulative.
	const out = `rflkit-insncount 1 functions=3 vcpus=1
snapshot 0 trigger
user 5000
0 1000 20
1 1200 20
2 5 1
end 0
snapshot 1 trigger
user 6000
0 1235 25
1 1470 25
2 10 2
end 1
snapshot 2 trigger
user 7200
0 1564 32
1 1848 32
2 15 3
end 2
`
	snaps, err := tcgplugin.ParseOutput(strings.NewReader(out))
	if err != nil {
		fmt.Println(err)
		return
	}
	w2, _ := tab.Diff(snaps[0], snaps[1]) // 2 reads
	w4, _ := tab.Diff(snaps[1], snaps[2]) // 4 reads
	op, err := tcgplugin.PerOp(w2, w4, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range op.Top(-1) {
		fmt.Printf("%s: %.0f instructions, %.0f entries per read\n", f.Key, f.Insns, f.Entries)
	}
	fmt.Printf("kernel: %.0f instructions per read, user space: %.0f\n", op.Kernel, op.User)
	// Output:
	// ["-plugin" "/cache/insncount.so,map=/run/kernel.map,out=/run/counts.txt,trigger=0xffffffff81000180"]
	// ksys_read: 54 instructions, 1 entries per read
	// vfs_read: 47 instructions, 1 entries per read
	// kernel: 101 instructions per read, user space: 100
}

// The whole flow with a real guest: build the plugin, write the map, boot
// with -icount and the plugin, run the workload between syncs, read the
// snapshots. (Not run: it needs QEMU and a kernel.)
func Example_guest() {
	ctx := context.Background()
	const vmlinuxDir = "/build/out" // the kernel's O= directory
	f, err := os.Open(vmlinuxDir + "/System.map")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	tab, err := tcgplugin.ReadSystemMap(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	so, err := tcgplugin.Build(ctx, tcgplugin.BuildOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	trigger, _ := tab.Addr("ksys_sync")
	p := tcgplugin.Plugin{Path: so, Map: "/tmp/kernel.map", Out: "/tmp/counts.txt", Trigger: trigger}
	if err := tab.WriteMapFile(p.Map); err != nil {
		fmt.Println(err)
		return
	}
	vm, err := qemu.Start(ctx, qemu.Machine{
		Kernel: vmlinuxDir + "/arch/x86/boot/bzImage", Accel: qemu.AccelTCG,
		ICount: &qemu.ICount{Shift: 0}, CPU: "qemu64", ExtraArgs: p.QEMUArgs(),
	}, qemu.StartOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vm.Stop(ctx)
	const dd = "dd if=/dev/zero of=/dev/null bs=512 2>/dev/null count="
	if _, err := vm.Run(ctx, "sh", "-c", "sleep 1; sync; "+dd+"1000; sync; "+dd+"2000; sync"); err != nil {
		fmt.Println(err)
		return
	}
	out, err := os.Open(p.Out)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Close()
	snaps, err := tcgplugin.ParseOutput(out)
	if err != nil || len(snaps) < 3 {
		fmt.Println(len(snaps), err)
		return
	}
	wN, _ := tab.Diff(snaps[0], snaps[1])
	w2N, _ := tab.Diff(snaps[1], snaps[2])
	op, _ := tcgplugin.PerOp(wN, w2N, 1000)
	fmt.Printf("vfs_read: %.2f instructions per read\n", op.Funcs["vfs_read"].Insns)
}
