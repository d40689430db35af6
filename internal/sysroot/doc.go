// Package sysroot unpacks Debian packages of a foreign architecture (the
// arm64 guest's busybox-static, fio and its libraries) into a directory of
// rflkit's cache, without installing anything on the host: `apt-get
// download NAME:ARCH` fetches the .debs into a scratch directory and
// `dpkg-deb -x` unpacks each into the sysroot. The dpkg architecture and
// its package lists must be present (scripts/setup adds arm64).
//
// Sysroots live in <CacheDir>/sysroot/<key>/root, keyed by the
// architecture and the sorted package names; a flock makes concurrent
// callers (threads or processes) download once, and a sysroot is renamed
// into place only when complete.
package sysroot
