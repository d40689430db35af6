package initramfs

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
)

// StubSymbol is a symbol a stub library defines.
type StubSymbol struct {
	Name    string
	Version string      // "" = unversioned
	Type    elf.SymType // STT_FUNC (or IFUNC) become stub code; STT_OBJECT zeroed data
	Size    uint64      // objects: bytes of zeroed storage
}

// StubImports returns the symbols a stub for library lib must define so
// that binary loads (with BIND_NOW, every import must resolve): the
// binary's dynamic imports that the real library at libPath defines, plus
// the versions the binary requires from lib (its DT_VERNEED entries, which
// the loader checks even when no symbol uses them). A TLS import makes
// stubbing impossible and is an error.
func StubImports(binary, lib, libPath string) (syms []StubSymbol, versions []string, err error) {
	bf, err := elf.Open(binary)
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: stub %s: %w", lib, err)
	}
	defer bf.Close()
	lf, err := elf.Open(libPath)
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: stub %s: %w", lib, err)
	}
	defer lf.Close()
	imports, err := bf.ImportedSymbols()
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: stub %s: %s imports: %w", lib, binary, err)
	}
	defined, err := lf.DynamicSymbols()
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: stub %s: %s symbols: %w", lib, libPath, err)
	}
	type key struct{ name, version string }
	have := map[string][]elf.Symbol{}
	for _, s := range defined {
		if s.Section == elf.SHN_UNDEF {
			continue
		}
		if b := elf.ST_BIND(s.Info); b != elf.STB_GLOBAL && b != elf.STB_WEAK {
			continue
		}
		have[s.Name] = append(have[s.Name], s)
	}
	seen := map[key]bool{}
	for _, im := range imports {
		if im.Library != "" && im.Library != lib {
			continue
		}
		cands := have[im.Name]
		var match *elf.Symbol
		for i := range cands {
			if im.Version == "" || cands[i].Version == im.Version {
				match = &cands[i]
				break
			}
		}
		if match == nil {
			if im.Library == lib {
				return nil, nil, fmt.Errorf("initramfs: stub %s: %s needs %s@%s, which %s does not define", lib, binary, im.Name, im.Version, libPath)
			}
			continue
		}
		k := key{im.Name, im.Version}
		if seen[k] {
			continue
		}
		seen[k] = true
		typ := elf.ST_TYPE(match.Info)
		switch typ {
		case elf.STT_TLS:
			return nil, nil, fmt.Errorf("initramfs: stub %s: %s imports thread-local %s, which a stub cannot provide", lib, binary, im.Name)
		case elf.STT_OBJECT, elf.STT_COMMON:
			typ = elf.STT_OBJECT
		default:
			typ = elf.STT_FUNC
		}
		st := StubSymbol{Name: im.Name, Version: im.Version, Type: typ}
		if typ == elf.STT_OBJECT {
			st.Size = max(match.Size, 8)
		}
		syms = append(syms, st)
	}
	needs, err := bf.DynamicVersionNeeds()
	if err == nil {
		for _, n := range needs {
			if n.Name != lib {
				continue
			}
			for _, v := range n.Needs {
				versions = append(versions, v.Dep)
			}
		}
	}
	sort.Slice(syms, func(i, j int) bool {
		if syms[i].Name != syms[j].Name {
			return syms[i].Name < syms[j].Name
		}
		return syms[i].Version < syms[j].Version
	})
	sort.Strings(versions)
	return syms, versions, nil
}

// elfHash is the System V ELF hash (used by DT_HASH and vd_hash).
func elfHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
		}
		h &^= 0xf0000000
	}
	return h
}

// GenerateStub builds a tiny x86_64 shared object named soname that
// defines syms (with the given symbol versions, plus versions without
// symbols). Every function is the same code: it writes "rflkit: <soname>
// is a stub" to stderr and exits with status 127. Objects are zeroed
// storage. The result loads with glibc's ld.so and reads with debug/elf
// and readelf. The output depends only on the inputs. It is
// GenerateStubFor(elf.EM_X86_64, ...).
func GenerateStub(soname string, syms []StubSymbol, versions []string) ([]byte, error) {
	return GenerateStubFor(elf.EM_X86_64, soname, syms, versions)
}

// stubArch is what differs between the machines GenerateStubFor writes
// stubs for: the code of every function (write the message to stderr,
// exit_group(127)), given the message's offset from the code's start and
// its length, and the segments' alignment.
type stubArch struct {
	code func(msgOff, msgLen uint32) []byte
	// page is the PT_LOAD alignment: the largest page size of the
	// architecture's kernels (64 KiB on arm64, as Debian's own aarch64
	// objects have it).
	page uint64
}

