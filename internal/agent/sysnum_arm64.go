package agent

// sysFinitModule is finit_module(2)'s number on arm64 (the standard
// library's syscall package predates it).
const sysFinitModule = 273
