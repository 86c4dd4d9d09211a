package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestServeAnswersWhileStarting holds the migration lock, as a replica
// applying a long migration would: meanwhile the port answers that the
// process is up (/healthz 200) but not ready (/readyz 503, saying why), and
// a GraphQL request gets 503 UNAVAILABLE with Retry-After. Once the lock
// is free the service becomes ready and serves.
func TestServeAnswersWhileStarting(t *testing.T) {
	dsn, bdb := dbtest.NewDSN(t)
	release := holdMigrationLock(t, bdb)

	const secret = "boot-test-secret-0123456789"
	port := freePort(t)
	stop, served := startServe(t, serveConfig(t, dsn, secret, port))
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	get := func(path string) (*http.Response, map[string]any) {
		resp, err := http.Get(base + path)
		if err != nil {
			return nil, nil
		}
		defer resp.Body.Close()
		// A body that is not JSON leaves body nil, which the checks below
		// reject (this runs inside Eventually too, off the test goroutine).
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	// The port is taken before anything else; poll until it answers.
	var health map[string]any
	require.Eventually(t, func() bool {
		resp, body := get("/healthz")
		health = body
		return resp != nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, "starting", health["status"])
	require.Equal(t, "opening the database and applying migrations", health["phase"])

	resp, body := get("/readyz")
	require.NotNil(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "starting: opening the database and applying migrations", body["reason"])

	gql, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	require.NoError(t, err)
	var refusal struct {
		Errors []struct {
			Message    string            `json:"message"`
			Extensions map[string]string `json:"extensions"`
		} `json:"errors"`
	}
	require.NoError(t, json.NewDecoder(gql.Body).Decode(&refusal))
	gql.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, gql.StatusCode)
	require.Equal(t, "5", gql.Header.Get("Retry-After"))
	require.Len(t, refusal.Errors, 1)
	require.Equal(t, "UNAVAILABLE", refusal.Errors[0].Extensions["code"])
	require.Contains(t, refusal.Errors[0].Message, "the service is starting")

	// A browser opening the playground gets a page that says so and
	// reloads itself.
	page, err := http.NewRequest(http.MethodGet, base+"/", nil)
	require.NoError(t, err)
	page.Header.Set("Accept", "text/html,application/xhtml+xml")
	pageResp, err := http.DefaultClient.Do(page)
	require.NoError(t, err)
	html, err := io.ReadAll(pageResp.Body)
	require.NoError(t, err)
	pageResp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, pageResp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", pageResp.Header.Get("Content-Type"))
	require.Contains(t, string(html), `<meta http-equiv="refresh" content="2">`)
	require.Contains(t, string(html), "It is opening the database and applying migrations.")

	release()
	require.Eventually(t, func() bool {
		resp, _ := get("/readyz")
		return resp != nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	_, body = get("/healthz")
	require.Equal(t, "ok", body["status"])

	token, err := auth.NewIssuer(secret).Issue("boot-test", auth.RoleManager, time.Hour)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	ok, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(ok.Body)
	require.NoError(t, err)
	ok.Body.Close()
	require.Equal(t, http.StatusOK, ok.StatusCode)
	require.JSONEq(t, `{"data":{"viewer":{"role":"MANAGER"}}}`, string(raw))

	stop()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
}

// TestServeStopsWhileStarting: a process stopped while it waits for the
// migration lock (another replica migrating) stops at once, without an
// error, instead of when the lock is free.
func TestServeStopsWhileStarting(t *testing.T) {
	dsn, bdb := dbtest.NewDSN(t)
	holdMigrationLock(t, bdb)

	port := freePort(t)
	stop, served := startServe(t, serveConfig(t, dsn, "boot-stop-secret-0123456789", port))
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 30*time.Second, 20*time.Millisecond, "the service did not answer while starting")

	stop()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still waits for the migration lock after the stop")
	}
}

// holdMigrationLock takes the migration lock on a connection of its own,
// as a replica applying migrations would, until release or the end of
// the test.
func holdMigrationLock(t *testing.T, bdb *bun.DB) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := bdb.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", int64(db.MigrationLockKey))
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock(?)", int64(db.MigrationLockKey))
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		})
	}
	t.Cleanup(release)
	return release
}

// startServe runs Serve with cfg until stop or the end of the test;
// served receives what it returns.
func startServe(t *testing.T, cfg *config.Config) (stop context.CancelFunc, served <-chan error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	out := make(chan error, 1)
	go func() { out <- Serve(ctx, cfg, zerolog.Nop(), io.Discard) }()
	return stop, out
}
