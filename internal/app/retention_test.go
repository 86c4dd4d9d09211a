package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestStackRetention: with RETENTION_DAYS set, the started service deletes
// the events older than that and counts them on /metrics; without it,
// nothing is deleted.
func TestStackRetention(t *testing.T) {
	t.Parallel()
	for _, days := range []string{"", "31"} {
		t.Run("RETENTION_DAYS="+days, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			bdb := dbtest.New(t)
			now := time.Now()
			var events []*db.SyncEvent
			for _, age := range []int{60, 40, 32, 20, 1} {
				events = append(events, &db.SyncEvent{OccurredAt: now.AddDate(0, 0, -age), Type: db.EventCustomerSynced,
					Status: db.StatusSuccess, Direction: db.DirectionToHelpScout, Attempt: 1, Source: db.SourceBatch})
			}
			require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, events))
			cfg, err := config.Load(func(k string) string {
				return map[string]string{"RETENTION_DAYS": days, "SYNC_WORKERS": "0"}[k]
			})
			require.NoError(t, err)
			st := NewStack(bdb, cfg, auth.NewIssuer("0123456789abcdef0123"), zerolog.Nop(), nil)
			require.NoError(t, st.Start(ctx))
			defer st.Stop()
			srv := httptest.NewServer(st.Handler)
			defer srv.Close()

			count := func() int {
				var n int
				require.NoError(t, bdb.NewRaw("SELECT count(*) FROM sync_events").Scan(ctx, &n))
				return n
			}
			if days == "" {
				require.Nil(t, st.Retention)
				require.Equal(t, 5, count())
				return
			}
			deadline := time.Now().Add(10 * time.Second)
			for count() > 2 {
				require.True(t, time.Now().Before(deadline), "old events still there")
				time.Sleep(10 * time.Millisecond)
			}
			require.Equal(t, 2, count())
			resp, err := http.Get(srv.URL + "/metrics")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Contains(t, strings.Split(string(body), "\n"), "helpscout_log_retention_deleted_events_total 3")

			// The vendor's support sees the setting.
			token, err := auth.NewIssuer("0123456789abcdef0123").Issue("support", auth.RoleKivaAdmin, time.Minute)
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(`{"query":"{ diagnostics { retentionDays } }"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.JSONEq(t, `{"data":{"diagnostics":{"retentionDays":31}}}`, string(body))
		})
	}
}

// TestPruneCommand: prune counts with -dry-run and deletes otherwise what
// is older than -days (or RETENTION_DAYS), and refuses a missing or too
// short retention before touching the database.
func TestPruneCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, bdb := dbtest.NewDSN(t)
	now := time.Now()
	var events []*db.SyncEvent
	for _, age := range []int{90, 60, 40, 20, 1} {
		events = append(events, &db.SyncEvent{OccurredAt: now.AddDate(0, 0, -age), Type: db.EventCustomerSynced,
			Status: db.StatusSuccess, Direction: db.DirectionToHelpScout, Attempt: 1, Source: db.SourceBatch})
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, events))
	count := func() int {
		var n int
		require.NoError(t, bdb.NewRaw("SELECT count(*) FROM sync_events").Scan(ctx, &n))
		return n
	}
	env := func(retention string) func(string) string {
		return func(k string) string {
			return map[string]string{"DATABASE_URL": dsn, "JWT_SECRET": "0123456789abcdef0123", "LOG_LEVEL": "warn", "RETENTION_DAYS": retention}[k]
		}
	}
	prune := func(retention string, args ...string) (string, error) {
		var out strings.Builder
		err := Prune(ctx, env(retention), args, &out)
		return out.String(), err
	}

	_, err := prune("")
	require.EqualError(t, err, "prune: give -days, or set RETENTION_DAYS")
	_, err = prune("", "-days", "30")
	require.EqualError(t, err, "prune: -days 30 is below the minimum of 31 days: the API's longest ranges must stay whole")

	out, err := prune("", "-days", "50", "-dry-run")
	require.NoError(t, err)
	require.Contains(t, out, "older than 50 days (before ")
	require.Contains(t, out, "): 2 events, 0 finished sync jobs, 0 minutes of API usage; nothing deleted (-dry-run)")
	require.Equal(t, 5, count())

	out, err = prune("", "-days", "50")
	require.NoError(t, err)
	require.Contains(t, out, "): 2 events, 0 finished sync jobs, 0 minutes of API usage in ")
	require.Equal(t, 3, count())

	// RETENTION_DAYS when -days is not given.
	out, err = prune("31")
	require.NoError(t, err)
	require.Contains(t, out, "deleted what was older than 31 days")
	require.Equal(t, 2, count())
}
