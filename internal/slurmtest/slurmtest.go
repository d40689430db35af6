// Package slurmtest starts a private single-node Slurm cluster for
// integration tests: a munge key from mungekey, munged on its own socket,
// slurmctld and slurmd with a slurm.conf on free private ports, with every
// state, spool, pid and log file under one temporary directory
// (internal/tmpdir, so that a killed test's directory is reaped by the
// next). The daemons run in the foreground as children of the test (so the
// kernel kills them if the test dies, Pdeathsig) and are stopped by the
// PIDs in their pid files when the test ends. It needs root (munged runs
// with --force) and Debian bookworm's slurmctld, slurmd, slurm-client and
// munge (scripts/setup).
package slurmtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rflkit/rflkit/internal/osutil"
	"github.com/rflkit/rflkit/internal/tmpdir"
)

// Cluster is a running private cluster.
type Cluster struct {
	// Dir holds everything; Conf is its slurm.conf.
	Dir, Conf string
	// Node is the node's name (hostname -s), Partition the one partition.
	Node, Partition string
	// Env is the process's environment with SLURM_CONF set: give it to
	// sbatch, squeue and friends.
	Env []string

	daemons []*daemon
}

type daemon struct {
	name, pidFile, log string
	cmd                *exec.Cmd
	done               chan error
}

const prefix = "rflkit-slurmtest-"

