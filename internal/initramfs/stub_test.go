package initramfs

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fioUnused are the libraries Debian's fio links for ioengines other than
// io_uring, libaio, sync and psync.
var fioUnused = []string{"libgfapi.so.0", "libnbd.so.0", "libibverbs.so.1", "librdmacm.so.1", "librados.so.2", "librbd.so.1", "libpmemblk.so.1", "libpmem.so.1"}

func TestStubRunsFio(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs /usr/bin/fio")
	}
	const fio = "/usr/bin/fio"
	if _, err := os.Stat(fio); err != nil {
		t.Fatalf("%v: run scripts/setup", err)
	}
	var r Resolver
	deps, err := r.Resolve([]string{fio}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, lib := range fioUnused {
		var path string
		for _, l := range deps.Libraries {
			if l.Name == lib {
				path = l.HostPath
			}
		}
		if path == "" {
			t.Fatalf("fio does not need %s", lib)
		}
		syms, vers, err := StubImports(fio, lib, path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GenerateStub(lib, syms, vers)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, lib)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(p)
		if err != nil {
			t.Fatalf("stub %s does not parse: %v", lib, err)
		}
		ds, err := f.DynamicSymbols()
		f.Close()
		if err != nil || len(ds) != len(syms) {
			t.Fatalf("stub %s: %d symbols (%v), want %d", lib, len(ds), err, len(syms))
		}
		t.Logf("%s: %d symbols, %d versions, %d bytes (real: %s)", lib, len(syms), len(vers), len(b), path)
	}
	cmd := exec.Command(fio, "--version")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "fio-") {
		t.Fatalf("fio --version with stubs: %v\n%s", err, out)
	}
	// The loader really used the stubs, not the host's libraries.
	cmd = exec.Command(fio, "--version")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+dir, "LD_DEBUG=files")
	out, _ = cmd.CombinedOutput()
	for _, lib := range fioUnused {
		if !strings.Contains(string(out), "calling init: "+filepath.Join(dir, lib)) {
			t.Errorf("loader did not load the stub %s:\n%s", lib, out)
		}
	}
	// A job that uses a stubbed engine reaches the stub and fails cleanly.
	cmd = exec.Command(fio, "--name=x", "--ioengine=null", "--size=1M", "--bs=4k", "--rw=read")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fio null job with stubs: %v\n%s", err, out)
	}
}
