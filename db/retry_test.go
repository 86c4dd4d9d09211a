package db_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestRetryAfterDeadlock makes two transactions lock two rows in opposite
// orders. PostgreSQL aborts one with a deadlock; Retryable recognises it,
// and Retry runs the loser again so that both finish.
func TestRetryAfterDeadlock(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	_, err := bdb.ExecContext(ctx, "CREATE TABLE pair (id int PRIMARY KEY, n int NOT NULL)")
	require.NoError(t, err)
	_, err = bdb.ExecContext(ctx, "INSERT INTO pair VALUES (1, 0), (2, 0)")
	require.NoError(t, err)

	for _, retry := range []bool{false, true} {
		var (
			locked sync.WaitGroup // both hold their first row
			wg     sync.WaitGroup
			runs   atomic.Int32
			errs   [2]error
		)
		locked.Add(2)
		for i, order := range [][2]int{{1, 2}, {2, 1}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first := true
				tx := func() error {
					runs.Add(1)
					return bdb.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
						if _, err := tx.ExecContext(ctx, "UPDATE pair SET n = n + 1 WHERE id = ?", order[0]); err != nil {
							return err
						}
						if first {
							first = false
							locked.Done()
							locked.Wait()
						}
						_, err := tx.ExecContext(ctx, "UPDATE pair SET n = n + 1 WHERE id = ?", order[1])
						return err
					})
				}
				if retry {
					errs[i] = db.Retry(ctx, tx)
				} else {
					errs[i] = tx()
				}
			}()
		}
		wg.Wait()
		if !retry {
			failed := errors.Join(errs[0], errs[1])
			require.Error(t, failed, "one of the two must lose the deadlock")
			require.True(t, db.Retryable(failed), "a deadlock is retryable: %v", failed)
			require.False(t, db.Retryable(errors.New("other")))
			continue
		}
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.Equal(t, int32(3), runs.Load(), "the loser ran twice")
	}
	var total int
	require.NoError(t, bdb.NewRaw("SELECT sum(n) FROM pair").Scan(ctx, &total))
	require.Equal(t, 2+4, total, "one transaction of the first round and both of the second")
}
