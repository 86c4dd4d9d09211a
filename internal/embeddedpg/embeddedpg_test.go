package embeddedpg

import (
	"context"
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun/driver/pgdriver"
)

// testDataDir returns a fresh data folder path under t.TempDir(). When the
// test runs as root the server runs as user postgres, which must be able to
// enter every folder above the data folder; the folder Go's testing package
// creates around t.TempDir() is 0700, so it is opened up here.
func testDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(dir, "postgres")
}

func skipWithoutPostgres(t *testing.T) {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t))
}

func mustStart(t *testing.T, ctx context.Context, opts Options) *Server {
	t.Helper()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return s
}

func openDB(t *testing.T, s *Server) *sql.DB {
	t.Helper()
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(s.DSN("postgres"))))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestStartStopRestartKeepsData(t *testing.T) {
	skipWithoutPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := testDataDir(t)

	// Occupy a port and ask for it: Start must move to a free one.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	s := mustStart(t, ctx, Options{DataDir: dataDir, Port: busyPort, Log: testLogger(t)})
	if s.Port() == 0 || s.Port() == busyPort {
		t.Fatalf("Port() = %d, want a free port other than the busy %d", s.Port(), busyPort)
	}
	wantDSN := "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.Port()) + "/postgres?sslmode=disable"
	if got := s.DSN("postgres"); got != wantDSN {
		t.Fatalf("DSN = %q, want %q", got, wantDSN)
	}

	db := openDB(t, s)
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE survivor (v text); INSERT INTO survivor VALUES ('still here')"); err != nil {
		t.Fatalf("creating table: %v", err)
	}
	_ = db.Close()

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid after Stop: %v", err)
	}

	s2 := mustStart(t, ctx, Options{DataDir: dataDir, Log: testLogger(t)})
	db2 := openDB(t, s2)
	var v string
	if err := db2.QueryRowContext(ctx, "SELECT v FROM survivor").Scan(&v); err != nil || v != "still here" {
		t.Fatalf("after restart: v = %q, %v", v, err)
	}
	_ = db2.Close()

	// A second Start while the server runs (as after a crash of the process
	// that started it) reuses it, on its port.
	s3, err := Start(ctx, Options{DataDir: dataDir, Log: testLogger(t)})
	if err != nil {
		t.Fatalf("Start on running cluster: %v", err)
	}
	if s3.Port() != s2.Port() || !s3.reused {
		t.Fatalf("reuse: port %d reused %v, want port %d reused true", s3.Port(), s3.reused, s2.Port())
	}
	if err := s3.Stop(); err != nil {
		t.Fatalf("Stop of reused server: %v", err)
	}
	// s2's server is gone now; its Stop (in cleanup too) must not fail.
	if err := s2.Stop(); err != nil {
		t.Fatalf("Stop after the server was stopped elsewhere: %v", err)
	}
}

func TestStartRootNeedsTraversableParents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only relevant when running as root")
	}
	skipWithoutPostgres(t)
	dir := t.TempDir() // its parent is 0700, owned by root
	_, err := Start(context.Background(), Options{DataDir: filepath.Join(dir, "pg"), Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "cannot enter folder") {
		t.Fatalf("Start = %v, want an error about a folder user postgres cannot enter", err)
	}
}

func TestFindBinDirFromEnv(t *testing.T) {
	t.Setenv("PG_BIN_DIR", t.TempDir())
	if _, err := FindBinDir(); err == nil || !strings.Contains(err.Error(), "PG_BIN_DIR") {
		t.Fatalf("FindBinDir with empty PG_BIN_DIR = %v, want an error naming PG_BIN_DIR", err)
	}
}

func TestReadPidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "postmaster.pid")
	content := "4242\n/data\n1700000000\n54329\n/data\n127.0.0.1\n  54329001         0\nready   \n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := readPidFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.pid != 4242 || info.port != 54329 || info.status != "ready" {
		t.Fatalf("readPidFile = %+v", info)
	}
}

func TestNewestDebianBinDir(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "13", "15", "16", "notaversion"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if v == "16" {
			continue // incomplete installation: no binaries
		}
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := newestDebianBinDir(root), filepath.Join(root, "15", "bin"); got != want {
		t.Fatalf("newestDebianBinDir = %q, want %q", got, want)
	}
}
