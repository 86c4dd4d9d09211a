package db

import (
	"slices"
	"strings"
	"time"
)

// statusCounts counts events in total and by status.
type statusCounts struct {
	total, succeeded, failed, pending int64
}

func (c *statusCounts) add(st EventStatus, n int64) {
	addStatus(&c.total, &c.succeeded, &c.failed, &c.pending, st, n)
}

func (c *statusCounts) plus(o *statusCounts) {
	c.total += o.total
	c.succeeded += o.succeeded
	c.failed += o.failed
	c.pending += o.pending
}

// tally holds the figures of a summary before they are laid out. Tallies
// add up: the tally of two disjoint sets of events is the sum of theirs.
type tally struct {
	types    map[EventType]*statusCounts
	codes    map[ErrorCode]int64
	buckets  map[time.Time]*statusCounts
	apiCalls int64
}

func newTally() *tally {
	return &tally{
		types:   map[EventType]*statusCounts{},
		codes:   map[ErrorCode]int64{},
		buckets: map[time.Time]*statusCounts{},
	}
}

func (t *tally) typeCounts(typ EventType) *statusCounts {
	c := t.types[typ]
	if c == nil {
		c = &statusCounts{}
		t.types[typ] = c
	}
	return c
}

func (t *tally) bucketCounts(start time.Time) *statusCounts {
	c := t.buckets[start]
	if c == nil {
		c = &statusCounts{}
		t.buckets[start] = c
	}
	return c
}

// addRow counts n events of one rollup row, in the timeline bucket that
// starts at bucket.
func (t *tally) addRow(bucket time.Time, typ EventType, st EventStatus, dir Direction, code ErrorCode, n int64) {
	t.typeCounts(typ).add(st, n)
	t.codes[code] += n
	t.bucketCounts(bucket).add(st, n)
	if dir == DirectionToHelpScout && st != StatusPending {
		t.apiCalls += n
	}
}

// merge adds the counts of o; with into set, all of o's timeline goes to
// the bucket that starts there.
func (t *tally) merge(o *tally, into *time.Time) {
	for typ, c := range o.types {
		t.typeCounts(typ).plus(c)
	}
	for code, n := range o.codes {
		t.codes[code] += n
	}
	for start, c := range o.buckets {
		if into != nil {
			start = *into
		}
		t.bucketCounts(start).plus(c)
	}
	t.apiCalls += o.apiCalls
}

// summary lays the tally out as the summary of f's range. days lists the
// starts of the timeline's buckets when they are days of a zone other
// than UTC; otherwise the buckets follow from the range and bucket.
func (t *tally) summary(f EventFilter, bucket TimeBucket, loc *time.Location, days []time.Time) *Summary {
	sum := &Summary{From: *f.From, To: *f.To, Bucket: bucket, Location: loc, APICalls: t.apiCalls}
	for _, typ := range EventTypes {
		c := t.types[typ]
		if c == nil || c.total <= 0 {
			continue
		}
		sum.ByType = append(sum.ByType, TypeCount{Type: typ, Total: c.total, Succeeded: c.succeeded, Failed: c.failed, Pending: c.pending})
	}
	for typ, c := range t.types {
		sum.Total += c.total
		sum.Succeeded += c.succeeded
		sum.Failed += c.failed
		sum.Pending += c.pending
		switch typ {
		case EventTicketCreated:
			sum.TicketsCreated += c.succeeded
		case EventCustomerSynced:
			sum.CustomersSynced += c.succeeded
		case EventCustomerUpdated:
			sum.CustomersUpdated += c.succeeded
		}
	}
	for code, n := range t.codes {
		if code != "" && n > 0 {
			sum.ByErrorCode = append(sum.ByErrorCode, ErrorCodeCount{Code: code, Count: n})
		}
	}
	slices.SortFunc(sum.ByErrorCode, func(a, b ErrorCodeCount) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(string(a.Code), string(b.Code))
	})
	bucketAt := func(start time.Time) TimelineBucket {
		b := TimelineBucket{Start: start}
		if c := t.buckets[start.UTC()]; c != nil {
			b.Total, b.Succeeded, b.Failed, b.Pending = c.total, c.succeeded, c.failed, c.pending
		}
		return b
	}
	if days != nil {
		sum.Timeline = make([]TimelineBucket, len(days))
		for i, d := range days {
			sum.Timeline[i] = bucketAt(d)
		}
		return sum
	}
	step := bucket.Duration()
	for start := f.From.UTC().Truncate(step); start.Before(*f.To); start = start.Add(step) {
		sum.Timeline = append(sum.Timeline, bucketAt(start))
	}
	return sum
}
