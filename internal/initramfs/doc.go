// Package initramfs writes initramfs archives: cpio "newc" with files,
// directories, symlinks and device nodes, deterministic (sorted members,
// fixed inode numbers, zero mtimes and owners), plus what is needed to put
// host binaries in one: their shared libraries and dynamic loader, found
// from the ELF headers (PT_INTERP, DT_NEEDED, DT_RUNPATH/DT_RPATH,
// ld.so.conf), and generated stub libraries standing in for dependencies
// that a binary links but never calls for the job at hand.
package initramfs
