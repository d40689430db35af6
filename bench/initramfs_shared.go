package bench

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/rflkit/rflkit/qemu"
)

// BuildFioInitramfs builds (or finds in opts.CacheDir) the guests'
// initramfs exactly as QEMUBoot would on its first boot, and returns its
// path: built once on the submitting machine and put on shared storage,
// it is QEMUOptions.Initramfs for every shard, so that compute nodes need
// no host fio.
func BuildFioInitramfs(ctx context.Context, opts QEMUOptions) (string, error) {
	opts, err := opts.withSysroot(ctx)
	if err != nil {
		return "", err
	}
	fio := opts.Fio
	if fio == "" {
		p, err := exec.LookPath("fio")
		if err != nil {
			return "", fmt.Errorf("bench: fio not found on the host (run scripts/setup): %w", err)
		}
		fio = p
	}
	p, err := qemu.BuildInitramfs(ctx, opts.initramfsSpec(fio))
	if err != nil {
		return "", fmt.Errorf("bench: initramfs: %w", err)
	}
	return p, nil
}

// FileSHA256 is the hex SHA-256 of a file's content (the kernels' and the
// initramfs' identity in a shard plan).
func FileSHA256(path string) (string, error) { return fileSHA256(path) }
