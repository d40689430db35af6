package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Client is the host side of the protocol. Several Exec calls may run at
// once; each has its own id.
type Client struct {
	c      *conn
	rc     io.ReadCloser
	ready  chan *Message
	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]*call
	done   chan struct{} // closed when the read loop ends
	err    error         // why the read loop ended; valid after done
}

type call struct {
	stdout, stderr io.Writer
	exit           chan *Message
	acks           chan struct{} // StdinAck messages; nil without streamed stdin
}

// ErrClosed reports a stream that ended (the guest went away).
var ErrClosed = errors.New("agent: connection closed")

// NewClient starts reading rwc. Close it (or let the guest go away) to end
// the client.
func NewClient(rwc io.ReadWriteCloser) *Client {
	cl := &Client{
		c:     &conn{w: rwc},
		rc:    rwc,
		ready: make(chan *Message, 1),
		calls: map[uint64]*call{},
		done:  make(chan struct{}),
	}
	go cl.loop()
	return cl
}

func (cl *Client) loop() {
	var err error
	defer func() {
		cl.mu.Lock()
		if errors.Is(err, io.EOF) {
			err = ErrClosed
		}
		cl.err = err
		close(cl.done)
		cl.mu.Unlock()
	}()
	for {
		var m *Message
		m, err = ReadMessage(cl.rc)
		if err != nil {
			return
		}
		switch m.Type {
		case TypeReady:
			select {
			case cl.ready <- m:
			default:
			}
		case TypeStdout, TypeStderr:
			cl.mu.Lock()
			k := cl.calls[m.ID]
			cl.mu.Unlock()
			if k == nil {
				continue
			}
			w := k.stdout
			if m.Type == TypeStderr {
				w = k.stderr
			}
			if w != nil {
				_, _ = w.Write(m.Data)
			}
		case TypeStdinAck:
			cl.mu.Lock()
			k := cl.calls[m.ID]
			cl.mu.Unlock()
			if k != nil && k.acks != nil {
				select {
				case k.acks <- struct{}{}:
				default: // more acks than chunks: a confused guest; ignore
				}
			}
		case TypeExit, TypeModuleDone:
			cl.mu.Lock()
			k := cl.calls[m.ID]
			delete(cl.calls, m.ID)
			cl.mu.Unlock()
			if k != nil {
				k.exit <- m
			}
		}
	}
}

// Done is closed when the stream ended; Err then says why.
func (cl *Client) Done() <-chan struct{} { return cl.done }

// Err returns why the stream ended (ErrClosed at a clean end), or nil while
// it is open.
func (cl *Client) Err() error {
	select {
	case <-cl.done:
		return cl.err
	default:
		return nil
	}
}

// WaitReady waits for the guest's ready message and checks its protocol
// version.
func (cl *Client) WaitReady(ctx context.Context) (*Message, error) {
	select {
	case m := <-cl.ready:
		if m.Version != ProtocolVersion {
			return m, fmt.Errorf("agent: guest speaks protocol %d, host %d", m.Version, ProtocolVersion)
		}
		return m, nil
	case <-cl.done:
		return nil, fmt.Errorf("agent: before ready: %w", cl.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("agent: waiting for ready: %w", ctx.Err())
	}
}

// Command is one command to run in the guest.
type Command struct {
	Argv []string
	Env  []string // added to the agent's environment
	Dir  string
	// Stdin is streamed to the command (in chunks, under flow control)
	// until it returns io.EOF or another error, which both end the
	// command's input; nil = an empty input. Exec does not wait for a
	// Read that is blocked when the command exits: the goroutine reading
	// Stdin ends when that Read returns.
	Stdin   io.Reader
	Timeout time.Duration // enforced by the guest; 0 = none
	Stdout  io.Writer     // nil = discard
	Stderr  io.Writer     // nil = discard
}

// Exit is how a command ended.
type Exit struct {
	Code     int           // exit status; 128+N when killed by signal N; 127 when it could not start
	TimedOut bool          // the guest killed it at Command.Timeout
	Error    string        // why it could not start or be waited for
	Duration time.Duration // measured in the guest
}

// Exec runs cmd and waits for it. Cancelling ctx asks the guest to kill the
// command and returns ctx.Err() without waiting for its exit.
func (cl *Client) Exec(ctx context.Context, cmd Command) (*Exit, error) {
	if len(cmd.Argv) == 0 {
		return nil, errors.New("agent: empty command")
	}
	k := &call{stdout: cmd.Stdout, stderr: cmd.Stderr, exit: make(chan *Message, 1)}
	if cmd.Stdin != nil {
		k.acks = make(chan struct{}, StdinWindow)
	}
	id, forget, err := cl.register(k)
	if err != nil {
		return nil, err
	}
	err = cl.c.send(&Message{
		Type: TypeExec, ID: id, Argv: cmd.Argv, Env: cmd.Env, Dir: cmd.Dir,
		StdinStream: cmd.Stdin != nil, TimeoutMS: cmd.Timeout.Milliseconds(),
	})
	if err != nil {
		forget()
		return nil, err
	}
	if cmd.Stdin != nil {
		pctx, stop := context.WithCancel(ctx)
		defer stop() // the command ended: send no more input
		go cl.pumpStdin(pctx, id, cmd.Stdin, k.acks)
	}
	select {
	case m := <-k.exit:
		return &Exit{Code: m.Code, TimedOut: m.TimedOut, Error: m.Error, Duration: time.Duration(m.DurationNS)}, nil
	case <-cl.done:
		forget()
		return nil, fmt.Errorf("agent: %q: %w", cmd.Argv[0], cl.err)
	case <-ctx.Done():
		forget()
		_ = cl.c.send(&Message{Type: TypeKill, ID: id})
		return nil, ctx.Err()
	}
}

// stdinChunk bounds one Stdin message.
const stdinChunk = 32 << 10

// pumpStdin sends r to command id in Stdin messages, at most StdinWindow
// unacknowledged chunks at a time, then an EOF. It stops when ctx is done
// (the command ended or Exec was cancelled).
func (cl *Client) pumpStdin(ctx context.Context, id uint64, r io.Reader, acks <-chan struct{}) {
	buf := make([]byte, stdinChunk)
	inflight := 0
	for {
		for inflight >= StdinWindow {
			select {
			case <-acks:
				inflight--
			case <-ctx.Done():
				return
			}
		}
		// Take the acks that came while reading, without waiting.
		for drained := false; !drained && inflight > 0; {
			select {
			case <-acks:
				inflight--
			default:
				drained = true
			}
		}
		n, err := r.Read(buf)
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			if cl.c.send(&Message{Type: TypeStdin, ID: id, Data: buf[:n]}) != nil {
				return
			}
			inflight++
		}
		if err != nil {
			// io.EOF or a read error: either way the input ends here.
			_ = cl.c.send(&Message{Type: TypeStdin, ID: id, EOF: true})
			return
		}
	}
}

