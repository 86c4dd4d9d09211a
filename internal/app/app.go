// Package app wires helpscout-log together for the binary's subcommands:
// it reads the configuration, sets up logging, provides the database (the
// configured one, or the embedded demo server), and runs the HTTP service
// with an orderly shutdown.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/embeddedpg"
)

// Version is the build's version, set with -ldflags "-X ...app.Version=...".
var Version = "dev"

// demoDatabase is the database the embedded server holds.
const demoDatabase = "helpscout_log"

// NewLogger returns the process logger: readable console output for the
// embedded demo, JSON otherwise, unless LOG_FORMAT says which.
func NewLogger(cfg *config.Config, w io.Writer) zerolog.Logger {
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if cfg.Embedded() {
			format = "console"
		}
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	var out io.Writer = w
	if format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	log := zerolog.New(out).Level(cfg.LogLevel).With().Timestamp().Logger()
	// The driver reports some events itself (a listening connection it
	// drops after the server ended it, a notification buffer that ran
	// full) on a plain-text logger of its own: send them through this one,
	// so that JSON logs stay JSON.
	pgdriver.Logger = driverLogger{log: log.With().Str("component", "pgdriver").Logger()}
	return log
}

// driverLogger writes pgdriver's messages as warnings.
type driverLogger struct {
	log zerolog.Logger
}

// Printf logs one driver message.
func (l driverLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msg(fmt.Sprintf(format, v...))
}

// Database is an open database with whatever must be stopped after it.
type Database struct {
	// DB is the Bun handle.
	DB *bun.DB
	// DSN is the connection string (for tools that open their own pool).
	DSN string
	// Embedded is the demo server, when the service started one.
	Embedded *embeddedpg.Server

	lock *os.File // holds the data folder while the embedded server runs
}

// Close closes the pool, then stops the embedded server if there is one.
func (d *Database) Close() error {
	var errs []error
	if d.DB != nil {
		errs = append(errs, d.DB.Close())
	}
	if d.Embedded != nil {
		errs = append(errs, d.Embedded.Stop())
	}
	if d.lock != nil {
		errs = append(errs, d.lock.Close())
	}
	return errors.Join(errs...)
}

// OpenDatabase connects to DATABASE_URL, or starts the embedded server and
// its demo database when none is configured, and applies migrations.
func OpenDatabase(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*Database, error) {
	d := &Database{DSN: cfg.DatabaseURL}
	if cfg.Embedded() {
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		d.lock = lock
		srv, err := embeddedpg.Start(ctx, embeddedpg.Options{
			DataDir: filepath.Join(cfg.DataDir, "postgres"),
			Log:     log,
		})
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("error starting the embedded database (set DATABASE_URL to use your own): %w", err)
		}
		d.Embedded = srv
		if err := ensureDatabase(ctx, srv.DSN("postgres"), demoDatabase); err != nil {
			_ = srv.Stop()
			return nil, err
		}
		d.DSN = srv.DSN(demoDatabase)
	}
	bdb, err := db.Open(ctx, d.DSN, db.Options{MaxOpenConns: cfg.DBMaxConns, StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	d.DB = bdb
	applied, err := migrateWithoutTimeout(ctx, d.DSN, log)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info().Strs("migrations", applied).Msg("database migrated")
	}
	return d, nil
}

// migrateWithoutTimeout applies the pending migrations over a pool of its
// own without the statement timeout of the service's pool: a migration may
// rewrite or index a table of tens of millions of rows, which takes longer
// than any request should.
// While migrations are pending it says which, and how long they have
// been running (see migrationProgress).
func migrateWithoutTimeout(ctx context.Context, dsn string, log zerolog.Logger) ([]string, error) {
	mdb, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: 1})
	if err != nil {
		return nil, err
	}
	defer mdb.Close()
	// A new database has no migrations table yet: nothing to report, and
	// its migrations take a moment.
	if _, pending, err := db.MigrationState(ctx, mdb); err == nil && len(pending) > 0 {
		defer migrationProgress(log, pending, migrationLogInterval)()
	}
	return db.Migrate(ctx, mdb)
}

// migrationLogInterval is how often migrationProgress reports.
var migrationLogInterval = 15 * time.Second

// migrationProgress logs the pending migrations, then every interval how
// long they have been running, until the returned function is called. A
// migration over a large log (one that adds a table noting every ticket, an
// index) can take a minute or more, during which the service does not
// serve yet, or waits for the replica that holds the migration lock.
func migrationProgress(log zerolog.Logger, pending []string, interval time.Duration) (stop func()) {
	log.Info().Strs("pending", pending).Msg("applying migrations")
	began := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				log.Info().Strs("pending", pending).Str("elapsed", time.Since(began).Round(time.Second).String()).
					Msg("still applying migrations (or waiting for the replica that applies them)")
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// ensureDatabase creates the named database on the server at adminDSN
// unless it exists.
func ensureDatabase(ctx context.Context, adminDSN, name string) error {
	admin, err := db.Open(ctx, adminDSN, db.Options{MaxOpenConns: 1})
	if err != nil {
		return err
	}
	defer admin.Close()
	var exists bool
	if err := admin.NewRaw("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", name).Scan(ctx, &exists); err != nil {
		return fmt.Errorf("error looking up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(name)); err != nil {
		return fmt.Errorf("error creating database %s: %w", name, err)
	}
	return nil
}

// Secret returns the JWT secret: JWT_SECRET, or for the embedded demo a
// secret generated once and kept in the data folder, so that the token
// subcommand signs tokens the running demo accepts.
func Secret(cfg *config.Config) (secret string, demo bool, err error) {
	if cfg.JWTSecret != "" {
		return cfg.JWTSecret, false, nil
	}
	if !cfg.Embedded() {
		return "", false, errors.New("JWT_SECRET is required when DATABASE_URL is set")
	}
	path := filepath.Join(cfg.DataDir, "demo-jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), true, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", false, fmt.Errorf("error generating the demo secret: %w", err)
	}
	s := hex.EncodeToString(buf)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return "", false, fmt.Errorf("error creating %s: %w", cfg.DataDir, err)
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("error writing the demo secret: %w", err)
	}
	return s, true, nil
}

// lockDataDir takes an exclusive lock on the data folder for the life of
// the process, so that a second instance cannot share (and, on exit, stop)
// the embedded server of a running one. The lock goes with the process.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("error creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, "instance.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("error opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("another helpscout-log is using the embedded database in %s; stop it, or set DATA_DIR to another folder", dir)
	}
	return f, nil
}
