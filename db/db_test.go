package db_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestMigrateConcurrentReplicas starts several "replicas" migrating the
// same database at once, as a rolling deploy would: all succeed, each
// migration is applied exactly once, and nothing is left pending.
func TestMigrateConcurrentReplicas(t *testing.T) {
	t.Parallel()
	dsn, bdb := dbtest.NewDSN(t)
	ctx := context.Background()

	// dbtest migrated the database; start over from an empty schema.
	_, err := bdb.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
	require.NoError(t, err)

	const replicas = 4
	var wg sync.WaitGroup
	applied := make([][]string, replicas)
	errs := make([]error, replicas)
	for i := 0; i < replicas; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: 4})
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			applied[i], errs[i] = db.Migrate(ctx, r)
		}()
	}
	wg.Wait()
	total := 0
	for i := 0; i < replicas; i++ {
		require.NoError(t, errs[i], "replica %d", i)
		total += len(applied[i])
	}
	cur, pending, err := db.MigrationState(ctx, bdb)
	require.NoError(t, err)
	require.Empty(t, pending)
	require.NotEmpty(t, cur)

	var known int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM bun_migrations").Scan(ctx, &known))
	require.Equal(t, known, total, "every migration applied by exactly one replica")
	requireTable(t, bdb, "sync_events")
}

func requireTable(t *testing.T, bdb *bun.DB, name string) {
	t.Helper()
	var exists bool
	require.NoError(t, bdb.NewRaw("SELECT to_regclass(?) IS NOT NULL", name).Scan(context.Background(), &exists))
	require.True(t, exists, "table %s exists", name)
}

// TestMigrateSmallPool migrates through pools capped at one or two
// connections, fresh and already migrated, alone and with several
// migrations at once on one pool: the session that holds the migration
// lock must not leave the migrator waiting for a connection, and the cap
// is back where it was afterwards.
func TestMigrateSmallPool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		conns    int
		fresh    bool
		together int
	}{
		{name: "one connection, fresh", conns: 1, fresh: true, together: 1},
		{name: "one connection, migrated", conns: 1, together: 1},
		{name: "one connection, three at once", conns: 1, fresh: true, together: 3},
		{name: "two connections, migrated", conns: 2, together: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn, bdb := dbtest.NewDSN(t)
			// A hang fails the test instead of blocking it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if tt.fresh {
				_, err := bdb.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
				require.NoError(t, err)
			}
			pool, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: tt.conns})
			require.NoError(t, err)
			defer pool.Close()
			var wg sync.WaitGroup
			errs := make([]error, tt.together)
			for i := range tt.together {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = db.Migrate(ctx, pool)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "migration %d", i)
			}
			require.Equal(t, tt.conns, pool.DB.Stats().MaxOpenConnections, "the pool's cap afterwards")
			_, pending, err := db.MigrationState(ctx, pool)
			require.NoError(t, err)
			require.Empty(t, pending)
		})
	}
}

// TestPoolSurvivesTerminatedConnections: the server ends every connection
// of the pool while it sits idle (pg_terminate_backend, a failover, a
// restart). The statements and transactions that follow must not fail on
// the dead connections: the pool sets them aside and opens new ones.
func TestPoolSurvivesTerminatedConnections(t *testing.T) {
	t.Parallel()
	dsn, bdb := dbtest.NewDSN(t)
	ctx := context.Background()
	// The test pool keeps two idle connections for a second at most; here
	// both must stay in the pool until the server ends them.
	bdb.DB.SetConnMaxIdleTime(0)
	bdb.DB.SetMaxIdleConns(4)

	// Fill the pool with idle connections that have been used.
	pids := map[int]bool{}
	conns := make([]bun.Conn, 2)
	for i := range conns {
		c, err := bdb.Conn(ctx)
		require.NoError(t, err)
		var pid int
		require.NoError(t, c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		pids[pid] = true
		conns[i] = c
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	require.Len(t, pids, 2)

	killer, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: 1})
	require.NoError(t, err)
	defer killer.Close()
	for pid := range pids {
		var ok bool
		require.NoError(t, killer.QueryRowContext(ctx, "SELECT pg_terminate_backend(?)", pid).Scan(&ok))
		require.True(t, ok)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		require.NoError(t, killer.QueryRowContext(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE pid IN (?)", bun.In(keys(pids))).Scan(&n))
		if n == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the terminated backends did not go away")
		time.Sleep(10 * time.Millisecond)
	}

	var one int
	require.NoError(t, bdb.QueryRowContext(ctx, "SELECT 1").Scan(&one), "a statement after the connections were ended")
	require.NoError(t, bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}), "a transaction after the connections were ended")
}

// keys returns the keys of m.
func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
