package kconfig

import (
	"bufio"
	"github.com/rflkit/rflkit/toolchain"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
)

// langSubarch is scripts/subarch.include applied to a `uname -m` value.
func langSubarch(machine string) string {
	switch {
	case regexp.MustCompile(`^i.86`).MatchString(machine), machine == "x86_64":
		return "x86"
	case machine == "sun4u":
		return "sparc64"
	case machine == "arm64":
		return "arm64"
	case strings.HasPrefix(machine, "arm"), machine == "sa110":
		return "arm"
	case machine == "s390x":
		return "s390"
	case strings.HasPrefix(machine, "ppc"):
		return "powerpc"
	case strings.HasPrefix(machine, "mips"):
		return "mips"
	case regexp.MustCompile(`^sh[234]`).MatchString(machine):
		return "sh"
	case strings.HasPrefix(machine, "aarch64"):
		return "arm64"
	case strings.HasPrefix(machine, "riscv"):
		return "riscv"
	case strings.HasPrefix(machine, "loongarch"):
		return "loongarch"
	}
	return machine
}

// langUname returns `uname -m`.
func langUname() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return runtime.GOARCH
	}
	var b strings.Builder
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// langSrcArch maps ARCH to SRCARCH as the top Makefile does.
func langSrcArch(arch string) string { return toolchain.SrcArch(arch) }

// langKernelVersion reads VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION
// from the tree's Makefile and returns KERNELVERSION.
func langKernelVersion(srcDir string) (string, map[string]string, error) {
	f, err := os.Open(filepath.Join(srcDir, "Makefile"))
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan() && n < 20; n++ {
		k, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		switch k {
		case "VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION":
			v[k] = strings.TrimSpace(val)
		}
	}
	kv := v["VERSION"]
	if v["PATCHLEVEL"] != "" {
		kv += "." + v["PATCHLEVEL"]
		if v["SUBLEVEL"] != "" {
			kv += "." + v["SUBLEVEL"]
		}
	}
	return kv + v["EXTRAVERSION"], v, nil
}

// langDefconfigName is KBUILD_DEFCONFIG for an architecture.
func langDefconfigName(srcDir, arch, srcArch string) string {
	if srcArch == "x86" {
		if arch != "x86" {
			return arch + "_defconfig"
		}
		if m := langUname(); regexp.MustCompile(`^i.86$`).MatchString(m) {
			return "i386_defconfig"
		}
		return "x86_64_defconfig"
	}
	machine := langUname()
	switch srcArch {
	case "loongarch":
		if machine == "loongarch32" {
			return "loongson32_defconfig"
		}
		return "loongson64_defconfig"
	case "sparc":
		if arch == "sparc64" {
			return "sparc64_defconfig"
		}
		return "sparc32_defconfig"
	case "parisc":
		if arch == "parisc64" {
			return "generic-64bit_defconfig"
		}
		return "generic-32bit_defconfig"
	case "powerpc":
		if strings.HasPrefix(machine, "ppc") {
			return machine + "_defconfig"
		}
		return "ppc64le_defconfig"
	case "um":
		if sub := langSubarch(machine); sub != "x86" {
			return sub + "_defconfig"
		}
		if machine == "x86_64" {
			return "x86_64_defconfig"
		}
		return "i386_defconfig"
	}
	data, err := os.ReadFile(filepath.Join(srcDir, "arch", srcArch, "Makefile"))
	if err == nil {
		re := regexp.MustCompile(`(?m)^KBUILD_DEFCONFIG\s*:?=\s*(\S+)\s*$`)
		if m := re.FindSubmatch(data); m != nil && !strings.Contains(string(m[1]), "$") {
			return string(m[1])
		}
	}
	return "defconfig"
}

