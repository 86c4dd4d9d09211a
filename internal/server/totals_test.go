package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
)

const totalsQuery = `query Totals($f: SyncEventFilter, $r: TimeRangeInput, $sf: SyncEventFilter) {
  syncEvents(filter: $f, first: 1) { totalCount }
  summary(range: $r, filter: $sf) {
    total succeeded failed pending ticketsCreated apiCalls bucket
    byType { type total }
    byErrorCode { code count }
    timeline { total }
  }
}`

// totalsCase is a filter without its range, as GraphQL variables and as a
// reference.
type totalsCase struct {
	name   string
	filter map[string]any
	ref    ref
}

var totalsFilters = []totalsCase{
	{"no filter", nil, ref{}},
	{"failed", map[string]any{"statuses": []string{"FAILED"}}, ref{statuses: []db.EventStatus{db.StatusFailed}}},
	{"pending", map[string]any{"statuses": []string{"PENDING"}}, ref{statuses: []db.EventStatus{db.StatusPending}}},
	{"tickets and customer syncs", map[string]any{"types": []string{"TICKET_CREATED", "CUSTOMER_SYNCED"}},
		ref{types: []db.EventType{db.EventTicketCreated, db.EventCustomerSynced}}},
	{"from HelpScout", map[string]any{"directions": []string{"FROM_HELPSCOUT"}},
		ref{directions: []db.Direction{db.DirectionFromHelpScout}}},
	{"error codes", map[string]any{"errorCodes": []string{"RATE_LIMITED", "TIMEOUT", "UNKNOWN", "INVALID_EMAIL"}},
		ref{codes: []db.ErrorCode{db.CodeRateLimited, db.CodeTimeout, db.CodeUnknown, db.CodeInvalidEmail}}},
	{"combination", map[string]any{"statuses": []string{"FAILED", "PENDING"}, "types": []string{"TICKET_CREATED", "CUSTOMER_UPDATED", "ERROR"},
		"directions": []string{"TO_HELPSCOUT"}},
		ref{statuses: []db.EventStatus{db.StatusFailed, db.StatusPending},
			types:      []db.EventType{db.EventTicketCreated, db.EventCustomerUpdated, db.EventError},
			directions: []db.Direction{db.DirectionToHelpScout}}},
	{"search email (raw rows)", map[string]any{"search": "example"}, ref{search: ptr("example")}},
	{"search ticket number (raw rows)", map[string]any{"search": "#1005"}, ref{search: ptr("#1005")}},
}

type timeRange struct {
	name     string
	from, to time.Time
}

// totalsRanges returns aligned and unaligned ranges around the fixture.
func (f *fixture) totalsRanges() []timeRange {
	h := f.now.Truncate(time.Hour)
	return []timeRange{
		{"aligned to hours", h.Add(-30 * time.Hour), h.Add(-2 * time.Hour)},
		{"unaligned", f.now.Add(-26*time.Hour - 13*time.Minute), f.now.Add(-time.Hour - 7*time.Minute)},
		{"unaligned to the microsecond", f.now.Add(-50*time.Hour - 7*time.Minute - 3250*time.Millisecond), f.now.Add(-13*time.Hour - 500*time.Microsecond)},
		{"aligned start, unaligned end", h.Add(-40 * time.Hour), f.now.Add(-3*time.Hour - 21*time.Minute)},
		{"unaligned start, aligned end", f.now.Add(-45*time.Hour - 59*time.Minute), h.Add(-20 * time.Hour)},
		{"inside one hour", h.Add(-5*time.Hour + 10*time.Minute), h.Add(-5*time.Hour + 50*time.Minute)},
		{"two partial hours", h.Add(-5*time.Hour + 50*time.Minute), h.Add(-4*time.Hour + 10*time.Minute)},
		{"one whole hour between partial ones", h.Add(-7*time.Hour + 30*time.Minute), h.Add(-5*time.Hour + 30*time.Minute)},
		{"one whole hour", h.Add(-9 * time.Hour), h.Add(-8 * time.Hour)},
		{"ending at the tie", f.tieTime.Add(-90 * time.Minute), f.tieTime},
		{"starting at the tie", f.tieTime, f.tieTime.Add(time.Hour)},
		{"just the tie", f.tieTime, f.tieTime.Add(time.Microsecond)},
		{"three days", f.now.Add(-73 * time.Hour), f.now.Add(-time.Minute)},
		{"a week (daily buckets)", f.now.AddDate(0, 0, -7), f.now},
	}
}

type totalsResult struct {
	SyncEvents struct{ TotalCount int }
	Summary    struct {
		Total, Succeeded, Failed, Pending, TicketsCreated, APICalls int
		Bucket                                                      string
		ByType                                                      []struct {
			Type  string
			Total int
		}
		ByErrorCode []struct {
			Code  string
			Count int
		}
		Timeline []struct{ Total int }
	}
}

