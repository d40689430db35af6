package bench

import (
	"slices"
	"testing"
)

func TestBootKeys(t *testing.T) {
	boots := []BootRecord{{Index: 0, BootID: "a"}, {Index: 1, BootID: "b"}, {Index: 2, BootID: "a"}, {Index: 3}}
	got := bootKeys(boots)
	want := []string{"a#0", "b", "a#2", "#3"}
	if !slices.Equal(got, want) {
		t.Fatalf("bootKeys = %q, want %q", got, want)
	}
}
