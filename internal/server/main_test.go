package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestMain runs the package in a time zone far from UTC, so that any time
// the service formats or compares in local time shows up: the API speaks UTC.
func TestMain(m *testing.M) {
	time.Local = time.FixedZone("UTC-05", -5*3600)
	os.Exit(dbtest.Main(m))
}

const testSecret = "test-secret-0123456789"

// Caller names used across the tests. The first three never authenticate.
const (
	callerNone        = "no token"
	callerInvalid     = "invalid token"
	callerExpired     = "expired token"
	callerWrongSecret = "wrong secret"
	callerManager     = "MANAGER"
	callerAdmin       = "ADMINISTRATOR"
	callerKivaAdmin   = "KIVA_ADMIN"
	callerService     = "SERVICE"
	// Tokens and headers that must not authenticate.
	callerUnknownRole = "unknown role"
	callerNoExpiry    = "no expiry"
	callerNoSubject   = "no subject"
	callerHS512       = "HS512"
	callerAlgNone     = "alg none"
	callerBasic       = "Basic scheme"
	// A valid MANAGER token behind a lower-case scheme name.
	callerLowerBearer = "lower-case bearer"
)

// env is one running service over its own fresh database.
type env struct {
	bdb    *bun.DB
	srv    *httptest.Server
	issuer *auth.Issuer
	tokens map[string]string
	// headers holds whole Authorization headers for callers whose header is
	// not "Bearer <token>".
	headers map[string]string
	queries *queryCounter
}

// queryCounter counts the SQL statements each HTTP request runs, keyed by
// the request id that chi's middleware puts into the request context.
type queryCounter struct {
	mu    sync.Mutex
	byReq map[string]int
}

func (q *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	if id := middleware.GetReqID(ctx); id != "" {
		q.mu.Lock()
		q.byReq[id]++
		q.mu.Unlock()
	}
	return ctx
}

