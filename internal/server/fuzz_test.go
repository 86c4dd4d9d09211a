package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

// fuzzOp is one request shape whose arguments come from the fuzzer: a and b
// are free text, n and m integers. build returns the GraphQL document and
// its variables.
type fuzzOp struct {
	name   string
	caller string
	build  func(a, b string, n, m int64) (string, map[string]any)
}

const fuzzEventFields = `id occurredAt type status direction customerEmail conversationId ticketNumber helpScoutUrl
	details errorCode errorMessage httpStatus durationMs attempt source sourceRef
	retryOf { id } retries { id } customer { email lastSyncStatus } conversation { id number subject }`

// fuzzOps are the operations FuzzGraphQLArguments sends, covering every
// argument a user types: search text, time zones, times, cursors, page
// sizes, enum values, ids, emails and windows.
var fuzzOps = []fuzzOp{
	{"search and zone", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		return `query($s: String, $z: String, $n: Int) { syncEvents(filter: {search: $s, timeZone: $z, within: TODAY}, first: $n) {
			totalCount liveCursor pageInfo { hasNextPage endCursor } nodes { ` + fuzzEventFields + ` } } }`,
			map[string]any{"s": a, "z": b, "n": n}
	}},
	{"time range", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		return `query($from: Time, $to: Time, $n: Int) { syncEvents(filter: {from: $from, to: $to}, last: $n) {
			totalCount pageInfo { hasPreviousPage startCursor } nodes { id occurredAt } } }`,
			map[string]any{"from": a, "to": b, "n": n}
	}},
	{"cursor forward", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		return `query($after: String, $n: Int, $dir: SortDirection!) { syncEvents(after: $after, first: $n, orderBy: {direction: $dir}) {
			pageInfo { hasNextPage endCursor } nodes { id } } }`,
			map[string]any{"after": a, "n": n, "dir": b}
	}},
	{"cursor backward", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		return `query($before: String, $n: Int, $t: [EventType!], $s: [EventStatus!]) { syncEvents(before: $before, last: $n, filter: {types: $t, statuses: $s}) {
			pageInfo { hasPreviousPage startCursor } nodes { id } } }`,
			map[string]any{"before": a, "n": n, "t": []string{b}, "s": []string{a}}
	}},
	{"summary range", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		bucket := "DAY"
		if n%2 == 0 {
			bucket = "HOUR"
		}
		return `query($from: Time, $to: Time, $b: TimeBucket) { summary(range: {from: $from, to: $to}, bucket: $b) {
			total successRate health byType { type total } byErrorCode { code count } timeline { start total } } }`,
			map[string]any{"from": a, "to": b, "b": bucket}
	}},
	{"summary zone and search", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		within := []string{"LAST_HOUR", "LAST_24_HOURS", "LAST_48_HOURS", "TODAY", "YESTERDAY", "LAST_7_DAYS", "LAST_30_DAYS"}
		return `query($z: String, $s: String, $w: RelativeRange) { summary(range: {within: $w, timeZone: $z}, filter: {search: $s}, bucket: DAY) {
			total failed apiCalls health timeline { start total } } }`,
			map[string]any{"z": a, "s": b, "w": within[uint64(n)%uint64(len(within))]}
	}},
	{"customer", callerManager, func(a, b string, n, m int64) (string, map[string]any) {
		return `query($e: String!, $n: Int, $after: String, $m: Int) { customer(email: $e) {
			email lastSyncStatus events(first: $n, after: $after) { totalCount nodes { id } } conversations(first: $m) { totalCount nodes { id } } } }`,
			map[string]any{"e": a, "after": b, "n": n, "m": m}
	}},
	{"customers", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		return `query($s: String, $n: Int, $after: String) { customers(filter: {search: $s}, first: $n, after: $after) {
			totalCount pageInfo { endCursor } nodes { email } } }`,
			map[string]any{"s": a, "after": b, "n": n}
	}},
	{"conversation", callerManager, func(a, b string, _, _ int64) (string, map[string]any) {
		return `query($id: ID, $number: String) { conversation(id: $id, number: $number) { id number helpScoutUrl events(first: 5) { nodes { id } } } }`,
			map[string]any{"id": a, "number": b}
	}},
	{"event", callerManager, func(a, _ string, _, _ int64) (string, map[string]any) {
		return `query($id: ID!) { syncEvent(id: $id) { ` + fuzzEventFields + ` } }`, map[string]any{"id": a}
	}},
	{"duplicates", callerManager, func(a, b string, n, m int64) (string, map[string]any) {
		return `query($from: Time, $to: Time, $w: Int, $n: Int) { duplicateTickets(range: {from: $from, to: $to}, windowMinutes: $w, first: $n) {
			reason events { id } } }`,
			map[string]any{"from": a, "to": b, "w": n, "n": m}
	}},
	{"missing ticket", callerManager, func(a, b string, n, _ int64) (string, map[string]any) {
		return `query($e: String!, $at: Time!, $w: Int) { missingTicketInvestigation(email: $e, at: $at, windowMinutes: $w) { verdict } }`,
			map[string]any{"e": a, "at": b, "w": n}
	}},
	{"api usage", callerManager, func(a, b string, _, _ int64) (string, map[string]any) {
		return `query($z: String, $b: UsageBucket) { apiUsage(range: {within: LAST_24_HOURS, timeZone: $z}, bucket: $b) { calls buckets { start calls } } }`,
			map[string]any{"z": a, "b": b}
	}},
	{"retry", callerAdmin, func(a, b string, _, _ int64) (string, map[string]any) {
		return `mutation($id: ID!, $email: String, $subject: String) { retrySync(id: $id, corrections: {email: $email, subject: $subject}) { id status retryOf { id } } }`,
			map[string]any{"id": a, "email": b, "subject": a}
	}},
	{"contact form", callerService, func(a, b string, n, _ int64) (string, map[string]any) {
		return `mutation($in: ContactFormInput!) { submitContactForm(input: $in) { duplicate event { id status sourceRef } } }`,
			map[string]any{"in": map[string]any{"submissionId": b, "email": a, "name": b, "subject": a, "message": b,
				"submittedAt": time.Unix(n%(1<<34), 0).UTC().Format(time.RFC3339)}}
	}},
	{"customer record", callerService, func(a, b string, _, _ int64) (string, map[string]any) {
		return `mutation($in: CustomerSyncInput!) { syncCustomer(input: $in) { duplicate event { id status } } }`,
			map[string]any{"in": map[string]any{"email": a, "firstName": b, "lastName": a, "phone": b, "background": a}}
	}},
	{"manual ticket", callerAdmin, func(a, b string, _, _ int64) (string, map[string]any) {
		return `mutation($in: ManualTicketInput!) { createTicket(input: $in) { duplicate event { id status } } }`,
			map[string]any{"in": map[string]any{"email": a, "subject": b, "message": a, "submissionId": b}}
	}},
}

