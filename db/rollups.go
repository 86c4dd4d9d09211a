package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// TimeBucket is the width of a summary timeline bucket.
type TimeBucket string

// The bucket widths.
const (
	BucketHour TimeBucket = "HOUR"
	BucketDay  TimeBucket = "DAY"
)

// Duration returns the bucket's width.
func (b TimeBucket) Duration() time.Duration {
	if b == BucketDay {
		return 24 * time.Hour
	}
	return time.Hour
}

// Health grades a success rate.
type Health string

// The health grades.
const (
	HealthHealthy  Health = "HEALTHY"
	HealthDegraded Health = "DEGRADED"
	HealthFailing  Health = "FAILING"
	HealthNoData   Health = "NO_DATA"
)

// HealthyRate is the success rate at and above which the integration is healthy.
const HealthyRate = 0.95

// degradedRate is the success rate under which the integration is failing.
const degradedRate = 0.80

// TypeCount holds the counts of one event type.
type TypeCount struct {
	Type                              EventType
	Total, Succeeded, Failed, Pending int64
}

// ErrorCodeCount holds how often one error code occurred.
type ErrorCodeCount struct {
	Code  ErrorCode
	Count int64
}

// TimelineBucket holds the counts of one bucket.
type TimelineBucket struct {
	Start                             time.Time
	Total, Succeeded, Failed, Pending int64
}

// Summary is the dashboard of a period.
type Summary struct {
	From, To                                          time.Time
	Total, Succeeded, Failed, Pending                 int64
	TicketsCreated, CustomersSynced, CustomersUpdated int64
	APICalls                                          int64
	ByType                                            []TypeCount
	ByErrorCode                                       []ErrorCodeCount
	Timeline                                          []TimelineBucket
	Bucket                                            TimeBucket
	// Location is the time zone whose midnights start daily buckets.
	Location *time.Location
}

// TimeZone names the zone whose midnights start daily buckets.
func (s *Summary) TimeZone() string {
	if s.Location == nil {
		return time.UTC.String()
	}
	return s.Location.String()
}

// SuccessRate is succeeded / (succeeded + failed), or nil when nothing finished.
func (s *Summary) SuccessRate() *float64 {
	done := s.Succeeded + s.Failed
	if done == 0 {
		return nil
	}
	r := float64(s.Succeeded) / float64(done)
	return &r
}

// ErrorRate is failed / (succeeded + failed), or nil when nothing finished.
func (s *Summary) ErrorRate() *float64 {
	done := s.Succeeded + s.Failed
	if done == 0 {
		return nil
	}
	r := float64(s.Failed) / float64(done)
	return &r
}

// Health grades the success rate: healthy at 95% or more.
func (s *Summary) Health() Health {
	r := s.SuccessRate()
	switch {
	case r == nil:
		return HealthNoData
	case *r >= HealthyRate:
		return HealthHealthy
	case *r >= degradedRate:
		return HealthDegraded
	default:
		return HealthFailing
	}
}

// RollupStore answers counts and summaries from the rollups that triggers
// keep current (daily, hourly and five-minute), reading raw events only
// for the partial five minutes at the edges of a range (or the rest of
// them, see edges) and for filters that rollups do not carry.
//
// A summary reads the UTC days of its range that are over from tallies it
// keeps (see dayCache), checked against the days' versions in the
// statement that counts the rest of the range.
type RollupStore struct {
	db *bun.DB
	// days keeps the tallies of finished days; nil keeps none.
	days *dayCache
}

// NewRollupStore returns a store over bdb.
func NewRollupStore(bdb *bun.DB) *RollupStore {
	return &RollupStore{db: bdb, days: newDayCache()}
}

// Uncached returns a store over the same database that keeps no tallies
// and reads every summary from the rollups.
func (s *RollupStore) Uncached() *RollupStore { return &RollupStore{db: s.db} }

// span is a half-open time range; a nil end is open.
type span struct{ lo, hi *time.Time }

