package testkernel

import (
	"context"
	"testing"

	
	"github.com/rflkit/rflkit/kbuild"
)

func TestCfg(t *testing.T) {
	for _, h := range []bool{true, false} {
		b := Builder(t)
		r, err := b.Configure(context.Background(), kbuild.TinyRust(h))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("helpers=%v %s %s cached=%v %s", h, r.Path, r.Hash, r.FromCache, r.Duration)
	}
}
