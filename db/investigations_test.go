package db_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

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

// TestDuplicateTicketsMatchesModel compares DuplicateTickets, for random
// ranges, windows and limits over a random log, with the groups computed
// in memory from their definition: successful TICKET_CREATED events in
// the range that share a submission; and first tickets of submissions (in
// the range) with the same email and subject (without regard to case and
// spacing), each within the window of the previous one.
func TestDuplicateTicketsMatchesModel(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	store := db.NewEventStore(bdb)
	rng := rand.New(rand.NewPCG(31, 8))
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	emails := []string{"ann@example.com", "bob@example.com", "cy@example.org", "dee@example.net", ""}
	subjects := []string{"Refund request", "refund  REQUEST", " Refund request", "Order late", "order\tlate", "Hello", ""}
	var customers []*db.Customer
	for _, e := range emails[:4] {
		customers = append(customers, &db.Customer{Email: e, LastEventAt: base})
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, customers))
	var events []*db.SyncEvent
	refs := 0
	for len(events) < 700 {
		// A submission: one ticket, or several (a retry soon after, or
		// much later), mostly of one email and subject.
		refs++
		ref := fmt.Sprintf("form-%d", refs)
		email, subject := emails[rng.IntN(len(emails))], subjects[rng.IntN(len(subjects))]
		at := time.Duration(rng.Int64N(int64(72 * time.Hour))).Truncate(time.Second)
		copies := 1
		if rng.IntN(6) == 0 {
			copies = 2 + rng.IntN(2)
		}
		for c := 0; c < copies; c++ {
			e := &db.SyncEvent{OccurredAt: base.Add(at), Type: db.EventTicketCreated, Status: db.StatusSuccess,
				Direction: db.DirectionToHelpScout, Attempt: 1, Source: db.SourceContactForm}
			switch rng.IntN(10) {
			case 0:
				e.Status = db.StatusFailed
			case 1:
				e.Type = db.EventCustomerSynced
			case 2:
				e.Source = db.SourceManual
			}
			if rng.IntN(8) > 0 {
				e.SourceRef = &ref
			}
			if email != "" {
				e.CustomerEmail = rptr(email)
			}
			if subject != "" {
				e.Details = map[string]any{"subject": subject}
			}
			events = append(events, e)
			if rng.IntN(3) == 0 {
				at += time.Duration(rng.IntN(40)) * time.Hour
			} else {
				at += time.Duration(rng.IntN(20)) * time.Minute
			}
			if rng.IntN(4) == 0 && c+1 < copies {
				subject = subjects[rng.IntN(len(subjects))]
			}
		}
	}
	// The tickets arrive as in service, so that each trigger keeping
	// ticket_repeats is exercised: in batches of one statement, one at a
	// time, and pending first, made successful or failed later by one
	// update each, in another order.
	var later []*db.SyncEvent
	for i := 0; i < len(events); {
		batch := events[i:min(i+1+rng.IntN(40), len(events))]
		i += len(batch)
		if rng.IntN(3) > 0 {
			require.NoError(t, store.Insert(ctx, bdb, batch))
			continue
		}
		final := make([]db.EventStatus, len(batch))
		for j, e := range batch {
			final[j], e.Status = e.Status, db.StatusPending
		}
		require.NoError(t, store.Insert(ctx, bdb, batch))
		for j, e := range batch {
			e.Status = final[j]
		}
		later = append(later, batch...)
	}
	rng.Shuffle(len(later), func(i, j int) { later[i], later[j] = later[j], later[i] })
	for _, e := range later {
		_, err := bdb.NewUpdate().Table("sync_events").Set("status = ?", e.Status).Where("id = ?", e.ID).Exec(ctx)
		require.NoError(t, err)
	}
	// Tickets already successful change afterwards, alone or several in
	// one statement: some fail on a second look, others change their
	// subject, email, submission or time.
	var changes []*db.SyncEvent
	for _, e := range events {
		if e.Type == db.EventTicketCreated && e.Status == db.StatusSuccess && rng.IntN(12) == 0 {
			changes = append(changes, e)
		}
	}
	for len(changes) > 0 {
		batch := changes[:min(1+rng.IntN(3), len(changes))]
		changes = changes[len(batch):]
		var ids []int64
		set := ""
		var arg any
		switch rng.IntN(5) {
		case 0:
			set, arg = "status = ?", db.StatusFailed
			for _, e := range batch {
				e.Status = db.StatusFailed
			}
		case 1:
			subject := subjects[rng.IntN(len(subjects)-1)]
			set, arg = "details = jsonb_build_object('subject', ?::text)", subject
			for _, e := range batch {
				e.Details = map[string]any{"subject": subject}
			}
		case 2:
			email := emails[rng.IntN(len(emails)-1)]
			set, arg = "customer_email = ?", email
			for _, e := range batch {
				e.CustomerEmail = rptr(email)
			}
		case 3:
			ref := fmt.Sprintf("form-%d", 1+rng.IntN(refs))
			set, arg = "source_ref = ?", ref
			for _, e := range batch {
				e.SourceRef = &ref
			}
		default:
			d := time.Duration(rng.IntN(120)-60) * time.Minute
			set, arg = "occurred_at = occurred_at + ?::interval", fmt.Sprintf("%d seconds", int(d.Seconds()))
			for _, e := range batch {
				e.OccurredAt = e.OccurredAt.Add(d)
			}
		}
		for _, e := range batch {
			ids = append(ids, e.ID)
		}
		_, err := bdb.NewUpdate().Table("sync_events").Set(set, arg).Where("id IN (?)", bun.In(ids)).Exec(ctx)
		require.NoError(t, err)
	}
	// Retention takes some away: what ticket_repeats noted about them
	// must change no group of those that remain.
	var gone []int64
	events = slices.DeleteFunc(events, func(e *db.SyncEvent) bool {
		if rng.IntN(25) == 0 {
			gone = append(gone, e.ID)
			return true
		}
		return false
	})
	_, err := bdb.NewDelete().Table("sync_events").Where("id IN (?)", bun.In(gone)).Exec(ctx)
	require.NoError(t, err)
	var noted, tickets int
	require.NoError(t, bdb.NewRaw(`SELECT (SELECT count(*) FROM ticket_repeats), (SELECT count(*) FROM sync_events WHERE type = 'TICKET_CREATED' AND status = 'SUCCESS')`).Scan(ctx, &noted, &tickets))
	require.Less(t, noted, tickets, "ticket_repeats leaves out the tickets that repeat nothing")
	var stale int
	require.NoError(t, bdb.NewRaw(`SELECT count(*) FROM ticket_repeats AS r JOIN sync_events AS e ON e.id = r.event_id
		WHERE NOT (e.type = 'TICKET_CREATED' AND e.status = 'SUCCESS')
		   OR (r.occurred_at, r.source, r.source_ref, r.customer_email, r.subject_key)
		      IS DISTINCT FROM (e.occurred_at, e.source, e.source_ref, e.customer_email, ticket_subject_key(e.details->>'subject'))`).Scan(ctx, &stale))
	require.Zero(t, stale, "ticket_repeats rows of events that are no successful tickets, or with values of their events that changed")

	norm := func(s string) string {
		return strings.ToLower(strings.Join(strings.Fields(strings.Trim(s, " ")), " "))
	}
	subjectOf := func(e *db.SyncEvent) (string, bool) {
		s, ok := e.Details["subject"].(string)
		return s, ok
	}
	model := func(from, to time.Time, window time.Duration, limit int) [][]int64 {
		var tickets []*db.SyncEvent
		for _, e := range events {
			if e.Type == db.EventTicketCreated && e.Status == db.StatusSuccess && !e.OccurredAt.Before(from) && e.OccurredAt.Before(to) {
				tickets = append(tickets, e)
			}
		}
		slices.SortFunc(tickets, func(a, b *db.SyncEvent) int {
			if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		var groups [][]*db.SyncEvent
		bySubmission := map[string][]*db.SyncEvent{}
		var keys []string
		for _, e := range tickets {
			if e.SourceRef == nil {
				continue
			}
			k := string(e.Source) + "\x00" + *e.SourceRef
			if bySubmission[k] == nil {
				keys = append(keys, k)
			}
			bySubmission[k] = append(bySubmission[k], e)
		}
		for _, k := range keys {
			if len(bySubmission[k]) > 1 {
				groups = append(groups, bySubmission[k])
			}
		}
		// First tickets of each submission among those with an email and
		// a subject, chained per email and subject.
		seen := map[string]bool{}
		chains := map[string][]*db.SyncEvent{}
		var chainKeys []string
		for _, e := range tickets {
			s, ok := subjectOf(e)
			if e.CustomerEmail == nil || !ok {
				continue
			}
			if e.SourceRef != nil {
				k := string(e.Source) + "\x00" + *e.SourceRef
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			k := *e.CustomerEmail + "\x00" + norm(s)
			if chains[k] == nil {
				chainKeys = append(chainKeys, k)
			}
			chains[k] = append(chains[k], e)
		}
		for _, k := range chainKeys {
			var cur []*db.SyncEvent
			for _, e := range chains[k] {
				if len(cur) > 0 && e.OccurredAt.Sub(cur[len(cur)-1].OccurredAt) > window {
					if len(cur) > 1 {
						groups = append(groups, cur)
					}
					cur = nil
				}
				cur = append(cur, e)
			}
			if len(cur) > 1 {
				groups = append(groups, cur)
			}
		}
		slices.SortFunc(groups, func(a, b []*db.SyncEvent) int {
			la, lb := a[len(a)-1], b[len(b)-1]
			if c := lb.OccurredAt.Compare(la.OccurredAt); c != 0 {
				return c
			}
			return cmp.Compare(lb.ID, la.ID)
		})
		var out [][]int64
		for _, g := range groups[:min(limit, len(groups))] {
			var ids []int64
			for _, e := range g {
				ids = append(ids, e.ID)
			}
			out = append(out, ids)
		}
		return out
	}

	var nonEmpty int
	for i := 0; i < 60; i++ {
		from := base.Add(time.Duration(rng.Int64N(int64(60 * time.Hour))))
		to := from.Add(time.Duration(1 + rng.Int64N(int64(90*time.Hour))))
		window := time.Duration(1+rng.IntN(180)) * time.Minute
		if rng.IntN(5) == 0 {
			window = time.Duration(1+rng.IntN(1440)) * time.Minute
		}
		limit := 1 + rng.IntN(60)
		groups, err := store.DuplicateTickets(ctx, from, to, window, limit)
		require.NoError(t, err)
		got := groupEventIDs(groups)
		for _, g := range groups {
			require.Equal(t, len(g.Events), g.Count)
			require.True(t, g.FirstAt.Equal(g.Events[0].OccurredAt))
			require.True(t, g.LastAt.Equal(g.Events[len(g.Events)-1].OccurredAt))
		}
		require.Equal(t, model(from, to, window, limit), got, "from=%s to=%s window=%s limit=%d", from, to, window, limit)
		if len(got) > 0 {
			nonEmpty++
		}
	}
	require.Greater(t, nonEmpty, 40, "ranges that hold groups")
}

// TestTicketRepeatsKeysMigration runs the migration that gives
// ticket_repeats the values the duplicate search groups by over rows
// written before it: the row of a ticket that failed since goes, the
// others take their events' values, and the search finds the groups.
func TestTicketRepeatsKeysMigration(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	store := db.NewEventStore(bdb)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ticket := func(ref, email, subject string, after time.Duration) *db.SyncEvent {
		return &db.SyncEvent{OccurredAt: at.Add(after), Type: db.EventTicketCreated, Status: db.StatusSuccess,
			Direction: db.DirectionToHelpScout, Attempt: 1, Source: db.SourceContactForm, SourceRef: &ref,
			CustomerEmail: &email, Details: map[string]any{"subject": subject}}
	}
	events := []*db.SyncEvent{
		ticket("form-1", "ann@example.com", "Refund", 0),
		ticket("form-1", "ann@example.com", "Refund", time.Minute),
		ticket("form-2", "bob@example.com", "Order  late", 0),
		ticket("form-3", "bob@example.com", "order late", 3*time.Minute),
		ticket("form-4", "cy@example.org", "Hello", 0),
		ticket("form-4", "cy@example.org", "Hello", time.Minute),
	}
	require.NoError(t, store.Insert(ctx, bdb, events))
	// The state the earlier version left: no keys, and the row of a
	// ticket that failed after it was noted.
	_, err := bdb.ExecContext(ctx, `ALTER TABLE ticket_repeats DROP COLUMN source, DROP COLUMN source_ref,
		DROP COLUMN customer_email, DROP COLUMN subject_key`)
	require.NoError(t, err)
	_, err = bdb.ExecContext(ctx, `ALTER TABLE sync_events DISABLE TRIGGER ticket_repeats_update`)
	require.NoError(t, err)
	_, err = bdb.ExecContext(ctx, `UPDATE sync_events SET status = 'FAILED' WHERE id = ?`, events[5].ID)
	require.NoError(t, err)
	_, err = bdb.ExecContext(ctx, `ALTER TABLE sync_events ENABLE TRIGGER ticket_repeats_update`)
	require.NoError(t, err)

	sql, err := os.ReadFile("migrations/20261127000014_ticket_repeats_keys.tx.up.sql")
	require.NoError(t, err)
	_, err = bdb.ExecContext(ctx, string(sql))
	require.NoError(t, err)

	type row struct {
		EventID       int64   `bun:"event_id"`
		SourceRef     *string `bun:"source_ref"`
		CustomerEmail *string `bun:"customer_email"`
		SubjectKey    *string `bun:"subject_key"`
	}
	var rows []row
	require.NoError(t, bdb.NewRaw(`SELECT event_id, source_ref, customer_email, subject_key FROM ticket_repeats ORDER BY event_id`).Scan(ctx, &rows))
	s := func(v string) *string { return &v }
	require.Equal(t, []row{
		{events[0].ID, s("form-1"), s("ann@example.com"), s("refund")},
		{events[1].ID, s("form-1"), s("ann@example.com"), s("refund")},
		{events[2].ID, s("form-2"), s("bob@example.com"), s("order late")},
		{events[3].ID, s("form-3"), s("bob@example.com"), s("order late")},
		{events[4].ID, s("form-4"), s("cy@example.org"), s("hello")},
	}, rows)

	groups, err := store.DuplicateTickets(ctx, at.Add(-time.Hour), at.Add(time.Hour), 10*time.Minute, 10)
	require.NoError(t, err)
	require.ElementsMatch(t, [][]int64{{events[0].ID, events[1].ID}, {events[2].ID, events[3].ID}}, groupEventIDs(groups))
}

// groupEventIDs returns the event ids of each group, in order.
func groupEventIDs(groups []*db.DuplicateGroup) [][]int64 {
	var out [][]int64
	for _, g := range groups {
		ids := make([]int64, 0, len(g.Events))
		for _, e := range g.Events {
			ids = append(ids, e.ID)
		}
		out = append(out, ids)
	}
	return out
}
