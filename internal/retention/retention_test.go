package retention_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/retention"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// now is the clock of these tests: the log spans the 40 days before it.
var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// fill writes one event every two hours over the 40 days before now and
// returns how many are older than days.
func fill(t *testing.T, bdb *bun.DB, days int) (old int) {
	t.Helper()
	cutoff := now.AddDate(0, 0, -days)
	var events []*db.SyncEvent
	for at := now.AddDate(0, 0, -40); at.Before(now); at = at.Add(2 * time.Hour) {
		events = append(events, &db.SyncEvent{OccurredAt: at, Type: db.EventCustomerSynced, Status: db.StatusSuccess,
			Direction: db.DirectionToHelpScout, Attempt: 1, Source: db.SourceBatch})
		if at.Before(cutoff) {
			old++
		}
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(context.Background(), bdb, events))
	return old
}

func oldest(t *testing.T, bdb *bun.DB) time.Time {
	t.Helper()
	var at time.Time
	require.NoError(t, bdb.NewRaw("SELECT min(occurred_at) FROM sync_events").Scan(context.Background(), &at))
	return at
}

// TestRunDeletesWhatIsOlder: a round deletes, in batches, the events
// older than the retention and nothing newer; a second finds nothing.
func TestRunDeletesWhatIsOlder(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	old := fill(t, bdb, 31)
	p := retention.New(bdb, retention.Options{Days: 31, Batch: 10, Log: zerolog.Nop(), Now: func() time.Time { return now }})
	got, err := p.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(old), got.Events)
	require.Equal(t, int64(old), p.Deleted())
	require.False(t, oldest(t, bdb).Before(now.AddDate(0, 0, -31)))
	var left int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM sync_events").Scan(context.Background(), &left))
	require.Equal(t, 40*12-old, left)
	dbtest.RequireRollupsMatchEvents(t, bdb, "a retention round")

	got, err = p.Run(context.Background())
	require.NoError(t, err)
	require.Zero(t, got)
}

// TestReplicasTogether: rounds of several replicas at once delete each
// old event once between them, and fail nowhere.
func TestReplicasTogether(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	old := fill(t, bdb, 35)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := retention.New(bdb, retention.Options{Days: 35, Batch: 5, Log: zerolog.Nop(), Now: func() time.Time { return now }})
			// A replica that finds another deleting leaves the work to it;
			// the rounds go on until nothing is left.
			for {
				got, err := p.Run(context.Background())
				if err != nil && !errors.Is(err, retention.ErrBusy) {
					t.Error(err)
					return
				}
				mu.Lock()
				total += got.Events
				done := total == int64(old)
				mu.Unlock()
				if done || got.Events == 0 && !oldest(t, bdb).Before(now.AddDate(0, 0, -35)) {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(old), total)
	require.False(t, oldest(t, bdb).Before(now.AddDate(0, 0, -35)))
	dbtest.RequireRollupsMatchEvents(t, bdb, "rounds of three replicas")
}

// TestStartAndStop: a started pruner deletes at once, and Stop returns.
func TestStartAndStop(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	old := fill(t, bdb, 31)
	p := retention.New(bdb, retention.Options{Days: 31, Interval: time.Hour, Log: zerolog.Nop(), Now: func() time.Time { return now }})
	require.NoError(t, p.Start(context.Background()))
	require.Error(t, p.Start(context.Background()), "a second start")
	deadline := time.Now().Add(10 * time.Second)
	for p.Deleted() < int64(old) {
		require.True(t, time.Now().Before(deadline), "the first round did not finish: %d of %d deleted", p.Deleted(), old)
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	p.Stop()
	require.Equal(t, int64(old), p.Deleted())

	require.Error(t, retention.New(bdb, retention.Options{}).Start(context.Background()), "no days")
}
