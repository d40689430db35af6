package kbuild

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// dotConfig is the minimal view of a .config kbuild needs for merging,
// verifying and comparing: symbol (without CONFIG_) -> right-hand side,
// with "n" for "# CONFIG_X is not set", in file order.
type dotConfig struct {
	names []string
	vals  map[string]string
}

// parseDotConfig reads a .config or fragment. name is used in errors.
func parseDotConfig(name string, data []byte) (*dotConfig, error) {
	c := &dotConfig{vals: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "# CONFIG_") && strings.HasSuffix(line, " is not set"):
			sym := strings.TrimSuffix(strings.TrimPrefix(line, "# CONFIG_"), " is not set")
			if !validSym(sym) {
				return nil, fmt.Errorf("kbuild: %s:%d: bad symbol name in %q", name, ln, line)
			}
			c.set(sym, "n")
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "CONFIG_"):
			sym, val, ok := strings.Cut(line[len("CONFIG_"):], "=")
			if !ok || !validSym(sym) || val == "" {
				return nil, fmt.Errorf("kbuild: %s:%d: malformed assignment %q (want CONFIG_NAME=value)", name, ln, line)
			}
			c.set(sym, val)
		default:
			return nil, fmt.Errorf("kbuild: %s:%d: unexpected line %q (want CONFIG_NAME=value or # CONFIG_NAME is not set)", name, ln, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kbuild: reading %s: %w", name, err)
	}
	return c, nil
}

func validSym(s string) bool { return symRE.MatchString(s) }

var symRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func (c *dotConfig) set(sym, val string) {
	if _, ok := c.vals[sym]; !ok {
		c.names = append(c.names, sym)
	}
	c.vals[sym] = val
}

// get returns the value of sym, "n" when absent and ok=false.
func (c *dotConfig) get(sym string) (string, bool) {
	v, ok := c.vals[sym]
	if !ok {
		return "n", false
	}
	return v, true
}

// Mismatch is a requested configuration value that is not in the final
// .config after olddefconfig.
type Mismatch struct {
	Symbol    string // without CONFIG_
	Requested string // y, m, n, "string", number
	Final     string // "n" when not set or absent
	Absent    bool   // the final .config does not mention the symbol
}

// diffCount is the number of symbols whose values differ between a and b.
func diffCount(a, b *dotConfig) int {
	n := 0
	for _, s := range a.names {
		av := a.vals[s]
		bv, _ := b.get(s)
		if av != bv {
			n++
		}
	}
	for _, s := range b.names {
		if _, ok := a.vals[s]; !ok && b.vals[s] != "n" {
			n++
		}
	}
	return n
}
