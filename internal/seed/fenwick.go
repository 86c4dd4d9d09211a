package seed

// fenwick is a binary indexed tree of weights for sampling in proportion to
// weight among a growing set.
type fenwick struct {
	t     []float64 // 1-based
	w     []float64
	total float64
}

func (f *fenwick) init(capacity int) {
	size := 1
	for size < capacity {
		size <<= 1
	}
	f.t = make([]float64, size+1)
}

func (f *fenwick) add(i int, w float64) {
	if i >= len(f.t)-1 {
		f.grow()
	}
	f.w = append(f.w, w)
	f.total += w
	for j := i + 1; j < len(f.t); j += j & -j {
		f.t[j] += w
	}
}

func (f *fenwick) grow() {
	f.t = make([]float64, 2*(len(f.t)-1)+1)
	for i, w := range f.w {
		j := i + 1
		f.t[j] += w
		if k := j + j&-j; k < len(f.t) {
			f.t[k] += f.t[j]
		}
	}
}

// find returns the index whose cumulative weight range holds u.
func (f *fenwick) find(u float64) int {
	pos := 0
	for step := (len(f.t) - 1); step > 0; step >>= 1 {
		if next := pos + step; next < len(f.t) && f.t[next] <= u {
			pos = next
			u -= f.t[next]
		}
	}
	return pos
}
