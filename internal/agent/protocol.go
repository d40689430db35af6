package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Message types. The host sends Exec, Kill and Poweroff; the guest sends
// Ready, Stdout, Stderr and Exit.
const (
	TypeReady    = "ready"    // guest → host, once, when /init is up
	TypeExec     = "exec"     // host → guest: run a command
	TypeStdout   = "stdout"   // guest → host: a chunk of a command's stdout
	TypeStderr   = "stderr"   // guest → host: a chunk of a command's stderr
	TypeExit     = "exit"     // guest → host: a command ended
	TypeKill     = "kill"     // host → guest: kill a running command
	TypePoweroff = "poweroff" // host → guest: sync and power off
)

// MaxFrame is the largest message accepted on the wire (16 MiB). Output
// chunks are far smaller; the limit only protects against a corrupt stream.
const MaxFrame = 16 << 20

// ProtocolVersion is sent in the Ready message; the host refuses a guest
// that speaks another version.
const ProtocolVersion = 1

// Message is one frame of the protocol: a 4-byte big-endian length followed
// by that many bytes of JSON. Fields unused by a message type are omitted.
type Message struct {
	Type string `json:"t"`
	ID   uint64 `json:"id,omitempty"`

	// Exec.
	Argv      []string `json:"argv,omitempty"`
	Env       []string `json:"env,omitempty"` // added to the agent's environment
	Dir       string   `json:"dir,omitempty"`
	Stdin     []byte   `json:"stdin,omitempty"`
	TimeoutMS int64    `json:"timeout_ms,omitempty"` // 0 = no timeout

	// Stdout, Stderr.
	Data []byte `json:"data,omitempty"`

	// Exit.
	Code       int    `json:"code,omitempty"`
	TimedOut   bool   `json:"timed_out,omitempty"`
	Error      string `json:"error,omitempty"` // the command could not be started or waited for
	DurationNS int64  `json:"duration_ns,omitempty"`

	// Ready.
	Version  int      `json:"version,omitempty"`
	Uptime   float64  `json:"uptime,omitempty"`   // guest /proc/uptime at ready, seconds
	Kernel   string   `json:"kernel,omitempty"`   // guest uname -r -v
	CPUs     int      `json:"cpus,omitempty"`     // CPUs online in the guest
	Warnings []string `json:"warnings,omitempty"` // non-fatal setup problems (a mount that failed)
}

// FrameError reports a malformed frame.
type FrameError struct {
	Len uint32
	Err error
}

// Error describes the bad frame.
func (e *FrameError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("agent: bad frame (length %d): %v", e.Len, e.Err)
	}
	return fmt.Sprintf("agent: bad frame: length %d exceeds %d", e.Len, MaxFrame)
}

// Unwrap returns the underlying read or decode error.
func (e *FrameError) Unwrap() error { return e.Err }

// WriteMessage writes m as one frame. It is not safe for concurrent use on
// the same writer; Conn serialises writers.
func WriteMessage(w io.Writer, m *Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("agent: encode %s: %w", m.Type, err)
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("agent: %s message of %d bytes exceeds %d", m.Type, len(b), MaxFrame)
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("agent: write %s: %w", m.Type, err)
	}
	return nil
}

// ReadMessage reads one frame. At a clean end of stream (no partial frame)
// it returns io.EOF itself.
func ReadMessage(r io.Reader) (*Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("agent: read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, &FrameError{Len: n}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, &FrameError{Len: n, Err: err}
	}
	m := new(Message)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, &FrameError{Len: n, Err: err}
	}
	if m.Type == "" {
		return nil, &FrameError{Len: n, Err: errors.New("message without a type")}
	}
	return m, nil
}
