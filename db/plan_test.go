package db

import (
	"slices"
	"testing"
	"time"
)

// planAt returns the instant h hours and m minutes after midnight UTC of a
// fixed day, for the ranges of the plan tests.
func planAt(h, m int) *time.Time {
	v := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	return &v
}

// TestPlanCoversRangeOnce checks that the parts of a range (raw spans,
// hourly and daily buckets) are aligned, lie end to end without overlap,
// cover exactly the range, and that every raw span lies within one hour.
func TestPlanCoversRangeOnce(t *testing.T) {
	t.Parallel()
	at := planAt
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

// TestEdges checks which way each raw span is counted: from its events,
// or from its hour's rollups less the events of the rest of the hour,
// whichever reads less of the time before now; and that a span and its
// rest make up its hour.
func TestEdges(t *testing.T) {
	t.Parallel()
	at := planAt
	now := *at(6, 20)
	cases := []struct {
		name   string
		sp     span
		hourly bool
	}{
		{"most of a past hour", span{at(5, 10), at(5, 50)}, true},
		{"the end of a past hour", span{at(5, 40), at(6, 0)}, false},
		{"half of a past hour", span{at(5, 0), at(5, 30)}, false},
		{"the current hour up to now", span{at(6, 0), at(6, 20)}, true},
		{"the start of the current hour", span{at(6, 0), at(6, 5)}, false},
		{"the start of a range, late in its hour", span{at(3, 50), at(4, 0)}, false},
		{"the start of a range, early in its hour", span{at(3, 5), at(4, 0)}, true},
		{"in the future", span{at(8, 0), at(8, 30)}, false},
	}
	for _, tc := range cases {
		e := edges([]span{tc.sp}, now)
		if len(e) != 1 {
			t.Fatalf("%s: %d edges", tc.name, len(e))
		}
		if got := !e[0].hour.IsZero(); got != tc.hourly {
			t.Errorf("%s: from the hourly rollups %v, want %v", tc.name, got, tc.hourly)
		}
		if !e[0].lo.Equal(*tc.sp.lo) || !e[0].hi.Equal(*tc.sp.hi) {
			t.Errorf("%s: the edge covers %s..%s, not its span", tc.name, e[0].lo, e[0].hi)
		}
		if !tc.hourly {
			continue
		}
		h := tc.sp.lo.Truncate(time.Hour)
		if !e[0].hour.Equal(h) {
			t.Errorf("%s: hour %s, want %s", tc.name, e[0].hour, h)
		}
		// The span and its rest, in order, cover the hour once.
		parts := slices.Clone(e[0].rest)
		parts = append(parts, tc.sp)
		slices.SortFunc(parts, func(a, b span) int { return a.lo.Compare(*b.lo) })
		cur := h
		for _, p := range parts {
			if !p.lo.Equal(cur) || !p.hi.After(*p.lo) {
				t.Fatalf("%s: parts %v do not lie end to end from %s", tc.name, parts, h)
			}
			cur = *p.hi
		}
		if !cur.Equal(h.Add(time.Hour)) {
			t.Errorf("%s: parts end at %s, not at the end of the hour", tc.name, cur)
		}
	}
}

// TestStartOfDay checks local day starts against PostgreSQL's
// date_trunc('day', t, zone), including days whose midnight a change of
// clock skips and days of 23 and 25 hours.
func TestStartOfDay(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		zone string
		at   string
		days int
		want string
	}{
		{"UTC", "2026-11-27T19:00:00Z", 0, "2026-11-27T00:00:00Z"},
		{"UTC", "2026-11-27T19:00:00Z", -1, "2026-11-26T00:00:00Z"},
		{"America/Chicago", "2026-11-27T03:00:00Z", 0, "2026-11-26T06:00:00Z"},
		{"America/Chicago", "2026-11-27T19:00:00Z", 0, "2026-11-27T06:00:00Z"},
		{"Asia/Kolkata", "2026-11-27T19:00:00Z", 0, "2026-11-27T18:30:00Z"},
		{"Asia/Kolkata", "2026-11-27T19:00:00Z", -1, "2026-11-26T18:30:00Z"},
		{"Asia/Kathmandu", "2026-11-27T10:00:00Z", 0, "2026-11-26T18:15:00Z"},
		// Berlin leaves summer time on 25 October 2026: a day of 25 hours.
		{"Europe/Berlin", "2026-10-25T12:00:00Z", 0, "2026-10-24T22:00:00Z"},
		{"Europe/Berlin", "2026-10-25T12:00:00Z", 1, "2026-10-25T23:00:00Z"},
		// Chile and Cuba move their clocks forward at midnight: the day
		// begins at 01:00 on the new clock, as in PostgreSQL.
		{"America/Santiago", "2026-09-06T12:00:00Z", 0, "2026-09-06T04:00:00Z"},
		{"America/Santiago", "2026-09-05T12:00:00Z", 1, "2026-09-06T04:00:00Z"},
		{"America/Havana", "2026-03-08T12:00:00Z", 0, "2026-03-08T05:00:00Z"},
		// Clocks that go back from 01:00 to midnight show midnight twice:
		// the day begins at the first one, whether the zone lies east or
		// west of Greenwich.
		{"America/Havana", "2026-11-01T12:00:00Z", 0, "2026-11-01T04:00:00Z"},
		{"Asia/Amman", "2021-10-29T12:00:00Z", 0, "2021-10-28T21:00:00Z"},
		{"Asia/Amman", "2021-10-28T12:00:00Z", 1, "2021-10-28T21:00:00Z"},
		{"Antarctica/Casey", "2023-03-09T12:00:00Z", 0, "2023-03-08T13:00:00Z"},
		// Samoa skipped 30 December 2011: asked for it, the next day begins.
		{"Pacific/Apia", "2011-12-29T12:00:00Z", 1, "2011-12-30T10:00:00Z"},
		{"Pacific/Apia", "2011-12-29T12:00:00Z", 2, "2011-12-30T10:00:00Z"},
	}
	for _, c := range cases {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := StartOfDay(utc(c.at), c.days, loc).UTC(); !got.Equal(utc(c.want)) {
			t.Errorf("StartOfDay(%s, %d, %s) = %s, want %s", c.at, c.days, c.zone, got.Format(time.RFC3339), c.want)
		}
	}
}

