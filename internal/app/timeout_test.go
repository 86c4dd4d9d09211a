package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestQueryTimeout: a query that the database cancels at the statement
// timeout reaches the client as TIMEOUT, saying to ask for less, over
// GraphQL (where the other fields keep their data) and as a 504 from the
// CSV export, never as an internal error.
func TestQueryTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, bdb := dbtest.NewDSN(t)
	pool, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: 4, StatementTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	defer pool.Close()
	issuer := auth.NewIssuer("0123456789abcdef0123")
	token, err := issuer.Issue("manager", auth.RoleManager, time.Minute)
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(pool, &config.Config{LogLevel: zerolog.Disabled, ComplexityLimit: 50000}, issuer, zerolog.Nop(), nil))
	defer srv.Close()

	// A transaction holding the events table makes every read of it wait
	// until the timeout cancels it.
	locked := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "LOCK TABLE sync_events IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	defer func() {
		close(release)
		require.NoError(t, <-done)
	}()

	send := func(req *http.Request) (int, []byte) {
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql",
		strings.NewReader(`{"query":"{ viewer { role } syncEvents(first: 5) { nodes { id } } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	status, body := send(req)
	require.Equal(t, http.StatusOK, status, string(body))
	var out struct {
		Data struct {
			Viewer struct{ Role string }
		}
		Errors []struct {
			Message    string
			Path       []any
			Extensions map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(body, &out), string(body))
	require.Equal(t, "MANAGER", out.Data.Viewer.Role, "the other field keeps its data")
	require.Len(t, out.Errors, 1, string(body))
	require.Equal(t, "TIMEOUT", out.Errors[0].Extensions["code"])
	require.Equal(t, []any{"syncEvents"}, out.Errors[0].Path)
	require.Contains(t, out.Errors[0].Message, "the query took longer than the server allows; narrow the time range or the filter and try again (request id ")

	req, err = http.NewRequest(http.MethodGet, srv.URL+"/export/sync-events.csv?within=LAST_24_HOURS", nil)
	require.NoError(t, err)
	status, body = send(req)
	require.Equal(t, http.StatusGatewayTimeout, status, string(body))
	require.Contains(t, string(body), `"code":"TIMEOUT"`)
	require.Contains(t, string(body), "narrow the time range or the filter")
}
