package bench

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// plotModules are the module path prefixes of gonum's plotting and what it
// pulls in (fonts, images, vector back ends). Presentation lives in
// bench/report; a program that imports bench to parse fio's JSON or
// analyse results must not link any of them.
var plotModules = []string{
	"gonum.org/",
	"github.com/go-fonts/",
	"github.com/go-latex/",
	"github.com/go-pdf/",
	"github.com/ajstarks/",
	"git.sr.ht/~sbinet/",
	"golang.org/x/image",
}

func TestNoPlotDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/rflkit/rflkit/bench" {
		t.Fatalf("go list -deps . did not list bench last: %q", deps)
	}
	for _, d := range deps {
		for _, m := range plotModules {
			if strings.HasPrefix(d, m) {
				t.Errorf("bench depends on %s (presentation belongs in bench/report)", d)
			}
		}
	}
}
