// Package benchtest is a fake laboratory for the tests of package bench and
// of its presentation, bench/report: a BootFunc whose guests imitate the
// configfs devices and fio, with instructions per I/O drawn from a known
// model (TrueInstr), so that tests can run whole experiments in
// milliseconds and check that the analysis recovers the model.
package benchtest
