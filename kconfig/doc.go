// Package kconfig is part of rflkit; see the module documentation.
package kconfig
