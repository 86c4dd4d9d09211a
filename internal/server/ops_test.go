package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestHealthAndReadiness: /healthz answers while the process runs;
// /readyz only with a reachable, fully migrated database.
func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	ready := newEnv(t)

	pendingDB := dbtest.New(t)
	// Forget the newest migration, whatever their number.
	res, err := pendingDB.ExecContext(context.Background(),
		"DELETE FROM bun_migrations WHERE id = (SELECT max(id) FROM bun_migrations)")
	require.NoError(t, err)
	n, _ := res.RowsAffected()
	require.EqualValues(t, 1, n)
	pending := newEnvOn(t, pendingDB)

	downDB := dbtest.New(t)
	down := newEnvOn(t, downDB)
	require.NoError(t, downDB.Close())

	cases := []struct {
		name   string
		env    *env
		path   string
		status int
		body   map[string]string
	}{
		{"healthz", ready, "/healthz", http.StatusOK, map[string]string{"status": "ok"}},
		{"readyz", ready, "/readyz", http.StatusOK, map[string]string{"status": "ready"}},
		{"readyz, migration pending", pending, "/readyz", http.StatusServiceUnavailable,
			map[string]string{"status": "unavailable", "reason": "1 migrations pending"}},
		{"healthz, database down", down, "/healthz", http.StatusOK, map[string]string{"status": "ok"}},
		{"readyz, database down", down, "/readyz", http.StatusServiceUnavailable,
			map[string]string{"status": "unavailable", "reason": "database unreachable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := tc.env.httpGet(t, tc.path, callerNone)
			require.Equal(t, tc.status, resp.StatusCode, "body: %s", body)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var got map[string]string
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, tc.body, got)
		})
	}
}

// TestMetrics: /metrics counts GraphQL operations by name and outcome and
// HTTP requests by route.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := func(caller, query, name string) *gqlResponse {
		return e.postGQL(t, caller, gqlRequest{Query: query, OperationName: name}, nil)
	}
	op(callerManager, `query MetricsProbe { viewer { role } }`, "MetricsProbe").requireOK(t)
	op(callerManager, `query MetricsProbe { viewer { role } }`, "MetricsProbe").requireOK(t)
	require.Len(t, op(callerManager, `query MetricsPartial { viewer { role } diagnostics { version } }`, "MetricsPartial").Errors, 1)
	require.Len(t, op(callerNone, `query MetricsDenied { viewer { role } }`, "MetricsDenied").Errors, 1)
	op(callerManager, `query A { viewer { role } } query MetricsPicked { viewer { subject } }`, "MetricsPicked").requireOK(t)
	op(callerManager, `{ viewer { role } }`, "").requireOK(t)

	resp, body := e.httpGet(t, "/metrics", callerNone)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(body)
	for _, want := range []string{
		`helpscout_log_graphql_requests_total{operation="MetricsProbe",outcome="ok"} 2`,
		`helpscout_log_graphql_requests_total{operation="MetricsPartial",outcome="partial"} 1`,
		`helpscout_log_graphql_requests_total{operation="MetricsPicked",outcome="ok"} 1`,
		`helpscout_log_graphql_requests_total{operation="anonymous",outcome="ok"} 1`,
		`helpscout_log_graphql_duration_seconds_count{operation="MetricsProbe"} 2`,
		`helpscout_log_http_requests_total{code="200",route="/graphql"} 6`,
		`go_sql_max_open_connections{db_name="helpscout_log"}`,
		"helpscout_log_live_subscribers 0",
		"helpscout_log_live_summary_subscribers 0",
		"helpscout_log_sync_attempts_succeeded_total 0",
		"helpscout_log_websocket_frames_total 0",
		"helpscout_log_websocket_writes_total 0",
		"helpscout_log_websocket_spacing 0",
	} {
		require.Contains(t, text, want)
	}
	// A refused viewer leaves {"viewer": null}: data, with an error. The
	// caller had no token: its operation is counted without its name.
	require.Regexp(t, regexp.MustCompile(`helpscout_log_graphql_requests_total\{operation="unauthenticated",outcome="(partial|error)"\} 1`), text)
	require.NotContains(t, text, `operation="MetricsDenied"`, "no series named by an unauthenticated caller")
	require.NotContains(t, text, `operation="A"`, "only the operation that ran is counted")
}