// checkTotals asks for syncEvents.totalCount and summary.total over rg
// with filter c and compares both with the reference.
func (f *fixture) checkTotals(t *testing.T, rg timeRange, c totalsCase) {
	t.Helper()
	lf := map[string]any{"from": ts(rg.from), "to": ts(rg.to)}
	for k, v := range c.filter {
		lf[k] = v
	}
	resp := f.gql(t, callerManager, totalsQuery, map[string]any{
		"f": lf, "r": map[string]any{"from": ts(rg.from), "to": ts(rg.to)}, "sf": c.filter,
	})
	resp.requireOK(t)
	var out totalsResult
	resp.decode(t, &out)

	r := c.ref
	r.from, r.to = &rg.from, &rg.to
	var n, ok, failed, pending, tickets, api int
	for _, e := range f.events {
		if !r.match(e) {
			continue
		}
		n++
		switch e.Status {
		case db.StatusSuccess:
			ok++
			if e.Type == db.EventTicketCreated {
				tickets++
			}
		case db.StatusFailed:
			failed++
		case db.StatusPending:
			pending++
		}
		if e.Direction == db.DirectionToHelpScout && e.Status != db.StatusPending {
			api++
		}
	}
	s := out.Summary
	require.Equal(t, n, out.SyncEvents.TotalCount, "syncEvents.totalCount")
	require.Equal(t, n, s.Total, "summary.total")
	require.Equal(t, ok, s.Succeeded, "succeeded")
	require.Equal(t, failed, s.Failed, "failed")
	require.Equal(t, pending, s.Pending, "pending")
	require.Equal(t, tickets, s.TicketsCreated, "ticketsCreated")
	require.Equal(t, api, s.APICalls, "apiCalls")
	var byType, byCode, byBucket int
	for _, b := range s.ByType {
		byType += b.Total
	}
	for _, b := range s.ByErrorCode {
		byCode += b.Count
	}
	for _, b := range s.Timeline {
		byBucket += b.Total
	}
	require.Equal(t, n, byType, "byType adds up")
	require.Equal(t, n, byBucket, "timeline adds up")
	require.Equal(t, failed, byCode, "byErrorCode adds up to the failures")
	if rg.to.Sub(rg.from) <= 72*time.Hour {
		require.Equal(t, "HOUR", s.Bucket)
	} else {
		require.Equal(t, "DAY", s.Bucket)
	}
}

// TestTotalsMatchSummary checks, for many filters and for ranges aligned
// and not aligned to hours, that syncEvents.totalCount, summary.total and
// the in-memory count agree.
func TestTotalsMatchSummary(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, rg := range f.totalsRanges() {
		for _, c := range totalsFilters {
			t.Run(rg.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				f.checkTotals(t, rg, c)
			})
		}
	}
	// Sanity: the ranges are not all empty.
	nonEmpty := 0
	for _, rg := range f.totalsRanges() {
		if len(f.expect(ref{from: &rg.from, to: &rg.to}, true)) > 0 {
			nonEmpty++
		}
	}
	require.GreaterOrEqual(t, nonEmpty, 10)
}

