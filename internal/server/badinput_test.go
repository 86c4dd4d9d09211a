package server_test

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cursors returns a real sync-event cursor and a real customer cursor.
func (f *fixture) cursors(t *testing.T) (event, customer string) {
	t.Helper()
	resp := f.gql(t, callerManager, `{ syncEvents(first: 3) { edges { cursor } } customers(first: 1) { edges { cursor } } }`, nil)
	resp.requireOK(t)
	var out struct {
		SyncEvents struct{ Edges []struct{ Cursor string } }
		Customers  struct{ Edges []struct{ Cursor string } }
	}
	resp.decode(t, &out)
	require.Len(t, out.SyncEvents.Edges, 3)
	require.Len(t, out.Customers.Edges, 1)
	return out.SyncEvents.Edges[1].Cursor, out.Customers.Edges[0].Cursor
}

// flipMiddle changes one character in the middle of a cursor (the last
// character may only carry padding bits).
func flipMiddle(c string) string {
	i := len(c) / 2
	b := []byte(c)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// withWrongChecksum decodes a cursor and re-encodes it with another checksum.
func withWrongChecksum(t *testing.T, c string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(c)
	require.NoError(t, err)
	parts := strings.Split(string(raw), "|")
	require.Len(t, parts, 4, "cursor layout changed: %q", raw)
	parts[3] = "000000000000"
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
}

// withOtherPosition decodes a cursor, moves its id and keeps its checksum.
func withOtherPosition(t *testing.T, c string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(c)
	require.NoError(t, err)
	parts := strings.Split(string(raw), "|")
	require.Len(t, parts, 4)
	parts[2] = "1" + parts[2]
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
}

// TestBadInput sends arguments the API must refuse with BAD_USER_INPUT
// naming the argument, never with a 500 or a stack trace.
func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	evCursor, custCursor := f.cursors(t)
	now := time.Now().UTC().Truncate(time.Second)
	events := `query($f: SyncEventFilter, $first: Int, $last: Int, $after: String, $before: String) {
  __typename
  syncEvents(filter: $f, first: $first, last: $last, after: $after, before: $before) { totalCount nodes { id } }
}`
	summary := `query($r: TimeRangeInput, $f: SyncEventFilter, $b: TimeBucket) { __typename summary(range: $r, filter: $f, bucket: $b) { total } }`
	conversation := `query($id: ID, $n: String) { __typename conversation(id: $id, number: $n) { id } }`
	long := strings.Repeat("a", 201)

	cases := []struct {
		name  string
		query string
		vars  map[string]any
		// argument is the expected extensions.argument, "" when absent;
		// a leading "-" marks a value written in the document, refused
		// before execution.
		argument string
		// field is the root field that must be null; empty for documents
		// refused before execution.
		field string
	}{
		{"from after to", events, map[string]any{"f": map[string]any{"from": ts(now), "to": ts(now.Add(-time.Hour))}}, "filter.from", "syncEvents"},
		{"from equal to", events, map[string]any{"f": map[string]any{"from": ts(now), "to": ts(now)}}, "filter.from", "syncEvents"},
		{"range over 366 days", events, map[string]any{"f": map[string]any{"from": ts(now.AddDate(0, 0, -367)), "to": ts(now)}}, "filter.to", "syncEvents"},
		{"within and from", events, map[string]any{"f": map[string]any{"within": "TODAY", "from": ts(now.Add(-time.Hour))}}, "filter.within", "syncEvents"},
		{"unknown time zone", events, map[string]any{"f": map[string]any{"within": "TODAY", "timeZone": "CET+1"}}, "filter.timeZone", "syncEvents"},
		{"first 501", events, map[string]any{"first": 501}, "first", "syncEvents"},
		{"last 501", events, map[string]any{"last": 501}, "last", "syncEvents"},
		{"first and last", events, map[string]any{"first": 5, "last": 5}, "last", "syncEvents"},
		{"negative first", events, map[string]any{"first": -1}, "first", "syncEvents"},
		{"negative last", events, map[string]any{"last": -3}, "last", "syncEvents"},
		{"malformed after", events, map[string]any{"after": "not a cursor!"}, "after", "syncEvents"},
		{"malformed before", events, map[string]any{"before": "Zm9vYmFy"}, "before", "syncEvents"},
		{"tampered cursor", events, map[string]any{"after": flipMiddle(evCursor)}, "after", "syncEvents"},
		{"wrong checksum", events, map[string]any{"after": withWrongChecksum(t, evCursor)}, "after", "syncEvents"},
		{"moved position, old checksum", events, map[string]any{"before": withOtherPosition(t, evCursor)}, "before", "syncEvents"},
		{"customers cursor into syncEvents", events, map[string]any{"after": custCursor}, "after", "syncEvents"},
		{"events cursor into customers", `query($a: String) { __typename customers(after: $a) { totalCount } }`,
			map[string]any{"a": evCursor}, "after", "customers"},
		{"unknown enum literal", `{ __typename syncEvents(filter: {types: [TICKET_EXPLODED]}) { totalCount } }`, nil, "-filter.types[0]", ""},
		{"unknown enum literal in a fragment", `query { ...F } fragment F on Query { syncEvents(orderBy: {direction: UP}) { totalCount } }`, nil, "-orderBy.direction", ""},
		{"wrong kind of literal", `{ __typename syncEvents(first: "ten") { totalCount } }`, nil, "-first", ""},
		{"unknown enum variable", events, map[string]any{"f": map[string]any{"types": []string{"TICKET_EXPLODED"}}}, "$f.types[0]", ""},
		{"unknown relative range variable", events, map[string]any{"f": map[string]any{"within": "LAST_CENTURY"}}, "$f.within", ""},
		// The validator takes enum values in any case; the service does not.
		{"lower-case enum variable", events, map[string]any{"f": map[string]any{"types": []string{"TICKET_CREATED", "ticket_created"}}}, "$f.types[1]", ""},
		{"lower-case sort direction", `query($o: SyncEventOrder) { __typename syncEvents(orderBy: $o) { totalCount } }`,
			map[string]any{"o": map[string]any{"direction": "asc"}}, "$o.direction", ""},
		{"lower-case bucket", summary, map[string]any{"b": "day"}, "$b", ""},
		{"NUL in a search variable", events, map[string]any{"f": map[string]any{"search": "a\x00b"}}, "$f.search", ""},
		{"NUL in an email variable", `query($e: String!) { __typename customer(email: $e) { email } }`, map[string]any{"e": "\x00"}, "$e", ""},
		{"first far over the cap", events, map[string]any{"first": 50000}, "first", "syncEvents"},
		{"year 0", events, map[string]any{"f": map[string]any{"from": "0000-01-01T00:00:00Z", "to": "0000-02-01T00:00:00Z"}}, "$f.from", ""},
		{"year 1 in a zone", events, map[string]any{"f": map[string]any{"from": "0001-01-01T00:00:00+01:00"}}, "$f.from", ""},
		{"year 10000 in UTC", summary, map[string]any{"r": map[string]any{"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:00:00-05:00"}}, "$r.from", ""},
		{"summary range from in the future", summary, map[string]any{"r": map[string]any{"from": ts(now.Add(time.Hour))}}, "range.from", "summary"},
		// A Time is a custom scalar, which the validator takes as any value:
		// it is coerced before the operation runs, so a time that does not
		// parse is refused like any variable or value that does not coerce.
		{"malformed time variable", events, map[string]any{"f": map[string]any{"from": "yesterday"}}, "$f.from", ""},
		{"date that does not exist", events, map[string]any{"f": map[string]any{"from": "2026-02-30"}}, "$f.from", ""},
		{"date with a time but no zone", events, map[string]any{"f": map[string]any{"from": "2026-02-03T10:00"}}, "$f.from", ""},
		{"malformed time literal", `{ __typename syncEvents(filter: {from: "yesterday"}) { totalCount } }`, nil, "-filter.from", ""},
		{"malformed time literal in a list of fields", `{ __typename summary(range: {from: "2026-02-30T00:00:00Z"}) { total } }`, nil, "-range.from", ""},
		{"string for an Int variable", events, map[string]any{"first": "ten"}, "$first", ""},
		{"fraction for an Int variable", events, map[string]any{"first": 2.5}, "$first", ""},
		{"missing required variable", `query($e: String!) { __typename customer(email: $e) { email } }`, nil, "$e", ""},
		{"search of 201 characters", events, map[string]any{"f": map[string]any{"search": long}}, "filter.search", "syncEvents"},
		{"customers search of 201 characters", `query($s: String) { __typename customers(filter: {search: $s}) { totalCount } }`,
			map[string]any{"s": long}, "filter.search", "customers"},
		{"customers whose latest finished sync is pending", `{ __typename customers(filter: {lastSyncStatus: PENDING}) { totalCount } }`,
			nil, "filter.lastSyncStatus", "customers"},
		{"conversation with id and number", conversation, map[string]any{"id": "3100001", "n": "1001"}, "id", "conversation"},
		{"conversation with neither", conversation, nil, "id", "conversation"},
		{"conversation number not a number", conversation, map[string]any{"n": "#abc"}, "number", "conversation"},
		{"conversation id not a number", conversation, map[string]any{"id": "abc"}, "id", "conversation"},
		{"summary with range and filter range", summary, map[string]any{
			"r": map[string]any{"within": "LAST_24_HOURS"}, "f": map[string]any{"within": "TODAY"}}, "range", "summary"},
		{"summary with range and filter from", summary, map[string]any{
			"r": map[string]any{"from": ts(now.Add(-time.Hour))}, "f": map[string]any{"from": ts(now.Add(-2 * time.Hour))}}, "range", "summary"},
		{"summary with an unknown time zone", summary, map[string]any{"r": map[string]any{"within": "TODAY", "timeZone": "America/Gotham"}}, "range.timeZone", "summary"},
		{"summary with two time zones", summary, map[string]any{
			"r": map[string]any{"within": "TODAY", "timeZone": "Europe/Berlin"}, "f": map[string]any{"timeZone": "Europe/Paris"}}, "range.timeZone", "summary"},
		{"summary range without from", summary, map[string]any{"r": map[string]any{"to": ts(now)}}, "range.from", "summary"},
		{"summary range over 366 days", summary, map[string]any{"r": map[string]any{"from": ts(now.AddDate(-1, 0, -2)), "to": ts(now)}}, "range.to", "summary"},
		{"summary range open-ended over 366 days", summary, map[string]any{"r": map[string]any{"from": ts(now.AddDate(-1, 0, -2))}}, "range", "summary"},
		{"hourly buckets over 31 days", summary, map[string]any{"r": map[string]any{"from": ts(now.AddDate(0, 0, -40)), "to": ts(now)}, "b": "HOUR"}, "bucket", "summary"},
		{"syncEvent id not numeric", `{ __typename syncEvent(id: "12abc") { id } }`, nil, "id", "syncEvent"},
		{"syncEvent id negative", `{ __typename syncEvent(id: "-4") { id } }`, nil, "id", "syncEvent"},
		{"customer email empty", `{ __typename customer(email: "  ") { email } }`, nil, "email", "customer"},
		{"customer email too long", `query($e: String!) { __typename customer(email: $e) { email } }`,
			map[string]any{"e": strings.Repeat("x", 250) + "@a.io"}, "email", "customer"},
		{"nested page argument", `{ __typename customer(email: "alice@example.com") { events(first: 501) { totalCount } } }`, nil, "first", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerManager, tc.query, tc.vars)
			require.NotEqual(t, http.StatusInternalServerError, resp.Status)
			require.Less(t, resp.Status, 500, "body: %s", resp.Body)
			require.NotEmpty(t, resp.Errors, "body: %s", resp.Body)
			e := resp.Errors[0]
			require.Equal(t, "BAD_USER_INPUT", e.code(), "body: %s", resp.Body)
			switch {
			case tc.argument == "":
				require.Empty(t, e.argument())
				require.Equal(t, []any{"syncEvents", "filter", "from"}, e.Path)
				require.Equal(t, "null", string(resp.dataMap(t)[tc.field]))
				return
			case strings.HasPrefix(tc.argument, "-"):
				// A value written in the document, refused by validation:
				// the argument holding it is named.
				arg := strings.TrimPrefix(tc.argument, "-")
				require.Equal(t, arg, e.argument(), "body: %s", resp.Body)
				require.True(t, strings.HasPrefix(e.Message, arg+": "), "message: %s", e.Message)
			default:
				require.Equal(t, tc.argument, e.argument(), "body: %s", resp.Body)
			}
			if strings.HasPrefix(tc.argument, "$") || strings.HasPrefix(tc.argument, "-") {
				// Refused before execution: no data at all. With
				// application/json the status is 200, as for a field error.
				require.Contains(t, []string{"", "null"}, string(resp.Data), "body: %s", resp.Body)
				require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
				require.Contains(t, e.Message, strings.TrimPrefix(tc.argument, "-"), "the message names the argument")
				return
			}
			require.Contains(t, e.Message, tc.argument, "the message names the argument")
			require.Equal(t, http.StatusOK, resp.Status)
			if tc.field != "" {
				data := resp.dataMap(t)
				require.Equal(t, "null", string(data[tc.field]), "body: %s", resp.Body)
				require.JSONEq(t, `"Query"`, string(data["__typename"]))
				require.Equal(t, tc.field, e.Path[0], "the error points at the field (and, for a coercion error, into its argument)")
			}
		})
	}

	// The limits themselves are allowed.
	ok := []struct {
		name string
		vars map[string]any
	}{
		{"first 500", map[string]any{"first": 500}},
		{"last 500", map[string]any{"last": 500}},
		{"first 0", map[string]any{"first": 0}},
		{"search of 200 characters", map[string]any{"f": map[string]any{"search": strings.Repeat("é", 200)}}},
		{"range of exactly 366 days", map[string]any{"f": map[string]any{"from": ts(now.AddDate(0, 0, -366)), "to": ts(now)}}},
		{"real cursor", map[string]any{"after": evCursor}},
	}
	for _, tc := range ok {
		t.Run("allowed/"+tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerManager, `query($f: SyncEventFilter, $first: Int, $last: Int, $after: String) {
  syncEvents(filter: $f, first: $first, last: $last, after: $after) { totalCount nodes { id } }
}`, tc.vars)
			resp.requireOK(t)
		})
	}
}