// langClangTargets is CLANG_TARGET_FLAGS_$(SRCARCH) of scripts/Makefile.clang.
var langClangTargets = map[string]string{
	"arm": "arm-linux-gnueabi", "arm64": "aarch64-linux-gnu", "hexagon": "hexagon-linux-musl",
	"loongarch": "loongarch64-linux-gnusf", "m68k": "m68k-linux-gnu", "mips": "mipsel-linux-gnu",
	"powerpc": "powerpc64le-linux-gnu", "riscv": "riscv64-linux-gnu", "s390": "s390x-linux-gnu",
	"sparc": "sparc64-linux-gnu", "x86": "x86_64-linux-gnu", "i386": "i386-linux-gnu",
}

// langMakeEnv computes the environment `make <target>` gives
// scripts/kconfig/conf: the base environment, the variables given on make's
// command line, and what the top Makefile exports. shell runs a command as
// make's $(shell) does (output with newlines turned into spaces).
func langMakeEnv(opts LoadOptions, base []string, shell func(cmd string, env []string) string) (map[string]string, string, error) {
	env := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	delete(env, "LC_ALL") // unexport LC_ALL
	// A make variable: the command line wins over the Makefile, which wins
	// over the environment.
	cmdline := opts.MakeVars
	mk := func(name, def string) string {
		if v, ok := cmdline[name]; ok {
			return v
		}
		return def
	}
	envOr := func(name, def string) string {
		if v, ok := cmdline[name]; ok {
			return v
		}
		if v, ok := env[name]; ok {
			return v
		}
		return def
	}
	srcDir, err := filepath.Abs(opts.SrcDir)
	if err != nil {
		return nil, "", err
	}
	kv, vers, err := langKernelVersion(srcDir)
	if err != nil {
		return nil, "", err
	}
	arch := opts.Arch
	if arch == "" {
		arch = envOr("ARCH", langSubarch(langUname()))
	} else if v, ok := cmdline["ARCH"]; ok {
		arch = v
	}
	srcArch := langSrcArch(arch)
	llvm := envOr("LLVM", "")
	cross := envOr("CROSS_COMPILE", "")
	out := map[string]string{}
	set := func(k, v string) { out[k] = v }
	if llvm != "" {
		prefix, suffix := "", ""
		switch {
		case strings.HasSuffix(llvm, "/"):
			prefix = llvm
		case strings.HasPrefix(llvm, "-"):
			suffix = llvm
		case llvm != "1":
			return nil, "", &Error{File: "Makefile", Line: 0, Msg: "Invalid value for LLVM, see Documentation/kbuild/llvm.rst"}
		}
		set("HOSTCC", mk("HOSTCC", prefix+"clang"+suffix))
		set("HOSTCXX", mk("HOSTCXX", prefix+"clang++"+suffix))
		set("CC", mk("CC", prefix+"clang"+suffix))
		set("LD", mk("LD", prefix+"ld.lld"+suffix))
		set("AR", mk("AR", prefix+"llvm-ar"+suffix))
		set("NM", mk("NM", prefix+"llvm-nm"+suffix))
		set("OBJCOPY", mk("OBJCOPY", prefix+"llvm-objcopy"+suffix))
		set("OBJDUMP", mk("OBJDUMP", prefix+"llvm-objdump"+suffix))
		set("READELF", mk("READELF", prefix+"llvm-readelf"+suffix))
		set("STRIP", mk("STRIP", prefix+"llvm-strip"+suffix))
	} else {
		set("HOSTCC", mk("HOSTCC", "gcc"))
		set("HOSTCXX", mk("HOSTCXX", "g++"))
		set("CC", mk("CC", cross+"gcc"))
		set("LD", mk("LD", cross+"ld"))
		set("AR", mk("AR", cross+"ar"))
		set("NM", mk("NM", cross+"nm"))
		set("OBJCOPY", mk("OBJCOPY", cross+"objcopy"))
		set("OBJDUMP", mk("OBJDUMP", cross+"objdump"))
		set("READELF", mk("READELF", cross+"readelf"))
		set("STRIP", mk("STRIP", cross+"strip"))
	}
	set("CPP", mk("CPP", out["CC"]+" -E"))
	for k, def := range map[string]string{
		"RUSTC": "rustc", "HOSTRUSTC": "rustc", "RUSTDOC": "rustdoc", "RUSTFMT": "rustfmt",
		"BINDGEN": "bindgen", "PAHOLE": "pahole", "LEX": "flex", "YACC": "bison", "AWK": "awk",
		"PERL": "perl", "PYTHON3": "python3", "INSTALLKERNEL": "installkernel",
		"HOSTPKG_CONFIG": "pkg-config", "LZ4": "lz4", "XZ": "xz", "ZSTD": "zstd",
	} {
		set(k, mk(k, def))
	}
	set("CROSS_COMPILE", cross)
	set("ARCH", arch)
	set("SRCARCH", srcArch)
	set("UTS_MACHINE", arch)
	set("CONFIG_SHELL", "sh")
	set("LC_COLLATE", "C")
	set("LC_NUMERIC", "C")
	set("srctree", srcDir)
	set("objtree", ".")
	set("srcroot", srcDir)
	set("KCONFIG_CONFIG", envOr("KCONFIG_CONFIG", ".config"))
	set("RUSTC_BOOTSTRAP", "1")
	set("KERNELVERSION", kv)
	for _, k := range []string{"VERSION", "PATCHLEVEL", "SUBLEVEL"} {
		set(k, vers[k])
	}
	set("KERNELRELEASE", "")
	if srcArch == "um" {
		// arch/um/Makefile exports these for its Kconfig.
		sub := envOr("SUBARCH", langSubarch(langUname()))
		set("SUBARCH", sub)
		header := sub
		if sub == "x86_64" || sub == "i386" {
			header = "x86"
		}
		set("HEADER_ARCH", header)
	}
	defconfig := mk("KBUILD_DEFCONFIG", langDefconfigName(srcDir, arch, srcArch))
	set("KBUILD_DEFCONFIG", defconfig)
	// Command-line variables are exported too.
	for k, v := range cmdline {
		if _, done := out[k]; !done {
			out[k] = v
		}
	}
	for k, v := range out {
		env[k] = v
	}
	list := langEnvList(env)
	ccText := shell("LC_ALL=C "+out["CC"]+" --version 2>/dev/null | head -n 1", list)
	set("CC_VERSION_TEXT", strings.ReplaceAll(ccText, "#", ""))
	set("RUSTC_VERSION_TEXT", strings.ReplaceAll(shell(out["RUSTC"]+" --version 2>/dev/null", list), "#", ""))
	set("PAHOLE_VERSION", shell(srcDir+"/scripts/pahole-version.sh "+out["PAHOLE"], list))
	if strings.Contains(out["CC_VERSION_TEXT"], "clang") {
		target := langClangTargets[srcArch]
		if srcArch == "um" {
			target = langClangTargets[langSubarch(langUname())]
		}
		flags := "--target=" + target
		if envOr("LLVM_IAS", "") == "0" {
			dir := shell("which "+cross+"elfedit", langEnvList(env))
			if i := strings.LastIndexByte(dir, '/'); i >= 0 {
				dir = dir[:i+1]
			} else {
				dir = "./"
			}
			flags += " -fno-integrated-as --prefix=" + dir + filepath.Base(cross + "x")[:len(filepath.Base(cross+"x"))-1]
		} else {
			flags += " -fintegrated-as"
		}
		flags += " -Werror=unknown-warning-option -Werror=ignored-optimization-argument -Werror=option-ignored -Werror=unused-command-line-argument"
		set("CLANG_FLAGS", flags)
	}
	for _, k := range []string{"CC_VERSION_TEXT", "RUSTC_VERSION_TEXT", "PAHOLE_VERSION", "CLANG_FLAGS"} {
		if v, ok := out[k]; ok {
			env[k] = v
		}
	}
	return env, filepath.Join("arch", srcArch, "configs", defconfig), nil
}

// langEnvList turns an environment map into a sorted KEY=VALUE list.
func langEnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sortStrings(out)
	return out
}