// TestLocalDays checks the day starts of ranges in zones with and without
// a change of clock inside them.
func TestLocalDays(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 10, 24, 10, 0, 0, 0, time.UTC)
	to := time.Date(2026, 10, 26, 23, 0, 0, 0, time.UTC) // midnight of the 27th in Berlin
	got := LocalDays(from, to, berlin)
	want := []time.Time{
		time.Date(2026, 10, 23, 22, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC),
	}
	if len(got) != len(want) {
		t.Fatalf("LocalDays = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) || got[i].Location() != time.UTC {
			t.Fatalf("LocalDays = %v, want %v in UTC", got, want)
		}
	}
	// A day that a zone skipped has no start of its own.
	apia, err := time.LoadLocation("Pacific/Apia")
	if err != nil {
		t.Fatal(err)
	}
	skipped := LocalDays(time.Date(2011, 12, 29, 12, 0, 0, 0, time.UTC), time.Date(2011, 12, 31, 12, 0, 0, 0, time.UTC), apia)
	if want := []time.Time{
		time.Date(2011, 12, 29, 10, 0, 0, 0, time.UTC),
		time.Date(2011, 12, 30, 10, 0, 0, 0, time.UTC),
		time.Date(2011, 12, 31, 10, 0, 0, 0, time.UTC),
	}; !slices.EqualFunc(skipped, want, time.Time.Equal) {
		t.Fatalf("LocalDays across Samoa's skipped day = %v, want %v", skipped, want)
	}
	if got := LocalDays(from, from.Add(time.Minute), time.UTC); len(got) != 1 || !got[0].Equal(time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("LocalDays of one minute = %v", got)
	}
}