// TestSameDateRange: one date given as both ends of a range is refused,
// naming from, and the message says which dates cover that whole day.
func TestSameDateRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name, query, argument, field string
		vars                         map[string]any
	}{
		{"list", `query($f: SyncEventFilter) { syncEvents(filter: $f) { totalCount } }`, "filter.from", "syncEvents",
			map[string]any{"f": map[string]any{"from": "2026-11-20", "to": "2026-11-20"}}},
		{"summary", `query($r: TimeRangeInput) { summary(range: $r) { total } }`, "range.from", "summary",
			map[string]any{"r": map[string]any{"from": "2026-11-20", "to": "2026-11-20T00:00:00Z"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerManager, tc.query, tc.vars)
			require.Len(t, resp.Errors, 1, "body: %s", resp.Body)
			e := resp.Errors[0]
			require.Equal(t, "BAD_USER_INPUT", e.code())
			require.Equal(t, tc.argument, e.argument())
			require.Contains(t, e.Message, "for the whole day, give from 2026-11-20 and to 2026-11-21", "message: %s", e.Message)
			require.Equal(t, "null", string(resp.dataMap(t)[tc.field]))
		})
	}
}

// TestRefusedBeforeRunning: requests refused before any field runs answer
// with no data, 400 for application/graphql-response+json (200 for
// application/json, save a request with no query), BAD_USER_INPUT and the
// argument at fault.
func TestRefusedBeforeRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name     string
		body     gqlRequest
		argument string
		message  string
		status   int // for application/json; 0: 200
	}{
		{name: "NUL in a string literal", body: gqlRequest{Query: `{ customer(email: "a\u0000b@example.com") { email } }`},
			argument: "email", message: "NUL"},
		{name: "NUL in a nested literal", body: gqlRequest{Query: `{ syncEvents(filter: {search: "x\u0000"}) { totalCount } }`},
			argument: "filter.search", message: "NUL"},
		{name: "NUL in a literal inside a fragment", body: gqlRequest{Query: `{ ...F } fragment F on Query { customer(email: "\u0000") { email } }`},
			argument: "email", message: "NUL"},
		{name: "two operations, none named", body: gqlRequest{Query: `query A { viewer { role } } query B { viewer { subject } }`},
			argument: "operationName", message: "2 operations (A, B)"},
		{name: "an operation name the document lacks", body: gqlRequest{Query: `query A { viewer { role } }`, OperationName: "C"},
			argument: "operationName", message: `"C"`},
		{name: "no query at all", body: gqlRequest{}, message: "no query", status: http.StatusBadRequest},
		{name: "a lower-case enum in a variable", body: gqlRequest{Query: `query($s: [EventStatus!]) { syncEvents(filter: {statuses: $s}) { totalCount } }`,
			Variables: map[string]any{"s": []string{"failed"}}}, argument: "$s[0]", message: "did you mean FAILED?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, accept := range []string{"application/json", "application/graphql-response+json"} {
				resp := e.postGQL(t, callerManager, tc.body, map[string]string{"Accept": accept})
				want := http.StatusBadRequest
				if accept == "application/json" {
					want = cmp.Or(tc.status, http.StatusOK)
				}
				require.Equal(t, want, resp.Status, "Accept %s, body: %s", accept, resp.Body)
				require.Contains(t, []string{"", "null"}, string(resp.Data), "body: %s", resp.Body)
				er := resp.singleError(t)
				require.Equal(t, "BAD_USER_INPUT", er.code(), "body: %s", resp.Body)
				require.Equal(t, tc.argument, er.argument(), "body: %s", resp.Body)
				require.Contains(t, er.Message, tc.message)
			}
		})
	}
}

// TestLongInputsAreNotEchoed: a refusal quotes the start of a long value,
// not all of it.
func TestLongInputsAreNotEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	huge := strings.Repeat("a", 100_000)
	for name, q := range map[string]string{
		"event id":            `query($v: ID!) { syncEvent(id: $v) { id } }`,
		"conversation number": `query($v: String) { conversation(number: $v) { id } }`,
		"time":                `query($v: Time) { syncEvents(filter: {from: $v}) { totalCount } }`,
		"operation name":      "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := gqlRequest{Query: q, Variables: map[string]any{"v": huge}}
			if q == "" {
				body = gqlRequest{Query: `query A { viewer { role } }`, OperationName: huge}
			}
			resp := e.postGQL(t, callerManager, body, nil)
			require.Less(t, resp.Status, 500)
			er := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", er.code(), "body: %.300s", resp.Body)
			require.Contains(t, er.Message, "100000 characters")
			require.Less(t, len(resp.Body), 2000, "body: %.300s", resp.Body)
		})
	}
}
