package initramfs

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// objdumpLine is an instruction line of llvm-objdump -d --no-show-raw-insn.
var objdumpLine = regexp.MustCompile(`^\s*[0-9a-f]+:\s+(.*)$`)

// An aarch64 stub is an aarch64 ELF shared object with the symbols and
// versions asked for, its segments aligned to 64 KiB; its code decodes
// (llvm-objdump, the LLVM the kernel builds use) to write(2, msg, len)
// and exit_group(127) with the message right after it.
func TestStubAarch64(t *testing.T) {
	syms := []StubSymbol{{Name: "nbd_create", Version: "LIBNBD_1.0", Type: elf.STT_FUNC}, {Name: "an_object", Type: elf.STT_OBJECT, Size: 24}}
	b, err := GenerateStubFor(elf.EM_AARCH64, "libnbd.so.0", syms, []string{"LIBNBD_1.0"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "libnbd.so.0")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_DYN {
		t.Fatalf("machine %v class %v type %v, want an aarch64 ET_DYN", f.Machine, f.Class, f.Type)
	}
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_LOAD && (ph.Align != 0x10000 || ph.Off%ph.Align != ph.Vaddr%ph.Align) {
			t.Errorf("PT_LOAD %+v: want 64 KiB alignment", ph.ProgHeader)
		}
	}
	ds, err := f.DynamicSymbols()
	if err != nil || len(ds) != 2 || ds[0].Name != "nbd_create" || ds[0].Version != "LIBNBD_1.0" {
		t.Fatalf("dynamic symbols %+v, %v", ds, err)
	}
	if testing.Short() {
		return
	}
	objdump, err := exec.LookPath("llvm-objdump")
	if err != nil {
		t.Fatalf("%v: run scripts/setup (llvm)", err)
	}
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", p).CombinedOutput()
	if err != nil {
		t.Fatalf("llvm-objdump: %v\n%s", err, out)
	}
	text := f.Section(".text")
	msgAt := text.Addr + 36 // nine instructions
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if m := objdumpLine.FindStringSubmatch(l); m != nil {
			insn, _, _ := strings.Cut(m[1], "//")
			insn, _, _ = strings.Cut(insn, "<")
			got = append(got, strings.Join(strings.Fields(insn), " "))
		}
		if len(got) == 9 {
			break
		}
	}
	msg := "rflkit: libnbd.so.0 is a stub in this initramfs; the program called a function of it\n"
	want := []string{fmt.Sprintf("adr x1, 0x%x", msgAt), fmt.Sprintf("mov x2, #0x%x", len(msg)), "mov x0, #0x2", "mov x8, #0x40", "svc #0",
		"mov x0, #0x7f", "mov x8, #0x5e", "svc #0", "brk #0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stub code:\n%s\nwant:\n%s\nobjdump:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
	data, _ := text.Data()
	if !strings.HasSuffix(string(data), msg) || uint64(len(data)) != 36+uint64(len(msg)) {
		t.Errorf(".text %q does not end with the message right after the code", data)
	}
	if _, err := GenerateStubFor(elf.EM_RISCV, "x.so", nil, nil); err == nil {
		t.Error("GenerateStubFor(EM_RISCV): no error")
	}
}
