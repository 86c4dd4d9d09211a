package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/syncbuf"
)

// logLines returns the JSON lines written to sink so far.
func logLines(t *testing.T, sink *syncbuf.Buffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(sink.Bytes()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "log line %s", sc.Text())
		out = append(out, m)
	}
	return out
}

// TestAccessLog: one JSON line per request, with the request id the
// client got back, the route, status and duration in milliseconds, and for
// GraphQL the operation name and its outcome.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var sink syncbuf.Buffer
	issuer := auth.NewIssuer(testSecret)
	cfg := &config.Config{Introspection: true, ComplexityLimit: 5000, LogLevel: zerolog.InfoLevel}
	srv := httptest.NewServer(app.Handler(dbtest.New(t), cfg, issuer, zerolog.New(&sink), nil))
	t.Cleanup(srv.Close)
	tok, err := issuer.Issue("test-manager", auth.RoleManager, time.Hour)
	require.NoError(t, err)

	tests := []struct {
		name   string
		method string
		path   string
		query  string
		status int
		// operation and outcome are empty for requests that are not GraphQL.
		operation, outcome string
	}{
		{name: "named query", method: http.MethodPost, path: "/graphql", query: `query LogProbe { viewer { role } }`,
			status: http.StatusOK, operation: "LogProbe", outcome: "ok"},
		{name: "partial answer", method: http.MethodPost, path: "/graphql", query: `query LogPartial { viewer { role } integrationSettings { apiUrl } }`,
			status: http.StatusOK, operation: "LogPartial", outcome: "partial"},
		{name: "refused field", method: http.MethodPost, path: "/graphql", query: `query LogRefused { integrationSettings { apiUrl } }`,
			status: http.StatusOK, operation: "LogRefused", outcome: "partial"},
		{name: "invalid document", method: http.MethodPost, path: "/graphql", query: `query LogInvalid { noSuchField }`,
			status: http.StatusOK, operation: "LogInvalid", outcome: "error"},
		{name: "CSV export", method: http.MethodGet, path: "/export/sync-events.csv", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.query != "" {
				b, err := json.Marshal(map[string]string{"query": tt.query})
				require.NoError(t, err)
				body = strings.NewReader(string(b))
			} else {
				body = strings.NewReader("")
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
			id := resp.Header.Get("X-Request-Id")
			require.NotEmpty(t, id)

			// The line is written once the handler returns, which may be
			// just after the client has the answer.
			var line map[string]any
			require.Eventually(t, func() bool {
				for _, l := range logLines(t, &sink) {
					if l["request_id"] == id {
						line = l
						return true
					}
				}
				return false
			}, 5*time.Second, 5*time.Millisecond, "a log line with request_id %s", id)

			require.Equal(t, "info", line["level"])
			require.Equal(t, "request", line["message"])
			require.Equal(t, tt.method, line["method"])
			require.Equal(t, tt.path, line["path"])
			require.EqualValues(t, tt.status, line["status"])
			ms, ok := line["duration_ms"].(float64)
			require.True(t, ok, "duration_ms is a number: %v", line)
			require.Greater(t, ms, 0.0)
			if tt.operation == "" {
				require.NotContains(t, line, "operation")
				require.NotContains(t, line, "outcome")
				return
			}
			require.Equal(t, tt.operation, line["operation"])
			require.Equal(t, tt.outcome, line["outcome"])
		})
	}
}