// TestSyncQueueMetrics: /metrics shows the shared sync queue by state and
// how long its oldest due job has waited, so that an alert can tell a
// stuck queue (no worker running) from a busy one.
func TestSyncQueueMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // no worker runs in this process
	gauge := func(name string) float64 {
		t.Helper()
		_, body := e.httpGet(t, "/metrics", callerNone)
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(string(body))
		require.NotNil(t, m, "%s in:\n%s", name, body)
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		return v
	}
	require.Zero(t, gauge(`helpscout_log_sync_jobs{state="due"}`))
	require.Zero(t, gauge(`helpscout_log_sync_oldest_due_seconds`))

	for i := range 2 {
		e.gql(t, callerService, submitMutation, map[string]any{"in": map[string]any{"submissionId": fmt.Sprintf("queue-%d", i),
			"email": "queue@example.com", "subject": "s", "message": "m"}}).requireOK(t)
	}
	require.Equal(t, 2.0, gauge(`helpscout_log_sync_jobs{state="queued"}`))
	require.Equal(t, 2.0, gauge(`helpscout_log_sync_jobs{state="due"}`))
	require.Zero(t, gauge(`helpscout_log_sync_jobs{state="running"}`))
	require.Zero(t, gauge(`helpscout_log_sync_jobs{state="failed"}`))
	first := gauge(`helpscout_log_sync_oldest_due_seconds`)
	require.Positive(t, first)
	require.Eventually(t, func() bool { return gauge(`helpscout_log_sync_oldest_due_seconds`) > first }, 30*time.Second, 20*time.Millisecond,
		"the oldest due job's wait grows while no worker takes it")
}

// TestMetricsLabelsNotTakenByStrangers: callers without a valid token
// cannot use up the operation names the metrics keep apart, so that the
// operations of real callers keep their own series.
func TestMetricsLabelsNotTakenByStrangers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 250 {
		name := fmt.Sprintf("Junk%d", i)
		e.postGQL(t, callerNone, gqlRequest{Query: "query " + name + " { viewer { role } }"}, nil)
	}
	e.postGQL(t, callerManager, gqlRequest{Query: `query DailyFailedTickets { viewer { role } }`}, nil).requireOK(t)
	_, body := e.httpGet(t, "/metrics", callerNone)
	text := string(body)
	require.Contains(t, text, `helpscout_log_graphql_requests_total{operation="DailyFailedTickets",outcome="ok"} 1`)
	require.Contains(t, text, `helpscout_log_graphql_requests_total{operation="unauthenticated",outcome="partial"} 250`)
	require.NotContains(t, text, `operation="Junk`)
}

// TestMetricsNameOperationFromDocument: most hand-written requests (curl,
// scripts) name the operation in the document only and send no
// operationName. The metrics should still carry the operation's name.
func TestMetricsNameOperationFromDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.postGQL(t, callerManager, gqlRequest{Query: `query NamedInDocument { viewer { role } }`}, nil).requireOK(t)
	_, body := e.httpGet(t, "/metrics", callerNone)
	require.Contains(t, string(body), `helpscout_log_graphql_requests_total{operation="NamedInDocument",outcome="ok"} 1`)
}

// TestRequestID: every response carries an X-Request-Id, a fresh one per
// request unless the client sent its own.
func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gqlBody := `{"query":"{ viewer { role } }"}`
	cases := []struct {
		name, method, path, body, caller string
	}{
		{"healthz", http.MethodGet, "/healthz", "", callerNone},
		{"readyz", http.MethodGet, "/readyz", "", callerNone},
		{"metrics", http.MethodGet, "/metrics", "", callerNone},
		{"graphql POST", http.MethodPost, "/graphql", gqlBody, callerManager},
		{"graphql POST refused", http.MethodPost, "/graphql", gqlBody, callerNone},
		{"graphql POST bad JSON", http.MethodPost, "/graphql", "{", callerManager},
		{"graphql GET", http.MethodGet, "/graphql?query=%7Bviewer%7Brole%7D%7D", "", callerManager},
		{"graphql PUT", http.MethodPut, "/graphql", gqlBody, callerManager},
		{"export", http.MethodGet, "/export/sync-events.csv", "", callerManager},
		{"export refused", http.MethodGet, "/export/sync-events.csv", "", callerNone},
		{"export bad parameter", http.MethodGet, "/export/sync-events.csv?status=NOPE", "", callerManager},
		{"playground", http.MethodGet, "/", "", callerNone},
		{"unknown path", http.MethodGet, "/nope", "", callerNone},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, bytes.NewReader([]byte(tc.body)))
		require.NoError(t, err)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		e.authorize(t, req, tc.caller)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		require.NotEmpty(t, id, "%s: no X-Request-Id", tc.name)
		require.Less(t, resp.StatusCode, 500, tc.name)
		prev, dup := seen[id]
		require.False(t, dup, "%s reused the request id of %s", tc.name, prev)
		seen[id] = tc.name
	}

	// A client's own id is kept, so that logs can be correlated.
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "client-chosen-id-42")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "client-chosen-id-42", resp.Header.Get("X-Request-Id"))
}

