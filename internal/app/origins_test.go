package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestAllowedOrigins: the origins of ALLOWED_ORIGINS, written with or
// without a trailing slash, are admitted alike by the CORS preflight and
// by the WebSocket origin check of the service's handler; others by
// neither.
func TestAllowedOrigins(t *testing.T) {
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"ALLOWED_ORIGINS": "https://admin.example.com/, http://localhost:3000"}[k]
	})
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(dbtest.New(t), cfg, auth.NewIssuer("0123456789abcdef0123"), zerolog.Nop(), nil))
	t.Cleanup(srv.Close)

	tests := []struct {
		origin  string
		allowed bool
	}{
		{origin: "https://admin.example.com", allowed: true},
		{origin: "http://localhost:3000", allowed: true},
		{origin: "http://admin.example.com", allowed: false},
		{origin: "https://other.example.com", allowed: false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodOptions, srv.URL+"/graphql", nil)
			require.NoError(t, err)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			// As a browser app with tracing and error reporting asks.
			req.Header.Set("Access-Control-Request-Headers", "authorization,baggage,content-type,sentry-trace,traceparent,tracestate")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if tt.allowed {
				require.Equal(t, tt.origin, resp.Header.Get("Access-Control-Allow-Origin"), "CORS preflight")
			} else {
				require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "CORS preflight")
			}

			conn, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql",
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {tt.origin}}})
			if tt.allowed {
				require.NoError(t, err, "WebSocket")
				conn.Close(websocket.StatusNormalClosure, "")
				return
			}
			require.Error(t, err, "WebSocket")
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "WebSocket")
		})
	}
}

// TestMigrationsOutlastTheStatementTimeout: the statement timeout bounds
// the service's statements, not its migrations, which may rewrite a large
// table; with a timeout far shorter than the first migration, a database
// is still migrated and then served under the timeout.
func TestMigrationsOutlastTheStatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, bdb := dbtest.NewDSN(t)
	_, err := bdb.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
	require.NoError(t, err)

	cfg := &config.Config{DatabaseURL: dsn, StatementTimeout: time.Millisecond, DBMaxConns: 2}
	d, err := OpenDatabase(ctx, cfg, zerolog.Nop())
	require.NoError(t, err)
	defer d.Close()
	// Read on the test's own pool: under a 1 ms bound even this read may
	// be cancelled on a busy machine.
	current, pending, err := db.MigrationState(ctx, bdb)
	require.NoError(t, err)
	require.NotEmpty(t, current)
	require.Empty(t, pending)
	_, err = d.DB.ExecContext(ctx, "SELECT pg_sleep(0.05)")
	require.Error(t, err, "the service's own statements keep the timeout")
}
