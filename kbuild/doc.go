// Package kbuild is part of rflkit; see the module documentation.
package kbuild
