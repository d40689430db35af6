package agent

// sysFinitModule is finit_module(2)'s number on x86_64 (the standard
// library's syscall package predates it).
const sysFinitModule = 313
