// Package toolchain is part of rflkit; see the module documentation.
package toolchain
