package seed

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// hourWeights is the relative traffic per UTC hour: quiet nights, busy
// business hours with a dip at lunch.
var hourWeights = [24]float64{
	0.22, 0.18, 0.16, 0.16, 0.18, 0.25, 0.40, 0.70, 1.30, 1.80, 1.95, 1.90,
	1.50, 1.70, 1.85, 1.80, 1.60, 1.25, 0.90, 0.70, 0.60, 0.50, 0.40, 0.30,
}

// weekdayWeights is the relative traffic per day, Sunday first.
var weekdayWeights = [7]float64{0.35, 1.05, 1.0, 1.0, 0.95, 0.85, 0.40}

// schedule hands out n increasing instants (Unix microseconds) in
// [start, end), spread over hourly buckets whose counts follow the daily and
// weekly rhythm. It holds one bucket's instants at a time.
type schedule struct {
	rng     *rand.Rand
	buckets []slot
	bi      int
	cur     []int64
	ci      int
}

type slot struct {
	from, to int64 // microseconds, half-open
	n        int
}

func newSchedule(rng *rand.Rand, start, end int64, n int) *schedule {
	const hour = int64(time.Hour / time.Microsecond)
	var buckets []slot
	var weights []float64
	total := 0.0
	for from := start; from < end; {
		to := (from/hour + 1) * hour
		if to > end {
			to = end
		}
		t := time.UnixMicro(from).UTC()
		w := hourWeights[t.Hour()] * weekdayWeights[t.Weekday()]
		// Hour-to-hour noise, and traffic growing slowly over the period.
		w *= math.Exp(rng.NormFloat64()*0.15) * (0.9 + 0.2*float64(from-start)/float64(end-start))
		w *= float64(to-from) / float64(hour)
		buckets = append(buckets, slot{from: from, to: to})
		weights = append(weights, w)
		total += w
		from = to
	}
	// Round the cumulative share, so that the counts add up to n exactly.
	cum, prev := 0.0, 0
	for i := range buckets {
		cum += weights[i]
		upto := int(math.Round(cum / total * float64(n)))
		if i == len(buckets)-1 {
			upto = n
		}
		buckets[i].n = upto - prev
		prev = upto
	}
	return &schedule{rng: rng, buckets: buckets}
}

// next returns the next instant, or false when all n were handed out.
func (s *schedule) next() (int64, bool) {
	for s.ci >= len(s.cur) {
		if s.bi >= len(s.buckets) {
			return 0, false
		}
		b := s.buckets[s.bi]
		s.bi++
		s.cur = s.cur[:0]
		for range b.n {
			s.cur = append(s.cur, b.from+s.rng.Int64N(b.to-b.from))
		}
		slices.Sort(s.cur)
		s.ci = 0
	}
	t := s.cur[s.ci]
	s.ci++
	return t, true
}
