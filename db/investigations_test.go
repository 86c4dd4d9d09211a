package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestDuplicateTicketsEdges checks the store's grouping at its edges: a
// gap of exactly the window still groups, one second more does not; rows
// without an email or subject, failed tickets and other event types never
// group; equal times are ordered by id; the limit keeps the newest groups.
func TestDuplicateTicketsEdges(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	store := db.NewEventStore(bdb)
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	window := 10 * time.Minute

	type row struct {
		at      time.Duration
		email   string
		subject string
		ref     string
		typ     db.EventType
		status  db.EventStatus
	}
	tc, ok := db.EventTicketCreated, db.StatusSuccess
	rows := []row{
		0:  {0, "edge@example.com", "Exact", "e1", tc, ok},
		1:  {window, "edge@example.com", "Exact", "e2", tc, ok},
		2:  {2*window + time.Second, "edge@example.com", "Exact", "e3", tc, ok},
		3:  {time.Hour, "nosubject@example.com", "", "n1", tc, ok},
		4:  {time.Hour + time.Minute, "nosubject@example.com", "", "n2", tc, ok},
		5:  {2 * time.Hour, "", "No email", "m1", tc, ok},
		6:  {2*time.Hour + time.Minute, "", "No email", "m2", tc, ok},
		7:  {3 * time.Hour, "mixed@example.com", "Mixed", "x1", tc, ok},
		8:  {3*time.Hour + time.Minute, "mixed@example.com", "Mixed", "x2", tc, db.StatusFailed},
		9:  {3*time.Hour + 2*time.Minute, "mixed@example.com", "Mixed", "x3", db.EventCustomerSynced, ok},
		10: {4 * time.Hour, "tie@example.com", "Tie", "t1", tc, ok},
		11: {4 * time.Hour, "tie@example.com", "Tie", "t2", tc, ok},
		// The same subject typed again in another case and spacing.
		12: {45 * time.Minute, "case@example.com", "Refund  request", "c1", tc, ok},
		13: {47 * time.Minute, "case@example.com", " refund Request", "c2", tc, ok},
	}
	var events []*db.SyncEvent
	var customers []*db.Customer
	seen := map[string]bool{}
	for _, r := range rows {
		e := &db.SyncEvent{OccurredAt: base.Add(r.at), Type: r.typ, Status: r.status, Direction: db.DirectionToHelpScout,
			Attempt: 1, Source: db.SourceContactForm, SourceRef: &r.ref}
		if r.email != "" {
			e.CustomerEmail = &r.email
			if !seen[r.email] {
				seen[r.email] = true
				customers = append(customers, &db.Customer{Email: r.email, LastEventAt: e.OccurredAt})
			}
		}
		if r.subject != "" {
			e.Details = map[string]any{"subject": r.subject}
		}
		events = append(events, e)
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, customers))
	require.NoError(t, store.Insert(ctx, bdb, events))

	ids := func(g *db.DuplicateGroup) []int64 {
		var out []int64
		for _, e := range g.Events {
			out = append(out, e.ID)
		}
		return out
	}
	from, to := base.Add(-time.Hour), base.Add(24*time.Hour)
	groups, err := store.DuplicateTickets(ctx, from, to, window, 50)
	require.NoError(t, err)
	require.Len(t, groups, 3)
	require.Equal(t, db.DuplicateSameEmailAndSubject, groups[0].Reason)
	require.Equal(t, []int64{events[10].ID, events[11].ID}, ids(groups[0]))
	require.Equal(t, "Tie", *groups[0].Subject)
	require.Nil(t, groups[0].SourceRef)
	require.Equal(t, []int64{events[12].ID, events[13].ID}, ids(groups[1]), "subjects compare without case and spacing")
	require.Equal(t, "Refund  request", *groups[1].Subject, "the group shows the first ticket's subject")
	require.Equal(t, []int64{events[0].ID, events[1].ID}, ids(groups[2]))
	require.Equal(t, 2, groups[2].Count)
	require.True(t, groups[2].FirstAt.Equal(base))
	require.True(t, groups[2].LastAt.Equal(base.Add(window)))

	groups, err = store.DuplicateTickets(ctx, from, to, window, 1)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, []int64{events[10].ID, events[11].ID}, ids(groups[0]))

	groups, err = store.DuplicateTickets(ctx, base.Add(5*time.Hour), to, window, 50)
	require.NoError(t, err)
	require.Empty(t, groups)

	for email, want := range map[string]bool{"edge@example.com": true, "nobody@example.com": false} {
		got, err := store.HasEmail(ctx, email)
		require.NoError(t, err)
		require.Equal(t, want, got, email)
	}
}
