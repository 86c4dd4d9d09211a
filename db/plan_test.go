package db

import (
	"fmt"
	"math/rand/v2"
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

// TestEdges checks how the raw spans of a plan are read: their whole five
// minutes from the five-minute rollups, and each piece left at their ends
// from its events, or from its five minutes' rollups less the events of
// the rest of them, whichever reads less of the time before now; and that
// the whole five minutes, the pieces and the rests subtracted make up the
// span.
func TestEdges(t *testing.T) {
	t.Parallel()
	at := func(h, m, s int) time.Time {
		return planAt(h, m).Add(time.Duration(s) * time.Second)
	}
	now := at(6, 21, 0)
	type piece struct {
		lo, hi time.Time
		rollup bool // read from the five-minute rollups less the rest
	}
	cases := []struct {
		name   string
		lo, hi time.Time
		fives  [][2]time.Time
		pieces []piece
	}{
		{"whole five minutes only", at(5, 10, 0), at(5, 50, 0),
			[][2]time.Time{{at(5, 10, 0), at(5, 50, 0)}}, nil},
		{"the start of a range, late in its five minutes", at(3, 14, 0), at(4, 0, 0),
			[][2]time.Time{{at(3, 15, 0), at(4, 0, 0)}}, []piece{{at(3, 14, 0), at(3, 15, 0), false}}},
		{"the start of a range, early in its five minutes", at(3, 11, 0), at(4, 0, 0),
			[][2]time.Time{{at(3, 15, 0), at(4, 0, 0)}}, []piece{{at(3, 11, 0), at(3, 15, 0), true}}},
		{"the current hour up to now", at(6, 0, 0), now,
			[][2]time.Time{{at(6, 0, 0), at(6, 20, 0)}}, []piece{{at(6, 20, 0), now, true}}},
		{"inside five minutes, most of them", at(5, 30, 30), at(5, 34, 30),
			nil, []piece{{at(5, 30, 30), at(5, 34, 30), true}}},
		{"inside five minutes, little of them", at(5, 31, 0), at(5, 32, 0),
			nil, []piece{{at(5, 31, 0), at(5, 32, 0), false}}},
		{"two pieces split at five minutes", at(5, 33, 0), at(5, 36, 0),
			nil, []piece{{at(5, 33, 0), at(5, 35, 0), false}, {at(5, 35, 0), at(5, 36, 0), false}}},
		{"in the future", at(8, 1, 0), at(8, 4, 0),
			nil, []piece{{at(8, 1, 0), at(8, 4, 0), false}}},
	}
	for _, tc := range cases {
		fives, pieces := edges([]span{{&tc.lo, &tc.hi}}, now)
		var gotFives [][2]time.Time
		for _, f := range fives {
			gotFives = append(gotFives, [2]time.Time{*f.lo, *f.hi})
		}
		if !slices.EqualFunc(gotFives, tc.fives, func(a, b [2]time.Time) bool { return a[0].Equal(b[0]) && a[1].Equal(b[1]) }) {
			t.Errorf("%s: whole five minutes %v, want %v", tc.name, gotFives, tc.fives)
		}
		if len(pieces) != len(tc.pieces) {
			t.Fatalf("%s: %d pieces, want %d", tc.name, len(pieces), len(tc.pieces))
		}
		for i, p := range pieces {
			w := tc.pieces[i]
			if !p.lo.Equal(w.lo) || !p.hi.Equal(w.hi) || !p.bucket.IsZero() != w.rollup {
				t.Errorf("%s: piece %d is %s..%s (rollup %v), want %s..%s (rollup %v)",
					tc.name, i, p.lo, p.hi, !p.bucket.IsZero(), w.lo, w.hi, w.rollup)
			}
			if p.bucket.IsZero() {
				continue
			}
			// The piece and its rest, in order, cover its five minutes once.
			b := p.lo.Truncate(fiveMinutes)
			if !p.bucket.Equal(b) {
				t.Errorf("%s: bucket %s, want %s", tc.name, p.bucket, b)
			}
			parts := append(slices.Clone(p.rest), p.span)
			slices.SortFunc(parts, func(a, b span) int { return a.lo.Compare(*b.lo) })
			cur := b
			for _, q := range parts {
				if !q.lo.Equal(cur) || !q.hi.After(*q.lo) {
					t.Fatalf("%s: parts %v do not lie end to end from %s", tc.name, parts, b)
				}
				cur = *q.hi
			}
			if !cur.Equal(b.Add(fiveMinutes)) {
				t.Errorf("%s: parts end at %s, not at the end of the five minutes", tc.name, cur)
			}
		}
	}
}

// TestPartialDays checks which way the hours of a partial day are read:
// from the hourly rollups, or as the day's rollup less the hours of the
// rest of the day, whichever covers less time before now.
func TestPartialDays(t *testing.T) {
	t.Parallel()
	now := *planAt(30, 20) // 06:20 on the second day
	cases := []struct {
		name      string
		lo, hi    *time.Time
		wholeDay  bool
		wantMinus int // spans subtracted
	}{
		{"the end of a day, from early on", planAt(3, 0), planAt(24, 0), true, 1},
		{"the end of a day, from late on", planAt(20, 0), planAt(24, 0), false, 0},
		{"the start of today up to this hour", planAt(24, 0), planAt(30, 0), true, 1},
		{"the middle of a day", planAt(2, 0), planAt(22, 0), true, 2},
		{"a few hours of a day", planAt(9, 0), planAt(13, 0), false, 0},
		{"across midnight", planAt(20, 0), planAt(27, 0), false, 0},
		{"open start", nil, planAt(5, 0), false, 0},
	}
	for _, tc := range cases {
		keep, days, minus := partialDays([]span{{tc.lo, tc.hi}}, now)
		if got := len(days) == 1; got != tc.wholeDay {
			t.Errorf("%s: day's rollup used %v, want %v (keep %v)", tc.name, got, tc.wholeDay, keep)
			continue
		}
		if len(minus) != tc.wantMinus {
			t.Errorf("%s: %d spans subtracted, want %d", tc.name, len(minus), tc.wantMinus)
		}
		if !tc.wholeDay {
			if len(keep) != 1 {
				t.Errorf("%s: kept %v", tc.name, keep)
			}
			continue
		}
		// The day less the subtracted hours is the span.
		var covered time.Duration
		for _, m := range minus {
			covered += m.hi.Sub(*m.lo)
		}
		if got := days[0].hi.Sub(*days[0].lo) - covered; got != tc.hi.Sub(*tc.lo) {
			t.Errorf("%s: the day less the rest covers %s, want %s", tc.name, got, tc.hi.Sub(*tc.lo))
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

// TestZonedDayParts checks the parts that count the local days of a range
// in zones a whole, half and three quarters of an hour from UTC, across
// changes of clock, for random ranges and instants now: each part of a
// rollup is aligned to its buckets, events are read in pieces of at most
// five minutes, and for every local day the parts labelled with it, added
// and subtracted, cover its share of the range exactly once and nothing
// else.
func TestZonedDayParts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 9))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	random := func(span time.Duration) time.Time {
		// Whole minutes most of the time, any microsecond now and then.
		d := time.Duration(rng.Int64N(int64(span)))
		if rng.IntN(3) > 0 {
			d = d.Truncate(time.Minute)
		}
		return base.Add(d)
	}
	steps := map[string]time.Duration{"sync_event_daily": 24 * time.Hour, "sync_event_hourly": time.Hour, "sync_event_5min": fiveMinutes}
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i++ {
			from := random(250 * 24 * time.Hour)
			to := from.Add(time.Duration(rng.Int64N(int64(35 * 24 * time.Hour))))
			if rng.IntN(4) == 0 {
				to = from.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
			}
			if !from.Before(to) {
				continue
			}
			now := random(260 * 24 * time.Hour)
			days := LocalDays(from, to, loc)
			raw := rng.IntN(8) == 0
			parts := zonedDayParts(from, to, days, raw, now)
			desc := func() string { return fmt.Sprintf("%s, %s to %s, now %s, raw %v", name, from, to, now, raw) }
			bounds := []time.Time{from, to}
			byDay := map[time.Time][]dayPart{}
			for _, p := range parts {
				if step, ok := steps[p.table]; ok {
					if raw || !p.lo.Truncate(step).Equal(p.lo) || !p.hi.Truncate(step).Equal(p.hi) {
						t.Fatalf("%s: %s part %s..%s not aligned to its buckets", desc(), p.table, p.lo, p.hi)
					}
				} else if p.table != "" {
					t.Fatalf("%s: unknown source %q", desc(), p.table)
				} else if !raw && p.hi.Sub(p.lo.Truncate(fiveMinutes)) > fiveMinutes {
					t.Fatalf("%s: events read from %s to %s", desc(), p.lo, p.hi)
				}
				if !p.lo.Before(p.hi) || (p.sign != 1 && p.sign != -1) {
					t.Fatalf("%s: part %+v", desc(), p)
				}
				byDay[p.day] = append(byDay[p.day], p)
				bounds = append(bounds, p.lo, p.hi)
			}
			bounds = append(bounds, days...)
			slices.SortFunc(bounds, time.Time.Compare)
			bounds = slices.CompactFunc(bounds, time.Time.Equal)
			for d, day := range days {
				start, end := day, to
				if start.Before(from) {
					start = from
				}
				if d+1 < len(days) {
					end = days[d+1]
				}
				for j := 0; j+1 < len(bounds); j++ {
					a, b := bounds[j], bounds[j+1]
					n := 0
					for _, p := range byDay[day] {
						if !a.Before(p.lo) && !p.hi.Before(b) {
							n += p.sign
						}
					}
					want := 0
					if !a.Before(start) && !end.Before(b) {
						want = 1
					}
					if n != want {
						t.Fatalf("%s: day %s counts %s..%s %d times, want %d; parts %+v", desc(), day, a, b, n, want, byDay[day])
					}
				}
				delete(byDay, day)
			}
			if len(byDay) > 0 {
				t.Fatalf("%s: parts labelled with days not in the range: %v", desc(), byDay)
			}
		}
	}
}
