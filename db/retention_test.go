package db_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestRetentionPrunes deletes, in small batches, what lies before a
// cutoff: events (but not those of jobs still queued), finished jobs and
// API usage minutes, and leaves everything after it, the rollups equal to
// the events that remain, and retries that outlive their attempt without
// retry_of.
func TestRetentionPrunes(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	events := db.NewEventStore(bdb)
	store := db.NewRetentionStore(bdb)
	cutoff := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(5, 5))
	convs := []int64{5000, 5001}

	// Six events an hour for 5 days around the cutoff.
	var all []*db.SyncEvent
	for at := cutoff.Add(-60 * time.Hour); at.Before(cutoff.Add(60 * time.Hour)); at = at.Add(10 * time.Minute) {
		e := rollRandomEvent(rng, convs)
		e.OccurredAt = at
		all = append(all, e)
	}
	require.NoError(t, events.Insert(ctx, bdb, all))
	// Retries: one whose attempt is pruned with it, one that outlives its
	// attempt, and the second retry of a chain whose first retry is pruned.
	before := all[0]
	retry := func(of *db.SyncEvent, at time.Time) *db.SyncEvent {
		e := rollRandomEvent(rng, convs)
		e.OccurredAt, e.RetryOfID, e.Attempt = at, &of.ID, of.Attempt+1
		require.NoError(t, events.Insert(ctx, bdb, []*db.SyncEvent{e}))
		return e
	}
	prunedRetry := retry(before, cutoff.Add(-time.Hour))
	outliving := retry(before, cutoff.Add(time.Hour))
	second := retry(prunedRetry, cutoff.Add(2*time.Hour))
	kept := retry(all[len(all)/2], cutoff.Add(3*time.Hour))
	// An old event whose job is still queued stays.
	queued := all[3]
	_, err := bdb.NewRaw(`INSERT INTO sync_jobs (kind, payload, state, event_id, updated_at) VALUES
		('contact_form', '{}', 'QUEUED', ?0, ?1),
		('contact_form', '{}', 'DONE', NULL, ?1),
		('contact_form', '{}', 'FAILED', NULL, ?1),
		('contact_form', '{}', 'DONE', NULL, ?2)`, queued.ID, cutoff.Add(-time.Hour), cutoff.Add(time.Hour)).Exec(ctx)
	require.NoError(t, err)
	_, err = bdb.NewRaw(`INSERT INTO helpscout_api_usage (minute, calls, units)
		SELECT m, 1, 1 FROM generate_series(?::timestamptz - interval '30 minutes', ?::timestamptz + interval '29 minutes', interval '1 minute') AS m`,
		cutoff, cutoff).Exec(ctx)
	require.NoError(t, err)

	prune := func(kind int) int64 {
		var total int64
		for {
			n, busy, err := store.PruneBatch(ctx, kind, cutoff, 7)
			require.NoError(t, err)
			require.False(t, busy)
			total += n
			if n < 7 {
				return total
			}
		}
	}
	wantEvents := map[int64]bool{queued.ID: true}
	for _, e := range append(all, prunedRetry, outliving, second, kept) {
		if !e.OccurredAt.Before(cutoff) {
			wantEvents[e.ID] = true
		}
	}
	total := int64(len(all) + 4)
	require.Equal(t, total-int64(len(wantEvents)), prune(db.PruneEvents))
	var left []int64
	require.NoError(t, bdb.NewRaw("SELECT id FROM sync_events").Scan(ctx, &left))
	require.Len(t, left, len(wantEvents))
	for _, id := range left {
		require.True(t, wantEvents[id], "event %d left", id)
	}
	retryOf := func(e *db.SyncEvent) *int64 {
		got, err := events.Get(ctx, e.ID)
		require.NoError(t, err)
		return got.RetryOfID
	}
	require.Nil(t, retryOf(outliving), "its attempt is gone")
	require.Nil(t, retryOf(second), "its retry is gone")
	require.Equal(t, all[len(all)/2].ID, *retryOf(kept))
	dbtest.RequireRollupsMatchEvents(t, bdb, "pruning")

	dropped, err := store.DropEmptyRollups(ctx, cutoff)
	require.NoError(t, err)
	require.Positive(t, dropped)
	var empty int
	require.NoError(t, bdb.NewRaw("SELECT (SELECT count(*) FROM sync_event_5min WHERE n = 0) + (SELECT count(*) FROM sync_event_hourly WHERE n = 0) + (SELECT count(*) FROM sync_event_daily WHERE n = 0)").Scan(ctx, &empty))
	require.Zero(t, empty)
	dbtest.RequireRollupsMatchEvents(t, bdb, "dropping empty rollups")

	require.Equal(t, int64(2), prune(db.PruneJobs))
	var states []string
	require.NoError(t, bdb.NewRaw("SELECT state FROM sync_jobs ORDER BY id").Scan(ctx, &states))
	require.Equal(t, []string{"QUEUED", "DONE"}, states)
	require.Equal(t, int64(30), prune(db.PruneUsage))
	var minutes int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM helpscout_api_usage WHERE minute >= ?", cutoff).Scan(ctx, &minutes))
	require.Equal(t, 30, minutes)

	// Nothing is left to delete, and a second run finds nothing.
	require.Zero(t, prune(db.PruneEvents))
}

// TestRetentionBusy: while another transaction holds the retention lock, a
// batch deletes nothing and says so.
func TestRetentionBusy(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	e := rollRandomEvent(rand.New(rand.NewPCG(1, 2)), []int64{5000})
	e.OccurredAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, []*db.SyncEvent{e}))
	store := db.NewRetentionStore(bdb)
	cutoff := e.OccurredAt.Add(time.Hour)
	require.NoError(t, bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var locked bool
		if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", int64(0x48534c5254)).Scan(ctx, &locked); err != nil {
			return err
		}
		require.True(t, locked)
		n, busy, err := store.PruneBatch(ctx, db.PruneEvents, cutoff, 10)
		require.NoError(t, err)
		require.True(t, busy)
		require.Zero(t, n)
		return nil
	}))
	n, busy, err := store.PruneBatch(ctx, db.PruneEvents, cutoff, 10)
	require.NoError(t, err)
	require.False(t, busy)
	require.Equal(t, int64(1), n)
}
