// Package qemu is part of rflkit; see the module documentation.
package qemu
