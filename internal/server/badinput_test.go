package server_test

import (
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
		// argument is the expected extensions.argument; "-" means not
		// checked, "" means absent.
		argument string
		// field is the root field that must be null; empty for documents
		// refused before execution.
		field string
	}{
		{"from after to", events, map[string]any{"f": map[string]any{"from": ts(now), "to": ts(now.Add(-time.Hour))}}, "filter.from", "syncEvents"},
		{"from equal to", events, map[string]any{"f": map[string]any{"from": ts(now), "to": ts(now)}}, "filter.from", "syncEvents"},
		{"range over 366 days", events, map[string]any{"f": map[string]any{"from": ts(now.AddDate(0, 0, -367)), "to": ts(now)}}, "filter.to", "syncEvents"},
		{"within and from", events, map[string]any{"f": map[string]any{"within": "TODAY", "from": ts(now.Add(-time.Hour))}}, "filter.within", "syncEvents"},
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
		// The README promises extensions.argument for an unknown enum
		// value; for a literal gqlparser's error carries no argument name,
		// so only the code is checked here (see the report).
		{"unknown enum literal", `{ __typename syncEvents(filter: {types: [TICKET_EXPLODED]}) { totalCount } }`, nil, "-", ""},
		{"unknown enum variable", events, map[string]any{"f": map[string]any{"types": []string{"TICKET_EXPLODED"}}}, "$f", ""},
		{"unknown relative range variable", events, map[string]any{"f": map[string]any{"within": "LAST_CENTURY"}}, "$f", ""},
		// A Time variable is a custom scalar: it passes variable validation
		// and fails when the argument is read, so the path names it.
		{"malformed time variable", events, map[string]any{"f": map[string]any{"from": "yesterday"}}, "filter.from", "syncEvents"},
		{"string for an Int variable", events, map[string]any{"first": "ten"}, "$first", ""},
		{"search of 201 characters", events, map[string]any{"f": map[string]any{"search": long}}, "filter.search", "syncEvents"},
		{"customers search of 201 characters", `query($s: String) { __typename customers(filter: {search: $s}) { totalCount } }`,
			map[string]any{"s": long}, "filter.search", "customers"},
		{"conversation with id and number", conversation, map[string]any{"id": "3100001", "n": "1001"}, "id", "conversation"},
		{"conversation with neither", conversation, nil, "id", "conversation"},
		{"conversation number not a number", conversation, map[string]any{"n": "#abc"}, "number", "conversation"},
		{"conversation id not a number", conversation, map[string]any{"id": "abc"}, "id", "conversation"},
		{"summary with range and filter range", summary, map[string]any{
			"r": map[string]any{"within": "LAST_24_HOURS"}, "f": map[string]any{"within": "TODAY"}}, "range", "summary"},
		{"summary with range and filter from", summary, map[string]any{
			"r": map[string]any{"from": ts(now.Add(-time.Hour))}, "f": map[string]any{"from": ts(now.Add(-2 * time.Hour))}}, "range", "summary"},
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
			switch tc.argument {
			case "":
				require.Empty(t, e.argument())
				require.Equal(t, []any{"syncEvents", "filter", "from"}, e.Path)
				require.Equal(t, "null", string(resp.dataMap(t)[tc.field]))
				return
			case "-":
				require.Contains(t, e.Message, "TICKET_EXPLODED")
			default:
				require.Equal(t, tc.argument, e.argument(), "body: %s", resp.Body)
			}
			if strings.HasPrefix(tc.argument, "$") || tc.argument == "-" {
				// Refused before execution: no data at all.
				require.Contains(t, []string{"", "null"}, string(resp.Data), "body: %s", resp.Body)
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
