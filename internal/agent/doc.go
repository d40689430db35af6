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
// # Building the guest from the module cache
//
// The guest's sources are embedded into this package (go:embed), so Build
// works the same from a checkout and from a read-only module cache when
// rflkit is a dependency: it writes the embedded files into a scratch
// module (module path github.com/rflkit/rflkit, stdlib only, no go.sum
// needed), runs `go build` there with CGO_ENABLED=0, GOOS=linux,
// GOARCH=amd64, -trimpath and -ldflags="-s -w", GOTOOLCHAIN=local,
// GOWORK=off and GOPROXY=off (never the network), and caches the binary
// under <cache>/agent/<hash of the sources and flags>/init. The only
// requirement is a go command (on PATH, or $GOROOT/bin/go, or
// BuildOptions.Go).
package agent
