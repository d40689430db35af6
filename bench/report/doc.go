// Package report presents what package bench measured: a plain-text table
// (WriteTable) and a markdown report (WriteMarkdown) of an Analysis, its
// summary lines (Summary), the Go benchmark format for benchstat
// (WriteBenchfmt), per-arm distribution plots as SVG and PNG (Plot, drawn
// with gonum), and WriteAll, which writes every output file of a run into
// one directory.
//
// It is apart from package bench so that a program that only runs
// workloads, parses fio's JSON or analyses results does not link gonum and
// its fonts. The files WriteAll writes are described field by field in
// doc/metadata.md.
package report
