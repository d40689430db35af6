// Package bench is rflkit's end-to-end benchmark: the C null_blk driver
// against the Rust rnull driver, and RUST_INLINE_HELPERS on against off,
// measured with fio in QEMU guests, with statistics that respect how the
// data was gathered.
//
// The pieces:
//
//   - Workload is one fio job as typed values; FioArgs gives fio's argv
//     with the options of the published fio matrix (io_uring, direct,
//     gtod_reduce, lfsr, fixedbufs, json+ ...). PresetByName gives the
//     "published" set (120 workloads), "default" (minutes), "pilot" (to
//     size a run) and "quick" (CI). ParseFio reads fio's JSON; a failed run is a *FioError, never
//     zero IOPS.
//   - Device creates null_blk and rnull devices through configfs with
//     matched parameters, sets the scheduler to none, checks them before
//     every run and removes them afterwards.
//   - Experiment runs a seeded schedule of boots (the unit of repetition):
//     kernels alternate in random order, both drivers run alternately in
//     every boot, warm-up runs are kept but marked. Each boot is either a
//     plain TCG boot (wall-clock IOPS, noisy) or an -icount shift=0 boot,
//     where fio's IOPS give guest instructions per I/O (the boot means of
//     an arm spread by 0.02-0.06%: device state and page-allocator state
//     differ from device to device and run to run). Results holds
//     everything (raw samples, boot ids, kernel and toolchain metadata,
//     QEMU argv, seed) and is re-analysable.
//   - In -icount boots QEMUBoot loads the instruction-counting TCG plugin
//     (qemu/tcgplugin) with the kernel's System.map and ksys_sync as the
//     trigger, and pins -cpu. Each step then runs, in one guest command,
//     `sync; fio --number_ios=N; sync; fio --number_ios=2N; sync`, and the
//     difference of the two windows over N·numjobs is the cost of one
//     I/O, function by function (Sample.Plugin, PluginSample). The
//     driver's queue_rq must be entered exactly once more per request in
//     the larger window, or the sample fails with its reason. FuncGroup
//     sums functions into groups by name (driver, rust_helper_*, blk-mq,
//     io_uring, kernel, user, path); the measures driver_insns_per_io,
//     kernel_insns_per_io, path_insns_per_io and helper_calls_per_io
//     carry the conclusions, the fio-derived instr/io is secondary, and
//     DiffProfile compares two arms function by function. These are
//     instruction counts, not cycles: TCG is not bare metal.
//   - Analyze computes per-arm medians and means, the ratio between arms
//     with a 95% bootstrap interval over boots (RatioCI), a Mann-Whitney U
//     test on boot means, and warnings for multimodal samples and for
//     intervals wider than the effect in question (2% for helpers, 5% for
//     Rust vs C).
//   - The design sees its own variance: each boot holds Preset.Instances
//     device instances (configfs devices created afresh, each running
//     every workload), and EstimateComponents splits an arm's spread into
//     boot, instance and run variance (ArmStats.Components). From them
//     and the measured cost of each level (MeasuredCosts) the analysis
//     sizes the next run (Analysis.Design: Kalibera & Jones'
//     OptimalPerUpper per level, BootsFor for a target half-width), and
//     measures what a warm-up run would absorb (ArmStats.FirstRun). The
//     "pilot" preset repeats every level so that all three separate. An
//     Experiment with a StopRule stops between rounds once its intervals
//     are narrow enough or its time budget is spent.
//
// Presentation is package bench/report: tables, the markdown report,
// benchstat input, plots (gonum) and the files of a run (report.WriteAll).
// This package links none of it, so a program that only parses fio's JSON
// or analyses results stays small.
//
// QEMUBoot connects an Experiment to the qemu package, with an initramfs
// holding fio whose unused libraries (FioStubs) are stubbed; the command
// examples/nullblk-bench composes toolchain, kbuild, qemu, this package and
// bench/report into the main job. The layout of results.json is described
// field by field in doc/metadata.md.
package bench
