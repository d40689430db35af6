// Package agent is rflkit's guest agent: the protocol spoken between the
// host and the guest's /init, the guest side (Serve, run by the program in
// ./guest), the host side (Client), and Build, which compiles the guest
// program into a static binary.
//
// # Protocol
//
// Each message is a frame: a 4-byte big-endian length, then a JSON object
// (Message). The guest sends "ready" once, when its file systems are
// mounted. The host then sends "exec" messages (each with an id); the guest
// answers with "stdout" and "stderr" chunks and one "exit" carrying the exit
// code. "kill" stops a command, "poweroff" ends the guest.
//
// A command's input is streamed (protocol version 2): an "exec" with
// stdin_stream is followed by "stdin" chunks for its id and one with eof.
// The guest acknowledges each chunk ("stdin_ack") once the command's pipe
// took it; the host keeps at most StdinWindow chunks unacknowledged, so
// a command that does not read holds little in the guest, and the host
// reads its input source only as fast as the command consumes it. After
// the command closes its input (or exits), chunks are dropped unanswered.
//
// A command that cannot be started (not found, not executable, a missing
// directory) exits with 127 (126 for permission), the reason in the exit
// message's error, and a line "rflkit-agent: CMD: REASON" on its stderr,
// as a shell would print it.
//
// Kernel modules (protocol version 3): a "module" message with op "load"
// (the guest path of a .ko file and its parameters) or "unload" (the
// module's name) is answered by one "module_done" for its id. The guest
// calls finit_module(2) or delete_module(2) (O_NONBLOCK, as rmmod) and
// returns the kernel's errno with its text when the kernel refused, and
// either way the kernel log lines the operation produced, read from
// /dev/kmsg from its end before the call (the tail of syslog(2) without
// it).
//
// # Building the guest from the module cache
//
// The guest's sources are embedded into this package (go:embed), so Build
// works the same from a checkout and from a read-only module cache when
// rflkit is a dependency: it writes the embedded files into a scratch
// module (module path github.com/rflkit/rflkit, stdlib only, no go.sum
// needed), runs `go build` there with CGO_ENABLED=0, GOOS=linux,
// GOARCH=amd64, -tags=rflkit_guest (which leaves out build.go, the host's
// builder, the only file that imports other rflkit packages), -trimpath
// and -ldflags="-s -w", GOTOOLCHAIN=local, GOWORK=off and GOPROXY=off
// (never the network), and caches the binary under
// <cache>/agent/<hash of the sources and flags>/init. The only
// requirement is a go command (on PATH, or $GOROOT/bin/go, or
// BuildOptions.Go).
package agent
