package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The testdata files are real fio 3.33 output captured in the 7.2 tiny
// Rust guest (TCG and -icount shift=0,sleep=off).
func TestParseFioReal(t *testing.T) {
	cases := []struct {
		file    string
		iops    float64
		ios     int64
		bw      float64
		read    bool
		write   bool
		version string
		hasLat  bool
	}{
		{"fio-nullblk-randread-4k-qd32-tcg.json", 88103.930713, 264488, 360915997, true, false, "fio-3.33", false},
		{"fio-rnull-randread-4k-qd32-icount.json", 199771.409530, 599514, 0, true, false, "fio-3.33", false},
		{"fio-rnull-randwrite-32k-qd8-nj2-tcg.json", 59070.89366, 0, 0, false, true, "fio-3.33", false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r, err := ParseFio(readTestdata(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.IOPS != c.iops {
				t.Errorf("IOPS = %v, want %v", r.IOPS, c.iops)
			}
			if c.ios != 0 && r.TotalIOs != c.ios {
				t.Errorf("TotalIOs = %d, want %d", r.TotalIOs, c.ios)
			}
			if c.bw != 0 && r.BWBytes != c.bw {
				t.Errorf("BWBytes = %v, want %v", r.BWBytes, c.bw)
			}
			if r.Read != c.read || r.Write != c.write {
				t.Errorf("Read, Write = %v, %v; want %v, %v", r.Read, r.Write, c.read, c.write)
			}
			if r.Version != c.version {
				t.Errorf("Version = %q", r.Version)
			}
			if (len(r.LatencyNS) > 0) != c.hasLat {
				t.Errorf("latency percentiles = %v, want present=%v", r.LatencyNS, c.hasLat)
			}
			// IOPS x block size ~ bandwidth for every run.
			if r.BWBytes <= 0 || r.RuntimeMS <= 0 {
				t.Errorf("BW %v runtime %d", r.BWBytes, r.RuntimeMS)
			}
		})
	}
}

func TestParseFioLatency(t *testing.T) {
	r, err := ParseFio(readTestdata(t, "fio-nullblk-randread-4k-qd32-lat-icount.json"))
	if err != nil {
		t.Fatal(err)
	}
	ps := r.Percentiles()
	if len(ps) < 10 {
		t.Fatalf("want the clat percentiles, got %v", ps)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Percentile <= ps[i-1].Percentile || ps[i].NS < ps[i-1].NS {
			t.Fatalf("percentiles not monotonic: %v", ps)
		}
	}
	if ps[0].NS <= 0 {
		t.Errorf("p%v = %d ns", ps[0].Percentile, ps[0].NS)
	}
}

func TestParseFioErrors(t *testing.T) {
	good := readTestdata(t, "fio-nullblk-randread-4k-qd32-tcg.json")
	cases := map[string][]byte{
		"job error (real: nonexistent device)": readTestdata(t, "fio-error-nonexistent.json"),
		"empty":                                nil,
		"text only":                            []byte("fio: pid=0, err=22/file:filesetup.c:1155, func=total_file_size, error=Invalid argument\n"),
		"truncated":                            good[:len(good)/2],
		"no jobs":                              []byte(`{"fio version":"fio-3.33","jobs":[]}`),
		"zero ios":                             []byte(`{"jobs":[{"jobname":"w","error":0,"read":{"iops":0,"total_ios":0},"write":{"iops":0,"total_ios":0}}]}`),
		"no error field":                       []byte(`{"jobs":[{"jobname":"w","read":{"iops":5,"total_ios":5}}]}`),
		"two jobs":                             []byte(`{"jobs":[{"jobname":"a","error":0},{"jobname":"b","error":0}]}`),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := ParseFio(in)
			var fe *FioError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFio = %+v, %v; want a *FioError", r, err)
			}
			if r != nil {
				t.Errorf("result %+v with error", r)
			}
		})
	}
	r, err := ParseFio(readTestdata(t, "fio-error-nonexistent.json"))
	var fe *FioError
	if !errors.As(err, &fe) || fe.Errno != 22 || !strings.Contains(err.Error(), "EINVAL") {
		t.Errorf("nonexistent device: %+v, %v; want errno 22 EINVAL", r, err)
	}
}

func TestParseFioSkipsWarnings(t *testing.T) {
	in := append([]byte("fio: clocksource=cpu may not be reliable\n"), readTestdata(t, "fio-rnull-randread-4k-qd32-tcg.json")...)
	r, err := ParseFio(in)
	if err != nil || r.IOPS != 92376.207931 {
		t.Fatalf("ParseFio = %+v, %v", r, err)
	}
}

func TestCheckFioRunExit(t *testing.T) {
	good := readTestdata(t, "fio-rnull-randread-4k-qd32-tcg.json")
	if _, err := checkFioRun("w", 0, good, nil); err != nil {
		t.Fatal(err)
	}
	_, err := checkFioRun("w", 1, good, []byte("fio: something broke"))
	var fe *FioError
	if !errors.As(err, &fe) || fe.ExitCode != 1 || !strings.Contains(err.Error(), "something broke") {
		t.Errorf("exit 1 with good JSON: %v", err)
	}
	_, err = checkFioRun("w", 1, readTestdata(t, "fio-error-nonexistent.json"), []byte("fio: pid=0, err=22"))
	if !errors.As(err, &fe) || fe.Errno != 22 || fe.ExitCode != 1 {
		t.Errorf("real failed run: %v", err)
	}
}

func FuzzParseFio(f *testing.F) {
	for _, n := range []string{"fio-nullblk-randread-4k-qd32-tcg.json", "fio-error-nonexistent.json", "fio-rnull-randwrite-32k-qd8-nj2-tcg.json"} {
		f.Add(readTestdata(f, n))
	}
	f.Add([]byte(`{"jobs":[{"jobname":"w","error":0,"read":{"iops":1e308,"total_ios":1,"clat_ns":{"percentile":{"50.0":1.5e300}}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseFio(b)
		if err == nil && (r == nil || !(r.IOPS > 0) || r.TotalIOs <= 0) {
			t.Fatalf("no error but result %+v", r)
		}
		if err != nil && r != nil {
			t.Fatalf("error %v with result", err)
		}
	})
}
