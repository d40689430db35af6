// Package tcgplugin counts, with a QEMU TCG plugin, the guest instructions
// each kernel function executes and how often it is entered, and turns
// snapshots of those counts into instructions per operation, function by
// function.
//
// # What the plugin counts
//
// The plugin (csrc/insncount.c, embedded; Build compiles it with the
// host's C compiler) reads a map of the kernel's functions: address
// ranges made from the build's System.map by ReadSystemMap and
// SymbolTable.WriteMap. When QEMU translates a block of guest code, the
// plugin looks up every instruction's function (a binary search) and has
// QEMU add 1 to that function's instruction counter each time the
// instruction executes (an inline addition, no call). The first
// instruction of a function also adds 1 to its entry counter: entries are
// calls, plus any jump back to a function's first instruction.
// Instructions below the first function (on x86_64: all of user space)
// count in the "user" bucket, kernel addresses no function holds
// (modules, the gaps between text sections) in "unknown".
//
// It counts per instruction, not per translation block: QEMU's
// instruction count of a block can include an instruction that crosses a
// page boundary and that the block does not execute, so adding a
// block's count at each execution over-counts (by 7 instructions per I/O
// over a kernel, measured, and depending on the layout).
//
// # Snapshots and windows
//
// The counters are cumulative from QEMU's start. The plugin writes all
// non-zero ones to its output file (a snapshot) each time the guest
// executes the trigger instruction (Plugin.Trigger: the first instruction
// of a function nothing else runs during a measurement, such as
// ksys_sync, which the guest enters when it runs `sync`), and once more
// when QEMU exits. Each snapshot is flushed, so the file can be read
// while the guest runs. SymbolTable.Diff subtracts two snapshots: the
// window between them holds everything the vCPU executed from one trigger
// to the next, the workload and all else: the shell that started it, its
// start-up and exit, timer interrupts, kernel threads, the guest agent,
// and exactly one execution of the trigger instruction. PerOp takes two
// windows of the same workload with N and 2N operations and returns
// (W_2N − W_N)/N per function: what the windows share (start-up, exit,
// the shell, the sync) cancels, and the cost of one operation remains.
//
// Measured with the 7.2 tiny kernel, 1 vCPU, -icount shift=0,sleep=off,
// -cpu qemu64 (TestIntegrationKnownAnswer): `dd if=/dev/zero of=/dev/null
// bs=512`, with N = 50000 and 100000, costs vfs_read 47.00, ksys_read
// 54.00, read_zero 29.00 instructions per read+write pair in both
// differencings, and vfs_read is entered exactly N more times in the 2N
// window; the whole kernel costs about 708 per pair, the two
// differencings agreeing within 0.3% (fixed costs such as page faults at
// exec differ a little between windows).
//
// # What these numbers are, and are not
//
// They are counts of guest instructions as QEMU executes them, not
// cycles or time: TCG is not bare metal. It models no caches, no branch
// prediction, no pipeline and no memory latency, so two code paths with
// the same instruction count can differ widely on hardware, and a change
// that saves instructions may cost time. Report them as instruction
// counts, beside wall-clock measurements. Also:
//
//   - The CPU model (-cpu) decides which alternatives the kernel patches
//     in (rep stos or a loop for clear_user, for example): pin it.
//   - Without -icount shift=0,sleep=off the guest's clocksource changes
//     and time-dependent paths change with it; keep it on (qemu.ICount).
//   - QEMU's x86 translator runs each iteration of a rep-prefixed string
//     instruction as one execution of it: such an instruction counts once
//     per iteration (as -icount counts it).
//   - An instruction that raises an exception and is executed again (a
//     page fault, an I/O access QEMU restarts under -icount) is counted
//     at each attempt.
//   - The inline additions are not atomic: with more than one vCPU the
//     counts are approximate (Snapshot.VCPUs says how many there were).
//   - System.map's addresses must be the run-time ones: a kernel without
//     RANDOMIZE_BASE (the tiny kernel has no RELOCATABLE).
//
// # QEMU versions
//
// The plugin is written against QEMU's plugin API version 1, the one
// QEMU 7.2 (Debian bookworm) implements; Debian ships no qemu-plugin.h, so
// the source declares the few functions it uses itself. QEMU resolves
// them from its own binary. The plugin checks the versions QEMU reports
// (qemu_info_t: minimum and current) and refuses to run, with a message
// on stderr and in QEMU's log (qemu_plugin_outs, seen with -d plugin),
// where version 1 is not among them. Newer QEMU (9.x, 10.x in trixie)
// raised the minimum above 1 and refuses the plugin itself.
//
// QEMU 7.2 passes each key=value of "-plugin PATH,key=value,..." to the
// plugin as one argument ("map=/run/k.map"); Plugin.QEMUArgs doubles the
// commas in paths, QEMU's escape. Its arguments are map=PATH and out=PATH
// (required) and trigger=ADDR (optional, 0x for hex). A problem with them
// or the map makes QEMU exit with status 1 before the guest starts, with
// the plugin's message ("insncount: map PATH: line 3: ...") on stderr,
// which qemu.Start's error carries.
//
// # The map file
//
// SymbolTable.WriteMap writes, and the plugin and ReadMap read:
//
//	rflkit-insncount-map 1 COUNT
//	START END ID
//	...
//
// The first line names the format, its version (1) and the number of
// range lines that follow (1..10000000). Each range line is:
//
//   - START: the function's first address, hexadecimal, no 0x;
//   - END: the first address after it, hexadecimal, above START;
//   - ID: the function's id, decimal, 0..2^31-1 (SymbolTable writes
//     Func.ID, its index).
//
// Lines are sorted by START and do not overlap; an address between one
// line's END and the next line's START belongs to no function.
//
// # The output file
//
// The plugin writes, and ParseOutput reads:
//
//	rflkit-insncount 1 functions=COUNT vcpus=V
//	snapshot INDEX REASON
//	user INSNS
//	unknown INSNS
//	ID INSNS ENTRIES
//	...
//	end INDEX
//	snapshot INDEX+1 REASON
//	...
//
// The header names the format and its version (1), then key=value
// fields: functions, the number of ranges in the map; vcpus, the
// guest's vCPUs (1 outside system emulation). A reader ignores other
// keys. Then come snapshots, each:
//
//   - "snapshot INDEX REASON": INDEX counts from 0 in the file; REASON is
//     "trigger" (the guest executed the trigger instruction) or "exit"
//     (QEMU exited, normally the last snapshot);
//   - "user INSNS", "unknown INSNS": the two buckets' instruction counts;
//   - one "ID INSNS ENTRIES" line per function whose counters are not both
//     zero: the map's ID, its instructions and entries, in map order;
//   - "end INDEX": the snapshot is complete. A file that ends inside a
//     snapshot was cut short (QEMU killed while writing it).
//
// All counts are decimal and cumulative since QEMU started.
package tcgplugin
