package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
// reporting the exit code. It returns ErrPoweroff when the host asks for a
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
		running = map[uint64]context.CancelFunc{}
		wg      sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for _, kill := range running {
			kill()
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
			mu.Lock()
			if _, dup := running[m.ID]; dup {
				mu.Unlock()
				kill()
				_ = c.send(&Message{Type: TypeExit, ID: m.ID, Code: -1, Error: fmt.Sprintf("command id %d is already running", m.ID)})
				continue
			}
			running[m.ID] = kill
			mu.Unlock()
			wg.Add(1)
			go func(m *Message) {
				defer wg.Done()
				exit := runCommand(cctx, c, m, opts)
				mu.Lock()
				delete(running, m.ID)
				mu.Unlock()
				kill()
				_ = c.send(exit)
			}(m)
		case TypeKill:
			mu.Lock()
			if kill, ok := running[m.ID]; ok {
				kill()
			}
			mu.Unlock()
		case TypePoweroff:
			return ErrPoweroff
		default:
			// Unknown messages are ignored so that a newer host can talk
			// to an older guest about what both know.
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

// runCommand runs one Exec and returns its Exit message.
func runCommand(ctx context.Context, c *conn, m *Message, opts ServeOptions) *Message {
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
	cmd := exec.CommandContext(ctx, prog, m.Argv[1:]...)
	cmd.Args[0] = m.Argv[0]
	cmd.Env = env
	cmd.Dir = m.Dir
	if m.Stdin != nil {
		cmd.Stdin = bytes.NewReader(m.Stdin)
	}
	cmd.Stdout = &chunkWriter{c: c, id: m.ID, typ: TypeStdout, size: size}
	cmd.Stderr = &chunkWriter{c: c, id: m.ID, typ: TypeStderr, size: size}
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
		// Not started: report like a shell does.
		exit.Code = 127
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			exit.Code = 127
		} else if errors.Is(err, os.ErrPermission) {
			exit.Code = 126
		}
		exit.Error = err.Error()
	default:
		exit.Error = err.Error()
	}
	return exit
}
