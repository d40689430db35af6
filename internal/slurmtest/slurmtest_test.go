package slurmtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/slurmtest"
	"github.com/rflkit/rflkit/internal/testenv"
)

// TestIntegrationArray starts the private cluster and runs a three-task
// array through it.
func TestIntegrationArray(t *testing.T) {
	testenv.Integration(t)
	c := slurmtest.Start(t, 2)
	out := t.TempDir()
	ctx := context.Background()
	r, err := osutil.Run(ctx, osutil.Options{Env: c.Env, Timeout: time.Minute}, "sbatch", "--parsable", "--array=0-2",
		"-o", filepath.Join(out, "%a.log"), "--wrap", "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT")
	if err != nil {
		c.DumpLogs(t)
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(r.Stdout))
	var got []string
	for range 600 {
		q, err := osutil.Run(ctx, osutil.Options{Env: c.Env, Timeout: time.Minute}, "squeue", "-h", "-j", id)
		if err == nil && strings.TrimSpace(string(q.Stdout)) == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("%d.log", i)))
		if err != nil {
			c.DumpLogs(t)
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(string(b)))
	}
	sort.Strings(got)
	if want := "task 0 of 3,task 1 of 3,task 2 of 3"; strings.Join(got, ",") != want {
		t.Errorf("tasks said %q, want %q", got, want)
	}
}
