package db

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
)

// DuplicateReason says why a group of tickets looks like duplicates.
type DuplicateReason string

// The duplicate reasons, as exposed through GraphQL.
const (
	// DuplicateSameSubmission groups tickets created for one form submission.
	DuplicateSameSubmission DuplicateReason = "SAME_SUBMISSION"
	// DuplicateSameEmailAndSubject groups tickets of different submissions
	// with the same customer email and subject, close together in time.
	DuplicateSameEmailAndSubject DuplicateReason = "SAME_EMAIL_AND_SUBJECT"
)

// DuplicateGroup is a set of successful TICKET_CREATED events that look like
// one request turned into several tickets.
type DuplicateGroup struct {
	// Reason says why the events are grouped.
	Reason DuplicateReason
	// SourceRef is the submission id the events share (SAME_SUBMISSION only).
	SourceRef *string
	// CustomerEmail is the first event's customer email.
	CustomerEmail *string
	// Subject is the first event's details->>'subject'.
	Subject *string
	// FirstAt is when the first event occurred.
	FirstAt time.Time
	// LastAt is when the last event occurred.
	LastAt time.Time
	// Count is how many events the group holds.
	Count int
	// Events are the grouped events, oldest first.
	Events []*SyncEvent
}

// newDuplicateGroup builds a group from its events, which must be oldest
// first and at least one.
func newDuplicateGroup(reason DuplicateReason, events []*SyncEvent) *DuplicateGroup {
	first, last := events[0], events[len(events)-1]
	g := &DuplicateGroup{
		Reason:        reason,
		CustomerEmail: first.CustomerEmail,
		Subject:       subjectOf(first),
		FirstAt:       first.OccurredAt,
		LastAt:        last.OccurredAt,
		Count:         len(events),
		Events:        events,
	}
	if reason == DuplicateSameSubmission {
		g.SourceRef = first.SourceRef
	}
	return g
}

// subjectOf returns the event's details subject, when it is a string.
func subjectOf(e *SyncEvent) *string {
	if s, ok := e.Details["subject"].(string); ok {
		return &s
	}
	return nil
}

// DuplicateTickets returns up to limit groups of successful TICKET_CREATED
// events in [from, to), newest LastAt first; an empty list, not nil, when
// there are none. SAME_SUBMISSION groups share a
// source and source_ref; SAME_EMAIL_AND_SUBJECT groups share a customer
// email and subject, each event within window of the previous one, and
// count every submission once (by its first ticket), so that repeats of one
// submission are not reported twice.
func (s *EventStore) DuplicateTickets(ctx context.Context, from, to time.Time, window time.Duration, limit int) ([]*DuplicateGroup, error) {
	rows, err := s.duplicateRows(ctx, from, to, window)
	if err != nil {
		return nil, err
	}
	// Rows come in groups, each ordered by time; a row that does not
	// continue the group before it starts a new one. The newest groups
	// are chosen from these narrow rows, and only their events are read:
	// a wide window over a long range may group tens of thousands of
	// tickets, of which a page shows a few.
	var groups [][]duplicateRow
	for i, r := range rows {
		if i == 0 || !r.Continues || r.Reason != rows[i-1].Reason {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], r)
	}
	groups = slices.DeleteFunc(groups, func(g []duplicateRow) bool { return len(g) < 2 })
	slices.SortFunc(groups, func(a, b []duplicateRow) int {
		la, lb := a[len(a)-1], b[len(b)-1]
		if c := lb.OccurredAt.Compare(la.OccurredAt); c != 0 {
			return c
		}
		return cmp.Compare(lb.ID, la.ID)
	})
	groups = groups[:min(limit, len(groups))]
	var ids []int64
	for _, g := range groups {
		for _, r := range g {
			ids = append(ids, r.ID)
		}
	}
	out := []*DuplicateGroup{}
	if len(ids) == 0 {
		return out, nil
	}
	byID, err := s.byID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		events := make([]*SyncEvent, 0, len(g))
		for _, r := range g {
			// An event deleted since (retention) leaves its group.
			if e, ok := byID[r.ID]; ok {
				events = append(events, e)
			}
		}
		if len(events) > 1 {
			out = append(out, newDuplicateGroup(g[0].Reason, events))
		}
	}
	return out, nil
}

// duplicateRow is one ticket of a duplicate group: Continues says it
// belongs to the group of the row before it.
type duplicateRow struct {
	Reason     DuplicateReason `bun:"reason"`
	ID         int64           `bun:"id"`
	OccurredAt time.Time       `bun:"occurred_at"`
	Continues  bool            `bun:"continues"`
}