// fuzzCodes are the error codes a request may meet on a healthy service.
// INTERNAL, UNAVAILABLE and TIMEOUT never answer what a user typed;
// FORBIDDEN answers a document that asks for more than the caller may see.
var fuzzCodes = []string{
	"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED",
	"COMPLEXITY_LIMIT_EXCEEDED", "TOO_MANY_ROOT_FIELDS", "PERSISTED_QUERY_NOT_FOUND", "FORBIDDEN",
}

// FuzzGraphQLArguments sends every operation of fuzzOps with arguments the
// fuzzer chooses to the whole handler over a seeded database, and the
// request body itself as raw bytes, and requires of each answer what the
// API promises for any input: never a status of 500 or above, a JSON body,
// no internals in it, and every error with a code that a user's input may
// cause. Under go test only the seeds below run; to search further:
//
//	go test -run '^$' -fuzz FuzzGraphQLArguments -fuzztime 5m ./internal/server/
func FuzzGraphQLArguments(f *testing.F) {
	bdb := dbtest.New(f)
	_, err := seed.Run(f.Context(), bdb, seed.Options{Events: 3000, Days: 3, Now: time.Now(), Seed: 13})
	require.NoError(f, err)
	e := newEnvOn(f, bdb)
	var id int64
	require.NoError(f, bdb.NewRaw(`SELECT max(id) FROM sync_events WHERE status = 'FAILED'`).Scan(f.Context(), &id))
	var email string
	require.NoError(f, bdb.NewRaw(`SELECT email FROM customers ORDER BY email LIMIT 1`).Scan(f.Context(), &email))
	now := time.Now().UTC()
	from, to := now.Add(-30*time.Hour).Format(time.RFC3339), now.Format(time.RFC3339Nano)
	ids := strconv.FormatInt(id, 10)

	seeds := []struct {
		a, b string
		n, m int64
	}{
		{email, "Europe/Berlin", 20, 5},
		{from, to, 500, 10},
		{to, from, 501, 0},
		{ids, "#" + ids, -1, 1 << 40},
		{"gmail", "DESC", 0, 3},
		{"", "ASC", 1, 1},
		{"eyJ0IjoxfQ", "failed", 3, 3},
		{"1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z", 60, 50},
		{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", 1 << 31, -(1 << 31)},
		{"a\x00b", "Mars/Olympus", 10, 10},
		{"%_\\'\"", "+99:00", 1440, 500},
		{"\xff\xfe", "Local", 10080, 1},
	}
	for i := range fuzzOps {
		for _, s := range seeds {
			f.Add(uint8(i), s.a, s.b, s.n, s.m)
		}
	}
	// Raw bodies: the op numbers past fuzzOps send a as the request body.
	for _, body := range []string{`{"query": "{ viewer { role } }"}`, `{"query": 1}`, `[]`, `{"query": "{ syncEvents(first: 2) { nodes { id } } }", "variables": []}`, ``} {
		f.Add(uint8(len(fuzzOps)), body, "", int64(0), int64(0))
	}

	client := e.srv.Client()
	f.Fuzz(func(t *testing.T, op uint8, a, b string, n, m int64) {
		var body []byte
		caller := callerManager
		name := "raw body"
		if int(op) < len(fuzzOps) {
			o := fuzzOps[op]
			name, caller = o.name, o.caller
			query, vars := o.build(a, b, n, m)
			var err error
			body, err = json.Marshal(map[string]any{"query": query, "variables": vars})
			require.NoError(t, err)
		} else {
			body = []byte(a)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		e.authorize(t, req, caller)
		status, _, got := do(t, client, req)
		requireAnswersInput(t, name, body, status, got)
	})
}

// FuzzExportQuery requests the CSV export with a query string the fuzzer
// chooses, and requires a CSV file or a JSON error a user's input may
// cause, never a status of 500 or above.
//
//	go test -run '^$' -fuzz FuzzExportQuery -fuzztime 5m ./internal/server/
func FuzzExportQuery(f *testing.F) {
	bdb := dbtest.New(f)
	_, err := seed.Run(f.Context(), bdb, seed.Options{Events: 1000, Days: 2, Now: time.Now(), Seed: 17})
	require.NoError(f, err)
	e := newEnvOn(f, bdb)
	now := time.Now().UTC()
	for _, q := range []string{
		"", "within=TODAY&timeZone=America/Chicago", "status=FAILED&type=TICKET_CREATED&within=LAST_24_HOURS",
		"from=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Format(time.RFC3339)),
		"from=2026-13-01&to=x", "search=%00", "search=gmail&errorCode=RATE_LIMITED,TIMEOUT", "source=MANUAL&status=", "within=today",
		"order=ASC&direction=TO_HELPSCOUT", "%zz", "type=&type=ERROR", "from=x&from=y",
	} {
		f.Add(q)
	}
	client := e.srv.Client()
	f.Fuzz(func(t *testing.T, query string) {
		skipUnsendable(t, query)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/export/sync-events.csv", nil)
		require.NoError(t, err)
		req.URL.RawQuery = query
		e.authorize(t, req, callerManager)
		status, header, got := do(t, client, req)
		if status == http.StatusOK {
			require.Equal(t, "text/csv; charset=utf-8", header.Get("Content-Type"), "query %q", query)
			return
		}
		require.Equal(t, http.StatusBadRequest, status, "query %q answered %s", query, got)
		var out struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(got, &out), "query %q answered %s", query, got)
		require.Equal(t, "BAD_USER_INPUT", out.Error.Code, "query %q answered %s", query, got)
		require.NotEmpty(t, out.Error.Message)
		requireNoLeak(t, got)
	})
}

// requireAnswersInput checks an answer of /graphql to a request that only
// a user's input shaped; extra are codes allowed besides fuzzCodes.
func requireAnswersInput(t *testing.T, name string, req []byte, status int, body []byte, extra ...string) {
	t.Helper()
	require.Less(t, status, 500, "%s: %s answered %d: %s", name, req, status, body)
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &out), "%s: %s answered %d: %s", name, req, status, body)
	require.True(t, len(out.Data) > 0 || len(out.Errors) > 0, "%s: %s answered neither data nor errors: %s", name, req, body)
	for _, er := range out.Errors {
		code, _ := er.Extensions["code"].(string)
		require.True(t, slices.Contains(fuzzCodes, code) || slices.Contains(extra, code), "%s: %s answered an error with code %q: %s", name, req, code, body)
		require.NotEmpty(t, er.Message)
	}
	requireNoLeak(t, body)
}