// TestInternalErrorsAreNotBlamedOnTheClient: when the database fails, a
// field fails with INTERNAL and a message that only quotes the request id
// (README: "INTERNAL (logged with its cause; the message only quotes the
// request id)") — not with BAD_USER_INPUT and the driver's error text.
func TestInternalErrorsAreNotBlamedOnTheClient(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	e := newEnvOn(t, bdb)
	require.NoError(t, bdb.Close()) // every statement now fails

	fields := []struct{ name, query string }{
		{"syncEvents", `{ __typename syncEvents { totalCount } }`},
		{"summary", `{ __typename summary { total } }`},
		{"customer", `{ __typename customer(email: "someone@example.com") { email } }`},
		{"syncEvent", `{ __typename syncEvent(id: "1") { id } }`},
	}
	for _, fl := range fields {
		t.Run(fl.name, func(t *testing.T) {
			t.Parallel()
			resp := e.gql(t, callerManager, fl.query, nil)
			require.Equal(t, http.StatusOK, resp.Status)
			er := resp.singleError(t)
			require.Equal(t, "INTERNAL", er.code(), "body: %s", resp.Body)
			require.Equal(t, "internal error; quote request id "+resp.Header.Get("X-Request-Id")+" to support", er.Message)
			require.False(t, strings.Contains(string(resp.Body), "sql:"), "body leaks the driver error: %s", resp.Body)
			require.NotContains(t, string(resp.Body), "someone@example.com")
		})
	}
}

// TestUnreachableDatabase: while the database cannot be reached (down,
// restarting, closed to connections), requests fail with UNAVAILABLE and a
// message that says to try again, not INTERNAL, and neither the GraphQL
// answer nor the export's leaks the driver's error; once the database is
// back, the same requests succeed without a restart.
func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	dsn, bdb := dbtest.NewDSN(t)
	e := newEnvOn(t, bdb)
	const query = `{ __typename syncEvents(first: 1) { totalCount } }`
	require.Empty(t, e.gql(t, callerManager, query, nil).Errors)

	end := dbtest.Outage(t, dsn)
	resp := e.gql(t, callerManager, query, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	er := resp.singleError(t)
	require.Equal(t, "UNAVAILABLE", er.code(), "body: %s", resp.Body)
	require.Equal(t, "the database cannot be reached at the moment; try again shortly (request id "+resp.Header.Get("X-Request-Id")+")", er.Message)
	require.JSONEq(t, `{"__typename": "Query", "syncEvents": null}`, string(resp.Data))

	res, body := e.httpGet(t, "/export/sync-events.csv", callerManager)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "body: %s", body)
	var ex struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &ex), "body: %s", body)
	require.Equal(t, "UNAVAILABLE", ex.Error.Code)
	require.Contains(t, ex.Error.Message, "try again shortly")
	for _, b := range [][]byte{resp.Body, body} {
		require.NotRegexp(t, `(?i)fatal|sqlstate|pgdriver|hslog_test`, string(b))
	}

	end()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := e.gql(t, callerManager, query, nil)
		if len(resp.Errors) == 0 {
			break
		}
		require.Equal(t, "UNAVAILABLE", resp.singleError(t).code(), "body: %s", resp.Body)
		require.True(t, time.Now().Before(deadline), "the database did not come back: %s", resp.Body)
		time.Sleep(20 * time.Millisecond)
	}
}
