package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// ModuleSys is the guest's access to kernel modules and the kernel log.
// Serve uses the kernel's (finit_module(2), delete_module(2), /dev/kmsg)
// unless ServeOptions.Modules gives another, as tests do.
type ModuleSys interface {
	// Load loads the module in the file path with the parameters params
	// (finit_module(2)). A refusal is a syscall.Errno, possibly wrapped.
	Load(path, params string) error
	// Unload removes the loaded module name (delete_module(2) with
	// O_NONBLOCK, as rmmod does). A refusal is a syscall.Errno.
	Unload(name string) error
	// LogSince starts capturing the kernel log; the function it returns
	// gives the messages logged since, one per line.
	LogSince() func() string
}

// KernelModules is the ModuleSys of the running kernel.
type KernelModules struct{}

// Load calls finit_module(2) on path.
func (KernelModules) Load(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := syscall.BytePtrFromString(params)
	if err != nil {
		return err
	}
	nr := sysFinitModule
	if nr < 0 {
		return syscall.ENOSYS
	}
	if _, _, e := syscall.Syscall(uintptr(nr), f.Fd(), uintptr(unsafe.Pointer(p)), 0); e != 0 {
		return e
	}
	return nil
}

// Unload calls delete_module(2) with O_NONBLOCK.
func (KernelModules) Unload(name string) error {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if _, _, e := syscall.Syscall(syscall.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(p)), syscall.O_NONBLOCK, 0); e != 0 {
		return e
	}
	return nil
}

// LogSince opens /dev/kmsg positioned at its end; the returned function
// reads the records logged since (without blocking) and closes it. Without
// /dev/kmsg it falls back to the tail of syslog(2)'s whole buffer.
func (KernelModules) LogSince() func() string {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return syslogTail
	}
	if _, err := syscall.Seek(fd, 0, 2); err != nil { // SEEK_END: after the last record
		syscall.Close(fd)
		return syslogTail
	}
	return func() string {
		defer syscall.Close(fd)
		var b strings.Builder
		buf := make([]byte, 8192) // a record is at most ~1 KiB; one per read
		for {
			n, err := syscall.Read(fd, buf)
			if errors.Is(err, syscall.EPIPE) {
				continue // records were overwritten: read on from the oldest kept
			}
			if err != nil || n <= 0 {
				break // EAGAIN: no more records
			}
			b.WriteString(kmsgLine(string(buf[:n])))
		}
		return b.String()
	}
}

// kmsgLine turns a /dev/kmsg record ("6,339,5140900,-;text\n continuation")
// into dmesg's form ("[    5.140900] text\n").
func kmsgLine(rec string) string {
	head, text, ok := strings.Cut(rec, ";")
	if !ok {
		return rec
	}
	text, _, _ = strings.Cut(text, "\n") // drop the key=value continuation lines
	f := strings.Split(head, ",")
	if len(f) >= 3 {
		var us int64
		if _, err := fmt.Sscan(f[2], &us); err == nil {
			return fmt.Sprintf("[%5d.%06d] %s\n", us/1e6, us%1e6, text)
		}
	}
	return text + "\n"
}

// syslogTail returns the last lines of the kernel's log buffer
// (syslog(2) SYSLOG_ACTION_READ_ALL): the fallback without /dev/kmsg, when
// which lines belong to the operation cannot be told.
func syslogTail() string {
	buf := make([]byte, 1<<16)
	n, err := syscall.Klogctl(3, buf) // SYSLOG_ACTION_READ_ALL
	if err != nil || n <= 0 {
		return ""
	}
	return tailBytes(string(buf[:n]), 2048)
}

// tailBytes returns the end of s of at most n bytes, cut at a line start.
func tailBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// runModule performs one Module request and returns its ModuleDone.
func runModule(m *Message, sys ModuleSys) *Message {
	done := &Message{Type: TypeModuleDone, ID: m.ID, Op: m.Op, Module: m.Module}
	start := time.Now()
	var err error
	switch m.Op {
	case ModuleLoad:
		if m.Path == "" {
			err = errors.New("no module file given")
			break
		}
		log := sys.LogSince()
		err = sys.Load(m.Path, m.Params)
		done.Dmesg = tailBytes(log(), MaxDmesg)
	case ModuleUnload:
		if m.Module == "" {
			err = errors.New("no module name given")
			break
		}
		log := sys.LogSince()
		err = sys.Unload(m.Module)
		done.Dmesg = tailBytes(log(), MaxDmesg)
	default:
		err = fmt.Errorf("unknown module operation %q", m.Op)
	}
	done.DurationNS = int64(time.Since(start))
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			done.Errno = int(errno)
		}
		done.Error = err.Error()
	}
	return done
}
