// Package cachedir resolves rflkit's cache root, the one rule every package
// with a cache follows: the directory the caller gave, else
// $RFLKIT_CACHE_DIR, else os.UserCacheDir()/rflkit (~/.cache/rflkit).
package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar is the environment variable that overrides the default root.
const EnvVar = "RFLKIT_CACHE_DIR"

// Resolve returns dir when it is not empty, else $RFLKIT_CACHE_DIR, else
// os.UserCacheDir()/rflkit.
func Resolve(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv(EnvVar); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set %s or pass one): %w", EnvVar, err)
	}
	return filepath.Join(d, "rflkit"), nil
}
