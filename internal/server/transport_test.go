package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/server"
)

// TestGraphQLOverHTTP covers the transports: GET with query parameters,
// POST with either response media type, and what each answers for a
// document that does not parse.
func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("GET with query parameters", func(t *testing.T) {
		t.Parallel()
		resp := e.getGQL(t, callerManager, url.Values{
			"query":         {`query Who($n: Int) { viewer { role } syncEvents(first: $n) { totalCount } }`},
			"operationName": {"Who"},
			"variables":     {`{"n": 2}`},
		})
		resp.requireOK(t)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.JSONEq(t, `{"viewer":{"role":"MANAGER"},"syncEvents":{"totalCount":0}}`, string(resp.Data))
	})
	t.Run("GET refuses a mutation", func(t *testing.T) {
		t.Parallel()
		resp := e.getGQL(t, callerAdmin, url.Values{"query": {`mutation { retrySync(id: "1") { id } }`}})
		require.Equal(t, http.StatusMethodNotAllowed, resp.Status, "body: %s", resp.Body)
		require.Equal(t, "POST", resp.Header.Get("Allow"))
		require.Nil(t, resp.Data, "nothing ran: %s", resp.Body)
		got := resp.singleError(t)
		require.Equal(t, "METHOD_NOT_ALLOWED", got.code())
		require.Equal(t, "a mutation cannot be sent with GET: send it with POST", got.Message)
	})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method+" refuses a subscription", func(t *testing.T) {
			t.Parallel()
			query := `subscription { syncEvents { __typename } }`
			var resp *gqlResponse
			if method == http.MethodGet {
				resp = e.getGQL(t, callerManager, url.Values{"query": {query}})
			} else {
				resp = e.postGQL(t, callerManager, gqlRequest{Query: query}, nil)
			}
			require.Equal(t, http.StatusBadRequest, resp.Status, "body: %s", resp.Body)
			require.Nil(t, resp.Data, "nothing ran: %s", resp.Body)
			got := resp.singleError(t)
			require.Equal(t, "WEBSOCKET_REQUIRED", got.code())
			require.Contains(t, got.Message, "graphql-transport-ws")
		})
	}
	t.Run("GET answers like POST", func(t *testing.T) {
		t.Parallel()
		resp := e.getGQL(t, callerManager, url.Values{"query": {`{ viewer { role } }`}})
		resp.requireOK(t)
		require.Equal(t, strconv.Itoa(len(resp.Body)), resp.Header.Get("Content-Length"))
	})

	t.Run("POST partial response keeps errors and data", func(t *testing.T) {
		t.Parallel()
		resp := e.postGQL(t, callerManager, gqlRequest{Query: `{ viewer { role } integrationSettings { apiUrl } }`}, nil)
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		require.Equal(t, strconv.Itoa(len(resp.Body)), resp.Header.Get("Content-Length"))
		var whole map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(resp.Body, &whole), "body: %s", resp.Body)
		require.Len(t, whole, 2, "errors and data only: %s", resp.Body)
		require.JSONEq(t, `{"viewer":{"role":"MANAGER"},"integrationSettings":null}`, string(resp.Data))
		require.Len(t, resp.Errors, 1)
		require.Equal(t, "FORBIDDEN", resp.Errors[0].code())
	})

	accepts := []struct {
		accept, contentType string
		// badStatus is the status of a document that does not parse.
		badStatus int
	}{
		{"application/graphql-response+json", "application/graphql-response+json", http.StatusBadRequest},
		{"application/json", "application/json", http.StatusOK},
		{"application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json", http.StatusBadRequest},
		{"", "application/json", http.StatusOK},
		{"application/graphql-response+json;q=0, application/json", "application/json", http.StatusOK},
		{"application/json;q=0.5, application/graphql-response+json", "application/graphql-response+json", http.StatusBadRequest},
		{"application/json, application/graphql-response+json", "application/json", http.StatusOK},
		{"application/graphql-response+json;q=0.5, */*", "application/json", http.StatusOK},
		{"application/json;q=0, */*", "application/graphql-response+json", http.StatusBadRequest},
	}
	for _, a := range accepts {
		t.Run("POST accept "+a.accept, func(t *testing.T) {
			t.Parallel()
			headers := map[string]string{}
			if a.accept != "" {
				headers["Accept"] = a.accept
			}
			resp := e.postGQL(t, callerManager, gqlRequest{Query: `{ viewer { role subject } }`}, headers)
			resp.requireOK(t)
			require.Equal(t, a.contentType, resp.Header.Get("Content-Type"))
			require.JSONEq(t, `{"viewer":{"role":"MANAGER","subject":"test-manager"}}`, string(resp.Data))
			require.Equal(t, strconv.Itoa(len(resp.Body)), resp.Header.Get("Content-Length"))

			bad := e.postGQL(t, callerManager, gqlRequest{Query: `{ viewer { role `}, headers)
			require.Equal(t, a.badStatus, bad.Status, "body: %s", bad.Body)
			require.Equal(t, strconv.Itoa(len(bad.Body)), bad.Header.Get("Content-Length"))
			require.Equal(t, a.contentType, bad.Header.Get("Content-Type"))
			require.Len(t, bad.Errors, 1)
			require.Equal(t, "GRAPHQL_PARSE_FAILED", bad.Errors[0].code())
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestAutomaticPersistedQueries: a hash the server does not know is
// answered with PersistedQueryNotFound; once the query was sent with its
// hash, the hash alone works, over POST and GET.
func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	query := `query APQProbe { viewer { role } }`
	hash := sha256Hex(query)
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}

	first := e.postGQL(t, callerManager, gqlRequest{Extensions: ext}, nil)
	require.Less(t, first.Status, 500)
	e1 := first.singleError(t)
	require.Equal(t, "PersistedQueryNotFound", e1.Message)
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", e1.code())

	wrong := e.postGQL(t, callerManager, gqlRequest{Query: `{ viewer { subject } }`, Extensions: ext}, nil)
	require.Less(t, wrong.Status, 500)
	require.Contains(t, wrong.singleError(t).Message, "hash does not match")

	reg := e.postGQL(t, callerManager, gqlRequest{Query: query, Extensions: ext}, nil)
	reg.requireOK(t)
	require.JSONEq(t, `{"viewer":{"role":"MANAGER"}}`, string(reg.Data))

	again := e.postGQL(t, callerManager, gqlRequest{Extensions: ext}, nil)
	again.requireOK(t)
	require.JSONEq(t, `{"viewer":{"role":"MANAGER"}}`, string(again.Data))

	extJSON, err := json.Marshal(ext)
	require.NoError(t, err)
	get := e.getGQL(t, callerAdmin, url.Values{"extensions": {string(extJSON)}})
	get.requireOK(t)
	require.JSONEq(t, `{"viewer":{"role":"ADMINISTRATOR"}}`, string(get.Data))

	// The cached query is still guarded.
	anon := e.postGQL(t, callerNone, gqlRequest{Extensions: ext}, nil)
	require.Equal(t, "UNAUTHENTICATED", anon.singleError(t).code())

	badVersion := e.postGQL(t, callerManager, gqlRequest{Extensions: map[string]any{
		"persistedQuery": map[string]any{"version": 2, "sha256Hash": hash}}}, nil)
	require.Less(t, badVersion.Status, 500)
	require.NotEmpty(t, badVersion.Errors)
}

// TestComplexityLimit refuses deep nested pages before running them, and
// lets the same shape through with a smaller page.
func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name    string
		query   string
		refused bool
	}{
		{"retries of retries on 500 events", `{ syncEvents(first: 500) { nodes { retries { retries { id } } } } }`, true},
		{"deeper still", `{ syncEvents(first: 500) { nodes { retries { retries { retries { retries { id } } } } } } }`, true},
		{"nested pages", `{ customers(first: 100) { nodes { events(first: 100) { nodes { id } } } } }`, true},
		{"events of conversations of events", `{ syncEvents(last: 200) { nodes { conversation { events(first: 200) { nodes { id } } } } } }`, true},
		{"same shape, small page", `{ syncEvents(first: 100) { nodes { retries { retries { id } } } } }`, false},
		{"default page", `{ syncEvents { nodes { id type status retries { id } } } }`, false},
		{"customer pages under duplicate groups", `{ duplicateTickets(first: 200) { events { customer { events(first: 99) { nodes { id } } } } } }`, true},
		{"customer pages under an investigation", `{ missingTicketInvestigation(email: "a@example.com", at: "2026-01-01T00:00:00Z") {
			events { customer { events(first: 50) { nodes { id } } } } } }`, true},
		{"customer pages under a bulk retry", `mutation { retryFailedSyncs(limit: 500) { events { customer { events(first: 20) { nodes { id } } } } } }`, true},
		{"duplicate groups, small", `{ duplicateTickets(first: 5) { count events { id type } } }`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, accept := range []string{"application/json", "application/graphql-response+json"} {
				resp := e.postGQL(t, callerManager, gqlRequest{Query: tc.query}, map[string]string{"Accept": accept})
				require.Less(t, resp.Status, 500, "body: %s", resp.Body)
				if !tc.refused {
					resp.requireOK(t)
					continue
				}
				er := resp.singleError(t)
				require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", er.code(), "body: %s", resp.Body)
				require.Contains(t, er.Message, "exceeds the limit of 5000")
				require.Contains(t, []string{"", "null"}, string(resp.Data))
			}
		})
	}
}

