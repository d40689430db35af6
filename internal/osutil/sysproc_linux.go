//go:build linux

package osutil

import "syscall"

// sysProcAttr puts the child in a process group of its own and has the
// kernel SIGKILL it when the thread that started it dies. (Pdeathsig is not
// inherited: the child's own children are reached through the group.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
