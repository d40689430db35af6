package kconfig

import (
	"errors"
	"strconv"
	"strings"
)

// glibcRandom is glibc's random() (the TYPE_3 additive feedback generator
// behind srand/rand), so that randconfig with a given KCONFIG_SEED makes
// the same choices as the kernel's conf built against glibc.
type glibcRandom struct {
	r []int32
	i int
}

func newGlibcRandom(seed uint32) *glibcRandom {
	s := int32(seed)
	if s == 0 {
		s = 1
	}
	g := &glibcRandom{r: make([]int32, 34, 400)}
	g.r[0] = s
	word := int64(s)
	for i := 1; i < 31; i++ {
		hi := word / 127773
		lo := word % 127773
		word = 16807*lo - 2836*hi
		if word < 0 {
			word += 2147483647
		}
		g.r[i] = int32(word)
	}
	for i := 31; i < 34; i++ {
		g.r[i] = g.r[i-31]
	}
	g.i = 34
	for k := 0; k < 310; k++ {
		g.next()
	}
	return g
}

func (g *glibcRandom) next() int {
	v := int32(uint32(g.r[len(g.r)-31]) + uint32(g.r[len(g.r)-3]))
	g.r = append(g.r, v)
	if len(g.r) > 64 {
		g.r = append(g.r[:0], g.r[len(g.r)-34:]...)
	}
	return int(uint32(v) >> 1)
}

// RandOptions are randconfig's inputs.
type RandOptions struct {
	// Seed is KCONFIG_SEED.
	Seed uint32
	// Probability is KCONFIG_PROBABILITY ("" = 50, i.e. y for half the
	// bools, y and m for a third of the tristates each).
	Probability string
	// AllConfig is KCONFIG_ALLCONFIG: values that are kept (may be nil).
	AllConfig *Config
}

// ParseSeed parses KCONFIG_SEED as conf does (strtol with base 0).
func ParseSeed(s string) (uint32, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, errors.New("kconfig: KCONFIG_SEED " + strconv.Quote(s) + " is not a number")
	}
	return uint32(n), nil
}

// RandConfig is `make randconfig` with KCONFIG_SEED=opts.Seed.
func (t *Tree) RandConfig(opts RandOptions) (*TargetResult, error) {
	pby, pty, ptm := 50, 33, 33
	if opts.Probability != "" {
		var p []int
		env := opts.Probability
		for env != "" && len(p) < 3 {
			i := 0
			for i < len(env) && (env[i] >= '0' && env[i] <= '9' || i == 0 && (env[i] == '-' || env[i] == '+')) {
				i++
			}
			n, err := strconv.Atoi(env[:i])
			if err != nil && i > 0 {
				return nil, errors.New("kconfig: KCONFIG_PROBABILITY: " + err.Error())
			}
			if n < 0 || n > 100 {
				return nil, errors.New("kconfig: KCONFIG_PROBABILITY: out of range")
			}
			p = append(p, n)
			env = env[i:]
			if strings.HasPrefix(env, ":") {
				env = env[1:]
			} else {
				break
			}
		}
		switch len(p) {
		case 1:
			pby = p[0]
			ptm = pby / 2
			pty = pby - ptm
		case 2:
			pty, ptm = p[0], p[1]
			pby = pty + ptm
		case 3:
			pby, pty, ptm = p[0], p[1], p[2]
		}
		if pty+ptm > 100 {
			return nil, errors.New("kconfig: KCONFIG_PROBABILITY: out of range")
		}
	}
	g := newGlibcRandom(opts.Seed)
	e := newEvaluator(t)
	var warns []string
	if opts.AllConfig != nil {
		warns = e.readConfig(configName(opts.AllConfig, "allrandom.config"), opts.AllConfig.Bytes(), true)
	}
	walk(t.Root, func(m *Menu) {
		s := m.Sym
		if s == nil || m.Prompt == nil || e.user[s.id].set ||
			(s.Type != TypeBool && s.Type != TypeTristate) || s.choice != nil {
			return
		}
		if s.IsChoice() {
			e.randomizeChoice(m, g)
			return
		}
		val := No
		cnt := g.next() % 100
		if s.Type == TypeTristate {
			if cnt < pty {
				val = Yes
			} else if cnt < pty+ptm {
				val = Mod
			}
		} else if cnt < pby {
			val = Yes
		}
		e.user[s.id] = evalUser{set: true, tri: val}
	})
	e.invalidate()
	return t.result(e, warns), nil
}

// randomizeChoice is randomize_choice_values.
func (e *evaluator) randomizeChoice(c *Menu, g *glibcRandom) {
	cnt := 0
	for _, s := range c.members {
		if !e.user[s.id].set {
			cnt++
		}
	}
	for ; cnt > 0; cnt-- {
		x := g.next() % cnt
		for _, s := range c.members {
			if !e.user[s.id].set {
				x--
			}
			if x < 0 {
				e.user[s.id] = evalUser{set: true, tri: Yes}
				e.moveToBack(s)
				break
			}
		}
	}
}

// moveToBack gives a choice member the lowest priority (list_move_tail).
func (e *evaluator) moveToBack(s *Symbol) {
	c := s.choice
	old := e.priority(c)
	p := make([]*Symbol, 0, len(old))
	for _, m := range old {
		if m != s {
			p = append(p, m)
		}
	}
	e.prio[c] = append(p, s)
}
