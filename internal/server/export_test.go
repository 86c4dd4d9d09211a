package server_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

var csvHeader = []string{"Timestamp", "Event ID", "Event Type", "Status", "Direction", "Customer Email",
	"HelpScout Conversation ID", "Ticket Number", "HelpScout URL", "Error Code", "Error Message",
	"HTTP Status", "Duration ms", "Attempt", "Retry Of", "Source", "Source Ref", "Actor", "Details"}

// spreadsheetSafe is what a cell must look like: text a spreadsheet would
// run as a formula gets a leading quote.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

func optStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func optInt64(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

func optInt(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// exportCSV downloads the export with the given query parameters.
func (f *fixture) exportCSV(t *testing.T, caller string, q url.Values) (*http.Response, []byte) {
	t.Helper()
	return f.httpGet(t, "/export/sync-events.csv?"+q.Encode(), caller)
}

// exportError decodes the JSON error body of a refused export.
func exportError(t *testing.T, body []byte) (code, argument, message string) {
	t.Helper()
	var out struct {
		Error struct{ Code, Argument, Message string }
	}
	require.NoError(t, json.Unmarshal(body, &out), "body: %s", body)
	requireNoLeak(t, body)
	return out.Error.Code, out.Error.Argument, out.Error.Message
}

// TestCSVExport compares exported rows with the reference filter, cell by
// cell, for several filters.
func TestCSVExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	from48, to48 := f.within("LAST_48_HOURS")
	todayFrom, todayTo := f.within("TODAY")
	yFrom, yTo := f.within("YESTERDAY")
	exFrom, exTo := f.now.Add(-50*time.Hour-7*time.Minute), f.now.Add(-6*time.Hour-41*time.Minute)

	cases := []struct {
		name    string
		q       url.Values
		ref     ref
		asc     bool
		atLeast int
	}{
		{"everything", url.Values{}, ref{}, false, 200},
		{"failed, last 48 hours", url.Values{"status": {"FAILED"}, "within": {"LAST_48_HOURS"}},
			ref{statuses: []db.EventStatus{db.StatusFailed}, from: &from48, to: &to48}, false, 5},
		{"daily failed tickets, lower case values", url.Values{"status": {"failed"}, "type": {"ticket_created"}, "within": {"today"}},
			ref{statuses: []db.EventStatus{db.StatusFailed}, types: []db.EventType{db.EventTicketCreated}, from: &todayFrom, to: &todayTo}, false, f.todayFailedTC},
		{"repeated and comma-separated", url.Values{"type": {"TICKET_CREATED,CUSTOMER_SYNCED"}, "status": {"FAILED", "PENDING"}},
			ref{types: []db.EventType{db.EventTicketCreated, db.EventCustomerSynced}, statuses: []db.EventStatus{db.StatusFailed, db.StatusPending}}, false, 3},
		{"search email", url.Values{"search": {"Alice@Example.com"}}, ref{search: ptr("alice@example.com")}, false, 2},
		{"search ticket number", url.Values{"search": {"#1003"}}, ref{search: ptr("#1003")}, false, 1},
		{"exact range, oldest first", url.Values{"from": {ts(exFrom)}, "to": {ts(exTo)}, "order": {"asc"}},
			ref{from: &exFrom, to: &exTo}, true, 50},
		{"yesterday by dates", url.Values{"from": {yFrom.UTC().Format("2006-01-02")}, "to": {yTo.UTC().Format("2006-01-02")}},
			ref{from: &yFrom, to: &yTo}, false, 10},
		{"direction and error codes", url.Values{"direction": {"TO_HELPSCOUT"}, "errorCode": {"RATE_LIMITED,TIMEOUT", "UNKNOWN"}},
			ref{directions: []db.Direction{db.DirectionToHelpScout}, codes: []db.ErrorCode{db.CodeRateLimited, db.CodeTimeout, db.CodeUnknown}}, false, 2},
		{"sources", url.Values{"source": {"MANUAL,WEBHOOK"}}, ref{sources: []db.EventSource{db.SourceManual, db.SourceWebhook}}, false, 1},
		{"formula-looking customers", url.Values{"search": {"evil.test"}}, ref{search: ptr("evil.test")}, false, 4},
		{"nothing", url.Values{"search": {"nobody@nowhere.test"}}, ref{search: ptr("nobody@nowhere.test")}, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := f.exportCSV(t, callerManager, tc.q)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Regexp(t, `^attachment; filename="sync-events-\d{8}-\d{6}\.csv"$`, resp.Header.Get("Content-Disposition"))
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

			rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
			require.NoError(t, err)
			require.NotEmpty(t, rows)
			require.Equal(t, csvHeader, rows[0])

			want := f.expect(tc.ref, !tc.asc)
			require.GreaterOrEqual(t, len(want), tc.atLeast, "fixture too thin")
			require.Len(t, rows, len(want)+1)
			for i, id := range want {
				e := f.byID[id]
				row := rows[i+1]
				exp := []string{
					e.OccurredAt.UTC().Format(time.RFC3339Nano), idStr(e.ID), string(e.Type), string(e.Status),
					string(e.Direction), spreadsheetSafe(optStr(e.CustomerEmail)), optInt64(e.ConversationID),
					optInt64(e.TicketNumber), optStr(e.HelpScoutURL()), optStr((*string)(e.ErrorCode)),
					spreadsheetSafe(optStr(e.ErrorMessage)), optInt(e.HTTPStatus), optInt(e.DurationMs),
					strconv.Itoa(e.Attempt), optInt64(e.RetryOfID), string(e.Source), optStr(e.SourceRef), optStr(e.Actor),
				}
				require.Equal(t, exp, row[:18], "row %d (event %d)", i+1, id)
				if len(e.Details) > 0 {
					var got map[string]any
					require.NoError(t, json.Unmarshal([]byte(row[18]), &got), "details %q", row[18])
					wantJSON, _ := json.Marshal(e.Details)
					require.JSONEq(t, string(wantJSON), row[18])
				} else {
					require.Empty(t, row[18])
				}
			}
		})
	}
}