// stubArches are the machines GenerateStubFor knows.
var stubArches = map[elf.Machine]stubArch{
	elf.EM_X86_64: {page: 0x1000, code: func(msgOff, msgLen uint32) []byte {
		c := []byte{
			0x48, 0x8d, 0x35, 0, 0, 0, 0, // lea rsi, [rip+msg]
			0xba, 0, 0, 0, 0, // mov edx, len
			0xbf, 2, 0, 0, 0, // mov edi, 2
			0xb8, 1, 0, 0, 0, // mov eax, 1 (write)
			0x0f, 0x05, // syscall
			0xbf, 127, 0, 0, 0, // mov edi, 127
			0xb8, 231, 0, 0, 0, // mov eax, 231 (exit_group)
			0x0f, 0x05, // syscall
			0x0f, 0x0b, // ud2
		}
		binary.LittleEndian.PutUint32(c[3:], msgOff-7) // rip-relative: from the end of lea
		binary.LittleEndian.PutUint32(c[8:], msgLen)
		return c
	}},
	elf.EM_AARCH64: {page: 0x10000, code: func(msgOff, msgLen uint32) []byte {
		// adr x1, msg (PC-relative from the adr itself, ±1 MiB).
		adr := uint32(0x10000001) | (msgOff&3)<<29 | (msgOff>>2&0x7ffff)<<5
		movz := func(rd, imm uint32) uint32 { return 0xd2800000 | (imm&0xffff)<<5 | rd } // movz xRd, #imm
		words := []uint32{
			adr,
			movz(2, msgLen), // x2 = len
			movz(0, 2),      // x0 = 2 (stderr)
			movz(8, 64),     // x8 = 64 (write)
			0xd4000001,      // svc #0
			movz(0, 127),    // x0 = 127
			movz(8, 94),     // x8 = 94 (exit_group)
			0xd4000001,      // svc #0
			0xd4200000,      // brk #0
		}
		c := make([]byte, 4*len(words))
		for i, w := range words {
			binary.LittleEndian.PutUint32(c[4*i:], w)
		}
		return c
	}},
}

// StubMachines lists the ELF machines GenerateStubFor writes stubs for
// (x86_64 and aarch64).
func StubMachines() []elf.Machine { return []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64} }