// plan splits a range into the parts each source answers: whole days from
// the daily rollups (when daily is set), whole hours from the hourly
// rollups, and the partial hours at the ends from the events themselves.
// Each raw span lies within one hour.
func plan(from, to *time.Time, daily bool) (raw, hourly, days []span) {
	ceil := func(t time.Time, d time.Duration) time.Time {
		c := t.Truncate(d)
		if c.Before(t) {
			c = c.Add(d)
		}
		return c
	}
	var hLo, hHi *time.Time
	if from != nil {
		t := ceil(from.UTC(), time.Hour)
		hLo = &t
	}
	if to != nil {
		t := to.UTC().Truncate(time.Hour)
		hHi = &t
	}
	if hLo != nil && hHi != nil && !hLo.Before(*hHi) {
		// No whole hour inside: one partial hour, or two split at the
		// hour between them.
		if hLo.Equal(*hHi) && from.Before(*hLo) && hLo.Before(*to) {
			return []span{{from, hLo}, {hLo, to}}, nil, nil
		}
		return []span{{from, to}}, nil, nil
	}
	if from != nil && from.Before(*hLo) {
		raw = append(raw, span{from, hLo})
	}
	if to != nil && hHi.Before(*to) {
		raw = append(raw, span{hHi, to})
	}
	if !daily {
		return raw, []span{{hLo, hHi}}, nil
	}
	var dLo, dHi *time.Time
	if hLo != nil {
		t := ceil(*hLo, 24*time.Hour)
		dLo = &t
	}
	if hHi != nil {
		t := hHi.Truncate(24 * time.Hour)
		dHi = &t
	}
	if dLo != nil && dHi != nil && !dLo.Before(*dHi) {
		return raw, []span{{hLo, hHi}}, nil
	}
	if hLo != nil && hLo.Before(*dLo) {
		hourly = append(hourly, span{hLo, dLo})
	}
	if hHi != nil && dHi.Before(*hHi) {
		hourly = append(hourly, span{dHi, hHi})
	}
	return raw, hourly, []span{{dLo, dHi}}
}

// fiveMinutes is the width of the finest rollups (sync_event_5min).
const fiveMinutes = 5 * time.Minute

// edge is how groupedCounts counts a piece of a raw span of a plan, which
// lies within one five-minute bucket: from the events in it, or, when that
// reads more events, from the bucket's rollups less the events of the rest
// of the bucket (rest).
type edge struct {
	span
	// bucket is the start of the piece's five minutes when their rollups
	// are used; zero when the piece is read from the events.
	bucket time.Time
	// rest is the rest of the five minutes, to subtract: one or two spans.
	rest []span
}

// edges splits the raw spans of a plan, each within one hour, into the
// whole five minutes they hold (fives), read from the five-minute
// rollups, and the pieces left at their ends, each within five minutes.
// A piece is counted whichever way reads fewer events: from its events, or
// from its five minutes' rollups less the events of the rest of them
// (which triggers keep exact within any snapshot). Nothing has happened
// after now, so a range that ends now reads no events at that end. Each
// way costs the time it reads before now.
func edges(raw []span, now time.Time) (fives []span, pieces []edge) {
	piece := func(lo, hi time.Time) {
		b := lo.Truncate(fiveMinutes)
		if rest, ok := restOfBucket(lo, hi, b, fiveMinutes, now); ok {
			pieces = append(pieces, edge{span: span{&lo, &hi}, bucket: b, rest: rest})
		} else {
			pieces = append(pieces, edge{span: span{&lo, &hi}})
		}
	}
	for _, sp := range raw {
		lo, hi := sp.lo.UTC(), sp.hi.UTC()
		f1 := lo.Truncate(fiveMinutes)
		if f1.Before(lo) {
			f1 = f1.Add(fiveMinutes)
		}
		f2 := hi.Truncate(fiveMinutes)
		if !f1.Before(f2) {
			// No whole five minutes inside: one piece, or two split at
			// the boundary between them.
			if f1.Equal(f2) && lo.Before(f1) && f1.Before(hi) {
				piece(lo, f1)
				piece(f1, hi)
			} else {
				piece(lo, hi)
			}
			continue
		}
		fives = append(fives, span{&f1, &f2})
		if lo.Before(f1) {
			piece(lo, f1)
		}
		if f2.Before(hi) {
			piece(f2, hi)
		}
	}
	return fives, pieces
}