// TestCSVExportFormulaCells checks that every formula-looking customer
// email and error message is exported with a leading quote.
func TestCSVExportFormulaCells(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, body := f.exportCSV(t, callerManager, url.Values{})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		for _, col := range []int{5, 10} {
			cell := row[col]
			require.False(t, cell != "" && strings.ContainsRune("=+-@", rune(cell[0])), "cell %q would run as a formula", cell)
			if strings.HasPrefix(cell, "'") {
				seen[cell[:2]] = true
			}
		}
	}
	for _, p := range []string{"'=", "'+", "'-", "'@"} {
		require.True(t, seen[p], "no exported cell starts with %s", p)
	}
	require.Contains(t, string(body), ",'=cmd@evil.test,")
}

// TestCSVExportAccess checks who may export and how the token is passed.
func TestCSVExportAccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name   string
		caller string
		query  string
		status int
		code   string
	}{
		{"no token", callerNone, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"invalid token", callerInvalid, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"expired token", callerExpired, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"wrong secret", callerWrongSecret, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"alg none", callerAlgNone, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"unknown role", callerUnknownRole, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"basic scheme", callerBasic, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"lower-case bearer", callerLowerBearer, "", http.StatusOK, ""},
		{"service", callerService, "", http.StatusForbidden, "FORBIDDEN"},
		{"manager", callerManager, "", http.StatusOK, ""},
		{"administrator", callerAdmin, "", http.StatusOK, ""},
		{"kiva admin", callerKivaAdmin, "", http.StatusOK, ""},
		{"access_token parameter", callerNone, "access_token=" + f.tokens[callerManager], http.StatusOK, ""},
		{"access_token of a service", callerNone, "access_token=" + f.tokens[callerService], http.StatusForbidden, "FORBIDDEN"},
		{"invalid access_token", callerNone, "access_token=garbage", http.StatusUnauthorized, "UNAUTHENTICATED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := f.httpGet(t, "/export/sync-events.csv?status=FAILED&"+tc.query, tc.caller)
			require.Equal(t, tc.status, resp.StatusCode, "body: %s", body)
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			if tc.code == "" {
				require.True(t, strings.HasPrefix(string(body), strings.Join(csvHeader, ",")+"\n"), "body: %.200s", body)
				return
			}
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			code, _, msg := exportError(t, body)
			require.Equal(t, tc.code, code)
			require.NotEmpty(t, msg)
		})
	}
}

