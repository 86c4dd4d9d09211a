package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestJSONColumnsKeepText writes texts that look like JSON escapes, quotes
// and NUL characters into every kind of jsonb write (an event inserted,
// an event updated, a job's payload and result) and reads back exactly
// what was written, but for NUL, which becomes U+2400.
func TestJSONColumnsKeepText(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	events, jobs := db.NewEventStore(bdb), db.NewJobStore(bdb)
	cases := []struct {
		name, in, want string
	}{
		{"plain", "plain text", "plain text"},
		{"text of a NUL escape", `look at \u0000 this`, `look at \u0000 this`},
		{"backslashes before it", `\\u0000 and \\\u0000`, `\\u0000 and \\\u0000`},
		{"NUL character", "bad \x00 byte", "bad \u2400 byte"},
		{"NUL after a backslash", "\\\x00", "\\\u2400"},
		{"quotes", `it's "quoted" '' here`, `it's "quoted" '' here`},
		{"other escapes", "tab\tnew\nline \u00e9 \u2028", "tab\tnew\nline \u00e9 \u2028"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &db.SyncEvent{OccurredAt: time.Now().UTC(), Type: db.EventTicketCreated, Status: db.StatusPending,
				Direction: db.DirectionToHelpScout, Details: db.JSONObject{"message": tc.in}, Attempt: 1, Source: db.SourceContactForm}
			require.NoError(t, events.Insert(ctx, bdb, []*db.SyncEvent{e}))
			got, err := events.Get(ctx, e.ID)
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Details["message"], "inserted")

			e.Status, e.Details = db.StatusSuccess, db.JSONObject{"message": tc.in, "again": tc.in}
			require.NoError(t, jobs.FinishEvent(ctx, bdb, e))
			got, err = events.Get(ctx, e.ID)
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Details["again"], "updated")

			key := "json-" + tc.name
			payload := db.JSONObject{"message": tc.in}
			text, err := payload.Value()
			require.NoError(t, err)
			j := &db.SyncJob{Kind: db.JobContactForm, IdempotencyKey: &key, Payload: db.JSONText(text.(string)),
				Result: db.JSONText(text.(string)), State: db.JobQueued, RunAt: time.Now()}
			ok, err := jobs.Insert(ctx, bdb, j)
			require.NoError(t, err)
			require.True(t, ok)
			back, err := jobs.Get(ctx, bdb, j.ID)
			require.NoError(t, err)
			for _, raw := range []db.JSONText{back.Payload, back.Result} {
				var m db.JSONObject
				require.NoError(t, m.Scan([]byte(raw)))
				require.Equal(t, tc.want, m["message"])
			}
		})
	}
}
