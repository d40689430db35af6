// Package ksrc turns a kernel source tarball into a directory, once.
//
// Unpack streams a .tar.xz, .tar.gz or plain .tar through Go's archive/tar
// into a cache directory keyed by the tarball's content (SHA-256), so that
// every later call, from any process, returns the same tree at once. The
// unpack happens in a temporary directory that is renamed into place only
// when complete, under a file lock, so an interrupted unpack never leaves a
// half tree behind and two processes never unpack the same tarball twice.
//
// A tarball is untrusted input. Every write goes through an [os.Root] opened
// on the temporary directory, and on top of that:
//
//   - entry names and hard link targets must stay inside the tree; symbolic
//     link targets must be relative and resolve inside the tree (checked
//     when the link is made and again, through every link, once the archive
//     is complete);
//   - nothing is written through a link: an entry's parent directories must
//     be real directories, and an entry that replaces an existing file or
//     link removes it first (it never replaces a directory);
//   - the compressed stream is read to its end, so that xz and gzip
//     checksums are verified, the tar stream must end with its end-of-archive
//     marker, and only zero padding may follow it;
//   - the unpacked size and the number of entries are bounded
//     ([UnpackOptions]); sparse entries are refused;
//   - the context is checked on every read of the archive, so a cancel is
//     seen within one read, even inside one large entry;
//   - each temporary directory is held by a lock file beside it, and
//     temporary directories whose owner died (kill -9) are removed by the
//     next Unpack.
package ksrc