// TestCSVExportBadParameters refuses bad filters with 400 and
// BAD_USER_INPUT before writing any CSV.
func TestCSVExportBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC()
	cases := []struct {
		name     string
		q        url.Values
		argument string // the parameter the error names, or "" when not checked
	}{
		{"unknown status", url.Values{"status": {"BOGUS"}}, "status"},
		{"unknown type in a list", url.Values{"type": {"TICKET_CREATED,NOPE"}}, "type"},
		{"unknown direction", url.Values{"direction": {"SIDEWAYS"}}, "direction"},
		{"unknown error code", url.Values{"errorCode": {"OOPS"}}, "errorCode"},
		{"unknown source", url.Values{"source": {"FAX"}}, "source"},
		{"malformed from", url.Values{"from": {"yesterday"}}, "from"},
		{"malformed to", url.Values{"to": {"2026-13-01"}}, "to"},
		{"unknown within", url.Values{"within": {"LAST_YEAR"}}, "within"},
		{"unknown order", url.Values{"order": {"sideways"}}, "order"},
		{"from after to", url.Values{"from": {ts(now)}, "to": {ts(now.Add(-time.Hour))}}, ""},
		{"range over 366 days", url.Values{"from": {ts(now.AddDate(-2, 0, 0))}, "to": {ts(now)}}, ""},
		{"within and from", url.Values{"within": {"TODAY"}, "from": {ts(now.Add(-time.Hour))}}, ""},
		{"search of 201 characters", url.Values{"search": {strings.Repeat("x", 201)}}, ""},
		{"the GraphQL filter's name", url.Values{"statuses": {"FAILED"}}, "statuses"},
		{"a misspelt parameter", url.Values{"type": {"TICKET_CREATED"}, "stauts": {"FAILED"}}, "stauts"},
		{"search holding NUL", url.Values{"search": {"a\x00b"}}, "search"},
		{"from given twice", url.Values{"from": {ts(now.Add(-time.Hour)), ts(now.Add(-48 * time.Hour))}}, "from"},
		{"search given twice", url.Values{"search": {"alice", "bob"}}, "search"},
		{"order given twice", url.Values{"order": {"asc", "desc"}}, "order"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := f.exportCSV(t, callerManager, tc.q)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", body)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			code, arg, msg := exportError(t, body)
			require.Equal(t, "BAD_USER_INPUT", code)
			require.NotEmpty(t, arg)
			require.NotEmpty(t, msg)
			if tc.argument != "" {
				require.Equal(t, tc.argument, arg)
			}
		})
	}
}

// TestCSVExportErrorNamesQueryParameter: the export's filter errors should
// name the query parameter the client sent. Errors found after parsing
// (range and search checks) name GraphQL arguments ("filter.from") that
// the CSV endpoint does not have.
func TestCSVExportErrorNamesQueryParameter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC()
	cases := []struct {
		name     string
		q        url.Values
		argument string
	}{
		{"from after to", url.Values{"from": {ts(now)}, "to": {ts(now.Add(-time.Hour))}}, "from"},
		{"range over 366 days", url.Values{"from": {ts(now.AddDate(-2, 0, 0))}, "to": {ts(now)}}, "to"},
		{"within and from", url.Values{"within": {"TODAY"}, "from": {ts(now.Add(-time.Hour))}}, "within"},
		{"search of 201 characters", url.Values{"search": {strings.Repeat("x", 201)}}, "search"},
		{"unknown time zone", url.Values{"within": {"TODAY"}, "timeZone": {"Europe/Atlantis"}}, "timeZone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := f.exportCSV(t, callerManager, tc.q)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			_, arg, _ := exportError(t, body)
			require.Equal(t, tc.argument, arg, "the CSV endpoint has no %q parameter", arg)
		})
	}
}

