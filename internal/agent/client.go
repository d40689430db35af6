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
		case TypeExit:
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
	Argv    []string
	Env     []string // added to the agent's environment
	Dir     string
	Stdin   []byte
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
	cl.mu.Lock()
	select {
	case <-cl.done:
		cl.mu.Unlock()
		return nil, fmt.Errorf("agent: %w", cl.err)
	default:
	}
	cl.nextID++
	id := cl.nextID
	cl.calls[id] = k
	cl.mu.Unlock()
	forget := func() {
		cl.mu.Lock()
		delete(cl.calls, id)
		cl.mu.Unlock()
	}
	err := cl.c.send(&Message{
		Type: TypeExec, ID: id, Argv: cmd.Argv, Env: cmd.Env, Dir: cmd.Dir,
		Stdin: cmd.Stdin, TimeoutMS: cmd.Timeout.Milliseconds(),
	})
	if err != nil {
		forget()
		return nil, err
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

// Poweroff asks the guest to sync and power off. It does not wait.
func (cl *Client) Poweroff() error {
	return cl.c.send(&Message{Type: TypePoweroff})
}

// Close closes the stream.
func (cl *Client) Close() error { return cl.rc.Close() }
