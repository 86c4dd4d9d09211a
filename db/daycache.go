package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// maxDayParts bounds how many tallies of finished days a RollupStore
// keeps: a few KB each.
const maxDayParts = 4096

// dayRun is a run [lo, hi) of one UTC day, in minutes from its midnight,
// on five-minute boundaries.
type dayRun struct {
	day    time.Time
	lo, hi int
}

// minutesPerDay is where the last run of a day ends.
const minutesPerDay = 24 * 60

// dayPartKey names the tally of a run of a day under one filter's
// rollup dimensions, with a timeline in buckets of one width.
type dayPartKey struct {
	dims   string
	bucket TimeBucket
	day    int64 // Unix seconds of the day's start
	lo, hi int
}

// keptDay is a kept tally and the version of its day it was read at.
type keptDay struct {
	version int64
	tally   *tally
}

// dayCache keeps the tallies of finished UTC days, each valid while the
// version of its day (sync_event_day_versions, raised by every change to
// the day's rollups in the changing transaction) stays the one it was read
// at. A summary reads the versions in the same statement as the counts of
// the rest of its range, so every figure it returns comes from one
// snapshot.
type dayCache struct {
	mu           sync.Mutex
	parts        map[dayPartKey]keptDay
	hits, misses atomic.Int64
}

func newDayCache() *dayCache { return &dayCache{parts: map[dayPartKey]keptDay{}} }

func (c *dayCache) get(k dayPartKey) (keptDay, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.parts[k]
	return p, ok
}

func (c *dayCache) put(k dayPartKey, p keptDay) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.parts[k]; !ok && len(c.parts) >= maxDayParts {
		// Drop a quarter, chosen by map order: cheap, and a dropped
		// tally costs one read to get back.
		n := maxDayParts / 4
		for key := range c.parts {
			delete(c.parts, key)
			if n--; n == 0 {
				break
			}
		}
	}
	c.parts[k] = p
}

// DayCacheStats reports how many summaries were answered with the kept
// tallies of finished days (hits) and how many had to read some of those
// days first (misses).
func (s *RollupStore) DayCacheStats() (hits, misses int64) {
	if s.days == nil {
		return 0, 0
	}
	return s.days.hits.Load(), s.days.misses.Load()
}

// dimsKey identifies the rollup dimensions f selects.
func dimsKey(f EventFilter) string {
	var b strings.Builder
	// stringsOf copies, so the lists can be sorted in place.
	list := func(vals []string) {
		slices.Sort(vals)
		b.WriteString(strings.Join(slices.Compact(vals), ","))
		b.WriteByte('|')
	}
	list(stringsOf(f.Types))
	list(stringsOf(f.Statuses))
	list(stringsOf(f.Directions))
	list(stringsOf(f.ErrorCodes))
	return b.String()
}

func stringsOf[T ~string](vals []T) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

// finishedDayParts splits [from, to) into the whole hours that lie in UTC
// days finished by now, as runs within one day each, cut at the instants
// of cuts (sorted, on five-minute boundaries), and the spans left (open):
// at most the partial hour at the start and everything from the first
// unfinished hour or day on.
func finishedDayParts(from, to, now time.Time, cuts []time.Time) (parts []dayRun, open []span) {
	const day = 24 * time.Hour
	from, to = from.UTC(), to.UTC()
	lo := from.Truncate(time.Hour)
	if lo.Before(from) {
		lo = lo.Add(time.Hour)
	}
	end := minTime(to.Truncate(time.Hour), now.UTC().Truncate(day))
	if !lo.Before(end) {
		return nil, nil
	}
	for d := lo.Truncate(day); d.Before(end); d = d.Add(day) {
		a, b := maxTime(lo, d), minTime(end, d.Add(day))
		for _, c := range cuts {
			if c.After(a) && c.Before(b) {
				parts = append(parts, dayRun{day: d, lo: int(a.Sub(d) / time.Minute), hi: int(c.Sub(d) / time.Minute)})
				a = c
			}
		}
		parts = append(parts, dayRun{day: d, lo: int(a.Sub(d) / time.Minute), hi: int(b.Sub(d) / time.Minute)})
	}
	if from.Before(lo) {
		open = append(open, span{&from, &lo})
	}
	if end.Before(to) {
		open = append(open, span{&end, &to})
	}
	return parts, open
}

// start returns the first instant of the run.
func (p dayRun) start() time.Time { return p.day.Add(time.Duration(p.lo) * time.Minute) }

// end returns the instant after the run.
func (p dayRun) end() time.Time { return p.day.Add(time.Duration(p.hi) * time.Minute) }

// contains reports whether t lies in the run.
func (p dayRun) contains(t time.Time) bool { return !t.Before(p.start()) && t.Before(p.end()) }

