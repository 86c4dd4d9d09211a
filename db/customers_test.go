package db_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestMatchEmails finds the customer emails containing a search text:
// texts with an @ go through the index of reversed local parts, the others
// through the trigram index, with the same meaning: a case-insensitive
// substring, LIKE wildcards taken literally.
func TestMatchEmails(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	var cs []*db.Customer
	for _, email := range []string{"ann@example.com", "joann@example.com", "ann@example.org", "x_ann@kiva.test",
		"xyann@kiva.test", "anna@example.com", "bob%x@kiva.test", "bobyx@kiva.test"} {
		cs = append(cs, &db.Customer{Email: email, LastEventAt: time.Now()})
	}
	for i := range 150 {
		cs = append(cs, &db.Customer{Email: fmt.Sprintf("many%d@bulk.test", i), LastEventAt: time.Now()})
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, cs))

	cases := []struct {
		text     string
		want     []string
		complete bool
	}{
		{"ann@example.com", []string{"ann@example.com", "joann@example.com"}, true},
		{"ANN@Example.COM", []string{"ann@example.com", "joann@example.com"}, true},
		{"ann@exa", []string{"ann@example.com", "ann@example.org", "joann@example.com"}, true},
		{"nn@", []string{"ann@example.com", "ann@example.org", "joann@example.com", "x_ann@kiva.test", "xyann@kiva.test"}, true},
		{"_ann@", []string{"x_ann@kiva.test"}, true},
		{"%x@", []string{"bob%x@kiva.test"}, true},
		{"@example.org", []string{"ann@example.org"}, true},
		{"anna", []string{"anna@example.com"}, true},
		{"ann@nowhere", nil, true},
		{"1@bulk.test", nil, false},
		{"y@bulk.test", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			got, complete, err := db.NewCustomerStore(bdb).MatchEmails(ctx, tc.text, 10)
			require.NoError(t, err)
			require.Equal(t, tc.complete, complete)
			require.ElementsMatch(t, tc.want, got)
		})
	}
}

// TestPendingCustomerStatusMigration: customers that older demo data left
// with a PENDING status take the outcome of their latest finished attempt,
// or none; the others keep theirs.
func TestPendingCustomerStatusMigration(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	st := func(s db.EventStatus) *db.EventStatus { return &s }
	code := db.CodeRateLimited
	cs := []*db.Customer{
		{Email: "was-failed@example.com", LastSyncStatus: st(db.StatusPending), LastEventAt: now},
		{Email: "never-finished@example.com", LastSyncStatus: st(db.StatusPending), LastEventAt: now},
		{Email: "kept@example.com", LastSyncStatus: st(db.StatusSuccess), LastEventAt: now},
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, cs))
	msg := "Rate limit exceeded"
	ev := func(email string, at time.Duration, typ db.EventType, s db.EventStatus) *db.SyncEvent {
		e := &db.SyncEvent{OccurredAt: now.Add(at), Type: typ, Status: s, Direction: db.DirectionToHelpScout,
			CustomerEmail: &email, Attempt: 1, Source: db.SourceContactForm}
		if s == db.StatusFailed {
			e.ErrorCode, e.ErrorMessage = &code, &msg
		}
		return e
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, []*db.SyncEvent{
		ev("was-failed@example.com", -3*time.Hour, db.EventCustomerSynced, db.StatusSuccess),
		ev("was-failed@example.com", -2*time.Hour, db.EventTicketCreated, db.StatusFailed),
		ev("was-failed@example.com", -time.Hour, db.EventConversationUpdated, db.StatusSuccess),
		ev("was-failed@example.com", -time.Minute, db.EventCustomerUpdated, db.StatusPending),
		ev("never-finished@example.com", -time.Minute, db.EventTicketCreated, db.StatusPending),
		ev("kept@example.com", -time.Minute, db.EventTicketCreated, db.StatusFailed),
	}))
	sql, err := os.ReadFile("migrations/20261127000007_customer_status_finished.tx.up.sql")
	require.NoError(t, err)
	_, err = bdb.ExecContext(ctx, string(sql))
	require.NoError(t, err)

	got := map[string][3]any{}
	for _, email := range []string{"was-failed@example.com", "never-finished@example.com", "kept@example.com"} {
		c, err := db.NewCustomerStore(bdb).GetByEmail(ctx, email)
		require.NoError(t, err)
		got[email] = [3]any{c.LastSyncStatus, c.LastSyncErrorCode, c.LastSyncError}
	}
	require.Equal(t, map[string][3]any{
		"was-failed@example.com":     {st(db.StatusFailed), &code, &msg},
		"never-finished@example.com": {(*db.EventStatus)(nil), (*db.ErrorCode)(nil), (*string)(nil)},
		"kept@example.com":           {st(db.StatusSuccess), (*db.ErrorCode)(nil), (*string)(nil)},
	}, got)
}
