// Package bench is part of rflkit; see the module documentation.
package bench
