package slurm_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rflkit/rflkit/bench/slurm"
)

// fakeSlurm writes fake sbatch, squeue, sacct and scontrol into a
// temporary directory. Each squeue call prints the queue and then moves
// every task on: PENDING -> RUNNING -> gone (COMPLETED with a done-K file,
// or FAILED when fail-K exists, which a first failure removes; always-K
// fails every time; nodone-K completes without writing done-K).
func fakeSlurm(t *testing.T) (*slurm.Client, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/bash\nF="+dir+"\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := &slurm.Client{
		Sbatch: write("sbatch", `echo "$@" >> $F/sbatch.log
id=$(( $(cat $F/jobid 2>/dev/null || echo 100) + 1 )); echo $id > $F/jobid
spec=${2#--array=}; spec=${spec%\%*}
: > $F/queue-$id
IFS=, read -ra parts <<< "$spec"
for p in "${parts[@]}"; do lo=${p%-*}; hi=${p#*-}; for ((i=lo; i<=hi; i++)); do echo "$i|PENDING" >> $F/queue-$id; done; done
echo "$id"
`),
		Squeue: write("squeue", `id=$4
cat $F/queue-$id
: > $F/next
while IFS='|' read -r k st; do
	if [ "$st" = PENDING ]; then echo "$k|RUNNING" >> $F/next; continue; fi
	if [ -e $F/always-$k ] || [ -e $F/fail-$k ]; then rm -f $F/fail-$k; echo "${id}_$k|FAILED|1:0" >> $F/final-$id
	else echo "${id}_$k|COMPLETED|0:0" >> $F/final-$id; [ -e $F/nodone-$k ] || touch $F/done-$k; fi
done < $F/queue-$id
mv $F/next $F/queue-$id
`),
		Sacct:    write("sacct", `cat $F/final-$5 2>/dev/null; exit 0`),
		Scontrol: write("scontrol", `echo "scontrol: error: Invalid job id specified" >&2; exit 1`),
		Env:      []string{"PATH=/usr/bin:/bin"},
	}
	return c, dir
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func job(t *testing.T, n int) slurm.Job {
	return slurm.Job{Tasks: n, MaxRunning: 2, Dir: t.TempDir(), Command: []string{"true"}}
}

func TestRunRetriesFailedTasks(t *testing.T) {
	c, dir := fakeSlurm(t)
	os.WriteFile(filepath.Join(dir, "fail-1"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "fail-3"), nil, 0o644)
	var last slurm.Status
	polls := 0
	out, err := c.Run(context.Background(), job(t, 4), slurm.WaitOptions{Retries: 1, Poll: 1,
		Done:     func(k int) bool { return exists(filepath.Join(dir, "done-"+string(rune('0'+k)))) },
		Progress: func(s slurm.Status) { last = s; polls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Done, []int{0, 1, 2, 3}) || len(out.Failed) != 0 || !reflect.DeepEqual(out.Jobs, []string{"101", "102"}) {
		t.Fatalf("outcome %+v", out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "sbatch.log"))
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "--parsable --array=0-3%2 ") || !strings.HasPrefix(lines[1], "--parsable --array=1,3%2 ") {
		t.Errorf("sbatch calls:\n%s", log)
	}
	if last.Done != 4 || last.Attempt != 2 || last.Failed != 0 || polls < 4 {
		t.Errorf("last status %+v after %d polls", last, polls)
	}
}

func TestRunReportsFailures(t *testing.T) {
	c, dir := fakeSlurm(t)
	os.WriteFile(filepath.Join(dir, "always-2"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "nodone-0"), nil, 0o644)
	out, err := c.Run(context.Background(), job(t, 3), slurm.WaitOptions{Retries: 2, Poll: 1,
		Done: func(k int) bool { return exists(filepath.Join(dir, "done-"+string(rune('0'+k)))) }})
	if err != nil {
		t.Fatal(err)
	}
	// Task 0 says COMPLETED but wrote no results: failed too.
	want := []slurm.TaskState{{Task: 0, State: "COMPLETED", ExitCode: "0:0"}, {Task: 2, State: "FAILED", ExitCode: "1:0"}}
	if !reflect.DeepEqual(out.Done, []int{1}) || !reflect.DeepEqual(out.Failed, want) || len(out.Jobs) != 3 {
		t.Fatalf("outcome %+v", out)
	}
}

func TestRunNeedsDone(t *testing.T) {
	c, _ := fakeSlurm(t)
	if _, err := c.Run(context.Background(), job(t, 1), slurm.WaitOptions{}); err == nil {
		t.Fatal("no Done: no error")
	}
}

func TestParsers(t *testing.T) {
	if id, err := slurm.ParseSbatch([]byte("sbatch: warning: something\n1234;cluster\n")); err != nil || id != "1234" {
		t.Errorf("ParseSbatch: %q %v", id, err)
	}
	if _, err := slurm.ParseSbatch([]byte("sbatch: error: Batch job submission failed\n")); err == nil {
		t.Error("ParseSbatch: no error on an error message")
	}
	q, err := slurm.ParseSqueue([]byte("0|RUNNING\n[1-3%2]|PENDING\n"))
	want := map[int]slurm.TaskState{0: {Task: 0, State: "RUNNING"}, 1: {Task: 1, State: "PENDING"}, 2: {Task: 2, State: "PENDING"}, 3: {Task: 3, State: "PENDING"}}
	if err != nil || !reflect.DeepEqual(q, want) {
		t.Errorf("ParseSqueue: %v %v", q, err)
	}
	if _, err := slurm.ParseSqueue([]byte("garbage\n")); err == nil {
		t.Error("ParseSqueue: no error on garbage")
	}
	a, err := slurm.ParseSacct([]byte("7|COMPLETED|0:0\n7_0|COMPLETED|0:0\n7_1|CANCELLED by 0|0:15\n7_[2-3]|PENDING|0:0\n"))
	wantA := map[int]slurm.TaskState{0: {0, "COMPLETED", "0:0"}, 1: {1, "CANCELLED", "0:15"}, 2: {2, "PENDING", "0:0"}, 3: {3, "PENDING", "0:0"}}
	if err != nil || !reflect.DeepEqual(a, wantA) {
		t.Errorf("ParseSacct: %v %v", a, err)
	}
	// Slurm 22.05's own lines (accounting disabled), shortened.
	sc, err := slurm.ParseScontrol([]byte("JobId=1 ArrayJobId=1 ArrayTaskId=2 ArrayTaskThrottle=2 JobName=wrap JobState=COMPLETED Reason=None ExitCode=0:0 RunTime=00:00:02\n" +
		"JobId=3 ArrayJobId=1 ArrayTaskId=1 JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0\n"))
	wantS := map[int]slurm.TaskState{2: {2, "COMPLETED", "0:0"}, 1: {1, "FAILED", "1:0"}}
	if err != nil || !reflect.DeepEqual(sc, wantS) {
		t.Errorf("ParseScontrol: %v %v", sc, err)
	}
	for _, s := range []slurm.State{"PENDING", "RUNNING", "COMPLETING"} {
		if s.Terminal() {
			t.Errorf("%s terminal", s)
		}
	}
	for _, s := range []slurm.State{"COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "CANCELLED"} {
		if !s.Terminal() {
			t.Errorf("%s not terminal", s)
		}
	}
}

func TestScriptRefuses(t *testing.T) {
	for _, j := range []slurm.Job{
		{Tasks: 0, Dir: "/x", Command: []string{"a"}},
		{Tasks: 1, Dir: "rel", Command: []string{"a"}},
		{Tasks: 1, Dir: "/x"},
		{Tasks: 1, Dir: "/x", Command: []string{"a"}, Extra: []string{"--x\n--y"}},
		{Tasks: 1, Dir: "/x", Command: []string{"a"}, Env: []string{"A B=1"}},
	} {
		if _, err := j.Script(); err == nil {
			t.Errorf("%+v: no error", j)
		}
	}
	s, err := slurm.Job{Tasks: 1, Dir: "/x", Command: []string{"a b", "it's"}, Env: []string{"X=$HOME"}}.Script()
	if err != nil || !strings.Contains(s, `exec 'a b' 'it'\''s'`) || !strings.Contains(s, `export X='$HOME'`) {
		t.Errorf("quoting:\n%s", s)
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte("0|RUNNING\n[1-3%2]|PENDING\n"))
	f.Add([]byte("7_[2-3]|PENDING|0:0\n"))
	f.Add([]byte("JobId=3 ArrayTaskId=1 JobState=FAILED ExitCode=1:0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = slurm.ParseSqueue(b)
		_, _ = slurm.ParseSacct(b)
		_, _ = slurm.ParseScontrol(b)
		_, _ = slurm.ParseSbatch(b)
	})
}
