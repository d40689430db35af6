package tcgplugin

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/rflkit/rflkit/internal/osutil"
)

// Profile is what ran between two snapshots: the instructions and entries
// of each function in the window.
type Profile struct {
	// Funcs holds the functions that ran in the window, by Func.Key.
	Funcs map[string]Count
	// User and Unknown are the window's instructions in the two buckets
	// (see Snapshot).
	User, Unknown uint64
}

// Kernel is the window's kernel instructions: those of every function
// and of the Unknown bucket.
func (p Profile) Kernel() uint64 {
	n := p.Unknown
	for _, c := range p.Funcs {
		n += c.Insns
	}
	return n
}

// Total is every instruction of the window, user space included.
func (p Profile) Total() uint64 { return p.Kernel() + p.User }

// FuncCount is one function's line of a Profile.
type FuncCount struct {
	Key string
	Count
}

// Top returns the n functions with the most instructions (all for n < 0),
// most first, ties by key.
func (p Profile) Top(n int) []FuncCount {
	return top(p.Funcs, n, func(k string, c Count) FuncCount { return FuncCount{k, c} },
		func(f FuncCount) (uint64, string) { return f.Insns, f.Key })
}

// top returns the n entries of m with the most instructions (all for
// n < 0), most first, ties by key: the one ranking of Profile and
// OpProfile.
func top[C any, F any, N cmp.Ordered](m map[string]C, n int, mk func(string, C) F, by func(F) (N, string)) []F {
	out := make([]F, 0, len(m))
	for k, c := range m {
		out = append(out, mk(k, c))
	}
	slices.SortFunc(out, func(a, b F) int {
		na, ka := by(a)
		nb, kb := by(b)
		if c := cmp.Compare(nb, na); c != 0 {
			return c
		}
		return cmp.Compare(ka, kb)
	})
	if n >= 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// Diff returns what ran between snapshots a and b of one run, b the
// later: b's counters minus a's, per function (Func.Key). An id the table
// does not have, or a counter that went down (snapshots swapped, or from
// different runs), is an error.
func (t *SymbolTable) Diff(a, b Snapshot) (Profile, error) {
	p := Profile{Funcs: map[string]Count{}}
	if b.User < a.User || b.Unknown < a.Unknown {
		return Profile{}, fmt.Errorf("tcgplugin: diff of snapshots %d and %d: a bucket counter went down (wrong order, or different runs?)", a.Index, b.Index)
	}
	p.User, p.Unknown = b.User-a.User, b.Unknown-a.Unknown
	for id := range a.Counts {
		if _, ok := b.Counts[id]; !ok {
			return Profile{}, t.decreased(a, b, id)
		}
	}
	for id, cb := range b.Counts {
		f, ok := t.Func(id)
		if !ok {
			return Profile{}, fmt.Errorf("tcgplugin: snapshot %d: id %d is not a function of the table (%d functions): another kernel's map?", b.Index, id, t.Len())
		}
		ca := a.Counts[id]
		if cb.Insns < ca.Insns || cb.Entries < ca.Entries {
			return Profile{}, t.decreased(a, b, id)
		}
		if d := (Count{cb.Insns - ca.Insns, cb.Entries - ca.Entries}); d != (Count{}) {
			p.Funcs[f.Key] = d
		}
	}
	return p, nil
}

func (t *SymbolTable) decreased(a, b Snapshot, id int) error {
	name := fmt.Sprintf("id %d", id)
	if f, ok := t.Func(id); ok {
		name = osutil.Excerpt(f.Key, excerptLen)
	}
	return fmt.Errorf("tcgplugin: diff of snapshots %d and %d: the counters of %s went down (wrong order, or different runs?)", a.Index, b.Index, name)
}

// OpCount is a function's cost per operation.
type OpCount struct {
	Insns, Entries float64
}

// OpProfile is the cost of one operation, from two windows of N and 2N
// operations (PerOp).
type OpProfile struct {
	// N is the number of operations of the smaller window.
	N int
	// Funcs holds each function whose counts differ between the windows,
	// by Func.Key. Values can be negative (a function that ran less in
	// the larger window: noise, not cost).
	Funcs map[string]OpCount
	// User, Unknown and Kernel are the per-operation instructions of the
	// buckets and of the whole kernel (functions and Unknown).
	User, Unknown, Kernel float64
}

// FuncOpCount is one function's line of an OpProfile.
type FuncOpCount struct {
	Key string
	OpCount
}

// Top returns the n functions with the most instructions per operation
// (all for n < 0), most first, ties by key.
func (p OpProfile) Top(n int) []FuncOpCount {
	return top(p.Funcs, n, func(k string, c OpCount) FuncOpCount { return FuncOpCount{k, c} },
		func(f FuncOpCount) (float64, string) { return f.Insns, f.Key })
}

// PerOp returns the cost of one operation from a window of n operations
// (pn) and one of 2n (p2n) of the same workload: (W_2n − W_n)/n for each
// function and bucket. What both windows share besides the operations
// (the workload's start-up and exit, the shell, the snapshot trigger)
// cancels; what scales with the operations remains.
func PerOp(pn, p2n Profile, n int) (OpProfile, error) {
	if n <= 0 {
		return OpProfile{}, errors.New("tcgplugin: PerOp: n must be positive")
	}
	d := float64(n)
	op := OpProfile{
		N:       n,
		Funcs:   map[string]OpCount{},
		User:    (float64(p2n.User) - float64(pn.User)) / d,
		Unknown: (float64(p2n.Unknown) - float64(pn.Unknown)) / d,
		Kernel:  (float64(p2n.Kernel()) - float64(pn.Kernel())) / d,
	}
	for k, c2 := range p2n.Funcs {
		c1 := pn.Funcs[k]
		if c1 != c2 {
			op.Funcs[k] = OpCount{
				Insns:   (float64(c2.Insns) - float64(c1.Insns)) / d,
				Entries: (float64(c2.Entries) - float64(c1.Entries)) / d,
			}
		}
	}
	for k, c1 := range pn.Funcs {
		if _, ok := p2n.Funcs[k]; !ok {
			op.Funcs[k] = OpCount{Insns: -float64(c1.Insns) / d, Entries: -float64(c1.Entries) / d}
		}
	}
	return op, nil
}