// TestRootFieldLimit refuses, before anything runs, an operation that asks
// for more root fields than server.MaxRootFields, however they are
// written: aliases, fragments, several mutations; __typename and
// introspection do not count, nor fields a directive skips.
func TestRootFieldLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aliases := func(n int, field string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: %s ", i, field)
		}
		return b.String()
	}
	const count = `syncEvents(filter: {search: "a"}) { totalCount }`
	limit := server.MaxRootFields
	cases := []struct {
		name    string
		query   string
		refused int
	}{
		{"at the limit", "{ " + aliases(limit, count) + " }", 0},
		{"one over", "{ " + aliases(limit+1, count) + " }", limit + 1},
		{"a hundred aliases", "{ " + aliases(100, count) + " }", 100},
		{"through a fragment", "query { ...F } fragment F on Query { " + aliases(limit+1, "viewer { role }") + " }", limit + 1},
		{"skipped fields do not count", "{ " + aliases(limit, count) + " x: summary @skip(if: true) { total } }", 0},
		{"__typename and introspection do not count", "{ " + aliases(limit, "viewer { role }") + " __typename __schema { queryType { name } } }", 0},
		{"mutations", "mutation { " + aliases(limit+1, `retrySync(id: "1") { id }`) + " }", limit + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.postGQL(t, callerKivaAdmin, gqlRequest{Query: tc.query}, map[string]string{"Accept": "application/graphql-response+json"})
			if tc.refused == 0 {
				require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
				for _, er := range resp.Errors {
					require.NotEqual(t, "TOO_MANY_ROOT_FIELDS", er.code())
				}
				return
			}
			require.Equal(t, http.StatusBadRequest, resp.Status, "body: %s", resp.Body)
			er := resp.singleError(t)
			require.Equal(t, "TOO_MANY_ROOT_FIELDS", er.code(), "body: %s", resp.Body)
			require.Equal(t, fmt.Sprintf("the operation asks for %d root fields, aliases counted apart; at most %d run in one operation: split it into several", tc.refused, limit), er.Message)
			require.Contains(t, []string{"", "null"}, string(resp.Data))
		})
	}
}