func (q *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

func (q *queryCounter) count(reqID string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.byReq[reqID]
}

// newEnv starts the whole HTTP handler (app.Handler) over a fresh migrated
// database. cfgMods may change the configuration.
func newEnv(t testing.TB, cfgMods ...func(*config.Config)) *env {
	t.Helper()
	return newEnvOn(t, dbtest.New(t), cfgMods...)
}

// newEnvOn starts the handler over an existing database.
func newEnvOn(t testing.TB, bdb *bun.DB, cfgMods ...func(*config.Config)) *env {
	t.Helper()
	return newEnvClock(t, bdb, nil, cfgMods...)
}

// newEnvClock starts the handler over an existing database with the
// clock now for the sync log, or the real one when now is nil.
func newEnvClock(t testing.TB, bdb *bun.DB, now func() time.Time, cfgMods ...func(*config.Config)) *env {
	t.Helper()
	cfg := &config.Config{Introspection: true, ComplexityLimit: 5000, LogLevel: zerolog.Disabled}
	for _, m := range cfgMods {
		m(cfg)
	}
	qc := &queryCounter{byReq: map[string]int{}}
	issuer := auth.NewIssuer(testSecret)
	st := app.NewStack(bdb.WithQueryHook(qc), cfg, issuer, zerolog.Nop(), nil)
	if now != nil {
		st.Service.Now = now
	}
	h := st.Handler
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	e := &env{bdb: bdb, srv: srv, issuer: issuer, queries: qc, tokens: map[string]string{}}
	for _, r := range auth.Roles {
		tok, err := issuer.Issue("test-"+strings.ToLower(string(r)), r, time.Hour)
		require.NoError(t, err)
		e.tokens[string(r)] = tok
	}
	expired, err := issuer.Issue("test-expired", auth.RoleKivaAdmin, -time.Hour)
	require.NoError(t, err)
	e.tokens[callerExpired] = expired
	e.tokens[callerInvalid] = "not.a.jwt"
	other, err := auth.NewIssuer("another-secret-0123456789").Issue("intruder", auth.RoleKivaAdmin, time.Hour)
	require.NoError(t, err)
	e.tokens[callerWrongSecret] = other
	e.tokens[callerNone] = ""

	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		require.NoError(t, err)
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	e.tokens[callerUnknownRole] = sign(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x", "role": "SUPERUSER", "exp": exp})
	e.tokens[callerNoExpiry] = sign(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x", "role": "KIVA_ADMIN"})
	e.tokens[callerNoSubject] = sign(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"role": "KIVA_ADMIN", "exp": exp})
	e.tokens[callerHS512] = sign(jwt.SigningMethodHS512, []byte(testSecret), jwt.MapClaims{"sub": "x", "role": "KIVA_ADMIN", "exp": exp})
	e.tokens[callerAlgNone] = sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "x", "role": "KIVA_ADMIN", "exp": exp})
	e.headers = map[string]string{
		callerBasic:       "Basic " + e.tokens[callerManager],
		callerLowerBearer: "bearer " + e.tokens[callerManager],
	}
	e.tokens[callerBasic], e.tokens[callerLowerBearer] = "", ""
	return e
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// gqlResponse is an HTTP answer of the GraphQL endpoint.
type gqlResponse struct {
	Status int
	Header http.Header
	Body   []byte
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// gqlRequest is a GraphQL request as sent over HTTP.
type gqlRequest struct {
	Query         string         `json:"query,omitempty"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
	Extensions    map[string]any `json:"extensions,omitempty"`
}

// gql posts a query as caller (a key of env.tokens or a raw role name).
func (e *env) gql(t *testing.T, caller, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	return e.postGQL(t, caller, gqlRequest{Query: query, Variables: vars}, nil)
}

// postGQL posts a request with extra headers.
func (e *env) postGQL(t *testing.T, caller string, body gqlRequest, headers map[string]string) *gqlResponse {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	e.authorize(t, req, caller)
	return e.send(t, req)
}

// getGQL sends a query with GET and query parameters.
func (e *env) getGQL(t *testing.T, caller string, params url.Values) *gqlResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?"+params.Encode(), nil)
	require.NoError(t, err)
	e.authorize(t, req, caller)
	return e.send(t, req)
}

func (e *env) authorize(t *testing.T, req *http.Request, caller string) {
	t.Helper()
	if h, ok := e.headers[caller]; ok {
		req.Header.Set("Authorization", h)
		return
	}
	tok, ok := e.tokens[caller]
	require.True(t, ok, "unknown caller %q", caller)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
}

func (e *env) send(t *testing.T, req *http.Request) *gqlResponse {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &gqlResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
	require.NoError(t, json.Unmarshal(body, out), "body: %s", body)
	requireNoLeak(t, body)
	return out
}

// httpGet performs a plain GET with an optional bearer token.
func (e *env) httpGet(t *testing.T, path, caller string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	require.NoError(t, err)
	e.authorize(t, req, caller)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// requireNoLeak fails when a body carries a stack trace or Go internals.
func requireNoLeak(t *testing.T, body []byte) {
	t.Helper()
	s := string(body)
	for _, bad := range []string{"goroutine ", "runtime/", ".go:", "panic(", "pgdriver", "SQLSTATE", "Go value", "Go struct", "RawParams", "interface {}"} {
		require.NotContains(t, s, bad, "response leaks internals")
	}
}

// decode unmarshals the data into v.
func (r *gqlResponse) decode(t *testing.T, v any) {
	t.Helper()
	require.NotEmpty(t, r.Data, "no data in %s", r.Body)
	require.NoError(t, json.Unmarshal(r.Data, v), "data: %s", r.Data)
}

// dataMap returns the top-level data fields.
func (r *gqlResponse) dataMap(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	r.decode(t, &m)
	return m
}

// requireOK fails when the response has errors.
func (r *gqlResponse) requireOK(t *testing.T) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Empty(t, r.Errors, "body: %s", r.Body)
}

// singleError returns the only error, failing when there is not exactly one.
func (r *gqlResponse) singleError(t *testing.T) gqlError {
	t.Helper()
	require.Len(t, r.Errors, 1, "body: %s", r.Body)
	return r.Errors[0]
}

func (g gqlError) code() string {
	c, _ := g.Extensions["code"].(string)
	return c
}

func (g gqlError) argument() string {
	a, _ := g.Extensions["argument"].(string)
	return a
}

func ptr[T any](v T) *T { return &v }