// FuzzGraphQLGet sends GET /graphql with a query string the fuzzer
// chooses, under each response type a client may accept, and requires of
// the answer what FuzzGraphQLArguments does; a mutation may also be
// refused with METHOD_NOT_ALLOWED.
//
//	go test -run '^$' -fuzz FuzzGraphQLGet -fuzztime 5m ./internal/server/
func FuzzGraphQLGet(f *testing.F) {
	e := newEnv(f)
	for _, q := range []string{
		"query=" + url.QueryEscape("{ viewer { role } }"),
		"query=" + url.QueryEscape("query($n: Int) { syncEvents(first: $n) { nodes { id } } }") + "&variables=" + url.QueryEscape(`{"n": 2}`),
		"query=" + url.QueryEscape("mutation { retrySync(id: 1) { id } }"),
		"query=" + url.QueryEscape("query A { viewer { role } } query B { viewer { subject } }") + "&operationName=B",
		"query=%7B&variables=%5B",
		"extensions=" + url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"abc"}}`),
		"query=" + url.QueryEscape("{ viewer { role } }") + "&query=x",
		"", "variables=null", "query=&operationName=",
	} {
		for accept := range uint8(4) {
			f.Add(q, accept)
		}
	}
	accepts := []string{"", "application/json", "application/graphql-response+json", "application/graphql-response+json;q=0.9, application/json;q=0.1"}
	client := e.srv.Client()
	f.Fuzz(func(t *testing.T, query string, accept uint8) {
		skipUnsendable(t, query)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/graphql", nil)
		require.NoError(t, err)
		req.URL.RawQuery = query
		if a := accepts[int(accept)%len(accepts)]; a != "" {
			req.Header.Set("Accept", a)
		}
		e.authorize(t, req, callerManager)
		status, _, got := do(t, client, req)
		requireAnswersInput(t, "GET", []byte(query), status, got, "METHOD_NOT_ALLOWED")
	})
}

// do sends req and returns the answer's status, headers and body.
func do(t *testing.T, client *http.Client, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// skipUnsendable skips a query string that no HTTP client sends: a request
// line carries printable ASCII only, and anything else is refused by the
// HTTP server before the service sees it.
func skipUnsendable(t *testing.T, query string) {
	if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
		t.Skip("not a query string an HTTP client sends")
	}
}