// TestFullPageOfLogColumns asks for the largest page the API promises (500)
// with the log's columns (the documentation's "Report Data & Columns") and
// what a client needs to page on. The documented page cap and the default
// complexity limit must agree.
func TestFullPageOfLogColumns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		// The configuration's own default (GRAPHQL_COMPLEXITY_LIMIT).
		d, err := config.Load(func(k string) string { return "" })
		require.NoError(t, err)
		c.ComplexityLimit = d.ComplexityLimit
	})
	query := `query Log($after: String) {
  syncEvents(first: 500, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id occurredAt type customerEmail conversationId helpScoutUrl status direction details errorMessage }
  }
}`
	resp := e.gql(t, callerManager, query, nil)
	require.Less(t, resp.Status, 500)
	resp.requireOK(t)
}

// TestIntrospection is on by configuration, and off refuses __schema and
// __type while the rest of a request still runs.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	on := newEnv(t)
	off := newEnvOn(t, on.bdb, func(c *config.Config) { c.Introspection = false })

	q := `{ __schema { queryType { name } mutationType { name } types { name } } }`
	resp := on.gql(t, callerNone, q, nil)
	resp.requireOK(t)
	var out struct {
		Schema struct {
			QueryType, MutationType struct{ Name string }
			Types                   []struct{ Name string }
		} `json:"__schema"`
	}
	resp.decode(t, &out)
	require.Equal(t, "Query", out.Schema.QueryType.Name)
	require.Equal(t, "Mutation", out.Schema.MutationType.Name)
	var names []string
	for _, ty := range out.Schema.Types {
		names = append(names, ty.Name)
	}
	for _, want := range []string{"SyncEvent", "SyncEventFilter", "Summary", "Health", "Role"} {
		require.Contains(t, names, want)
	}

	cases := []struct{ name, query, field string }{
		{"__schema", `{ __typename __schema { queryType { name } } }`, "__schema"},
		{"__type", `{ __typename __type(name: "SyncEvent") { name } }`, "__type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := off.gql(t, callerKivaAdmin, tc.query, nil)
			require.Less(t, resp.Status, 500)
			require.NotEmpty(t, resp.Errors, "body: %s", resp.Body)
			require.True(t, strings.Contains(resp.Errors[0].Message, "introspection is disabled"), "body: %s", resp.Body)
			require.Equal(t, "FORBIDDEN", resp.Errors[0].code(), "body: %s", resp.Body)
			require.NotContains(t, string(resp.Data), "SyncEvent\"")

			allowed := on.gql(t, callerKivaAdmin, tc.query, nil)
			allowed.requireOK(t)
		})
	}
	// Without introspection the API itself still works.
	ok := off.gql(t, callerManager, `{ __typename viewer { role } }`, nil)
	ok.requireOK(t)
	require.JSONEq(t, `{"__typename":"Query","viewer":{"role":"MANAGER"}}`, string(ok.Data))
}

