package toolchain

// KernelReason is kernelReason for the external test package.
var KernelReason = kernelReason
