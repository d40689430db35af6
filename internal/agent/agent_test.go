package agent

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := []*Message{
		{Type: TypeReady, Version: ProtocolVersion, Uptime: 1.5, Kernel: "7.2.12"},
		{Type: TypeExec, ID: 7, Argv: []string{"sh", "-c", "echo hi"}, Env: []string{"A=b"}, TimeoutMS: 1500, Stdin: []byte{0, 1, 2}},
		{Type: TypeStdout, ID: 7, Data: []byte("hi\n\x00\xff")},
		{Type: TypeExit, ID: 7, Code: 3, TimedOut: true, DurationNS: 42},
	}
	for _, m := range in {
		if err := WriteMessage(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range in {
		got, err := ReadMessage(&buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.Type != want.Type || got.ID != want.ID || !bytes.Equal(got.Data, want.Data) ||
			got.Code != want.Code || got.TimedOut != want.TimedOut || strings.Join(got.Argv, " ") != strings.Join(want.Argv, " ") ||
			!bytes.Equal(got.Stdin, want.Stdin) || got.TimeoutMS != want.TimeoutMS || got.Kernel != want.Kernel {
			t.Errorf("message %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := ReadMessage(&buf); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
}

func TestReadMessageBad(t *testing.T) {
	for name, in := range map[string][]byte{
		"huge":      {0xff, 0xff, 0xff, 0xff},
		"truncated": {0, 0, 0, 10, '{'},
		"notjson":   {0, 0, 0, 3, 'a', 'b', 'c'},
		"notype":    {0, 0, 0, 2, '{', '}'},
		"header":    {0, 0},
	} {
		_, err := ReadMessage(bytes.NewReader(in))
		if err == nil || err == io.EOF {
			t.Errorf("%s: err = %v, want a frame error", name, err)
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteMessage(&buf, &Message{Type: TypeExec, ID: 1, Argv: []string{"true"}})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadMessage(bytes.NewReader(b))
		if err == nil && m.Type == "" {
			t.Fatal("message without type accepted")
		}
	})
}

// pair connects a Serve (running real host commands) and a Client.
func pair(t *testing.T) (*Client, chan error) {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, a, ServeOptions{Ready: &Message{Kernel: "test"}, ChunkSize: 5}) }()
	cl := NewClient(b)
	t.Cleanup(func() {
		cancel()
		cl.Close()
		a.Close()
	})
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	ready, err := cl.WaitReady(rctx)
	if err != nil {
		t.Fatal(err)
	}
	if ready.Kernel != "test" || ready.Version != ProtocolVersion {
		t.Fatalf("ready = %+v", ready)
	}
	return cl, served
}

func TestServeClient(t *testing.T) {
	cl, served := pair(t)
	ctx := context.Background()
	var out, errb bytes.Buffer
	exit, err := cl.Exec(ctx, Command{
		Argv:   []string{"sh", "-c", "echo hello world; echo oops >&2; cat; exit 3"},
		Stdin:  []byte("from stdin\n"),
		Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 3 || out.String() != "hello world\nfrom stdin\n" || errb.String() != "oops\n" {
		t.Errorf("exit %+v stdout %q stderr %q", exit, out.String(), errb.String())
	}

	exit, err = cl.Exec(ctx, Command{Argv: []string{"/nonexistent/cmd"}})
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 127 || exit.Error == "" {
		t.Errorf("missing command: %+v", exit)
	}

	exit, err = cl.Exec(ctx, Command{Argv: []string{"sh", "-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !exit.TimedOut || exit.Code != 128+9 {
		t.Errorf("timeout: %+v", exit)
	}

	// Several commands at once.
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			var o bytes.Buffer
			e, err := cl.Exec(ctx, Command{Argv: []string{"sh", "-c", "sleep 0.1; echo $X"}, Env: []string{"X=ok"}, Stdout: &o})
			if err == nil && (e.Code != 0 || o.String() != "ok\n") {
				err = errors.New("bad result " + o.String())
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}

	// Cancelling the host side kills the command in the guest.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := cl.Exec(cctx, Command{Argv: []string{"sleep", "30"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled exec: %v", err)
	}

	if err := cl.Poweroff(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrPoweroff) {
			t.Errorf("Serve = %v, want ErrPoweroff", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after poweroff")
	}
}

func TestClientGuestGone(t *testing.T) {
	a, b := net.Pipe()
	cl := NewClient(b)
	go func() {
		_ = WriteMessage(a, &Message{Type: TypeReady, Version: ProtocolVersion})
		m, _ := ReadMessage(a) // the exec
		_ = WriteMessage(a, &Message{Type: TypeStdout, ID: m.ID, Data: []byte("partial")})
		a.Close()
	}()
	if _, err := cl.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := cl.Exec(context.Background(), Command{Argv: []string{"x"}})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after guest went away: %v, want ErrClosed", err)
	}
}

func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build (integration)")
	}
	ctx := context.Background()
	cache := t.TempDir()
	bin, err := Build(ctx, BuildOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("agent is not static: has %v", p.Type)
		}
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", f.Machine)
	}
	fi1, _ := os.Stat(bin)
	bin2, err := Build(ctx, BuildOptions{CacheDir: cache})
	if err != nil || bin2 != bin {
		t.Fatalf("second build: %s %v", bin2, err)
	}
	fi2, _ := os.Stat(bin2)
	if !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Error("second Build rebuilt instead of using the cache")
	}
	t.Logf("agent %s: %d bytes", bin, fi1.Size())
}
