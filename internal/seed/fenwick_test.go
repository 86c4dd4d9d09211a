package seed

import "testing"

// TestFenwick checks sampling by weight, including after the tree grew.
func TestFenwick(t *testing.T) {
	var f fenwick
	f.init(1)
	weights := []float64{1, 0, 3, 2, 0.5, 7, 1, 1, 4, 2.5, 0, 6}
	for i, w := range weights {
		f.add(i, w)
	}
	if f.total != 28 {
		t.Fatalf("total %v, want 28", f.total)
	}
	// Every point of [0, total) falls in the slot whose cumulative range
	// holds it; slots of weight zero are never found.
	lo := 0.0
	for i, w := range weights {
		for _, u := range []float64{lo, lo + w/2, lo + w*0.999} {
			if w == 0 {
				continue
			}
			if got := f.find(u); got != i {
				t.Errorf("find(%v) = %d, want %d", u, got, i)
			}
		}
		lo += w
	}
}
