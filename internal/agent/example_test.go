package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/rflkit/rflkit/internal/agent"
)

// The host side (Client) and the guest side (Serve) over any stream; in a
// VM the stream is a virtio-serial port.
func Example() {
	host, guest := net.Pipe()
	go agent.Serve(context.Background(), guest, agent.ServeOptions{})
	cl := agent.NewClient(host)
	defer cl.Close()
	if _, err := cl.WaitReady(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	var out bytes.Buffer
	exit, err := cl.Exec(context.Background(), agent.Command{
		Argv: []string{"sh", "-c", "echo hello; exit 3"}, Stdout: &out,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q exit %d\n", out.String(), exit.Code)
	// Output:
	// "hello\n" exit 3
}

// A command's input is streamed from any io.Reader, and its end (EOF)
// closes the command's stdin.
func Example_stdin() {
	host, guest := net.Pipe()
	go agent.Serve(context.Background(), guest, agent.ServeOptions{})
	cl := agent.NewClient(host)
	defer cl.Close()
	if _, err := cl.WaitReady(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	var out bytes.Buffer
	exit, err := cl.Exec(context.Background(), agent.Command{
		Argv: []string{"tr", "a-z", "A-Z"}, Stdin: strings.NewReader("hello from the host\n"), Stdout: &out,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q exit %d\n", out.String(), exit.Code)
	// Output:
	// "HELLO FROM THE HOST\n" exit 0
}
