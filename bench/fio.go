package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// FioResult is what a benchmark keeps of one fio run (group_reporting, so
// one job): throughput of the direction the workload used, and latency
// percentiles when fio measured them (not with gtod_reduce=1).
type FioResult struct {
	Version   string  `json:"version"`
	Job       string  `json:"job"`
	IOPS      float64 `json:"iops"`
	BWBytes   float64 `json:"bw_bytes"` // bytes per second
	TotalIOs  int64   `json:"total_ios"`
	RuntimeMS int64   `json:"runtime_ms"`
	// LatencyNS maps a percentile ("50.000000", "99.000000", ...) of the
	// completion latency to nanoseconds; empty when fio did not time I/Os.
	LatencyNS map[string]int64 `json:"latency_ns,omitempty"`
	// Read and Write tell which directions did I/O.
	Read, Write bool `json:"-"`
}

// FioError is a fio run that failed: fio's non-zero exit, a job "error"
// field, unparsable output, or a run that did no I/O. It is never turned
// into zero IOPS.
type FioError struct {
	Job      string // job name, when known
	ExitCode int    // fio's exit code, when it ran (-1 otherwise)
	Errno    int    // the job's "error" field, 0 when none
	Reason   string
	Stderr   string // the tail of fio's stderr
}

// Error names the job, the reason, the exit code, errno and stderr.
func (e *FioError) Error() string {
	var b bytes.Buffer
	b.WriteString("bench: fio")
	if e.Job != "" {
		fmt.Fprintf(&b, " job %s", e.Job)
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	if e.ExitCode > 0 {
		fmt.Fprintf(&b, " (exit %d)", e.ExitCode)
	}
	if e.Errno != 0 {
		fmt.Fprintf(&b, " (error %d)", e.Errno)
	}
	if e.Stderr != "" {
		fmt.Fprintf(&b, ": %s", e.Stderr)
	}
	return b.String()
}

type fioJSON struct {
	Version string       `json:"fio version"`
	Jobs    []fioJobJSON `json:"jobs"`
}

type fioJobJSON struct {
	Name  string      `json:"jobname"`
	Error *int        `json:"error"`
	Read  *fioDirJSON `json:"read"`
	Write *fioDirJSON `json:"write"`
}

type fioDirJSON struct {
	IOPS     float64 `json:"iops"`
	BWBytes  float64 `json:"bw_bytes"`
	TotalIOs int64   `json:"total_ios"`
	Runtime  int64   `json:"runtime"`
	Clat     struct {
		Percentile map[string]json.Number `json:"percentile"`
	} `json:"clat_ns"`
}

// ParseFio parses fio's --output-format=json (or json+) output. Text fio
// prints before the JSON document (warnings such as "fio: clocksource=cpu
// may not be reliable") is skipped. It returns a *FioError when the output
// has no JSON, a job reports an error, or no I/O was done.
func ParseFio(out []byte) (*FioResult, error) {
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return nil, &FioError{ExitCode: -1, Reason: "no JSON in fio output", Stderr: tail(out, 300)}
	}
	var doc fioJSON
	dec := json.NewDecoder(bytes.NewReader(out[i:]))
	if err := dec.Decode(&doc); err != nil {
		return nil, &FioError{ExitCode: -1, Reason: fmt.Sprintf("bad JSON: %v", err), Stderr: tail(out[:i], 300)}
	}
	if len(doc.Jobs) == 0 {
		return nil, &FioError{ExitCode: -1, Reason: "no jobs in fio output"}
	}
	if len(doc.Jobs) > 1 {
		return nil, &FioError{ExitCode: -1, Reason: fmt.Sprintf("%d jobs in fio output; run with --group_reporting", len(doc.Jobs))}
	}
	j := doc.Jobs[0]
	if j.Error == nil {
		return nil, &FioError{Job: j.Name, ExitCode: -1, Reason: `job has no "error" field: not fio JSON output`}
	}
	if *j.Error != 0 {
		return nil, &FioError{Job: j.Name, ExitCode: -1, Errno: *j.Error, Reason: "job failed: " + errnoName(*j.Error)}
	}
	r := &FioResult{Version: doc.Version, Job: j.Name}
	for _, d := range []struct {
		dir  *fioDirJSON
		flag *bool
	}{{j.Read, &r.Read}, {j.Write, &r.Write}} {
		if d.dir == nil || d.dir.TotalIOs == 0 {
			continue
		}
		*d.flag = true
		r.IOPS += d.dir.IOPS
		r.BWBytes += d.dir.BWBytes
		r.TotalIOs += d.dir.TotalIOs
		if d.dir.Runtime > r.RuntimeMS {
			r.RuntimeMS = d.dir.Runtime
		}
		for k, v := range d.dir.Clat.Percentile {
			n, err := v.Int64()
			if err != nil {
				f, ferr := v.Float64()
				if ferr != nil {
					return nil, &FioError{Job: j.Name, ExitCode: -1, Reason: fmt.Sprintf("bad percentile %s=%s", k, v)}
				}
				n = int64(f)
			}
			if r.LatencyNS == nil {
				r.LatencyNS = map[string]int64{}
			}
			if n > r.LatencyNS[k] {
				r.LatencyNS[k] = n
			}
		}
	}
	if r.TotalIOs == 0 {
		return nil, &FioError{Job: j.Name, ExitCode: -1, Reason: "job did no I/O (0 ios)"}
	}
	if !(r.IOPS > 0) {
		return nil, &FioError{Job: j.Name, ExitCode: -1, Reason: fmt.Sprintf("%d ios but IOPS %v", r.TotalIOs, r.IOPS)}
	}
	return r, nil
}

// Percentiles returns the latency percentiles of r, sorted by percentile.
func (r *FioResult) Percentiles() []LatencyPercentile {
	var ps []LatencyPercentile
	for k, v := range r.LatencyNS {
		p, err := strconv.ParseFloat(k, 64)
		if err != nil {
			continue
		}
		ps = append(ps, LatencyPercentile{Percentile: p, NS: v})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Percentile < ps[j].Percentile })
	return ps
}

// LatencyPercentile is one completion-latency percentile.
type LatencyPercentile struct {
	Percentile float64 // 0..100
	NS         int64
}

// checkFioRun turns a finished fio invocation into a result or a
// *FioError: a non-zero exit is an error even when the JSON parses.
func checkFioRun(job string, exit int, stdout, stderr []byte) (*FioResult, error) {
	r, perr := ParseFio(stdout)
	if exit != 0 {
		fe := &FioError{Job: job, ExitCode: exit, Reason: "fio failed", Stderr: tail(stderr, 300)}
		var inner *FioError
		if errors.As(perr, &inner) && inner.Errno != 0 {
			fe.Errno = inner.Errno
			fe.Reason = inner.Reason
		}
		return nil, fe
	}
	if perr != nil {
		var fe *FioError
		if errors.As(perr, &fe) {
			fe.ExitCode = exit
			if fe.Stderr == "" {
				fe.Stderr = tail(stderr, 300)
			}
		}
		return nil, perr
	}
	return r, nil
}

func errnoName(n int) string {
	names := map[int]string{1: "EPERM", 2: "ENOENT", 5: "EIO", 6: "ENXIO", 12: "ENOMEM", 13: "EACCES",
		16: "EBUSY", 19: "ENODEV", 22: "EINVAL", 28: "ENOSPC", 95: "EOPNOTSUPP"}
	if s, ok := names[n]; ok {
		return s
	}
	return "errno " + strconv.Itoa(n)
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}
