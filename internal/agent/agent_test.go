package agent

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"path/filepath"
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
	return pairChunk(t, 5)
}

// pairChunk is pair with output chunks of at most chunk bytes.
func pairChunk(t *testing.T, chunk int) (*Client, chan error) {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, a, ServeOptions{Ready: &Message{Kernel: "test"}, ChunkSize: chunk}) }()
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
		Stdin:  strings.NewReader("from stdin\n"),
		Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 3 || out.String() != "hello world\nfrom stdin\n" || errb.String() != "oops\n" {
		t.Errorf("exit %+v stdout %q stderr %q", exit, out.String(), errb.String())
	}

	errb.Reset()
	exit, err = cl.Exec(ctx, Command{Argv: []string{"/nonexistent/cmd"}, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 127 || exit.Error == "" {
		t.Errorf("missing command: %+v", exit)
	}
	// The reason reaches the streamed stderr, like a shell's message.
	if want := "rflkit-agent: /nonexistent/cmd: no such file or directory\n"; errb.String() != want {
		t.Errorf("missing command: stderr %q, want %q", errb.String(), want)
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

// A command that cannot start explains why on its stderr stream: not on
// PATH, not executable, a missing working directory.
func TestExecStartFailures(t *testing.T) {
	cl, _ := pair(t)
	dir := t.TempDir()
	noexec := dir + "/noexec"
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  Command
		code int
		want string
	}{
		{Command{Argv: []string{"rflkit-no-such-command"}}, 127, "rflkit-agent: rflkit-no-such-command: command not found\n"},
		{Command{Argv: []string{noexec}}, 126, "rflkit-agent: " + noexec + ": permission denied\n"},
		{Command{Argv: []string{"true"}, Dir: dir + "/missing"}, 127, "rflkit-agent: true: chdir " + dir + "/missing: no such file or directory\n"},
		// With streamed stdin, too.
		{Command{Argv: []string{"/no/such/cmd"}, Stdin: strings.NewReader("x")}, 127, "rflkit-agent: /no/such/cmd: no such file or directory\n"},
	} {
		var errb bytes.Buffer
		tc.cmd.Stderr = &errb
		exit, err := cl.Exec(context.Background(), tc.cmd)
		if err != nil {
			t.Fatal(err)
		}
		if exit.Code != tc.code || errb.String() != tc.want || exit.Error == "" {
			t.Errorf("%v: exit %+v, stderr %q; want code %d, stderr %q", tc.cmd.Argv, exit, errb.String(), tc.code, tc.want)
		}
	}
}

// blockingReader returns data, then blocks until unblocked (a terminal
// nobody types into), then reports EOF.
type blockingReader struct {
	data    []byte
	unblock chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.unblock
	return 0, io.EOF
}

// countingReader counts what was read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestExecStdinStream(t *testing.T) {
	cl, _ := pairChunk(t, 0)
	ctx := context.Background()

	// Far more than the window, binary: the round trip through cat is
	// exact, and EOF ends cat.
	in := make([]byte, 3<<20+17)
	for i := range in {
		in[i] = byte(i*7 + i>>9)
	}
	var out bytes.Buffer
	exit, err := cl.Exec(ctx, Command{Argv: []string{"cat"}, Stdin: bytes.NewReader(in), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 || !bytes.Equal(out.Bytes(), in) {
		t.Errorf("cat: exit %+v, %d bytes out of %d, equal %v", exit, out.Len(), len(in), bytes.Equal(out.Bytes(), in))
	}

	// An empty input is an immediate EOF.
	out.Reset()
	exit, err = cl.Exec(ctx, Command{Argv: []string{"wc", "-c"}, Stdin: strings.NewReader(""), Stdout: &out})
	if err != nil || exit.Code != 0 || strings.TrimSpace(out.String()) != "0" {
		t.Errorf("wc -c of nothing: %+v %v %q", exit, err, out.String())
	}

	// A command that does not read its input ends; the host stops
	// reading the input at the window (plus what the guest's pipe
	// holds) instead of draining it into the guest.
	big := &countingReader{r: bytes.NewReader(make([]byte, 64<<20))}
	exit, err = cl.Exec(ctx, Command{Argv: []string{"sleep", "0.2"}, Stdin: big})
	if err != nil || exit.Code != 0 {
		t.Errorf("sleep with unread input: %+v %v", exit, err)
	}
	if limit := int64(StdinWindow+2) * stdinChunk; big.n > limit+(64<<10) {
		// The pipe in the guest holds 64 KiB beyond the window.
		t.Errorf("the host read %d bytes of input nobody read (window %d)", big.n, limit)
	}

	// A command that stops reading (head) ends the run although the
	// input goes on.
	out.Reset()
	exit, err = cl.Exec(ctx, Command{Argv: []string{"head", "-c", "5"}, Stdin: bytes.NewReader(make([]byte, 16<<20)), Stdout: &out})
	if err != nil || exit.Code != 0 || out.Len() != 5 {
		t.Errorf("head -c 5: %+v %v %d bytes", exit, err, out.Len())
	}

	// An input that never ends does not hold the result of a command
	// that has exited; the read blocked in it is left behind.
	br := &blockingReader{data: []byte("line\n"), unblock: make(chan struct{})}
	defer close(br.unblock)
	out.Reset()
	exit, err = cl.Exec(ctx, Command{Argv: []string{"head", "-n", "1"}, Stdin: br, Stdout: &out})
	if err != nil || exit.Code != 0 || out.String() != "line\n" {
		t.Errorf("head -n 1 of an open input: %+v %v %q", exit, err, out.String())
	}

	// Several commands with input at once keep their streams apart.
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			want := strings.Repeat(fmt.Sprintf("stream %d\n", i), 20000)
			var o bytes.Buffer
			e, err := cl.Exec(ctx, Command{Argv: []string{"cat"}, Stdin: strings.NewReader(want), Stdout: &o})
			if err == nil && (e.Code != 0 || o.String() != want) {
				err = fmt.Errorf("stream %d: exit %+v, %d bytes", i, e, o.Len())
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Build gives go build's output to GoOutput (or to the deprecated Log),
// and builds the guest with its tag, which leaves build.go out. A fake go
// command stands in for the real one.
func TestBuildGoOutput(t *testing.T) {
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "go")
	script := "#!/bin/sh\necho \"fake go: $*\"\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then shift; printf bin > \"$1\"; fi; shift; done\n"
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out bytes.Buffer
	bin, err := Build(ctx, BuildOptions{CacheDir: filepath.Join(dir, "a"), Go: fakeGo, GoOutput: &out})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bin); string(b) != "bin" {
		t.Errorf("binary %q", b)
	}
	if !strings.HasPrefix(out.String(), "fake go: build -tags=rflkit_guest ") {
		t.Errorf("GoOutput got %q", out.String())
	}
	var old bytes.Buffer
	if _, err := Build(ctx, BuildOptions{CacheDir: filepath.Join(dir, "b"), Go: fakeGo, Log: &old}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(old.String(), "fake go: build -tags=rflkit_guest ") {
		t.Errorf("Log got %q", old.String())
	}
}

// The guest program is built from the embedded sources alone: every file
// but build.go (left out by the guest's build tag) imports only the
// standard library and this package.
func TestGuestSourcesStdlibOnly(t *testing.T) {
	files, err := sourceFiles()
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		b, err := sources.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, b, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f == "build.go" {
			if !strings.Contains(string(b), "//go:build !"+guestTag+"\n") {
				t.Errorf("build.go lacks the constraint !%s", guestTag)
			}
			continue
		}
		for _, im := range af.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") && p != "github.com/rflkit/rflkit/internal/agent" {
				t.Errorf("%s imports %s: the guest's scratch module has only the standard library and this package", f, p)
			}
		}
	}
}

// The agent cross-compiles for arm64 into its own cache entry: GOARCH is
// part of the key, and the amd64 key is unchanged by the option.
func TestBuildArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build (integration)")
	}
	amd, err := SourceHash()
	if err != nil {
		t.Fatal(err)
	}
	if def, _ := SourceHashFor(""); def != amd {
		t.Errorf("SourceHashFor(\"\") = %s, SourceHash() = %s", def, amd)
	}
	arm, err := SourceHashFor("arm64")
	if err != nil {
		t.Fatal(err)
	}
	if arm == amd {
		t.Fatalf("arm64 and amd64 share the key %s", arm)
	}
	bin, err := Build(context.Background(), BuildOptions{CacheDir: t.TempDir(), GOARCH: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bin, arm) {
		t.Errorf("arm64 agent %s not under its key %s", bin, arm)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine %v, want EM_AARCH64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("agent is not static: has %v", p.Type)
		}
	}
}
