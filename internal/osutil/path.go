package osutil

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// LookPath finds the executable name as a child started with env would:
// through the PATH of env (its last PATH entry, as os/exec takes it), or
// the process's own PATH when env has none; a name with a slash is used as
// it is.
func LookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	for i := len(env) - 1; i >= 0; i-- {
		if p, ok := strings.CutPrefix(env[i], "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				if d == "" {
					d = "."
				}
				if f, err := exec.LookPath(filepath.Join(d, name)); err == nil {
					return f, nil
				}
			}
			return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
		}
	}
	return exec.LookPath(name)
}