// GenerateStubFor is GenerateStub for the ELF machine of the program that
// loads the stub: elf.EM_X86_64 or elf.EM_AARCH64 (64-bit little-endian
// Linux, glibc's loader). The aarch64 function writes the message with
// write(2) and exits with exit_group(127) through svc, as the x86_64 one
// does through syscall; its segments are aligned to 64 KiB, so that
// kernels of every arm64 page size map them. Another machine is an error.
func GenerateStubFor(machine elf.Machine, soname string, syms []StubSymbol, versions []string) ([]byte, error) {
	if soname == "" {
		return nil, fmt.Errorf("initramfs: stub without a soname")
	}
	arch, ok := stubArches[machine]
	if !ok {
		return nil, fmt.Errorf("initramfs: stub %s: no stub code for ELF machine %v", soname, machine)
	}
	// Version definitions: index 1 is the base (the soname).
	verIndex := map[string]uint16{}
	verNames := []string{soname}
	addVer := func(v string) {
		if v == "" {
			return
		}
		if _, ok := verIndex[v]; !ok {
			verNames = append(verNames, v)
			verIndex[v] = uint16(len(verNames))
		}
	}
	for _, v := range versions {
		addVer(v)
	}
	for _, s := range syms {
		addVer(s.Version)
	}

	// String tables.
	var dynstr bytes.Buffer
	dynstr.WriteByte(0)
	strOff := map[string]uint32{}
	str := func(s string) uint32 {
		if o, ok := strOff[s]; ok {
			return o
		}
		o := uint32(dynstr.Len())
		dynstr.WriteString(s)
		dynstr.WriteByte(0)
		strOff[s] = o
		return o
	}
	str(soname)
	for _, v := range verNames {
		str(v)
	}
	for _, s := range syms {
		str(s.Name)
	}

	le := binary.LittleEndian
	const (
		ehSize  = 64
		phSize  = 56
		shSize  = 64
		nPh     = 4
		symSize = 24
	)
	align := func(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
	page := arch.page

	nsym := uint64(len(syms) + 1)
	off := uint64(ehSize + nPh*phSize)
	hashOff := align(off, 8)
	nbucket := uint64(len(syms)/2 + 1)
	hashSize := 4 * (2 + nbucket + nsym)
	dynsymOff := align(hashOff+hashSize, 8)
	dynstrOff := dynsymOff + nsym*symSize
	versymOff := align(dynstrOff+uint64(dynstr.Len()), 2)
	verdefOff := align(versymOff+2*nsym, 8)
	verdefSize := uint64(len(verNames)) * 28
	textOff := align(verdefOff+verdefSize, 16)

	msg := fmt.Sprintf("rflkit: %s is a stub in this initramfs; the program called a function of it\n", soname)
	codeLen := uint32(len(arch.code(0, 0)))
	code := arch.code(codeLen, uint32(len(msg)))
	text := append(code, msg...)
	textEnd := textOff + uint64(len(text))

	// RW segment: .dynamic then .bss.
	dynOff := align(textEnd, page)
	type dyn struct{ tag, val uint64 }
	dyns := []dyn{
		{uint64(elf.DT_SONAME), uint64(strOff[soname])},
		{uint64(elf.DT_HASH), hashOff},
		{uint64(elf.DT_STRTAB), dynstrOff},
		{uint64(elf.DT_SYMTAB), dynsymOff},
		{uint64(elf.DT_STRSZ), uint64(dynstr.Len())},
		{uint64(elf.DT_SYMENT), symSize},
		{uint64(elf.DT_VERSYM), versymOff},
		{uint64(elf.DT_VERDEF), verdefOff},
		{uint64(elf.DT_VERDEFNUM), uint64(len(verNames))},
		{uint64(elf.DT_NULL), 0},
	}
	dynSize := uint64(len(dyns) * 16)
	bssOff := align(dynOff+dynSize, 16)
	bss := bssOff
	objAddr := make([]uint64, len(syms))
	for i, s := range syms {
		if s.Type == elf.STT_OBJECT {
			objAddr[i] = bss
			bss = align(bss+s.Size, 16)
		}
	}
	bssSize := bss - bssOff

	// Section header string table and headers go after .dynamic in the file.
	shstr := []byte("\x00.hash\x00.dynsym\x00.dynstr\x00.gnu.version\x00.gnu.version_d\x00.text\x00.dynamic\x00.bss\x00.shstrtab\x00")
	shName := func(n string) uint32 { return uint32(bytes.Index(shstr, []byte("\x00"+n+"\x00")) + 1) }
	shstrOff := dynOff + dynSize
	shOff := align(shstrOff+uint64(len(shstr)), 8)
	const nSh = 10
	size := shOff + nSh*shSize
	out := make([]byte, size)

	// ELF header.
	copy(out, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	le.PutUint16(out[16:], uint16(elf.ET_DYN))
	le.PutUint16(out[18:], uint16(machine))
	le.PutUint32(out[20:], 1)
	le.PutUint64(out[24:], textOff) // e_entry (not used)
	le.PutUint64(out[32:], ehSize)  // e_phoff
	le.PutUint64(out[40:], shOff)   // e_shoff
	le.PutUint16(out[52:], ehSize)
	le.PutUint16(out[54:], phSize)
	le.PutUint16(out[56:], nPh)
	le.PutUint16(out[58:], shSize)
	le.PutUint16(out[60:], nSh)
	le.PutUint16(out[62:], nSh-1) // e_shstrndx

	ph := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, filesz, memsz, al uint64) {
		b := out[ehSize+i*phSize:]
		le.PutUint32(b[0:], uint32(typ))
		le.PutUint32(b[4:], uint32(flags))
		le.PutUint64(b[8:], off)
		le.PutUint64(b[16:], off) // vaddr = offset
		le.PutUint64(b[24:], off)
		le.PutUint64(b[32:], filesz)
		le.PutUint64(b[40:], memsz)
		le.PutUint64(b[48:], al)
	}
	ph(0, elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, textEnd, textEnd, page)
	ph(1, elf.PT_LOAD, elf.PF_R|elf.PF_W, dynOff, dynSize, bss-dynOff, page)
	ph(2, elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, dynOff, dynSize, dynSize, 8)
	ph(3, elf.PT_GNU_STACK, elf.PF_R|elf.PF_W, 0, 0, 0, 16)

	// .hash
	h := out[hashOff:]
	le.PutUint32(h[0:], uint32(nbucket))
	le.PutUint32(h[4:], uint32(nsym))
	buckets := h[8:]
	chains := h[8+4*nbucket:]
	for i := len(syms); i >= 1; i-- { // prepend, so chains keep symbol order
		b := uint64(elfHash(syms[i-1].Name)) % nbucket
		le.PutUint32(chains[4*i:], le.Uint32(buckets[4*b:]))
		le.PutUint32(buckets[4*b:], uint32(i))
	}

	// .dynsym and .gnu.version
	for i, s := range syms {
		b := out[dynsymOff+uint64(i+1)*symSize:]
		le.PutUint32(b[0:], strOff[s.Name])
		shndx, value, sz := uint16(6), textOff, uint64(len(code))
		if s.Type == elf.STT_OBJECT {
			shndx, value, sz = 8, objAddr[i], s.Size
		}
		b[4] = byte(elf.STB_GLOBAL)<<4 | byte(s.Type)
		le.PutUint16(b[6:], shndx)
		le.PutUint64(b[8:], value)
		le.PutUint64(b[16:], sz)
		vi := uint16(1)
		if s.Version != "" {
			vi = verIndex[s.Version]
		}
		le.PutUint16(out[versymOff+uint64(i+1)*2:], vi)
	}
	copy(out[dynstrOff:], dynstr.Bytes())

	// .gnu.version_d
	for i, v := range verNames {
		b := out[verdefOff+uint64(i)*28:]
		le.PutUint16(b[0:], 1) // vd_version
		if i == 0 {
			le.PutUint16(b[2:], 1) // VER_FLG_BASE
		}
		le.PutUint16(b[4:], uint16(i+1))
		le.PutUint16(b[6:], 1)
		le.PutUint32(b[8:], elfHash(v))
		le.PutUint32(b[12:], 20)
		if i < len(verNames)-1 {
			le.PutUint32(b[16:], 28)
		}
		le.PutUint32(b[20:], str(v))
	}
	copy(out[textOff:], text)
	for i, d := range dyns {
		le.PutUint64(out[dynOff+uint64(i)*16:], d.tag)
		le.PutUint64(out[dynOff+uint64(i)*16+8:], d.val)
	}
	copy(out[shstrOff:], shstr)

	sh := func(i int, name string, typ elf.SectionType, flags elf.SectionFlag, off, sz uint64, link, info uint32, al, ent uint64) {
		b := out[shOff+uint64(i)*shSize:]
		le.PutUint32(b[0:], shName(name))
		le.PutUint32(b[4:], uint32(typ))
		le.PutUint64(b[8:], uint64(flags))
		if flags&elf.SHF_ALLOC != 0 {
			le.PutUint64(b[16:], off)
		}
		le.PutUint64(b[24:], off)
		le.PutUint64(b[32:], sz)
		le.PutUint32(b[40:], link)
		le.PutUint32(b[44:], info)
		le.PutUint64(b[48:], al)
		le.PutUint64(b[56:], ent)
	}
	sh(1, ".hash", elf.SHT_HASH, elf.SHF_ALLOC, hashOff, hashSize, 2, 0, 8, 4)
	sh(2, ".dynsym", elf.SHT_DYNSYM, elf.SHF_ALLOC, dynsymOff, nsym*symSize, 3, 1, 8, symSize)
	sh(3, ".dynstr", elf.SHT_STRTAB, elf.SHF_ALLOC, dynstrOff, uint64(dynstr.Len()), 0, 0, 1, 0)
	sh(4, ".gnu.version", elf.SHT_GNU_VERSYM, elf.SHF_ALLOC, versymOff, 2*nsym, 2, 0, 2, 2)
	sh(5, ".gnu.version_d", elf.SHT_GNU_VERDEF, elf.SHF_ALLOC, verdefOff, verdefSize, 3, uint32(len(verNames)), 8, 0)
	sh(6, ".text", elf.SHT_PROGBITS, elf.SHF_ALLOC|elf.SHF_EXECINSTR, textOff, uint64(len(text)), 0, 0, 16, 0)
	sh(7, ".dynamic", elf.SHT_DYNAMIC, elf.SHF_ALLOC|elf.SHF_WRITE, dynOff, dynSize, 3, 0, 8, 16)
	sh(8, ".bss", elf.SHT_NOBITS, elf.SHF_ALLOC|elf.SHF_WRITE, bssOff, bssSize, 0, 0, 16, 0)
	sh(9, ".shstrtab", elf.SHT_STRTAB, 0, shstrOff, uint64(len(shstr)), 0, 0, 1, 0)
	return out, nil
}
