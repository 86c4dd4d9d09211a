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
	bySubmission, err := s.sameSubmission(ctx, from, to)
	if err != nil {
		return nil, err
	}
	byEmail, err := s.sameEmailAndSubject(ctx, from, to, window)
	if err != nil {
		return nil, err
	}
	groups := make([]*DuplicateGroup, 0, len(bySubmission)+len(byEmail))
	groups = append(append(groups, bySubmission...), byEmail...)
	slices.SortStableFunc(groups, func(a, b *DuplicateGroup) int {
		if c := b.LastAt.Compare(a.LastAt); c != 0 {
			return c
		}
		return cmp.Compare(b.Events[len(b.Events)-1].ID, a.Events[len(a.Events)-1].ID)
	})
	if len(groups) > limit {
		groups = groups[:limit]
	}
	return groups, nil
}

// sameSubmission returns the groups of successful tickets in [from, to)
// that share a source and source_ref.
func (s *EventStore) sameSubmission(ctx context.Context, from, to time.Time) ([]*DuplicateGroup, error) {
	var events []*SyncEvent
	err := s.db.NewSelect().Model(&events).
		Where("type = ? AND status = ? AND occurred_at >= ? AND occurred_at < ? AND source_ref IS NOT NULL",
			EventTicketCreated, StatusSuccess, from, to).
		Where(`(source, source_ref) IN (
			SELECT source, source_ref FROM sync_events
			WHERE type = ? AND status = ? AND occurred_at >= ? AND occurred_at < ? AND source_ref IS NOT NULL
			GROUP BY source, source_ref
			HAVING count(*) > 1)`,
			EventTicketCreated, StatusSuccess, from, to).
		OrderExpr("source, source_ref, occurred_at, id").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error finding tickets of one submission: %w", err)
	}
	var groups []*DuplicateGroup
	start := 0
	for i := 1; i <= len(events); i++ {
		if i < len(events) && events[i].Source == events[start].Source && *events[i].SourceRef == *events[start].SourceRef {
			continue
		}
		groups = append(groups, newDuplicateGroup(DuplicateSameSubmission, events[start:i:i]))
		start = i
	}
	return groups, nil
}

// sameEmailAndSubject returns the groups of successful tickets in
// [from, to) of different submissions with the same email and subject
// (compared without regard to letter case and spacing, as a customer
// typing it again would vary them), each within window of the previous one.
func (s *EventStore) sameEmailAndSubject(ctx context.Context, from, to time.Time, window time.Duration) ([]*DuplicateGroup, error) {
	// first keeps one ticket per submission (its first); near_prev and
	// near_next say whether the neighbours of the same email and subject
	// are within the window, so only rows that belong to a group return.
	var rows []struct {
		ID       int64 `bun:"id"`
		NearPrev bool  `bun:"near_prev"`
	}
	err := s.db.NewRaw(`
		WITH t AS (
			SELECT id, occurred_at, customer_email,
			       lower(regexp_replace(btrim(details->>'subject'), '\s+', ' ', 'g')) AS subject, source_ref,
			       row_number() OVER (PARTITION BY source, source_ref ORDER BY occurred_at, id) AS nth
			FROM sync_events
			WHERE type = ? AND status = ? AND occurred_at >= ? AND occurred_at < ?
			  AND customer_email IS NOT NULL AND details->>'subject' IS NOT NULL
		), first AS (
			SELECT id, occurred_at, customer_email, subject,
			       occurred_at - lag(occurred_at) OVER w <= ?::interval AS near_prev,
			       lead(occurred_at) OVER w - occurred_at <= ?::interval AS near_next
			FROM t
			WHERE nth = 1 OR source_ref IS NULL
			WINDOW w AS (PARTITION BY customer_email, subject ORDER BY occurred_at, id)
		)
		SELECT id, coalesce(near_prev, false) AS near_prev
		FROM first
		WHERE near_prev OR near_next
		ORDER BY customer_email, subject, occurred_at, id`,
		EventTicketCreated, StatusSuccess, from, to, interval(window), interval(window)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("error finding repeated tickets by email and subject: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	events, err := s.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*SyncEvent, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	// Rows come ordered within each email and subject; a row not near its
	// predecessor starts a new group.
	var groups []*DuplicateGroup
	var cur []*SyncEvent
	flush := func() {
		if len(cur) > 1 {
			groups = append(groups, newDuplicateGroup(DuplicateSameEmailAndSubject, cur))
		}
		cur = nil
	}
	for _, r := range rows {
		e, ok := byID[r.ID]
		if !ok {
			continue
		}
		if !r.NearPrev {
			flush()
		}
		cur = append(cur, e)
	}
	flush()
	return groups, nil
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
	events, err := s.GetMany(ctx, latest)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*SyncEvent, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	for _, r := range rows {
		if e, ok := byID[r.ID]; ok {
			out[r.Root] = e
		}
	}
	return out, nil
}
