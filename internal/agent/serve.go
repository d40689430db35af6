package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrPoweroff is returned by Serve when the host asked for a power-off.
var ErrPoweroff = errors.New("agent: poweroff requested")

// ServeOptions configures Serve. The zero value is ready to use.
type ServeOptions struct {
	// Ready is sent first (its Type is set to TypeReady and its Version to
	// ProtocolVersion). Nil sends a bare ready message.
	Ready *Message
	// Env is the base environment of commands; nil = os.Environ().
	Env []string
	// ChunkSize bounds one output message; 0 = 32 KiB.
	ChunkSize int
	// Modules loads and unloads kernel modules for Module requests; nil =
	// the kernel's (KernelModules).
	Modules ModuleSys
}

// conn serialises frame writes from several goroutines.
type conn struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *conn) send(m *Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return WriteMessage(c.w, m)
}

// Serve is the guest side of the protocol: it announces readiness on rw,
// then runs every Exec it receives (each in its own process group, several
// at a time if the host wishes), streaming stdout and stderr back and
// reporting the exit code, and every Module request (load or unload a
// kernel module, answered by ModuleDone). It returns ErrPoweroff when the host asks for a
// power-off (after killing running commands), the read error when the
// stream breaks, or ctx.Err().
func Serve(ctx context.Context, rw io.ReadWriter, opts ServeOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &conn{w: rw}
	ready := Message{}
	if opts.Ready != nil {
		ready = *opts.Ready
	}
	ready.Type = TypeReady
	ready.Version = ProtocolVersion
	if err := c.send(&ready); err != nil {
		return err
	}

	var (
		mu      sync.Mutex
		running = map[uint64]*command{}
		wg      sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for _, r := range running {
			r.kill()
		}
		mu.Unlock()
		wg.Wait()
	}()

	msgs := make(chan *Message)
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := ReadMessage(rw)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	for {
		var m *Message
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case m = <-msgs:
		}
		switch m.Type {
		case TypeExec:
			cctx, kill := context.WithCancel(ctx)
			r := &command{kill: kill, done: make(chan struct{})}
			if m.StdinStream {
				// The host sends at most StdinWindow chunks ahead, and
				// an EOF: this never blocks a well-behaved host.
				r.stdin = make(chan *Message, StdinWindow+1)
			}
			mu.Lock()
			if _, dup := running[m.ID]; dup {
				mu.Unlock()
				kill()
				_ = c.send(&Message{Type: TypeExit, ID: m.ID, Code: -1, Error: fmt.Sprintf("command id %d is already running", m.ID)})
				continue
			}
			running[m.ID] = r
			mu.Unlock()
			wg.Add(1)
			go func(m *Message) {
				defer wg.Done()
				exit := runCommand(cctx, c, m, r.stdin, opts)
				mu.Lock()
				delete(running, m.ID)
				mu.Unlock()
				close(r.done)
				kill()
				_ = c.send(exit)
			}(m)
		case TypeStdin:
			mu.Lock()
			r := running[m.ID]
			mu.Unlock()
			if r == nil || r.stdin == nil {
				continue // the command has ended (or takes no stream)
			}
			select {
			case r.stdin <- m:
			case <-r.done:
			}
		case TypeKill:
			mu.Lock()
			if r, ok := running[m.ID]; ok {
				r.kill()
			}
			mu.Unlock()
		case TypeModule:
			sys := opts.Modules
			if sys == nil {
				sys = KernelModules{}
			}
			// In a goroutine of its own: a module's init may take long
			// (or hang), and the host may still want to run commands.
			wg.Add(1)
			go func(m *Message) {
				defer wg.Done()
				_ = c.send(runModule(m, sys))
			}(m)
		case TypePoweroff:
			return ErrPoweroff
		default:
			// Unknown messages are ignored so that a newer host can talk
			// to an older guest about what both know.
		}
	}
}

// command is a running Exec.
type command struct {
	kill  context.CancelFunc
	stdin chan *Message // Stdin messages for the command; nil without a stream
	done  chan struct{} // closed when the command has ended
}

// feedStdin writes the Stdin messages of command id into w (the command's
// stdin pipe), acknowledging each data chunk, and closes w at EOF. After a
// write error (the command closed its stdin or exited) chunks are dropped
// and no longer acknowledged: the host stops reading input nobody wants
// and waits for the exit. It returns when done is closed.
func feedStdin(c *conn, id uint64, in <-chan *Message, w io.WriteCloser, done <-chan struct{}) {
	broken := false
	for {
		var m *Message
		select {
		case m = <-in:
		case <-done:
			return
		}
		if len(m.Data) > 0 && !broken {
			if _, err := w.Write(m.Data); err != nil {
				broken = true
			} else {
				_ = c.send(&Message{Type: TypeStdinAck, ID: id})
			}
		}
		if m.EOF && !broken {
			w.Close()
			broken = true
		}
	}
}

