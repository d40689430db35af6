package bench

// Exports for the external tests (package bench_test).
var (
	CheckFioRun = checkFioRun
	Tail        = tail
)
