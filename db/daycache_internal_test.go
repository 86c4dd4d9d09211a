package db

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFinishedDayParts checks how a range is split into the whole hours of
// finished UTC days, in runs within one day cut where a zone's days begin,
// and the spans left to read.
func TestFinishedDayParts(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	at := func(d, h, m int) time.Time {
		return day(d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	now := at(28, 14, 20)
	type run struct {
		d, lo, hi int
	}
	cases := []struct {
		name     string
		from, to time.Time
		cuts     []time.Time
		runs     []run // in hours
		open     [][2]time.Time
	}{
		{"30 days to now", at(28, 14, 20).AddDate(0, 0, -30), now, nil,
			append([]run{{29, 15, 24}, {30, 0, 24}, {31, 0, 24}}, func() []run {
				var r []run
				for d := 1; d <= 27; d++ {
					r = append(r, run{d, 0, 24})
				}
				return r
			}()...),
			[][2]time.Time{{at(28, 14, 20).AddDate(0, 0, -30), at(29, 15, 0).AddDate(0, -1, 0)}, {day(28), now}}},
		{"whole past days", day(20), day(22), nil, []run{{20, 0, 24}, {21, 0, 24}}, nil},
		{"past hours inside one day", at(20, 3, 0), at(20, 7, 0), nil, []run{{20, 3, 7}}, nil},
		{"past partial hours at both ends", at(20, 3, 10), at(21, 7, 59), nil, []run{{20, 4, 24}, {21, 0, 7}},
			[][2]time.Time{{at(20, 3, 10), at(20, 4, 0)}, {at(21, 7, 0), at(21, 7, 59)}}},
		{"last 24 hours", now.Add(-24 * time.Hour), now, nil, []run{{27, 15, 24}},
			[][2]time.Time{{at(27, 14, 20), at(27, 15, 0)}, {day(28), now}}},
		{"today only", at(28, 1, 0), now, nil, nil, nil},
		{"within one past hour", at(20, 3, 10), at(20, 3, 50), nil, nil, nil},
		{"ends in the future", day(27), day(30), nil, []run{{27, 0, 24}}, [][2]time.Time{{day(28), day(30)}}},
		{"cut at the midnights of a zone", at(20, 3, 10), now, []time.Time{at(19, 23, 0), at(20, 23, 0), at(21, 23, 0), at(26, 23, 0), at(27, 23, 0)},
			[]run{{20, 4, 23}, {20, 23, 24}, {21, 0, 23}, {21, 23, 24}, {22, 0, 24}, {23, 0, 24}, {24, 0, 24}, {25, 0, 24}, {26, 0, 23}, {26, 23, 24}, {27, 0, 23}, {27, 23, 24}},
			[][2]time.Time{{at(20, 3, 10), at(20, 4, 0)}, {day(28), now}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			parts, open := finishedDayParts(c.from, c.to, now, c.cuts)
			var gotRuns []run
			for _, p := range parts {
				require.Equal(t, p.day, p.day.Truncate(24*time.Hour), "runs start at midnight UTC")
				d := p.day.Day()
				if p.day.Month() != time.November {
					d = -d
				}
				gotRuns = append(gotRuns, run{d, p.lo, p.hi})
			}
			var wantRuns []run
			for _, r := range c.runs {
				if r.d >= 29 { // the October days of the 30-day range
					r.d = -r.d
				}
				wantRuns = append(wantRuns, run{r.d, r.lo * 60, r.hi * 60})
			}
			require.Equal(t, wantRuns, gotRuns)
			var gotOpen [][2]time.Time
			for _, sp := range open {
				gotOpen = append(gotOpen, [2]time.Time{*sp.lo, *sp.hi})
			}
			require.Equal(t, c.open, gotOpen)
			// Runs and open spans cover the range once, end to end.
			var covered time.Duration
			for _, p := range parts {
				covered += p.end().Sub(p.start())
			}
			for _, sp := range open {
				covered += sp.hi.Sub(*sp.lo)
			}
			if len(parts) > 0 {
				require.Equal(t, c.to.Sub(c.from), covered)
			}
		})
	}
}

// TestFinishedDayPartsOffTheHour checks the runs of a zone whose days begin
// at half past an hour, as India's do: cut at those instants, in minutes.
func TestFinishedDayPartsOffTheHour(t *testing.T) {
	t.Parallel()
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }
	now := at(28, 14, 20)
	cuts := []time.Time{at(19, 18, 30), at(20, 18, 30), at(21, 18, 30), at(22, 18, 30)}
	parts, open := finishedDayParts(at(20, 17, 0), at(22, 20, 0), now, cuts)
	type run struct{ d, lo, hi int }
	var got []run
	for _, p := range parts {
		got = append(got, run{p.day.Day(), p.lo, p.hi})
	}
	half := 18*60 + 30
	require.Equal(t, []run{{20, 17 * 60, half}, {20, half, minutesPerDay}, {21, 0, half}, {21, half, minutesPerDay},
		{22, 0, half}, {22, half, 20 * 60}}, got)
	require.Empty(t, open, "the range starts and ends on the hour")
}
