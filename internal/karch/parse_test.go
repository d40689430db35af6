package karch

import (
	"regexp"
	"strings"
)

var reClangTarget = regexp.MustCompile(`^CLANG_TARGET_FLAGS_([a-z0-9]+)\s*:=\s*(\S+)\s*$`)

// parseClangTargets reads the literal CLANG_TARGET_FLAGS_<arch> := <triple>
// lines of scripts/Makefile.clang (not the ones that expand a variable).
func parseClangTargets(mk string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(mk, "\n") {
		if m := reClangTarget.FindStringSubmatch(l); m != nil && !strings.Contains(m[2], "$") {
			out[m[1]] = m[2]
		}
	}
	return out
}