// TestCSVExportUnknownParameter: a parameter the export does not take is
// refused, not ignored (ignoring a misspelt filter would export rows the
// caller meant to leave out), and the message says what to send instead.
func TestCSVExportUnknownParameter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		q        url.Values
		argument string
		message  string
	}{
		{url.Values{"types": {"TICKET_CREATED"}}, "types", "types: not a parameter of the export: use type (repeatable or comma-separated)"},
		{url.Values{"errorCodes": {"RATE_LIMITED"}}, "errorCodes", "errorCodes: not a parameter of the export: use errorCode (repeatable or comma-separated)"},
		{url.Values{"limit": {"5"}}, "limit", "limit: not a parameter of the export, which takes from, to, within, timeZone, type, status, direction, errorCode, source, search, order"},
	}
	for _, tc := range cases {
		t.Run(tc.argument, func(t *testing.T) {
			t.Parallel()
			resp, body := f.exportCSV(t, callerManager, tc.q)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", body)
			code, arg, msg := exportError(t, body)
			require.Equal(t, "BAD_USER_INPUT", code)
			require.Equal(t, tc.argument, arg)
			require.Equal(t, tc.message, msg)
		})
	}
}

// TestAccessTokenOnlyForDownloads checks that the access_token parameter,
// which download links of the CSV export need, authenticates nothing
// else: a token in the URL of a GraphQL request or of a WebSocket upgrade
// ends up in proxy logs and browser histories, so they take it from the
// Authorization header or connection_init only.
func TestAccessTokenOnlyForDownloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.tokens[callerKivaAdmin]

	resp := e.getGQL(t, callerNone, url.Values{"query": {"{ viewer { role } }"}, "access_token": {tok}})
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.JSONEq(t, `{"viewer": null}`, string(resp.Data), "body: %s", resp.Body)
	require.Equal(t, "UNAUTHENTICATED", resp.singleError(t).code())

	ctx := t.Context()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql?access_token=" + url.QueryEscape(tok)
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer conn.CloseNow()
	read := func() map[string]any {
		_, data, err := conn.Read(ctx)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		return m
	}
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)))
	require.Equal(t, "connection_ack", read()["type"])
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":"1","payload":{"query":"subscription { summary(window: LAST_HOUR) { total } }"}}`)))
	var m map[string]any
	for m = read(); m["type"] == "ping" || m["type"] == "pong"; m = read() {
	}
	b, _ := json.Marshal(m)
	require.Contains(t, string(b), `"UNAUTHENTICATED"`, "message: %s", b)

	// The download link itself still works.
	dl, body := e.httpGet(t, "/export/sync-events.csv?access_token="+url.QueryEscape(e.tokens[callerManager]), callerNone)
	require.Equal(t, http.StatusOK, dl.StatusCode, "body: %s", body)
}

// TestCSVExportOutlastsTheWriteTimeout: an export that takes longer than
// the server's write timeout still arrives whole, since each flush moves
// the connection's write deadline.
func TestCSVExportOutlastsTheWriteTimeout(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	const events = 40000
	_, err := seed.Run(t.Context(), bdb, seed.Options{Events: events, Days: 2, Now: time.Now(), Seed: 5})
	require.NoError(t, err)
	issuer := auth.NewIssuer(testSecret)
	srv := httptest.NewUnstartedServer(app.Handler(bdb, &config.Config{ComplexityLimit: 5000, LogLevel: zerolog.Disabled}, issuer, zerolog.Nop(), nil))
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	tok, err := issuer.Issue("exporter", auth.RoleManager, time.Hour)
	require.NoError(t, err)

	start := time.Now()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/export/sync-events.csv", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err, "the download was cut off")
	require.Greater(t, time.Since(start), srv.Config.WriteTimeout, "the export took longer than the write timeout")
	require.Len(t, rows, events+1)
	require.NotContains(t, strings.Join(rows[len(rows)-1], ","), "# export incomplete")
}