// partialDays chooses, for each hourly span of a plan that lies within one
// UTC day (the partial days at the ends of a range), the way to count it
// that reads fewer hours before now: its hours (keep), or the day's rollup
// (days) less the hours of the rest of the day (minus). Nothing has
// happened after now, so the partial day at the end of a range that ends
// now costs its day's rollup and the current hour's.
func partialDays(hourly []span, now time.Time) (keep, days, minus []span) {
	const day = 24 * time.Hour
	for _, sp := range hourly {
		if sp.lo == nil || sp.hi == nil {
			keep = append(keep, sp)
			continue
		}
		d := sp.lo.UTC().Truncate(day)
		end := d.Add(day)
		if sp.hi.After(end) {
			keep = append(keep, sp)
			continue
		}
		if rest, ok := restOfBucket(*sp.lo, *sp.hi, d, day, now); ok {
			days = append(days, span{&d, &end})
			minus = append(minus, rest...)
		} else {
			keep = append(keep, sp)
		}
	}
	return keep, days, minus
}

// restOfBucket returns the rest of the bucket [start, start+width) around
// [lo, hi), which lies within it: one or two spans. cheaper reports
// whether counting the bucket's rollup less the rest reads less time
// before now than counting [lo, hi) itself; nothing has happened after
// now, so time after it costs nothing.
func restOfBucket(lo, hi, start time.Time, width time.Duration, now time.Time) (rest []span, cheaper bool) {
	before := func(lo, hi time.Time) time.Duration {
		if hi.After(now) {
			hi = now
		}
		return max(hi.Sub(lo), 0)
	}
	end := start.Add(width)
	restCost := time.Duration(0)
	if start.Before(lo) {
		rest = append(rest, span{&start, &lo})
		restCost += before(start, lo)
	}
	if hi.Before(end) {
		rest = append(rest, span{&hi, &end})
		restCost += before(hi, end)
	}
	return rest, restCost < before(lo, hi)
}

