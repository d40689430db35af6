package flock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "lock")
	ctx := context.Background()
	a, err := Acquire(ctx, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := TryAcquire(p, false); b != nil || err != nil {
		t.Fatalf("second exclusive lock taken: %v %v", b, err)
	}
	if b, err := TryAcquire(p, true); b != nil || err != nil {
		t.Fatalf("shared lock taken beside an exclusive one: %v %v", b, err)
	}
	waited := false
	cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	_, err = Acquire(cctx, p, Options{OnWait: func() { waited = true }, Poll: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !waited {
		t.Fatalf("err %v, waited %v", err, waited)
	}
	a.Unlock()
	a.Unlock()
	b, err := TryAcquire(p, false)
	if b == nil || err != nil {
		t.Fatalf("lock not free after Unlock: %v", err)
	}
	b.Unlock()
}

func TestShared(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, err := Acquire(context.Background(), p, Options{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	b, err := TryAcquire(p, true)
	if b == nil || err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	b.Unlock()
	if c, _ := TryAcquire(p, false); c != nil {
		t.Fatal("exclusive lock beside a shared one")
	}
}
