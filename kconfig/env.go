package kconfig

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rflkit/rflkit/internal/karch"
)

// kernelVersion reads VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION
// from the tree's Makefile and returns KERNELVERSION.
func kernelVersion(srcDir string) (string, map[string]string, error) {
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

// defconfigName is KBUILD_DEFCONFIG for an architecture.
func defconfigName(srcDir, arch, srcArch string) string {
	if srcArch == "x86" {
		if arch != "x86" {
			return arch + "_defconfig"
		}
		if m := karch.Uname(); regexp.MustCompile(`^i.86$`).MatchString(m) {
			return "i386_defconfig"
		}
		return "x86_64_defconfig"
	}
	machine := karch.Uname()
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
		if sub := karch.Subarch(machine); sub != "x86" {
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

// clangTarget is CLANG_TARGET_FLAGS_<name> of scripts/Makefile.clang for a
// SRCARCH, or for the SUBARCH of um (which may be i386): "" when the
// Makefile defines none.
func clangTarget(name string) string {
	if name == "i386" {
		return karch.ClangTargetI386
	}
	if in, ok := karch.Lookup(name); ok && in.SrcArch == name {
		return in.ClangTarget
	}
	return ""
}

// makeEnv computes the environment `make <target>` gives
// scripts/kconfig/conf: the base environment, the variables given on make's
// command line, and what the top Makefile exports. shell runs a command as
// make's $(shell) does (output with newlines turned into spaces).
func makeEnv(opts LoadOptions, base []string, shell func(cmd string, env []string) string) (map[string]string, string, error) {
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
	kv, vers, err := kernelVersion(srcDir)
	if err != nil {
		return nil, "", err
	}
	arch := opts.Arch
	if arch == "" {
		arch = envOr("ARCH", karch.Subarch(karch.Uname()))
	} else if v, ok := cmdline["ARCH"]; ok {
		arch = v
	}
	srcArch := karch.SrcArch(arch)
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
			return nil, "", &LoadError{File: "Makefile", Line: 0, Msg: "Invalid value for LLVM, see Documentation/kbuild/llvm.rst"}
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
		sub := envOr("SUBARCH", karch.Subarch(karch.Uname()))
		set("SUBARCH", sub)
		header := sub
		if sub == "x86_64" || sub == "i386" {
			header = "x86"
		}
		set("HEADER_ARCH", header)
	}
	defconfig := mk("KBUILD_DEFCONFIG", defconfigName(srcDir, arch, srcArch))
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
	list := envList(env)
	ccText := shell("LC_ALL=C "+out["CC"]+" --version 2>/dev/null | head -n 1", list)
	set("CC_VERSION_TEXT", strings.ReplaceAll(ccText, "#", ""))
	set("RUSTC_VERSION_TEXT", strings.ReplaceAll(shell(out["RUSTC"]+" --version 2>/dev/null", list), "#", ""))
	set("PAHOLE_VERSION", shell(srcDir+"/scripts/pahole-version.sh "+out["PAHOLE"], list))
	if strings.Contains(out["CC_VERSION_TEXT"], "clang") {
		target := clangTarget(srcArch)
		if srcArch == "um" {
			target = clangTarget(karch.Subarch(karch.Uname()))
		}
		flags := "--target=" + target
		if envOr("LLVM_IAS", "") == "0" {
			dir := shell("which "+cross+"elfedit", envList(env))
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

// envList turns an environment map into a sorted KEY=VALUE list.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
