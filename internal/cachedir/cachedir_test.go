package cachedir

import (
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	if d, err := Resolve("/given"); err != nil || d != "/given" {
		t.Errorf("Resolve(/given) = %q, %v", d, err)
	}
	t.Setenv(EnvVar, "/from-env")
	if d, err := Resolve(""); err != nil || d != "/from-env" {
		t.Errorf("with %s: %q, %v", EnvVar, d, err)
	}
	t.Setenv(EnvVar, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := Resolve(""); err != nil || d != filepath.Join("/xdg", "rflkit") {
		t.Errorf("with XDG_CACHE_HOME: %q, %v", d, err)
	}
}
