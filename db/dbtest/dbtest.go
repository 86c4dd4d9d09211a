// Package dbtest gives tests fresh, migrated PostgreSQL databases.
//
// The server is found in this order: TEST_DATABASE_URL, DATABASE_URL, the
// machine's server on 127.0.0.1:5432 (user postgres), and finally an
// embedded server started from the installed PostgreSQL binaries. Each
// call to New creates a uniquely named database and drops it when the test
// ends, so tests never see each other's data or data left by earlier runs.
// Packages that use it call Main from TestMain so that an embedded server
// is stopped when the tests finish.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/embeddedpg"
)

const localDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	serverOnce sync.Once
	serverDSN  string
	serverErr  error
	embedded   *embeddedpg.Server
	embedDir   string
)

// Main runs the tests and stops the embedded server if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if embedded != nil {
		_ = embedded.Stop()
		_ = os.RemoveAll(embedDir)
	}
	return code
}

// adminDSN returns a DSN to the maintenance database of the test server.
func adminDSN() (string, error) {
	serverOnce.Do(func() {
		for _, v := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
			if dsn := os.Getenv(v); dsn != "" {
				serverDSN = dsn
				return
			}
		}
		conn, err := net.DialTimeout("tcp", "127.0.0.1:5432", 2*time.Second)
		if err == nil {
			conn.Close()
			serverDSN = localDSN
			return
		}
		dir, err := os.MkdirTemp("", "hslog-embedded-pg-")
		if err != nil {
			serverErr = err
			return
		}
		embedDir = dir
		// The server runs as an unprivileged user when tests run as root;
		// it must be able to enter the folder.
		if err := os.Chmod(dir, 0o755); err != nil {
			serverErr = err
			return
		}
		srv, err := embeddedpg.Start(context.Background(), embeddedpg.Options{DataDir: dir + "/data"})
		if err != nil {
			serverErr = fmt.Errorf("no PostgreSQL at TEST_DATABASE_URL, DATABASE_URL or 127.0.0.1:5432, and the embedded server failed: %w", err)
			return
		}
		embedded = srv
		serverDSN = srv.DSN("postgres")
	})
	return serverDSN, serverErr
}

// withDatabase returns dsn with its database name replaced.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("error parsing test DSN: %w", err)
	}
	u.Path = "/" + name
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// NewDSN creates a fresh, migrated database and returns its DSN and an
// open handle; both are cleaned up when t ends.
func NewDSN(t testing.TB) (string, *bun.DB) {
	t.Helper()
	ctx := context.Background()
	admin, err := adminDSN()
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	name := "hslog_test_" + hex.EncodeToString(buf)
	if err := onAdmin(ctx, admin, "CREATE DATABASE ?", bun.Ident(name)); err != nil {
		t.Fatalf("test database: creating %s: %v", name, err)
	}
	var bdb *bun.DB
	// Dropped however the test ends, even when it fails right below.
	t.Cleanup(func() {
		if bdb != nil {
			_ = bdb.Close()
		}
		if err := onAdmin(context.Background(), admin, "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name)); err != nil {
			t.Errorf("test database: dropping %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	err = whileBusy(ctx, func() error {
		var err error
		bdb, err = db.Open(ctx, dsn, db.Options{MaxOpenConns: 16})
		return err
	})
	if err != nil {
		t.Fatalf("test database: opening %s: %v", name, err)
	}
	// Tests run side by side in several packages against one server, whose
	// connection limit (100 by default) they share: a test keeps at most
	// two idle connections, opens more only while it needs them, and
	// closes those it left idle for a second (a test whose parallel
	// subtests wait for their turn holds none meanwhile).
	bdb.DB.SetMaxIdleConns(2)
	bdb.DB.SetConnMaxIdleTime(time.Second)
	// Not run again on failure: a migration may have been applied and not
	// yet marked.
	if _, err := db.Migrate(ctx, bdb); err != nil {
		t.Fatalf("test database: migrating %s: %v", name, err)
	}
	return dsn, bdb
}

// onAdmin runs one statement on the server's maintenance database.
func onAdmin(ctx context.Context, admin, query string, args ...any) error {
	return whileBusy(ctx, func() error {
		adm, err := db.Open(ctx, admin, db.Options{MaxOpenConns: 1})
		if err != nil {
			return fmt.Errorf("connecting to %s: %w", redact(admin), err)
		}
		defer adm.Close()
		_, err = adm.ExecContext(ctx, query, args...)
		return err
	})
}

// busyPatience bounds how long setting up or dropping a test database
// waits for the server to have a connection to spare.
const busyPatience = time.Minute

// whileBusy runs fn again while the server has no connection to spare
// (too many clients: other test packages hold them for a moment), for at
// most busyPatience; any other error ends it at once.
func whileBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(busyPatience)
	for {
		err := fn()
		var pgErr pgdriver.Error
		if err == nil || !errors.As(err, &pgErr) || pgErr.Field('C') != "53300" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// New creates a fresh, migrated database for t and returns an open handle.
func New(t testing.TB) *bun.DB {
	t.Helper()
	_, bdb := NewDSN(t)
	return bdb
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "***")
		}
		return u.String()
	}
	return strings.SplitN(dsn, "@", 2)[0]
}

// Outage makes the database of dsn, one that NewDSN created, unreachable
// as a failed or restarting server would be: it refuses new connections
// and ends those open. The returned function ends the outage; so does
// the end of t.
func Outage(t testing.TB, dsn string) (end func()) {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := withDatabase(dsn, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := db.Open(ctx, admin, db.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatalf("test database: connecting to %s: %v", redact(admin), err)
	}
	allow := func(on bool) error {
		_, err := adm.ExecContext(ctx, "ALTER DATABASE ? WITH ALLOW_CONNECTIONS ?", bun.Ident(name), on)
		return err
	}
	if err := allow(false); err != nil {
		t.Fatalf("test database: refusing connections to %s: %v", name, err)
	}
	if _, err := adm.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()", name); err != nil {
		t.Fatalf("test database: ending the connections to %s: %v", name, err)
	}
	end = sync.OnceFunc(func() {
		defer adm.Close()
		if err := allow(true); err != nil {
			t.Errorf("test database: allowing connections to %s again: %v", name, err)
		}
	})
	t.Cleanup(end)
	return end
}
