package db

import (
	"testing"
	"time"
)

// TestPlanCoversRangeOnce checks that the parts of a range (raw spans,
// hourly and daily buckets) are aligned, lie end to end without overlap,
// cover exactly the range, and that every raw span lies within one hour.
func TestPlanCoversRangeOnce(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) *time.Time {
		v := base.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		return &v
	}
	cases := []struct {
		name     string
		from, to *time.Time
		daily    bool
	}{
		{"inside one hour", at(5, 10), at(5, 50), true},
		{"two partial hours", at(5, 50), at(6, 10), true},
		{"one whole hour between partial ones", at(5, 30), at(7, 30), false},
		{"aligned hours", at(2, 0), at(9, 0), true},
		{"days with partial ends", at(3, 17), at(80, 41), true},
		{"days, hourly only", at(3, 17), at(80, 41), false},
		{"aligned days", at(0, 0), at(72, 0), true},
		{"open start", nil, at(30, 5), true},
		{"open end", at(30, 5), nil, true},
		{"open both", nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, hourly, days := plan(tc.from, tc.to, tc.daily)
			if !tc.daily && len(days) > 0 {
				t.Fatalf("daily rollups used without daily buckets: %v", days)
			}
			type part struct {
				lo, hi *time.Time
				step   time.Duration
			}
			var parts []part
			for _, s := range raw {
				if s.lo == nil || s.hi == nil {
					t.Fatalf("open raw span %v", s)
				}
				if !s.lo.Truncate(time.Hour).Equal(s.hi.Add(-time.Nanosecond).Truncate(time.Hour)) {
					t.Errorf("raw span %s..%s crosses an hour", s.lo, s.hi)
				}
				parts = append(parts, part{s.lo, s.hi, 0})
			}
			for _, s := range hourly {
				parts = append(parts, part{s.lo, s.hi, time.Hour})
			}
			for _, s := range days {
				parts = append(parts, part{s.lo, s.hi, 24 * time.Hour})
			}
			for _, p := range parts {
				for _, b := range []*time.Time{p.lo, p.hi} {
					if b != nil && p.step > 0 && !b.Truncate(p.step).Equal(*b) {
						t.Errorf("bound %s of a %s part is not aligned", b, p.step)
					}
				}
			}
			// Walk the parts end to end from the range's start.
			cur := tc.from
			for range parts {
				found := false
				for _, p := range parts {
					if (cur == nil && p.lo == nil) || (cur != nil && p.lo != nil && p.lo.Equal(*cur)) {
						cur, found = p.hi, true
						break
					}
				}
				if !found {
					t.Fatalf("no part starts at %v: raw %v hourly %v days %v", cur, raw, hourly, days)
				}
			}
			if (cur == nil) != (tc.to == nil) || (cur != nil && !cur.Equal(*tc.to)) {
				t.Fatalf("parts end at %v, want %v", cur, tc.to)
			}
		})
	}
}