// Start starts a cluster with a node of cpus CPUs and stops it (and
// removes its directory) in t.Cleanup. A missing tool fails t.
func Start(t testing.TB, cpus int) *Cluster {
	t.Helper()
	for _, tool := range []string{"mungekey", "munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("slurmtest: %s not found: run scripts/setup (it installs slurmctld slurmd slurm-client munge from bookworm)", tool)
		}
	}
	tmpdir.Reap(os.TempDir(), prefix, tmpdir.ReapOptions{})
	d, err := tmpdir.New(os.TempDir(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: d.Path, Partition: "rflkit"}
	t.Cleanup(func() {
		c.stop(t)
		if err := d.Remove(); err != nil {
			t.Errorf("slurmtest: %v", err)
		}
	})
	if err := c.start(t, cpus); err != nil {
		c.dumpLogs(t)
		t.Fatal(err)
	}
	return c
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) start(t testing.TB, cpus int) error {
	ctx := context.Background()
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	c.Node, _, _ = strings.Cut(host, ".")
	dir := func(p string) string { return filepath.Join(c.Dir, p) }
	for _, p := range []string{"munge", "state", "spool", "run", "log"} {
		if err := os.Mkdir(dir(p), 0o755); err != nil {
			return err
		}
	}
	// munged wants its key private and the socket's directory reachable.
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return err
	}
	key := dir("munge/munge.key")
	if _, err := osutil.Run(ctx, osutil.Options{Timeout: time.Minute}, "mungekey", "-c", "-k", key); err != nil {
		return fmt.Errorf("slurmtest: %w", err)
	}
	sock := dir("munge/munge.socket")
	if err := c.spawn("munged", dir("munge/munged.pid"), dir("munge/munged.log"), "munged", "--foreground", "--force",
		"--socket="+sock, "--key-file="+key, "--pid-file="+dir("munge/munged.pid"),
		"--log-file="+dir("munge/munged.log"), "--seed-file="+dir("munge/munged.seed")); err != nil {
		return err
	}
	if err := waitFor(func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
		return fmt.Errorf("slurmtest: munged: no socket %s", sock)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	conf := fmt.Sprintf(`# Written by rflkit internal/slurmtest: a private single-node cluster.
ClusterName=rflkittest
SlurmctldHost=%[1]s
SlurmctldPort=%[2]d
SlurmdPort=%[3]d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=%[4]s
CredType=cred/munge
StateSaveLocation=%[5]s
SlurmdSpoolDir=%[6]s
SlurmctldPidFile=%[7]s
SlurmdPidFile=%[8]s
SlurmctldLogFile=%[9]s
SlurmdLogFile=%[10]s
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
NodeName=%[1]s CPUs=%[11]d RealMemory=20000 State=UNKNOWN
PartitionName=%[12]s Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, c.Node, ports[0], ports[1], sock, dir("state"), dir("spool"), dir("run/slurmctld.pid"), dir("run/slurmd.pid"),
		dir("log/slurmctld.log"), dir("log/slurmd.log"), max(cpus, 1), c.Partition)
	c.Conf = dir("slurm.conf")
	if err := os.WriteFile(c.Conf, []byte(conf), 0o644); err != nil {
		return err
	}
	c.Env = append(os.Environ(), "SLURM_CONF="+c.Conf)
	if err := c.spawn("slurmctld", dir("run/slurmctld.pid"), dir("log/slurmctld.log"), "slurmctld", "-D", "-f", c.Conf); err != nil {
		return err
	}
	if err := c.spawn("slurmd", dir("run/slurmd.pid"), dir("log/slurmd.log"), "slurmd", "-D", "-f", c.Conf); err != nil {
		return err
	}
	// Ready when the node is idle.
	var last string
	if err := waitFor(func() bool {
		r, err := osutil.Run(ctx, osutil.Options{Env: c.Env, Timeout: 10 * time.Second}, "sinfo", "-h", "-N", "-o", "%T")
		last = strings.TrimSpace(string(r.Stdout))
		return err == nil && last == "idle"
	}); err != nil {
		return fmt.Errorf("slurmtest: node not idle (sinfo says %q)", last)
	}
	t.Logf("slurmtest: cluster up in %s (node %s, ports %d/%d)", c.Dir, c.Node, ports[0], ports[1])
	return nil
}

// waitFor polls ok for up to a minute.
func waitFor(ok func() bool) error {
	for range 300 {
		if ok() {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("timed out")
}

func (c *Cluster) spawn(name, pidFile, log string, argv ...string) error {
	cmd := osutil.Command(context.Background(), argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "SLURM_CONF="+c.Conf)
	out, err := os.Create(filepath.Join(c.Dir, "log", name+".out"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("slurmtest: %s: %w", name, err)
	}
	d := &daemon{name: name, pidFile: pidFile, log: log, cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait(); out.Close() }()
	c.daemons = append(c.daemons, d)
	return nil
}

// stop cancels what is left in the queue, then stops the daemons in
// reverse order: SIGTERM to the PID in the pid file (the child's own PID
// when there is none), SIGKILL to its group after 30 s.
func (c *Cluster) stop(t testing.TB) {
	if c.Conf != "" && len(c.daemons) == 3 {
		_, _ = osutil.Run(context.Background(), osutil.Options{Env: c.Env, Timeout: 10 * time.Second}, "scancel", "--full", "-u", "root")
	}
	for i := len(c.daemons) - 1; i >= 0; i-- {
		d := c.daemons[i]
		pid := d.cmd.Process.Pid
		if b, err := os.ReadFile(d.pidFile); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 {
				if p != pid {
					t.Logf("slurmtest: %s: pid file says %d, child is %d", d.name, p, pid)
				}
				pid = p
			}
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			t.Errorf("slurmtest: %s did not stop on SIGTERM: killing it", d.name)
			_ = osutil.KillGroup(d.cmd)
			<-d.done
		}
		_ = osutil.KillGroup(d.cmd)
	}
	c.daemons = nil
}

// dumpLogs logs the tails of the daemons' logs.
func (c *Cluster) dumpLogs(t testing.TB) {
	for _, d := range c.daemons {
		for _, p := range []string{d.log, filepath.Join(c.Dir, "log", d.name+".out")} {
			if b, err := os.ReadFile(p); err == nil {
				t.Logf("%s:\n%s", p, tailBytes(b, 2000))
			}
		}
	}
}

// DumpLogs logs the tails of the daemons' logs, for a failing test.
func (c *Cluster) DumpLogs(t testing.TB) { c.dumpLogs(t) }

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