// TestTotalsFollowChanges changes events in place (status, time, error
// code), deletes and inserts some, and checks after each change that the
// counts, which come from trigger-maintained hourly rollups, still agree
// with the events.
func TestTotalsFollowChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ranges := f.totalsRanges()
	check := func(t *testing.T, step string) {
		t.Helper()
		for _, rg := range ranges {
			for _, c := range totalsFilters {
				t.Run(step+"/"+rg.name+"/"+c.name, func(t *testing.T) { f.checkTotals(t, rg, c) })
			}
		}
	}
	// ids of events matching cond that nothing retries and that retry nothing.
	retried := map[int64]bool{}
	for _, e := range f.events {
		if e.RetryOfID != nil {
			retried[*e.RetryOfID] = true
		}
	}
	pickIDs := func(n int, cond func(*db.SyncEvent) bool) []int64 {
		var ids []int64
		for _, e := range f.sorted(true) {
			if len(ids) < n && cond(e) && !retried[e.ID] && e.RetryOfID == nil {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	aligned := ranges[0]
	inAligned := func(e *db.SyncEvent) bool {
		return !e.OccurredAt.Before(aligned.from) && e.OccurredAt.Before(aligned.to)
	}
	summaryPending := func(t *testing.T) (int, int) {
		resp := f.gql(t, callerManager, `query($r: TimeRangeInput) { summary(range: $r) { succeeded pending } }`,
			map[string]any{"r": map[string]any{"from": ts(aligned.from), "to": ts(aligned.to)}})
		resp.requireOK(t)
		var out struct {
			Summary struct{ Succeeded, Pending int }
		}
		resp.decode(t, &out)
		return out.Summary.Succeeded, out.Summary.Pending
	}

	// Pending events in the aligned range, wherever the hour boundaries of
	// this run fall.
	var pendings []*db.SyncEvent
	for i := 0; i < 4; i++ {
		pendings = append(pendings, &db.SyncEvent{
			OccurredAt: aligned.from.Add(time.Duration(i)*5*time.Hour + 41*time.Minute),
			Type:       db.EventTicketCreated, Status: db.StatusPending, Direction: db.DirectionToHelpScout,
			Attempt: 1, Source: db.SourceContactForm, CustomerEmail: ptr("alice@example.com"),
		})
	}
	require.NoError(t, db.NewEventStore(f.bdb).Insert(ctx, f.bdb, pendings))
	for _, e := range pendings {
		f.events = append(f.events, e)
		f.byID[e.ID] = e
	}

	check(t, "before")
	okBefore, pendingBefore := summaryPending(t)

	// PENDING -> SUCCESS, as the sync pipeline would finish them.
	ids := pickIDs(4, func(e *db.SyncEvent) bool { return e.Status == db.StatusPending && inAligned(e) })
	require.Len(t, ids, 4, "the fixture needs pending events in the aligned range")
	res, err := f.bdb.NewUpdate().Table("sync_events").Set("status = ?", db.StatusSuccess).Set("duration_ms = 42").
		Where("id IN (?)", bun.In(ids)).Exec(ctx)
	require.NoError(t, err)
	n, _ := res.RowsAffected()
	require.EqualValues(t, 4, n)
	for _, id := range ids {
		f.byID[id].Status = db.StatusSuccess
	}
	okAfter, pendingAfter := summaryPending(t)
	require.Equal(t, okBefore+4, okAfter, "succeeded moves with the update")
	require.Equal(t, pendingBefore-4, pendingAfter, "pending moves with the update")
	check(t, "pending to success")

	// Move events across hour boundaries, in and out of the ranges.
	ids = pickIDs(6, func(e *db.SyncEvent) bool { return inAligned(e) && !e.OccurredAt.Equal(f.tieTime) })
	_, err = f.bdb.ExecContext(ctx, "UPDATE sync_events SET occurred_at = occurred_at + interval '97 minutes' WHERE id IN (?)", bun.In(ids))
	require.NoError(t, err)
	for _, id := range ids {
		f.byID[id].OccurredAt = f.byID[id].OccurredAt.Add(97 * time.Minute)
	}
	check(t, "moved in time")

	// Re-classify failures.
	ids = pickIDs(5, func(e *db.SyncEvent) bool {
		return e.Status == db.StatusFailed && e.ErrorCode != nil && *e.ErrorCode != db.CodeUnknown
	})
	_, err = f.bdb.ExecContext(ctx, "UPDATE sync_events SET error_code = 'UNKNOWN' WHERE id IN (?)", bun.In(ids))
	require.NoError(t, err)
	for _, id := range ids {
		f.byID[id].ErrorCode = ptr(db.CodeUnknown)
	}
	check(t, "error code changed")

	// Delete some events.
	ids = pickIDs(5, func(e *db.SyncEvent) bool { return e.Status != db.StatusPending })
	_, err = f.bdb.NewDelete().Table("sync_events").Where("id IN (?)", bun.In(ids)).Exec(ctx)
	require.NoError(t, err)
	gone := map[int64]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	var kept []*db.SyncEvent
	for _, e := range f.events {
		if !gone[e.ID] {
			kept = append(kept, e)
		}
	}
	f.events = kept
	check(t, "deleted")

	// Insert a batch into hours that already have rollups.
	var fresh []*db.SyncEvent
	for i := 0; i < 9; i++ {
		fresh = append(fresh, &db.SyncEvent{
			OccurredAt: aligned.from.Add(time.Duration(i)*3*time.Hour + 17*time.Minute),
			Type:       db.EventTypes[i%len(db.EventTypes)], Status: db.EventStatuses[i%3],
			Direction: db.Directions[i%2], Attempt: 1, Source: db.SourceBatch,
			CustomerEmail: ptr("alice@example.com"),
		})
		if fresh[i].Status == db.StatusFailed {
			fresh[i].ErrorCode = ptr(db.CodeTimeout)
		}
	}
	require.NoError(t, db.NewEventStore(f.bdb).Insert(ctx, f.bdb, fresh))
	f.events = append(f.events, fresh...)
	check(t, "inserted")
}