// ModuleRequest is a kernel module operation for Client.Module.
type ModuleRequest struct {
	// Op is ModuleLoad or ModuleUnload.
	Op string
	// Name is the module's name (rnull_mod), needed to unload.
	Name string
	// Path is the guest path of the .ko file, needed to load.
	Path string
	// Params are the module parameters of a load ("nr_devices=0").
	Params string
}

// ModuleResult is how a module operation ended in the guest.
type ModuleResult struct {
	// Errno is the kernel's error number; 0 when it succeeded or when
	// the failure was not the kernel's (Error says).
	Errno int
	// Error is why the operation failed; "" on success.
	Error string
	// Dmesg is what the kernel logged during the operation.
	Dmesg string
	// Duration is the operation's time, measured in the guest.
	Duration time.Duration
}

// Module asks the guest to load or unload a kernel module and waits for
// the answer. A refusal of the kernel is not an error of Module: it is
// in the result (Errno, Error, Dmesg). Cancelling ctx returns ctx.Err()
// without waiting (a module's init cannot be interrupted).
func (cl *Client) Module(ctx context.Context, req ModuleRequest) (*ModuleResult, error) {
	switch req.Op {
	case ModuleLoad, ModuleUnload:
	default:
		return nil, fmt.Errorf("agent: unknown module operation %q", req.Op)
	}
	k := &call{exit: make(chan *Message, 1)}
	id, forget, err := cl.register(k)
	if err != nil {
		return nil, err
	}
	if err := cl.c.send(&Message{Type: TypeModule, ID: id, Op: req.Op, Module: req.Name, Path: req.Path, Params: req.Params}); err != nil {
		forget()
		return nil, err
	}
	select {
	case m := <-k.exit:
		if m.Type != TypeModuleDone {
			return nil, fmt.Errorf("agent: module %s %s: answered by %q", req.Op, req.Name, m.Type)
		}
		return &ModuleResult{Errno: m.Errno, Error: m.Error, Dmesg: m.Dmesg, Duration: time.Duration(m.DurationNS)}, nil
	case <-cl.done:
		forget()
		return nil, fmt.Errorf("agent: module %s %s: %w", req.Op, req.Name, cl.err)
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

// Poweroff asks the guest to sync and power off. It does not wait.
func (cl *Client) Poweroff() error {
	return cl.c.send(&Message{Type: TypePoweroff})
}

// Close closes the stream.
func (cl *Client) Close() error { return cl.rc.Close() }

// register gives call k an id and files it, so that the reader goroutine
// can route the guest's answers to it; forget removes it again. It fails
// once the connection is gone.
func (cl *Client) register(k *call) (id uint64, forget func(), err error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	select {
	case <-cl.done:
		return 0, nil, fmt.Errorf("agent: %w", cl.err)
	default:
	}
	cl.nextID++
	id = cl.nextID
	cl.calls[id] = k
	return id, func() {
		cl.mu.Lock()
		delete(cl.calls, id)
		cl.mu.Unlock()
	}, nil
}