// chunkWriter turns writes into output messages.
type chunkWriter struct {
	c    *conn
	id   uint64
	typ  string
	size int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), w.size)
		if err := w.c.send(&Message{Type: w.typ, ID: w.id, Data: p[:k]}); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// startError describes why a command could not be started, the way a
// shell would: "command not found", "no such file or directory",
// "permission denied", or the failing step ("chdir /x: ...").
func startError(err error) string {
	if errors.Is(err, exec.ErrNotFound) {
		return "command not found"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if pe.Op == "fork/exec" {
			return pe.Err.Error()
		}
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// lookPath finds name in the PATH of env (the last PATH= wins); it returns
// name unchanged when nothing is found, for exec to report.
func lookPath(name string, env []string) string {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}

// runCommand runs one Exec and returns its Exit message. stdin carries
// the command's streamed input (Exec.StdinStream), else it is nil.
func runCommand(ctx context.Context, c *conn, m *Message, stdin <-chan *Message, opts ServeOptions) *Message {
	start := time.Now()
	exit := &Message{Type: TypeExit, ID: m.ID}
	if len(m.Argv) == 0 || m.Argv[0] == "" {
		exit.Code = -1
		exit.Error = "empty command"
		return exit
	}
	if m.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(m.TimeoutMS)*time.Millisecond)
		defer cancel()
	}
	size := opts.ChunkSize
	if size <= 0 {
		size = 32 << 10
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(append([]string(nil), env...), m.Env...)
	// Look the program up in the command's own PATH, not the agent's.
	prog := m.Argv[0]
	if !strings.Contains(prog, "/") {
		prog = lookPath(prog, env)
	}
	stderr := &chunkWriter{c: c, id: m.ID, typ: TypeStderr, size: size}
	if m.Dir != "" {
		// fork/exec reports a bad directory as the program's ENOENT.
		if fi, err := os.Stat(m.Dir); err != nil || !fi.IsDir() {
			var pe *fs.PathError
			if err == nil {
				err = &fs.PathError{Op: "chdir", Path: m.Dir, Err: syscall.ENOTDIR}
			} else if errors.As(err, &pe) {
				err = &fs.PathError{Op: "chdir", Path: m.Dir, Err: pe.Err}
			}
			exit.Code = 127
			exit.Error = err.Error()
			fmt.Fprintf(stderr, "rflkit-agent: %s: %s\n", m.Argv[0], startError(err))
			exit.DurationNS = int64(time.Since(start))
			return exit
		}
	}
	// The guest's own runner, not internal/osutil's: this file is compiled
	// into the static guest program, whose scratch module holds only this
	// package's sources (Build; go:embed cannot reach internal/osutil), and
	// what a guest command needs differs anyway: no Pdeathsig (the agent
	// is PID 1; when it dies the kernel panics and takes everything with
	// it), and a shorter wait for pipes a background child keeps open (2 s,
	// not osutil.WaitDelay), since the host is waiting for the exit code.
	cmd := exec.CommandContext(ctx, prog, m.Argv[1:]...)
	cmd.Args[0] = m.Argv[0]
	cmd.Env = env
	cmd.Dir = m.Dir
	switch {
	case stdin != nil:
		// A pipe of our own (not cmd.Stdin = reader): Wait must not wait
		// for input that the host may never end.
		w, err := cmd.StdinPipe()
		if err != nil {
			exit.Code = 127
			exit.Error = err.Error()
			fmt.Fprintf(stderr, "rflkit-agent: %s: %v\n", m.Argv[0], err)
			return exit
		}
		done := make(chan struct{})
		defer close(done)
		go feedStdin(c, m.ID, stdin, w, done)
	case m.Stdin != nil:
		cmd.Stdin = bytes.NewReader(m.Stdin)
	}
	cmd.Stdout = &chunkWriter{c: c, id: m.ID, typ: TypeStdout, size: size}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A background child that keeps the pipes open must not hold the
	// command's result hostage.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	exit.DurationNS = int64(time.Since(start))
	if cmd.ProcessState != nil {
		exit.Code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exit.Code = 128 + int(ws.Signal())
		}
	}
	if m.TimeoutMS > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		exit.TimedOut = true
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.As(err, &ee):
	case cmd.ProcessState == nil:
		// Not started: report like a shell does, on the command's
		// stderr, so that a caller streaming it sees why.
		exit.Code = 127
		if errors.Is(err, os.ErrPermission) {
			exit.Code = 126
		}
		exit.Error = err.Error()
		fmt.Fprintf(stderr, "rflkit-agent: %s: %s\n", m.Argv[0], startError(err))
	default:
		exit.Error = err.Error()
	}
	return exit
}