// splitSpan cuts sp at the instants of cuts (sorted) inside it.
func splitSpan(sp span, cuts []time.Time) []span {
	var out []span
	lo := *sp.lo
	for _, c := range cuts {
		if c.After(lo) && c.Before(*sp.hi) {
			c := c
			l := lo
			out = append(out, span{&l, &c})
			lo = c
		}
	}
	return append(out, span{&lo, sp.hi})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// countRow is a signed count of events with one set of rollup dimensions
// in one bucket; rows with Version set carry a day's version in N instead.
type countRow struct {
	Version   bool      `bun:"version_row"`
	Bucket    time.Time `bun:"bucket"`
	Type      string    `bun:"type"`
	Status    string    `bun:"status"`
	Direction string    `bun:"direction"`
	ErrorCode string    `bun:"error_code"`
	N         int64     `bun:"n"`
}

// summarizeFinishedDays answers a summary from the kept tallies of its
// finished days and one statement for the rest of its range and the
// versions of those days. ok is false when it could not: the range holds
// no finished day, its days begin off the five-minute rollups, or their
// rollups keep changing under it.
func (s *RollupStore) summarizeFinishedDays(ctx context.Context, f EventFilter, bucket TimeBucket, loc *time.Location) (sum *Summary, ok bool, err error) {
	// label returns the start of the timeline bucket that holds an instant;
	// cuts are the starts of local days, where a zone's days begin.
	var label func(time.Time) time.Time
	var localDays, cuts []time.Time
	switch {
	case bucket == BucketHour:
		label = func(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }
	case loc == time.UTC:
		label = func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	default:
		localDays = LocalDays(*f.From, *f.To, loc)
		for _, d := range localDays {
			if !d.Truncate(fiveMinutes).Equal(d) {
				return nil, false, nil
			}
		}
		cuts = localDays
		label = func(t time.Time) time.Time {
			i, _ := slices.BinarySearchFunc(localDays, t, func(d, t time.Time) int { return d.Compare(t) })
			if i < len(localDays) && localDays[i].Equal(t) {
				return t
			}
			return localDays[max(i-1, 0)]
		}
	}
	parts, open := finishedDayParts(*f.From, *f.To, time.Now(), cuts)
	if len(parts) == 0 {
		return nil, false, nil
	}
	dims := dimsKey(f)
	days := make([]time.Time, len(parts))
	for i, p := range parts {
		days[i] = p.day
	}
	var sel []string
	var args []any
	for _, sp := range open {
		if cuts == nil {
			// The rows carry their hour or UTC day, which label reads.
			sub := f
			sub.From, sub.To = sp.lo, sp.hi
			q, a := groupedCounts(sub, bucket == BucketDay)
			sel = append(sel, `SELECT false AS version_row, bucket, type, status, direction, error_code, n FROM (`+q+`) AS g`)
			args = append(args, a...)
			continue
		}
		// A UTC day's rollups straddle local days: each piece within one
		// local day is labelled with it.
		for _, piece := range splitSpan(sp, cuts) {
			sub := f
			sub.From, sub.To = piece.lo, piece.hi
			q, a := groupedCounts(sub, true)
			sel = append(sel, `SELECT false AS version_row, ?::timestamptz AS bucket, type, status, direction, error_code, n FROM (`+q+`) AS g`)
			args = append(args, label(*piece.lo))
			args = append(args, a...)
		}
	}
	sel = append(sel, `SELECT true AS version_row, day AS bucket, '' AS type, '' AS status, '' AS direction, '' AS error_code, version AS n
		FROM sync_event_day_versions WHERE day IN (?)`)
	args = append(args, bun.In(days))
	q := strings.Join(sel, "\nUNION ALL\n")
	for attempt := 0; attempt < 2; attempt++ {
		var rows []countRow
		if err := s.db.NewRaw(q, args...).Scan(ctx, &rows); err != nil {
			return nil, false, fmt.Errorf("error summarising sync events: %w", err)
		}
		versions := map[int64]int64{}
		t := newTally()
		for _, r := range rows {
			if r.Version {
				versions[r.Bucket.Unix()] = r.N
				continue
			}
			t.addRow(label(r.Bucket), EventType(r.Type), EventStatus(r.Status), Direction(r.Direction), ErrorCode(r.ErrorCode), r.N)
		}
		var missing []dayRun
		for _, p := range parts {
			k := dayPartKey{dims: dims, bucket: bucket, day: p.day.Unix(), lo: p.lo, hi: p.hi}
			kept, found := s.days.get(k)
			switch {
			case !found || kept.version != versions[k.day]:
				missing = append(missing, p)
			case bucket == BucketHour:
				t.merge(kept.tally, nil)
			default:
				into := label(p.start())
				t.merge(kept.tally, &into)
			}
		}
		if len(missing) == 0 {
			if attempt == 0 {
				s.days.hits.Add(1)
			}
			return t.summary(f, bucket, loc, localDays), true, nil
		}
		if attempt == 0 {
			s.days.misses.Add(1)
			if err := s.readDayParts(ctx, f, dims, bucket, missing); err != nil {
				return nil, false, err
			}
		}
	}
	return nil, false, nil
}

// readDayParts reads and keeps the tallies of parts, with the versions of
// their days, in one statement. In hourly tallies each hour is its own
// bucket; a daily tally has one, the start of its run.
func (s *RollupStore) readDayParts(ctx context.Context, f EventFilter, dims string, bucket TimeBucket, parts []dayRun) error {
	var sel []string
	var args []any
	days := make([]time.Time, len(parts))
	for i, p := range parts {
		days[i] = p.day
		w := &where{}
		lo, hi := p.start(), p.end()
		switch {
		case bucket == BucketHour:
			// Runs of hourly timelines are whole hours.
			w.add("bucket >= ? AND bucket < ?", lo, hi)
			w.addDimensions(f, "error_code")
			sel = append(sel, `SELECT false AS version_row, bucket, type, status, direction, error_code, n
				FROM sync_event_hourly WHERE `+w.sql())
			args = append(args, w.args...)
			continue
		case p.lo == 0 && p.hi == minutesPerDay:
			w.add("bucket = ?", p.day)
			w.addDimensions(f, "error_code")
			sel = append(sel, `SELECT false AS version_row, ?::timestamptz AS bucket, type, status, direction, error_code, n
				FROM sync_event_daily WHERE `+w.sql())
		default:
			// The whole hours of the run from the hourly rollups, the
			// five minutes around them from the five-minute ones.
			hLo, hHi := lo.Truncate(time.Hour), hi.Truncate(time.Hour)
			if hLo.Before(lo) {
				hLo = hLo.Add(time.Hour)
			}
			var hours, fives []span
			if hLo.Before(hHi) {
				hours = append(hours, span{&hLo, &hHi})
				if lo.Before(hLo) {
					fives = append(fives, span{&lo, &hLo})
				}
				if hHi.Before(hi) {
					fives = append(fives, span{&hHi, &hi})
				}
			} else {
				fives = append(fives, span{&lo, &hi})
			}
			var from []string
			var fromArgs []any
			for _, src := range []struct {
				table string
				spans []span
			}{{"sync_event_hourly", hours}, {"sync_event_5min", fives}} {
				if len(src.spans) == 0 {
					continue
				}
				q, a := rollupRows(src.table, src.spans, f, "n")
				from = append(from, q)
				fromArgs = append(fromArgs, a...)
			}
			sel = append(sel, `SELECT false AS version_row, ?::timestamptz AS bucket, type, status, direction, error_code, sum(n)::bigint AS n
				FROM (`+strings.Join(from, " UNION ALL ")+`) AS r GROUP BY 3, 4, 5, 6`)
			args = append(args, lo)
			args = append(args, fromArgs...)
			continue
		}
		args = append(args, lo)
		args = append(args, w.args...)
	}
	sel = append(sel, `SELECT true AS version_row, day AS bucket, '' AS type, '' AS status, '' AS direction, '' AS error_code, version AS n
		FROM sync_event_day_versions WHERE day IN (?)`)
	args = append(args, bun.In(days))
	var rows []countRow
	if err := s.db.NewRaw(strings.Join(sel, "\nUNION ALL\n"), args...).Scan(ctx, &rows); err != nil {
		return fmt.Errorf("error reading the rollups of finished days: %w", err)
	}
	// The runs of each day, to tell which one a row belongs to.
	runs := map[int64][]int{}
	tallies := make([]*tally, len(parts))
	for i, p := range parts {
		runs[p.day.Unix()] = append(runs[p.day.Unix()], i)
		tallies[i] = newTally()
	}
	versions := map[int64]int64{}
	for _, r := range rows {
		at := r.Bucket.UTC()
		day := at.Truncate(24 * time.Hour).Unix()
		if r.Version {
			versions[day] = r.N
			continue
		}
		for _, i := range runs[day] {
			if parts[i].contains(at) {
				tallies[i].addRow(at, EventType(r.Type), EventStatus(r.Status), Direction(r.Direction), ErrorCode(r.ErrorCode), r.N)
				break
			}
		}
	}
	for i, p := range parts {
		k := dayPartKey{dims: dims, bucket: bucket, day: p.day.Unix(), lo: p.lo, hi: p.hi}
		s.days.put(k, keptDay{version: versions[k.day], tally: tallies[i]})
	}
	return nil
}