// TestOversizedRequests: a body over server.MaxRequestBody is refused with
// 413 and REQUEST_TOO_LARGE before anything is parsed, a document over the
// token limit with a parse error naming the limit; requests just under both
// limits run.
func TestOversizedRequests(t *testing.T) {
	t.Parallel()
	const tokenLimit = 2000
	e := newEnv(t, func(c *config.Config) { c.TokenLimit = tokenLimit })
	// { viewer { role role ... } }: n + 5 tokens.
	manyFields := func(n int) string { return `{ viewer {` + strings.Repeat(" role", n) + ` } }` }
	tests := []struct {
		name    string
		req     gqlRequest
		status  int
		code    string
		message string
	}{
		{name: "body over the limit", status: http.StatusRequestEntityTooLarge, code: "REQUEST_TOO_LARGE",
			message: "the request body is over the limit of 1048576 bytes",
			req:     gqlRequest{Query: `{ viewer { role } }`, Variables: map[string]any{"pad": strings.Repeat("x", server.MaxRequestBody)}}},
		{name: "body under the limit", status: http.StatusOK,
			req: gqlRequest{Query: `{ viewer { role } }`, Variables: map[string]any{"pad": strings.Repeat("x", server.MaxRequestBody-200)}}},
		{name: "document over the token limit", status: http.StatusOK, code: "GRAPHQL_PARSE_FAILED",
			message: "exceeded token limit of 2000", req: gqlRequest{Query: manyFields(tokenLimit - 4)}},
		{name: "document at the token limit", status: http.StatusOK, req: gqlRequest{Query: manyFields(tokenLimit - 5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.postGQL(t, callerManager, tt.req, nil)
			require.Equal(t, tt.status, resp.Status, "body: %.300s", resp.Body)
			if tt.code == "" {
				resp.requireOK(t)
				return
			}
			require.Len(t, resp.Errors, 1, "body: %.300s", resp.Body)
			require.Equal(t, tt.code, resp.Errors[0].code())
			require.Contains(t, resp.Errors[0].Message, tt.message)
		})
	}
}

// TestRequestsNoRouteServes: a method or a media type that nothing serves,
// and a path that does not exist, get a JSON error that says what to send
// instead, with the status HTTP gives them.
func TestRequestsNoRouteServes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, method, path, contentType string
		status                          int
		allow                           string
		code                            string
		// graphQL errors come as {"errors": [...]}, the others as {"error": {...}}.
		graphQL bool
		message string
	}{
		{name: "POST as text", method: http.MethodPost, path: "/graphql", contentType: "text/plain",
			status: http.StatusUnsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE", graphQL: true, message: "Content-Type: application/json"},
		{name: "POST without a media type", method: http.MethodPost, path: "/graphql",
			status: http.StatusUnsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE", graphQL: true, message: "Content-Type: application/json"},
		{name: "PUT", method: http.MethodPut, path: "/graphql", contentType: "application/json",
			status: http.StatusMethodNotAllowed, allow: "GET, POST, OPTIONS", code: "METHOD_NOT_ALLOWED", graphQL: true, message: "GET or POST"},
		{name: "DELETE", method: http.MethodDelete, path: "/graphql",
			status: http.StatusMethodNotAllowed, allow: "GET, POST, OPTIONS", code: "METHOD_NOT_ALLOWED", graphQL: true, message: "GET or POST"},
		{name: "unknown path", method: http.MethodGet, path: "/graphq",
			status: http.StatusNotFound, code: "NOT_FOUND", message: "the GraphQL endpoint is /graphql"},
		{name: "POST to a GET route", method: http.MethodPost, path: "/healthz",
			status: http.StatusMethodNotAllowed, allow: "GET", code: "METHOD_NOT_ALLOWED", message: "POST is not supported on /healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(`{"query":"{ viewer { role } }"}`))
			require.NoError(t, err)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			e.authorize(t, req, callerManager)
			resp := e.send(t, req)
			body := resp.Body
			require.Equal(t, tt.status, resp.Status, "body: %s", body)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.Equal(t, tt.allow, strings.Join(resp.Header.Values("Allow"), ", "))
			var got struct {
				Errors []gqlError
				Error  *struct{ Code, Message string }
			}
			require.NoError(t, json.Unmarshal(body, &got), "body: %s", body)
			if tt.graphQL {
				require.Len(t, got.Errors, 1, "body: %s", body)
				require.Equal(t, tt.code, got.Errors[0].code())
				require.Contains(t, got.Errors[0].Message, tt.message)
				return
			}
			require.NotNil(t, got.Error, "body: %s", body)
			require.Equal(t, tt.code, got.Error.Code)
			require.Contains(t, got.Error.Message, tt.message)
		})
	}
}

