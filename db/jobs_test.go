package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestJobClaims lets many workers claim at once: every due job is claimed
// exactly once, jobs not yet due are left, and an expired lease is found.
func TestJobClaims(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	jobs := db.NewJobStore(bdb)
	const due = 40
	for i := range due + 5 {
		runAt := time.Now().Add(-time.Second)
		if i >= due {
			runAt = db.BatchRunAt
		}
		key := fmt.Sprintf("k-%d", i)
		ok, err := jobs.Insert(ctx, bdb, &db.SyncJob{Kind: db.JobContactForm, IdempotencyKey: &key,
			Payload: db.JSONText(`{}`), State: db.JobQueued, RunAt: runAt})
		require.NoError(t, err)
		require.True(t, ok)
	}
	key := "k-0"
	ok, err := jobs.Insert(ctx, bdb, &db.SyncJob{Kind: db.JobContactForm, IdempotencyKey: &key,
		Payload: db.JSONText(`{}`), State: db.JobQueued, RunAt: time.Now()})
	require.NoError(t, err)
	require.False(t, ok, "the idempotency key refuses a second job")

	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w-%d", w)
			for {
				j, err := jobs.Claim(ctx, name, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				if prev, dup := claimed[j.ID]; dup {
					t.Errorf("job %d claimed by %s and %s", j.ID, prev, name)
				}
				claimed[j.ID] = name
				mu.Unlock()
				if j.State != db.JobRunning || j.Attempts != 1 || j.LockedBy == nil || *j.LockedBy != name {
					t.Errorf("claimed job %+v", j)
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, claimed, due)

	var id int64
	for k := range claimed {
		id = k
		break
	}
	owner := claimed[id]
	ok, err = jobs.Renew(ctx, id, "someone-else", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "only the holder renews")
	ok, err = jobs.Renew(ctx, id, owner, -time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	tx, err := bdb.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	expired, err := jobs.LockExpired(ctx, tx, 10)
	require.NoError(t, err)
	require.Len(t, expired, 1)
	require.Equal(t, id, expired[0].ID)
}
