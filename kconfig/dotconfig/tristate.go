package dotconfig

import "fmt"

// Tristate is a Kconfig tristate value: n, m or y. Its order is the
// kernel's (n < m < y), so min and max are Kconfig's && and ||.
type Tristate int8

// The three tristate values.
const (
	No  Tristate = 0 // n
	Mod Tristate = 1 // m
	Yes Tristate = 2 // y
)

// String returns "n", "m" or "y".
func (t Tristate) String() string {
	switch t {
	case No:
		return "n"
	case Mod:
		return "m"
	case Yes:
		return "y"
	}
	return fmt.Sprintf("Tristate(%d)", int8(t))
}

// And is Kconfig's &&: the smaller of the two.
func (t Tristate) And(u Tristate) Tristate { return min(t, u) }

// Or is Kconfig's ||: the larger of the two.
func (t Tristate) Or(u Tristate) Tristate { return max(t, u) }

// Not is Kconfig's !: 2 - t (so !m is m).
func (t Tristate) Not() Tristate { return Yes - t }

// ParseTristate parses "n", "m" or "y".
func ParseTristate(s string) (Tristate, bool) {
	switch s {
	case "n":
		return No, true
	case "m":
		return Mod, true
	case "y":
		return Yes, true
	}
	return No, false
}