// TestBrowserOpeningTheEndpoint: a browser that opens /graphql itself is
// sent to the playground; API clients, and browsers sending a query, are
// answered by the endpoint.
func TestBrowserOpeningTheEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		name, path, accept string
		status             int
		location           string
	}{
		{name: "browser", path: "/graphql", accept: browser, status: http.StatusFound, location: "/"},
		{name: "API client without a query", path: "/graphql", accept: "application/json", status: http.StatusBadRequest},
		{name: "browser with a query", path: "/graphql?query=%7B__typename%7D", accept: browser, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, e.srv.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Accept", tt.accept)
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.location, resp.Header.Get("Location"))
		})
	}
}

// TestMalformedRequests: a request that is not a GraphQL request at all is
// answered 400 with BAD_USER_INPUT and a message that says what is wrong in
// the client's terms, never with Go's type names, and nothing runs.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const want = `send one JSON object such as {"query": "{ viewer { role } }", "variables": {}}`
	posts := []struct {
		name, body, message string
	}{
		{"empty body", ``, "the request body is empty: " + want},
		{"batch", `[{"query": "{ viewer { role } }"}]`, "batched requests (a JSON array) are not supported: " + want},
		{"string", `"{ viewer { role } }"`, "the request body is a string: " + want},
		{"query not a string", `{"query": 5}`, "query must be a string, not a number"},
		{"operationName not a string", `{"query": "{ viewer { role } }", "operationName": ["a"]}`, "operationName must be a string, not an array"},
		{"variables not an object", `{"query": "{ viewer { role } }", "variables": "x"}`, "variables must be a JSON object, not a string"},
		{"extensions not an object", `{"query": "{ viewer { role } }", "extensions": [1]}`, "extensions must be a JSON object, not an array"},
		{"cut short", `{"query": "{ viewer { role } }",`, "the request body is not valid JSON: it ends before the value does"},
		{"syntax", `{"query": x}`, "the request body is not valid JSON: invalid character 'x' looking for beginning of value (at byte 11)"},
		{"trailing data", `{"query": "{ viewer { role } }"} {"query": "{ viewer { subject } }"}`, "the request body is not valid JSON: there is more after the JSON value"},
	}
	for _, tt := range posts {
		t.Run("POST "+tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			e.authorize(t, req, callerManager)
			resp := e.send(t, req)
			require.Equal(t, http.StatusBadRequest, resp.Status, "body: %s", resp.Body)
			require.Nil(t, resp.Data, "nothing ran: %s", resp.Body)
			got := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", got.code())
			require.Equal(t, tt.message, got.Message)
		})
	}

	gets := []struct {
		name    string
		params  url.Values
		message string
	}{
		{"variables not JSON", url.Values{"query": {`{ viewer { role } }`}, "variables": {`{nope`}},
			"variables must be a JSON object: invalid character 'n' looking for beginning of object key string (at byte 2)"},
		{"variables an array", url.Values{"query": {`{ viewer { role } }`}, "variables": {`[1]`}},
			"variables must be a JSON object: found an array"},
		{"extensions cut short", url.Values{"query": {`{ viewer { role } }`}, "extensions": {`{"persistedQuery": `}},
			"extensions must be a JSON object: it ends before the value does"},
	}
	for _, tt := range gets {
		t.Run("GET "+tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.getGQL(t, callerManager, tt.params)
			require.Equal(t, http.StatusBadRequest, resp.Status, "body: %s", resp.Body)
			got := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", got.code())
			require.Equal(t, tt.message, got.Message)
		})
	}
	t.Run("GET malformed query string", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query=%zz", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "application/json")
		e.authorize(t, req, callerManager)
		resp := e.send(t, req)
		require.Equal(t, http.StatusBadRequest, resp.Status, "body: %s", resp.Body)
		got := resp.singleError(t)
		require.Equal(t, "BAD_USER_INPUT", got.code())
		require.Contains(t, got.Message, "the URL's query string is malformed")
	})
	for _, name := range []string{"query", "operationName", "variables", "extensions"} {
		t.Run("GET with "+name+" given twice", func(t *testing.T) {
			t.Parallel()
			q := url.Values{"query": {`query A { viewer { role } }`}}
			second := map[string][]string{
				"query":         {`query A { viewer { role } }`, `query B { rateLimitBudget { limit } }`},
				"operationName": {"A", "B"},
				"variables":     {"{}", `{"n": 1}`},
				"extensions":    {"{}", "{}"},
			}
			q[name] = second[name]
			resp := e.getGQL(t, callerManager, q)
			require.Equal(t, http.StatusBadRequest, resp.Status, "body: %s", resp.Body)
			require.Nil(t, resp.Data, "nothing ran: %s", resp.Body)
			got := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", got.code())
			require.Equal(t, name+": given 2 times in the URL; give it once", got.Message)
		})
	}
}