// spansCond returns a condition that col lies in any of the spans.
func spansCond(col string, spans []span) (string, []any) {
	var ors []string
	var args []any
	for _, sp := range spans {
		var and []string
		if sp.lo != nil {
			and = append(and, col+" >= ?")
			args = append(args, *sp.lo)
		}
		if sp.hi != nil {
			and = append(and, col+" < ?")
			args = append(args, *sp.hi)
		}
		if len(and) == 0 {
			and = append(and, "TRUE")
		}
		ors = append(ors, "("+strings.Join(and, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// rollupRows returns SQL yielding the rows (bucket, type, status,
// direction, error_code, n) of a rollup table whose buckets lie in spans
// and whose dimensions match f; n is the count's expression (n or -n).
func rollupRows(table string, spans []span, f EventFilter, n string) (string, []any) {
	w := &where{}
	c, a := spansCond("bucket", spans)
	w.add(c, a...)
	w.addDimensions(f, "error_code")
	return `SELECT bucket, type, status, direction, error_code, ` + n + ` AS n FROM ` + table + ` WHERE ` + w.sql(), w.args
}

// groupedCounts returns SQL yielding rows (bucket, type, status, direction,
// error_code, n) whose sum over any grouping equals the matching events.
// bucket is an hour, or a day for rows from the daily rollups, which are
// used only when daily is set.
func groupedCounts(f EventFilter, daily bool) (string, []any) {
	conditions := func() *where {
		w := &where{}
		w.addDimensions(f, "error_code")
		w.addRecordConditions(f)
		return w
	}
	if f.needsRawRows() {
		// Sessions run in UTC (see Open): date_trunc without a zone cuts
		// UTC hours and is much cheaper than naming the zone on every row.
		w := conditions()
		c, a := spansCond("occurred_at", []span{{f.From, f.To}})
		w.add(c, a...)
		return `SELECT date_trunc('hour', occurred_at) AS bucket, type, status, direction,
			coalesce(error_code, '') AS error_code, count(*) AS n
			FROM sync_events WHERE ` + w.sql() + ` GROUP BY 1, 2, 3, 4, 5`, w.args
	}
	rawSpans, hourly, days := plan(f.From, f.To, daily)
	now := time.Now()
	var minusHours []span
	if daily {
		var more []span
		hourly, more, minusHours = partialDays(hourly, now)
		days = append(days, more...)
	}
	fives, pieces := edges(rawSpans, now)
	var raw, minus []edge
	for _, e := range pieces {
		if e.bucket.IsZero() {
			raw = append(raw, e)
		} else {
			b, end := e.bucket, e.bucket.Add(fiveMinutes)
			fives = append(fives, span{&b, &end})
			minus = append(minus, e)
		}
	}
	var parts []string
	var args []any
	for _, src := range []struct {
		table string
		spans []span
		// n is the count, negative for the hours a day's rollups count
		// that are not in the range.
		n string
	}{{"sync_event_daily", days, "n"}, {"sync_event_hourly", hourly, "n"}, {"sync_event_hourly", minusHours, "-n"}, {"sync_event_5min", fives, "n"}} {
		if len(src.spans) == 0 {
			continue
		}
		q, a := rollupRows(src.table, src.spans, f, src.n)
		parts = append(parts, q)
		args = append(args, a...)
	}
	// Each piece lies within one hour, so its bucket (the hour) is a
	// constant. The rest of five minutes taken from the rollups counts
	// negatively.
	for _, e := range slices.Concat(raw, minus) {
		spans, count := []span{e.span}, "count(*)"
		if !e.bucket.IsZero() {
			spans, count = e.rest, "-count(*)"
		}
		w := conditions()
		c, a := spansCond("occurred_at", spans)
		w.add(c, a...)
		parts = append(parts, `SELECT ?::timestamptz AS bucket, type, status, direction,
			coalesce(error_code, '') AS error_code, `+count+` AS n
			FROM sync_events WHERE `+w.sql()+` GROUP BY 2, 3, 4, 5`)
		args = append(args, e.lo.UTC().Truncate(time.Hour))
		args = append(args, w.args...)
	}
	return strings.Join(parts, "\nUNION ALL\n"), args
}

// StartOfDay returns the first instant of the day in loc that lies days
// days after the day of t: the first instant whose clock reads that day
// or later. Where a change of clock skips midnight, the day begins when
// the new clock starts; where the clock goes back to midnight, at the
// first midnight; a day the zone skipped begins with the next one.
func StartOfDay(t time.Time, days int, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	// midnight is the wall clock of the day's midnight, read as UTC.
	midnight := time.Date(y, m, d+days, 0, 0, 0, 0, time.UTC)
	// Walk the zone's periods of constant offset from before any offset
	// can put that midnight (offsets lie within ±15 hours); within each
	// the clock runs steadily, so the first period whose clock reaches
	// midnight before it ends holds the start.
	p := midnight.Add(-15 * time.Hour).In(loc)
	for {
		_, offset := p.Zone()
		_, end := p.ZoneBounds()
		start := midnight.Add(-time.Duration(offset) * time.Second)
		if start.Before(p) {
			// The clock passed midnight as this period began.
			start = p
		}
		if end.IsZero() || start.Before(end) {
			return start.In(loc)
		}
		p = end.In(loc)
	}
}

// LocalDays returns, in UTC, the starts of the days in loc that [from, to)
// touches: the start of the day of from, then each later one before to.
func LocalDays(from, to time.Time, loc *time.Location) []time.Time {
	days := []time.Time{StartOfDay(from, 0, loc).UTC()}
	for i := 1; ; i++ {
		d := StartOfDay(from, i, loc).UTC()
		if !d.Before(to) {
			return days
		}
		// A day the zone skipped starts with the next one.
		if !d.Equal(days[len(days)-1]) {
			days = append(days, d)
		}
	}
}

// dayPart is a span of a local day counted from one source (a rollup
// table, or the events when table is empty), positively or negatively.
type dayPart struct {
	table  string
	lo, hi time.Time
	day    time.Time
	sign   int
}

// zonedDayParts cuts the local days of a range (starts as LocalDays gives
// them, the first perhaps before the range) into parts that each source
// answers, each labelled with the start of its local day. A day's part of
// a UTC day is counted from that day's rollup less the rest of it when the
// rest covers less time before now (as in partialDays), otherwise from its
// hours; the partial hours left over are counted from the five-minute
// rollups and the events, as the edges of a range are (see edges). In a
// zone a whole number of hours from UTC a day then reads one daily rollup
// and two hours; half an hour off, also a few five-minute rollups. With
// raw set, every part is read from the events.
func zonedDayParts(from, to time.Time, days []time.Time, raw bool, now time.Time) []dayPart {
	const utcDay = 24 * time.Hour
	var parts []dayPart
	// within adds [lo, hi), which lies within one UTC day, from its hours,
	// five minutes and events.
	within := func(lo, hi, day time.Time, sign int) {
		rawSpans, hourly, _ := plan(&lo, &hi, false)
		for _, sp := range hourly {
			if sp.lo.Before(*sp.hi) {
				parts = append(parts, dayPart{"sync_event_hourly", *sp.lo, *sp.hi, day, sign})
			}
		}
		fives, pieces := edges(rawSpans, now)
		for _, sp := range fives {
			parts = append(parts, dayPart{"sync_event_5min", *sp.lo, *sp.hi, day, sign})
		}
		for _, e := range pieces {
			if e.bucket.IsZero() {
				parts = append(parts, dayPart{"", *e.lo, *e.hi, day, sign})
				continue
			}
			parts = append(parts, dayPart{"sync_event_5min", e.bucket, e.bucket.Add(fiveMinutes), day, sign})
			for _, r := range e.rest {
				parts = append(parts, dayPart{"", *r.lo, *r.hi, day, -sign})
			}
		}
	}
	for i, day := range days {
		lo, hi := day, to
		if lo.Before(from) {
			lo = from
		}
		if i+1 < len(days) {
			hi = days[i+1]
		}
		if raw {
			parts = append(parts, dayPart{"", lo, hi, day, 1})
			continue
		}
		for d := lo.UTC().Truncate(utcDay); d.Before(hi); d = d.Add(utcDay) {
			a, b := lo, hi
			if a.Before(d) {
				a = d
			}
			if end := d.Add(utcDay); b.After(end) {
				b = end
			}
			if a.Equal(d) && b.Equal(d.Add(utcDay)) {
				parts = append(parts, dayPart{"sync_event_daily", d, b, day, 1})
				continue
			}
			rest, cheaper := restOfBucket(a, b, d, utcDay, now)
			if !cheaper {
				within(a, b, day, 1)
				continue
			}
			parts = append(parts, dayPart{"sync_event_daily", d, d.Add(utcDay), day, 1})
			for _, r := range rest {
				within(*r.lo, *r.hi, day, -1)
			}
		}
	}
	return parts
}

// zonedDayCounts is groupedCounts for a range cut into days that need not
// begin on a UTC hour (days as LocalDays gives them): its rows' buckets
// are the starts of their local days. The parts of each source (see
// zonedDayParts) are joined to it as arrays, each part read by its own
// range scan: a plain join of the spans and the table, whose row count the
// planner cannot estimate, may scan the whole table instead.
func zonedDayCounts(f EventFilter, days []time.Time) (string, []any) {
	parts := zonedDayParts(*f.From, *f.To, days, f.needsRawRows(), time.Now())
	bySource := map[string][]dayPart{}
	for _, p := range parts {
		bySource[p.table] = append(bySource[p.table], p)
	}
	var sql []string
	var args []any
	for _, table := range []string{"sync_event_daily", "sync_event_hourly", "sync_event_5min", ""} {
		ps := bySource[table]
		if len(ps) == 0 {
			continue
		}
		los, his, labels, signs := make([]time.Time, len(ps)), make([]time.Time, len(ps)), make([]time.Time, len(ps)), make([]int, len(ps))
		for i, p := range ps {
			los[i], his[i], labels[i], signs[i] = p.lo.UTC(), p.hi.UTC(), p.day.UTC(), p.sign
		}
		args = append(args, pgdialect.Array(los), pgdialect.Array(his), pgdialect.Array(labels), pgdialect.Array(signs))
		w := &where{}
		w.addDimensions(f, "error_code")
		if table == "" {
			w.addRecordConditions(f)
			sql = append(sql, `SELECT s.day AS bucket, e.type, e.status, e.direction, e.error_code, sum(s.sign) AS n
			FROM unnest(?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::int[]) AS s(lo, hi, day, sign)
			CROSS JOIN LATERAL (SELECT type, status, direction, coalesce(error_code, '') AS error_code
				FROM sync_events WHERE occurred_at >= s.lo AND occurred_at < s.hi AND `+w.sql()+` OFFSET 0) AS e
			GROUP BY 1, 2, 3, 4, 5`)
		} else {
			sql = append(sql, `SELECT s.day AS bucket, r.type, r.status, r.direction, r.error_code, r.n * s.sign AS n
			FROM unnest(?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::int[]) AS s(lo, hi, day, sign)
			CROSS JOIN LATERAL (SELECT type, status, direction, error_code, n
				FROM `+table+` WHERE bucket >= s.lo AND bucket < s.hi AND `+w.sql()+` OFFSET 0) AS r`)
		}
		args = append(args, w.args...)
	}
	return strings.Join(sql, "\nUNION ALL\n"), args
}

// Count returns how many events match f.
func (s *RollupStore) Count(ctx context.Context, f EventFilter) (int64, error) {
	var q string
	var args []any
	if f.needsRawRows() {
		// Counted on the events themselves: no grouping needed.
		w := eventWhere(f)
		q, args = "SELECT count(*) FROM sync_events WHERE "+w.sql(), w.args
	} else {
		g, a := groupedCounts(f, true)
		q, args = "SELECT coalesce(sum(n), 0)::bigint FROM ("+g+") AS g", a
	}
	var n int64
	if err := s.db.NewRaw(q, args...).Scan(ctx, &n); err != nil {
		return 0, fmt.Errorf("error counting sync events: %w", err)
	}
	return n, nil
}

// summaryRow is one row of the grouping-sets query in Summarize.
type summaryRow struct {
	Set       int        `bun:"set"`
	Type      *string    `bun:"type"`
	Status    *string    `bun:"status"`
	Direction *string    `bun:"direction"`
	ErrorCode *string    `bun:"error_code"`
	Bucket    *time.Time `bun:"tb"`
	N         int64      `bun:"n"`
}

// Summarize returns the summary of the events matching f, whose From and To
// must both be set, with a timeline in buckets of the given width. Daily
// buckets start at midnight in loc (UTC when nil); hourly buckets are the
// hours of UTC.
func (s *RollupStore) Summarize(ctx context.Context, f EventFilter, bucket TimeBucket, loc *time.Location) (*Summary, error) {
	if f.From == nil || f.To == nil {
		return nil, fmt.Errorf("summary needs a closed range")
	}
	if loc == nil {
		loc = time.UTC
	}
	if f.Search != nil && f.Search.Direct {
		// The grouping reads the rollup dimensions from the email index
		// alone, which beats reading every row of the range for all but
		// the broadest texts.
		s := *f.Search
		s.Direct = false
		f.Search = &s
	}
	if !f.needsRawRows() && s.days != nil {
		sum, ok, err := s.summarizeFinishedDays(ctx, f, bucket, loc)
		if err != nil || ok {
			return sum, err
		}
	}
	var q string
	var args []any
	// tb is the bucket of a row of q. Sessions run in UTC (see Open), so
	// date_trunc without a zone cuts UTC hours and days, much more cheaply
	// than naming the zone on every row.
	var tb string
	var days []time.Time
	switch {
	case bucket != BucketDay:
		tb = "date_trunc('hour', bucket)"
		q, args = groupedCounts(f, false)
	case loc == time.UTC:
		tb = "date_trunc('day', bucket)"
		q, args = groupedCounts(f, true)
	default:
		// The rows of q are labelled with the starts of their days.
		days = LocalDays(*f.From, *f.To, loc)
		q, args = zonedDayCounts(f, days)
		tb = "bucket"
	}
	// GROUPING() numbers the sets: type+status (1), error_code (2),
	// bucket+status (3), direction+status (4).
	full := `SELECT CASE GROUPING(type, error_code, tb, direction)
			WHEN 7 THEN 1 WHEN 11 THEN 2 WHEN 13 THEN 3 WHEN 14 THEN 4 END AS set,
			type, status, direction, error_code, tb, sum(n)::bigint AS n
		FROM (SELECT ` + tb + ` AS tb, type, status, direction, error_code, n FROM (` + q + `) AS g0) AS g
		GROUP BY GROUPING SETS ((type, status), (error_code), (tb, status), (direction, status))`
	var rows []summaryRow
	if err := s.db.NewRaw(full, args...).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("error summarising sync events: %w", err)
	}
	t := newTally()
	for _, r := range rows {
		switch r.Set {
		case 1:
			t.typeCounts(EventType(*r.Type)).add(EventStatus(*r.Status), r.N)
		case 2:
			t.codes[ErrorCode(*r.ErrorCode)] += r.N
		case 3:
			t.bucketCounts(r.Bucket.UTC()).add(EventStatus(*r.Status), r.N)
		case 4:
			if Direction(*r.Direction) == DirectionToHelpScout && EventStatus(*r.Status) != StatusPending {
				t.apiCalls += r.N
			}
		}
	}
	return t.summary(f, bucket, loc, days), nil
}

func addStatus(total, ok, failed, pending *int64, st EventStatus, n int64) {
	*total += n
	switch st {
	case StatusSuccess:
		*ok += n
	case StatusFailed:
		*failed += n
	case StatusPending:
		*pending += n
	}
}
