package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestWorkerHeartbeats records, refreshes, lists, prunes and removes
// worker rows.
func TestWorkerHeartbeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	ws := db.NewWorkerStore(bdb)
	started := time.Now().UTC().Truncate(time.Second)

	a := &db.WorkerHeartbeat{ID: "a", Hostname: "h1", Version: "v1", StartedAt: started}
	b := &db.WorkerHeartbeat{ID: "b", Hostname: "h2", Version: "v1", StartedAt: started}
	require.NoError(t, ws.Beat(ctx, a))
	require.NoError(t, ws.Beat(ctx, b))
	a.JobsDone, a.JobsFailed = 5, 2
	require.NoError(t, ws.Beat(ctx, a))
	// b went silent a minute ago; c two hours ago.
	_, err := bdb.ExecContext(ctx, "UPDATE sync_workers SET heartbeat_at = now() - interval '1 minute' WHERE id = 'b'")
	require.NoError(t, err)
	require.NoError(t, ws.Beat(ctx, &db.WorkerHeartbeat{ID: "c", Hostname: "h3", Version: "v0", StartedAt: started}))
	_, err = bdb.ExecContext(ctx, "UPDATE sync_workers SET heartbeat_at = now() - interval '2 hours' WHERE id = 'c'")
	require.NoError(t, err)

	list, err := ws.List(ctx, 30*time.Second, 10)
	require.NoError(t, err)
	require.Len(t, list, 3)
	wantOrder := []struct {
		id     string
		alive  bool
		done   int64
		failed int64
	}{{"a", true, 5, 2}, {"b", false, 0, 0}, {"c", false, 0, 0}}
	for i, w := range wantOrder {
		require.Equal(t, w.id, list[i].ID)
		require.Equal(t, w.alive, list[i].Alive, w.id)
		require.Equal(t, w.done, list[i].JobsDone, w.id)
		require.Equal(t, w.failed, list[i].JobsFailed, w.id)
		require.True(t, started.Equal(list[i].StartedAt), w.id)
	}

	n, err := ws.Prune(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, ws.Remove(ctx, "a"))
	list, err = ws.List(ctx, 30*time.Second, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "b", list[0].ID)
}

// TestQueueCounts counts jobs in every state.
func TestQueueCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	ws := db.NewWorkerStore(bdb)

	empty, err := ws.Queue(ctx)
	require.NoError(t, err)
	require.Equal(t, &db.QueueCounts{}, empty)

	_, err = bdb.ExecContext(ctx, `INSERT INTO sync_jobs (kind, payload, state, run_at) VALUES
		('contact_form', '{}', 'QUEUED', now() - interval '5 minutes'),
		('contact_form', '{}', 'QUEUED', now() - interval '1 minute'),
		('contact_form', '{}', 'QUEUED', now() + interval '1 hour'),
		('contact_form', '{}', 'RUNNING', now() - interval '10 minutes'),
		('contact_form', '{}', 'FAILED', now() - interval '10 minutes'),
		('contact_form', '{}', 'FAILED', now() - interval '10 minutes'),
		('contact_form', '{}', 'DONE', now() - interval '20 minutes')`)
	require.NoError(t, err)
	q, err := ws.Queue(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, q.Queued)
	require.Equal(t, 2, q.Due)
	require.Equal(t, 1, q.Running)
	require.Equal(t, 2, q.Failed)
	require.NotNil(t, q.OldestDueAt)
	require.WithinDuration(t, time.Now().Add(-5*time.Minute), *q.OldestDueAt, time.Minute)
}
