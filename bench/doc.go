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
//     "published" set (120 workloads), "default" (minutes) and "quick"
//     (CI). ParseFio reads fio's JSON; a failed run is a *FioError, never
//     zero IOPS.
//   - Device creates null_blk and rnull devices through configfs with
//     matched parameters, sets the scheduler to none, checks them before
//     every run and removes them afterwards.
//   - Experiment runs a seeded schedule of boots (the unit of repetition):
//     kernels alternate in random order, both drivers run alternately in
//     every boot, warm-up runs are kept but marked. Each boot is either a
//     plain TCG boot (wall-clock IOPS, noisy) or an -icount shift=0 boot,
//     where fio's IOPS give guest instructions per I/O, reproducible to
//     ~0.01%. Results holds everything (raw samples, boot ids, kernel and
//     toolchain metadata, QEMU argv, seed) and is re-analysable.
//   - Analyze computes per-arm medians and means, the ratio between arms
//     with a 95% bootstrap interval over boots (RatioCI), a Mann-Whitney U
//     test on boot means, and warnings for multimodal samples and for
//     intervals wider than the effect in question (2% for helpers, 5% for
//     Rust vs C).
//   - WriteTable, WriteMarkdown, WriteBenchfmt (for benchstat) and Plot
//     (SVG and PNG) present the analysis.
//
// QEMUBoot connects an Experiment to the qemu package; the command
// examples/nullblk-bench composes toolchain, kbuild, qemu and this package
// into the main job.
package bench
