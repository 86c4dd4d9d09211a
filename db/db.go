package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = errors.New("not found")

// Options tune the connection pool.
type Options struct {
	// MaxOpenConns caps the pool; zero means 16.
	MaxOpenConns int
	// StatementTimeout bounds every statement on the server side; zero
	// means no bound beyond the driver's read timeout.
	StatementTimeout time.Duration
	// ReadTimeout is the driver's socket read timeout; zero means 5 minutes,
	// long enough for bulk loads and exports.
	ReadTimeout time.Duration
}

// Open connects to the PostgreSQL server at dsn, checks it answers, and
// returns a Bun handle whose sessions run in UTC, without JIT. Writes of sync events
// through the handle notify ChangeChannel once committed.
func Open(ctx context.Context, dsn string, opts Options) (*bun.DB, error) {
	readTimeout := opts.ReadTimeout
	if readTimeout == 0 {
		readTimeout = 5 * time.Minute
	}
	// JIT compilation pays off for long analytic queries; here it would
	// add some 15 ms to a summary whose row estimate runs high and that
	// takes less than that to run.
	params := map[string]any{"timezone": "UTC", "jit": "off"}
	if opts.StatementTimeout > 0 {
		params["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	}
	connector := pgdriver.NewConnector(
		pgdriver.WithDSN(dsn),
		pgdriver.WithReadTimeout(readTimeout),
		pgdriver.WithWriteTimeout(readTimeout),
		pgdriver.WithConnParams(params),
		pgdriver.WithApplicationName("helpscout-log"),
		pgdriver.WithResetSessionFunc(dropIfEnded),
	)
	sqldb := sql.OpenDB(connector)
	if opts.MaxOpenConns > 0 {
		sqldb.SetMaxOpenConns(opts.MaxOpenConns)
		sqldb.SetMaxIdleConns(opts.MaxOpenConns)
	} else {
		sqldb.SetMaxOpenConns(16)
		sqldb.SetMaxIdleConns(16)
	}
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	bdb := bun.NewDB(sqldb, pgdialect.New())
	bdb.AddQueryHook(newChangeHinter(bdb))
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A ping that the statement timeout cancelled was answered by the
	// server: the connection works, only the timeout is short.
	if err := bdb.PingContext(pingCtx); err != nil && !TimedOut(err) {
		_ = bdb.Close()
		return nil, fmt.Errorf("error connecting to database: %w", err)
	}
	return bdb, nil
}

// dropIfEnded sets aside a pooled connection that the server ended while
// it sat idle (pg_terminate_backend, a restart, a failover) before it is
// used again; database/sql then takes another or opens a new one. Without
// it, the first statement on each such connection fails with the server's
// FATAL, one failed request or sync write per pooled connection.
func dropIfEnded(_ context.Context, cn *pgdriver.Conn) error {
	if err := connCheck(cn.Conn()); err != nil {
		return driver.ErrBadConn
	}
	return nil
}

// MigrationLockKey is the advisory lock that serialises migrations between
// replicas starting at the same time; pg_locks shows who holds it
// (objid 0x534c4f47 with classid 0x48).
const MigrationLockKey = 0x48534c4f47 // "HSLOG"

func newMigrator(bdb *bun.DB) (*migrate.Migrator, error) {
	migrations := migrate.NewMigrations()
	if err := migrations.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("error reading migrations: %w", err)
	}
	return migrate.NewMigrator(bdb, migrations, migrate.WithMarkAppliedOnSuccess(true)), nil
}

// Migrate applies every pending migration. Replicas starting together wait
// for each other on a session advisory lock, so exactly one applies each
// migration and the others find nothing left to do. It returns the names of
// the migrations it applied.
func Migrate(ctx context.Context, bdb *bun.DB) ([]string, error) {
	m, err := newMigrator(bdb)
	if err != nil {
		return nil, err
	}
	// The lock's session stays reserved while the migrator runs its
	// statements on the other connections of the pool, so that a pool of
	// one connection would wait for itself forever: the pool may open one
	// more connection while the migration runs.
	defer spareConnection(bdb.DB)()
	conn, err := bdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("error reserving a connection for the migration lock: %w", err)
	}
	defer conn.Close()
	if err := takeMigrationLock(ctx, conn); err != nil {
		return nil, err
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", int64(MigrationLockKey))
	}()
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("error creating the migrations table: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("error migrating: %w", err)
	}
	var names []string
	for _, mg := range group.Migrations {
		names = append(names, mg.Name)
	}
	return names, nil
}

// migrationLockPoll is how often Migrate tries the migration lock while
// another replica holds it.
const migrationLockPoll = 250 * time.Millisecond

// takeMigrationLock takes the migration lock on conn, trying again while
// another replica holds it, until ctx ends: a process stopped while it
// waits stops at once, instead of when the other replica is done.
func takeMigrationLock(ctx context.Context, conn bun.Conn) error {
	t := time.NewTicker(migrationLockPoll)
	defer t.Stop()
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", int64(MigrationLockKey)).Scan(&got); err != nil {
			return fmt.Errorf("error taking the migration lock: %w", err)
		}
		if got {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for the migration lock: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// capMu serialises the changes spareConnection makes to pool caps.
var capMu sync.Mutex

// spareConnection raises the cap of sqldb, if it has one, by one
// connection, and returns the function that lowers it again. Raises and
// lowerings of migrations running at once on one pool add up.
func spareConnection(sqldb *sql.DB) (restore func()) {
	capMu.Lock()
	defer capMu.Unlock()
	n := sqldb.Stats().MaxOpenConnections
	if n == 0 {
		return func() {}
	}
	sqldb.SetMaxOpenConns(n + 1)
	return func() {
		capMu.Lock()
		defer capMu.Unlock()
		sqldb.SetMaxOpenConns(sqldb.Stats().MaxOpenConnections - 1)
	}
}

// MigrationState reports the newest applied migration and the ones this
// binary knows that are not applied yet.
func MigrationState(ctx context.Context, bdb *bun.DB) (current string, pending []string, err error) {
	m, err := newMigrator(bdb)
	if err != nil {
		return "", nil, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("error reading migration status: %w", err)
	}
	for _, mg := range ms {
		if mg.IsApplied() {
			current = mg.Name
		} else {
			pending = append(pending, mg.Name)
		}
	}
	return current, pending, nil
}
