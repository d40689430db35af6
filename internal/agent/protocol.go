package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Message types. The host sends Exec, Stdin, Kill, Module and Poweroff;
// the guest sends Ready, Stdout, Stderr, StdinAck, Exit and ModuleDone.
const (
	TypeReady    = "ready"     // guest → host, once, when /init is up
	TypeExec     = "exec"      // host → guest: run a command
	TypeStdin    = "stdin"     // host → guest: a chunk of a command's stdin (Data), or its end (EOF)
	TypeStdinAck = "stdin_ack" // guest → host: a stdin chunk was handed to the command (flow control)
	TypeStdout   = "stdout"    // guest → host: a chunk of a command's stdout
	TypeStderr   = "stderr"    // guest → host: a chunk of a command's stderr
	TypeExit     = "exit"      // guest → host: a command ended
	TypeKill     = "kill"      // host → guest: kill a running command
	TypePoweroff = "poweroff"  // host → guest: sync and power off
	// TypeModule (host → guest) loads (Op "load": finit_module(2) on Path
	// with Params) or unloads (Op "unload": delete_module(2) of Module)
	// a kernel module; the guest answers with one TypeModuleDone for the
	// same id, carrying Errno and Error when the kernel refused, and the
	// kernel log lines the operation produced (Dmesg) either way.
	TypeModule     = "module"
	TypeModuleDone = "module_done" // guest → host: a Module request ended
)

// Module operations (Message.Op of a TypeModule message).
const (
	ModuleLoad   = "load"
	ModuleUnload = "unload"
)

// MaxFrame is the largest message accepted on the wire (16 MiB). Output
// chunks are far smaller; the limit only protects against a corrupt stream.
const MaxFrame = 16 << 20

// ProtocolVersion is sent in the Ready message; the host refuses a guest
// that speaks another version. Version 2 added streamed stdin (Stdin,
// StdinAck, Exec.StdinStream) and the guest's own message on stderr when
// a command cannot be started. Version 3 added kernel module loading and
// unloading (Module, ModuleDone).
const ProtocolVersion = 3

// StdinWindow is the number of Stdin data chunks the host may have sent
// for one command and not yet seen acknowledged (StdinAck). The guest
// acknowledges a chunk once the command's pipe took it (or once the
// command no longer reads), so a command that does not read its input
// holds at most StdinWindow chunks in the guest.
const StdinWindow = 4

// Message is one frame of the protocol: a 4-byte big-endian length followed
// by that many bytes of JSON. Fields unused by a message type are omitted.
type Message struct {
	Type string `json:"t"`
	ID   uint64 `json:"id,omitempty"`

	// Exec.
	Argv      []string `json:"argv,omitempty"`
	Env       []string `json:"env,omitempty"` // added to the agent's environment
	Dir       string   `json:"dir,omitempty"`
	Stdin     []byte   `json:"stdin,omitempty"`      // the whole input, when not StdinStream
	TimeoutMS int64    `json:"timeout_ms,omitempty"` // 0 = no timeout
	// StdinStream says the input follows in Stdin messages for this id,
	// ended by one with EOF; without it the command reads Stdin (nil =
	// an empty input).
	StdinStream bool `json:"stdin_stream,omitempty"`

	// Stdin, Stdout, Stderr.
	Data []byte `json:"data,omitempty"`
	EOF  bool   `json:"eof,omitempty"` // Stdin: the input ends here

	// Module: Op (ModuleLoad, ModuleUnload), the module's name, the
	// guest path of its .ko file (load) and its parameters (load, as
	// insmod takes them: "nr_devices=0 queue_mode=2").
	Op     string `json:"op,omitempty"`
	Module string `json:"module,omitempty"`
	Path   string `json:"path,omitempty"`
	Params string `json:"params,omitempty"`

	// ModuleDone: Errno is the kernel's error number (0 = success; Error
	// then says what failed, with the errno's text), Dmesg the kernel log
	// lines logged during the operation (bounded: the last MaxDmesg bytes).
	Errno int    `json:"errno,omitempty"`
	Dmesg string `json:"dmesg,omitempty"`

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

// MaxDmesg bounds ModuleDone.Dmesg: the last MaxDmesg bytes of what the
// kernel logged during a module operation.
const MaxDmesg = 8 << 10

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
