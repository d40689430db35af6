//go:build !amd64 && !arm64

package agent

// sysFinitModule is unknown here: loading a module fails with ENOSYS.
const sysFinitModule = -1
