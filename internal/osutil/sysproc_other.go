//go:build !linux

package osutil

import "syscall"

// sysProcAttr puts the child in a process group of its own (there is no
// Pdeathsig outside Linux).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