// duplicateRows finds the tickets of both kinds of duplicate groups in one
// pass over the successful tickets of [from, to) that ticket_repeats lists
// for window: every ticket of a submission with more than one, and the
// tickets with another of the same email and subject at most window away.
// Those rows hold all it groups by (submission, email, subject key), so
// the events themselves are not read.
//
// Leaving out the others changes no group: a ticket left out belongs to a
// submission of its own, so it is that submission's first, and it is more
// than window away from every ticket of its email and subject, so it is in
// no chain, and the tickets around it are as near to or as far from their
// neighbours without it. Every ticket of a submission with more than one
// is marked same_submission (noting any of them marks them all), so an
// unmarked ticket is alone in its submission: only the marked ones need a
// window pass over their submission, which gives how many tickets it has
// (SAME_SUBMISSION groups are those of more than one) and which is its
// first with an email and a subject (each submission counts once by email
// and subject). The first tickets are then chained per email and subject.
func (s *EventStore) duplicateRows(ctx context.Context, from, to time.Time, window time.Duration) ([]duplicateRow, error) {
	var rows []duplicateRow
	err := s.db.NewRaw(`
		WITH r AS (
			SELECT event_id AS id, occurred_at, source, source_ref, customer_email, subject_key AS subject, same_submission
			FROM ticket_repeats
			WHERE occurred_at >= ?0 AND occurred_at < ?1 AND (same_submission OR nearest_gap <= ?2::interval)
		), t AS (
			SELECT id, occurred_at, source, source_ref, customer_email, subject,
			       count(*) OVER submission AS copies,
			       row_number() OVER (submission ORDER BY occurred_at, id) AS pos,
			       count(*) FILTER (WHERE customer_email IS NOT NULL AND subject IS NOT NULL)
			           OVER (submission ORDER BY occurred_at, id ROWS UNBOUNDED PRECEDING) AS nth
			FROM r
			WHERE same_submission
			WINDOW submission AS (PARTITION BY source, source_ref)
			UNION ALL
			SELECT id, occurred_at, source, source_ref, customer_email, subject, 1, 1, 1
			FROM r
			WHERE NOT same_submission
		), chained AS (
			SELECT id, occurred_at, customer_email, subject,
			       occurred_at - lag(occurred_at) OVER w <= ?2::interval AS near_prev,
			       lead(occurred_at) OVER w - occurred_at <= ?2::interval AS near_next
			FROM t
			WHERE customer_email IS NOT NULL AND subject IS NOT NULL AND (nth = 1 OR source_ref IS NULL)
			WINDOW w AS (PARTITION BY customer_email, subject ORDER BY occurred_at, id)
		)
		SELECT reason, id, occurred_at, continues FROM (
			SELECT ?3 AS reason, source AS k1, source_ref AS k2, occurred_at, id, pos > 1 AS continues
			FROM t
			WHERE copies > 1 AND source_ref IS NOT NULL
			UNION ALL
			SELECT ?4, customer_email, subject, occurred_at, id, coalesce(near_prev, false)
			FROM chained
			WHERE near_prev OR near_next
		) AS g
		ORDER BY reason, k1, k2, occurred_at, id`,
		from, to, interval(window), DuplicateSameSubmission, DuplicateSameEmailAndSubject).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("error finding duplicate tickets: %w", err)
	}
	return rows, nil
}

// interval formats d as a PostgreSQL interval literal.
func interval(d time.Duration) string {
	return fmt.Sprintf("%d microseconds", d.Microseconds())
}

// HasEmail reports whether any event concerns this lower-cased email.
func (s *EventStore) HasEmail(ctx context.Context, email string) (bool, error) {
	ok, err := s.db.NewSelect().Model((*SyncEvent)(nil)).Where("customer_email = ?", email).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("error looking for events of %q: %w", email, err)
	}
	return ok, nil
}

// LatestAttempts returns, for each of ids whose operation was attempted
// again (retry_of, followed through retries of retries), the newest of
// those later attempts, keyed by the id it descends from. Ids never retried
// are absent.
func (s *EventStore) LatestAttempts(ctx context.Context, ids []int64) (map[int64]*SyncEvent, error) {
	out := map[int64]*SyncEvent{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		Root int64 `bun:"root"`
		ID   int64 `bun:"id"`
	}
	err := s.db.NewRaw(`
		WITH RECURSIVE chain(root, id) AS (
			SELECT e.retry_of, e.id FROM sync_events e WHERE e.retry_of IN (?)
			UNION ALL
			SELECT c.root, e.id FROM chain c JOIN sync_events e ON e.retry_of = c.id
		)
		SELECT DISTINCT ON (c.root) c.root, c.id
		FROM chain c JOIN sync_events e ON e.id = c.id
		ORDER BY c.root, e.occurred_at DESC, e.id DESC`, bun.In(ids)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("error finding the later attempts of %d sync events: %w", len(ids), err)
	}
	if len(rows) == 0 {
		return out, nil
	}
	latest := make([]int64, len(rows))
	for i, r := range rows {
		latest[i] = r.ID
	}
	byID, err := s.byID(ctx, latest)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if e, ok := byID[r.ID]; ok {
			out[r.Root] = e
		}
	}
	return out, nil
}
