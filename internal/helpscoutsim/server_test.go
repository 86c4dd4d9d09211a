package helpscoutsim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

const (
	clientID = "app-id"
	secret   = "app-secret"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	http  *http.Client
	sim   *helpscoutsim.Server
	url   string
	clock *clock
	token string
}

func setup(t *testing.T, mod func(*helpscoutsim.Options)) *testBundle {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 12, 0, 15, 0, time.UTC)}
	opts := helpscoutsim.Options{ClientID: clientID, ClientSecret: secret, Now: clk.Now, WebhookSecret: "asdfasdf"}
	if mod != nil {
		mod(&opts)
	}
	sim := helpscoutsim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Stop)
	// A client of its own: parallel tests closing servers would break
	// connections of the shared default transport.
	hc := srv.Client()
	t.Cleanup(hc.CloseIdleConnections)
	b := &testBundle{http: hc, sim: sim, url: srv.URL, clock: clk}
	b.token = b.fetchToken(t)
	return b
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), string(a.body))
	return m
}

func (b *testBundle) do(t *testing.T, method, path, contentType string, body []byte, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// api sends an authenticated JSON request.
func (b *testBundle) api(t *testing.T, method, path string, body any) answer {
	t.Helper()
	var data []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		data = v
	case string:
		data = []byte(v)
	default:
		var err error
		data, err = json.Marshal(v)
		require.NoError(t, err)
	}
	ct := ""
	if data != nil {
		ct = "application/json"
	}
	return b.do(t, method, path, ct, data, "Authorization", "Bearer "+b.token)
}

func (b *testBundle) fetchToken(t *testing.T) string {
	t.Helper()
	a := b.do(t, "POST", "/v2/oauth2/token", "application/json",
		[]byte(`{"grant_type":"client_credentials","client_id":"`+clientID+`","client_secret":"`+secret+`"}`))
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	return a.json(t)["access_token"].(string)
}

func validConversation() map[string]any {
	return map[string]any{
		"subject":   "Where is my order?",
		"customer":  map[string]any{"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"},
		"mailboxId": helpscoutsim.DefaultMailboxID,
		"type":      "email",
		"status":    "active",
		"threads":   []any{map[string]any{"type": "customer", "customer": map[string]any{"email": "ann@example.com"}, "text": "Hello"}},
	}
}

var correlationRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}#\d+$`)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret))
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		headers     []string
		status      int
		errCode     string
	}{
		{"json", "/v2/oauth2/token", "application/json", `{"grant_type":"client_credentials","client_id":"app-id","client_secret":"app-secret"}`, nil, 200, ""},
		{"form", "/v2/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), nil, 200, ""},
		{"query", "/v2/oauth2/token?" + form.Encode(), "", "", nil, 200, ""},
		{"basic auth", "/v2/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", []string{"Authorization", basic}, 200, ""},
		{"wrong secret", "/v2/oauth2/token", "application/json", `{"grant_type":"client_credentials","client_id":"app-id","client_secret":"nope"}`, nil, 401, "invalid_client"},
		{"no credentials", "/v2/oauth2/token", "application/json", `{"grant_type":"client_credentials"}`, nil, 401, "invalid_client"},
		{"wrong grant", "/v2/oauth2/token", "application/x-www-form-urlencoded", "grant_type=password&client_id=app-id&client_secret=app-secret", nil, 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.do(t, "POST", tt.path, tt.contentType, []byte(tt.body), tt.headers...)
			require.Equal(t, tt.status, a.status, string(a.body))
			require.Equal(t, "application/json; charset=utf-8", a.header.Get("Content-Type"))
			m := a.json(t)
			if tt.errCode != "" {
				require.Equal(t, tt.errCode, m["error"])
				return
			}
			require.Equal(t, "bearer", m["token_type"])
			require.Equal(t, float64(172800), m["expires_in"])
			require.Regexp(t, `^[A-Za-z0-9]{32}$`, m["access_token"])
			require.Equal(t, "no-store", a.header.Get("Cache-Control"))
			require.Empty(t, a.header.Get("X-Ratelimit-Limit-Minute"), "the token endpoint is not rate limited")
		})
	}
}

func TestAPINeedsALiveToken(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *helpscoutsim.Options) { o.TokenTTL = time.Hour })
	tests := []struct {
		name   string
		auth   string
		before func()
		status int
	}{
		{"no token", "", nil, 401},
		{"unknown token", "Bearer abc", nil, 401},
		{"live token", "Bearer " + b.token, nil, 200},
		{"expired token", "Bearer " + b.token, func() { b.clock.Advance(time.Hour) }, 401},
	}
	for _, tt := range tests {
		if tt.before != nil {
			tt.before()
		}
		var hdr []string
		if tt.auth != "" {
			hdr = []string{"Authorization", tt.auth}
		}
		a := b.do(t, "GET", "/v2/mailboxes", "", nil, hdr...)
		require.Equal(t, tt.status, a.status, tt.name)
		if tt.status == 401 {
			require.Equal(t, "invalid_token", a.json(t)["error"], tt.name)
			require.Empty(t, a.header.Get("X-Ratelimit-Remaining-Minute"), "401s come before the rate limit")
		}
	}
	require.Equal(t, 3, b.sim.State().Count("GET /v2/mailboxes", 401))
}

func TestCreateAndGetConversation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	a := b.api(t, "POST", "/v2/conversations", validConversation())
	require.Equal(t, http.StatusCreated, a.status, string(a.body))
	require.Empty(t, a.body)
	require.Equal(t, "861100000", a.header.Get("Resource-Id"))
	require.Equal(t, b.url+"/v2/conversations/861100000", a.header.Get("Location"))
	require.Equal(t, "text/plain; charset=UTF-8", a.header.Get("Content-Type"))
	require.Regexp(t, correlationRE, a.header.Get("Correlation-Id"))
	require.Equal(t, "400", a.header.Get("X-Ratelimit-Limit-Minute"))
	require.Equal(t, "398", a.header.Get("X-Ratelimit-Remaining-Minute"))

	second := validConversation()
	second["customer"] = map[string]any{"email": "bob@example.com"}
	second["status"] = "closed"
	a = b.api(t, "POST", "/v2/conversations", second)
	require.Equal(t, "861100001", a.header.Get("Resource-Id"))

	a = b.api(t, "GET", "/v2/conversations/861100000", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "application/hal+json;charset=UTF-8", a.header.Get("Content-Type"))
	m := a.json(t)
	require.Equal(t, float64(861100000), m["id"])
	require.Equal(t, float64(1000), m["number"])
	require.Equal(t, "Where is my order?", m["subject"])
	require.Equal(t, "active", m["status"])
	require.Equal(t, float64(helpscoutsim.DefaultMailboxID), m["mailboxId"])
	require.Equal(t, "2026-03-02T12:00:15Z", m["createdAt"])
	require.Equal(t, "ann@example.com", m["primaryCustomer"].(map[string]any)["email"])
	links := m["_links"].(map[string]any)
	require.Equal(t, "https://secure.helpscout.net/conversation/861100000/1000", links["web"].(map[string]any)["href"])

	// ?number= finds by ticket number; the default status filter is active.
	a = b.api(t, "GET", "/v2/conversations?number=1001", nil)
	require.Equal(t, float64(0), a.json(t)["page"].(map[string]any)["totalElements"])
	a = b.api(t, "GET", "/v2/conversations?number=1001&status=all", nil)
	page := a.json(t)
	convs := page["_embedded"].(map[string]any)["conversations"].([]any)
	require.Len(t, convs, 1)
	require.Equal(t, float64(861100001), convs[0].(map[string]any)["id"])

	a = b.api(t, "GET", "/v2/conversations/861100099", nil)
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, "application/vnd.error+json", a.header.Get("Content-Type"))
	require.Equal(t, a.header.Get("Correlation-Id"), a.json(t)["logRef"])

	require.Equal(t, 2, b.sim.State().ConversationsCreated)
	require.Equal(t, 1, b.sim.CountConversations("ANN@example.com", "Where is my order?"))
	require.Equal(t, 0, b.sim.CountConversations("ann@example.com", "Other"))
}

func TestConversationValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	with := func(f func(m map[string]any)) map[string]any {
		m := validConversation()
		f(m)
		return m
	}
	tests := []struct {
		name   string
		body   any
		errors map[string]string // path -> message
		msg    string
	}{
		{"all required missing", map[string]any{}, map[string]string{
			"subject": "may not be empty", "customer": "may not be empty", "mailboxId": "may not be empty",
			"type": "may not be empty", "status": "may not be empty", "threads": "may not be empty"}, ""},
		{"blank subject", with(func(m map[string]any) { m["subject"] = "  " }), map[string]string{"subject": "may not be empty"}, ""},
		{"no threads", with(func(m map[string]any) { m["threads"] = []any{} }), map[string]string{"threads": "may not be empty"}, ""},
		{"unknown mailbox", with(func(m map[string]any) { m["mailboxId"] = 999 }), map[string]string{"mailboxId": "Invalid mailbox"}, ""},
		{"bad email", with(func(m map[string]any) { m["customer"] = map[string]any{"email": "ann@@example"} }),
			map[string]string{"customer.email": "Not well-formed email address"}, ""},
		{"name too long", with(func(m map[string]any) {
			m["customer"] = map[string]any{"email": "ann@example.com", "firstName": strings.Repeat("a", 41)}
		}), map[string]string{"customer.firstName": "size must be between 1 and 40"}, ""},
		{"bad status", with(func(m map[string]any) { m["status"] = "Wrong" }),
			map[string]string{"status": "Expected one of these: 'active', 'closed', 'pending'"}, ""},
		{"bad date", with(func(m map[string]any) { m["createdAt"] = "yesterday" }),
			map[string]string{"createdAt": "Malformed date, expected format yyyy-MM-dd'T'HH:mm:ss'Z'"}, ""},
		{"NUL character", with(func(m map[string]any) { m["subject"] = "a\x00b" }),
			map[string]string{"subject": "contains an invalid character (U+0000); check the text encoding"}, ""},
		{"invalid UTF-8", []byte("{\"subject\":\"\xff\xfe\"}"), nil, "Could not read document: Invalid UTF-8 encoding in request body"},
		{"not JSON", "{", nil, "Could not read document: request body is not well-formed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.api(t, "POST", "/v2/conversations", tt.body)
			require.Equal(t, http.StatusBadRequest, a.status)
			require.Equal(t, "application/vnd.error+json", a.header.Get("Content-Type"))
			m := a.json(t)
			require.Equal(t, a.header.Get("Correlation-Id"), m["logRef"])
			if tt.msg != "" {
				require.Equal(t, tt.msg, m["message"])
				return
			}
			require.Equal(t, "Bad request", m["message"])
			got := map[string]string{}
			for _, e := range m["_embedded"].(map[string]any)["errors"].([]any) {
				it := e.(map[string]any)
				require.Equal(t, "JSON", it["source"])
				got[it["path"].(string)] = it["message"].(string)
			}
			require.Equal(t, tt.errors, got)
		})
	}
	require.Zero(t, b.sim.State().ConversationsCreated)
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	a := b.api(t, "POST", "/v2/customers", map[string]any{
		"firstName": "Ann", "lastName": "Lee", "jobTitle": "Buyer",
		"emails": []any{map[string]any{"type": "work", "value": "ann@example.com"}},
	})
	require.Equal(t, http.StatusCreated, a.status, string(a.body))
	id := a.header.Get("Resource-Id")
	require.Equal(t, "256100000", id)
	require.Equal(t, b.url+"/v2/customers/"+id, a.header.Get("Location"))

	bad := []struct {
		name   string
		body   any
		status int
		path   string
		msg    string
	}{
		{"bad email", map[string]any{"emails": []any{map[string]any{"type": "work", "value": "nope"}}}, 400, "emails[0].value", "Not well-formed email address"},
		{"empty first name", map[string]any{"firstName": ""}, 400, "firstName", "size must be between 1 and 40"},
		{"long organization", map[string]any{"organization": strings.Repeat("o", 61)}, 400, "organization", "size must be between 0 and 60"},
		{"duplicate email", map[string]any{"emails": []any{map[string]any{"type": "work", "value": "ANN@example.com"}}}, 409, "emails[0].value", "A customer with this email already exists"},
	}
	for _, tt := range bad {
		a := b.api(t, "POST", "/v2/customers", tt.body)
		require.Equal(t, tt.status, a.status, tt.name)
		errs := a.json(t)["_embedded"].(map[string]any)["errors"].([]any)
		require.Equal(t, tt.path, errs[0].(map[string]any)["path"], tt.name)
		require.Equal(t, tt.msg, errs[0].(map[string]any)["message"], tt.name)
	}

	// PATCH: JSON-Patch array, all or nothing.
	a = b.api(t, "PATCH", "/v2/customers/"+id, `[{"op":"replace","path":"/firstName","value":"Anna"},{"op":"add","path":"/emails","value":{"type":"home","value":"anna@home.example"}}]`)
	require.Equal(t, http.StatusNoContent, a.status, string(a.body))
	a = b.api(t, "PATCH", "/v2/customers/"+id, `{"op":"replace","path":"/firstName","value":"X"}`)
	require.Equal(t, http.StatusBadRequest, a.status, "a non-array body is refused")
	a = b.api(t, "PATCH", "/v2/customers/"+id, `[{"op":"replace","path":"/lastName","value":"Ok"},{"op":"remove","path":"/emails"}]`)
	require.Equal(t, http.StatusBadRequest, a.status, "removing the whole collection is refused")
	cust, ok := b.sim.CustomerByEmail("anna@home.example")
	require.True(t, ok)
	require.Equal(t, "Anna", cust.FirstName)
	require.Equal(t, "Lee", cust.LastName, "the refused patch changed nothing")

	// PUT overwrites: omitted fields become empty.
	a = b.api(t, "PUT", "/v2/customers/"+id, map[string]any{"firstName": "Ann"})
	require.Equal(t, http.StatusNoContent, a.status)
	a = b.api(t, "GET", "/v2/customers/"+id, nil)
	require.Equal(t, http.StatusOK, a.status)
	m := a.json(t)
	require.Equal(t, "Ann", m["firstName"])
	require.Equal(t, "", m["lastName"])
	require.Equal(t, "", m["jobTitle"])
	require.Len(t, m["_embedded"].(map[string]any)["emails"], 2)

	require.Equal(t, http.StatusNotFound, b.api(t, "PATCH", "/v2/customers/1", `[]`).status)
	require.Equal(t, http.StatusNotFound, b.api(t, "GET", "/v2/customers/1", nil).status)
}

func TestCustomerSearchMatchesSubstrings(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, e := range []string{"ann@example.com", "joann@example.com", "ann@example.com.au", "bob@example.com"} {
		b.sim.AddCustomer(helpscoutsim.Customer{Emails: []helpscoutsim.Entry{{Value: e}}})
	}
	q := url.Values{"query": {`(email:"ann@example.com")`}}
	a := b.api(t, "GET", "/v2/customers?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, a.status)
	m := a.json(t)
	require.Len(t, m["_embedded"].(map[string]any)["customers"], 3, "containing, like the real search")
	require.Equal(t, map[string]any{"size": float64(50), "totalElements": float64(3), "totalPages": float64(1), "number": float64(1)}, m["page"])

	q = url.Values{"query": {`(email:"nobody@example.com")`}}
	m = b.api(t, "GET", "/v2/customers?"+q.Encode(), nil).json(t)
	require.Equal(t, []any{}, m["_embedded"].(map[string]any)["customers"], "an empty page keeps _embedded")

	q = url.Values{"query": {`name is ann`}}
	require.Equal(t, http.StatusBadRequest, b.api(t, "GET", "/v2/customers?"+q.Encode(), nil).status)
}

func TestMailboxes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *helpscoutsim.Options) { o.MailboxIDs = []int64{11, 22} })
	m := b.api(t, "GET", "/v2/mailboxes", nil).json(t)
	boxes := m["_embedded"].(map[string]any)["mailboxes"].([]any)
	require.Len(t, boxes, 2)
	require.Equal(t, "Support", boxes[0].(map[string]any)["name"])
	a := b.api(t, "GET", "/v2/mailboxes/22", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, float64(22), a.json(t)["id"])
	require.Equal(t, http.StatusNotFound, b.api(t, "GET", "/v2/mailboxes/33", nil).status)
	require.Equal(t, http.StatusNotFound, b.api(t, "GET", "/v2/nothing-here", nil).status)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *helpscoutsim.Options) { o.RateLimitPerMinute = 5 })
	steps := []struct {
		method, path string
		status       int
		remaining    string
	}{
		{"POST", "/v2/customers", 201, "3"},
		{"GET", "/v2/mailboxes", 200, "2"},
		{"POST", "/v2/customers", 201, "0"},
		{"GET", "/v2/mailboxes", 429, "0"},
	}
	for i, s := range steps {
		var body any
		if s.method == "POST" {
			body = map[string]any{"firstName": "N"}
		}
		a := b.api(t, s.method, s.path, body)
		require.Equal(t, s.status, a.status, "step %d", i)
		require.Equal(t, "5", a.header.Get("X-Ratelimit-Limit-Minute"), "step %d", i)
		require.Equal(t, s.remaining, a.header.Get("X-Ratelimit-Remaining-Minute"), "step %d", i)
		if s.status == 429 {
			require.Equal(t, "45", a.header.Get("X-Ratelimit-Retry-After"))
			require.JSONEq(t, `{"message":"API rate limit exceeded"}`, string(a.body))
		}
	}
	st := b.sim.State()
	require.Equal(t, 1, st.RateLimited)
	require.Equal(t, helpscoutsim.Window{Start: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), Limit: 5, Used: 5, Remaining: 0}, st.RateLimit)

	b.clock.Advance(45 * time.Second)
	a := b.api(t, "GET", "/v2/mailboxes", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "4", a.header.Get("X-Ratelimit-Remaining-Minute"))
}

func TestRateLimitHeaderSpellingOnTheWire(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sim.SetFaults(helpscoutsim.Faults{RateLimited: true})
	// A recorder keeps header names exactly as written.
	req := httptest.NewRequest("GET", "/v2/mailboxes", nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	rec := httptest.NewRecorder()
	b.sim.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	h := rec.Header()
	require.Equal(t, []string{"400"}, h["X-Ratelimit-Limit-Minute"], "spelled like the recordings")
	require.Equal(t, []string{"0"}, h["X-Ratelimit-Remaining-Minute"])
	require.Equal(t, []string{"45"}, h["X-RateLimit-Retry-After"], "spelled like the documentation")
}

func TestFaultsThroughControlEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	a := b.do(t, "POST", "/_sim/faults", "application/json", []byte(`{"status5xxBurst":2,"burstStatus":503}`))
	require.Equal(t, http.StatusOK, a.status, string(a.body))

	for i, want := range []int{503, 503, 200} {
		a := b.api(t, "GET", "/v2/mailboxes", nil)
		require.Equal(t, want, a.status, "call %d", i)
		if want == 503 {
			require.Equal(t, "application/vnd.error+json", a.header.Get("Content-Type"))
			require.Equal(t, "Service Unavailable", a.json(t)["message"])
		}
	}
	a = b.do(t, "POST", "/_sim/faults", "application/json", []byte(`{"status5xxBurst":1}`))
	require.Equal(t, http.StatusOK, a.status)
	a = b.api(t, "GET", "/v2/mailboxes", nil)
	require.Equal(t, http.StatusInternalServerError, a.status)
	require.Equal(t, map[string]any{"logRef": a.header.Get("Correlation-Id"), "message": "Internal error",
		"_links": map[string]any{"about": map[string]any{"href": "http://developer.helpscout.net/mailbox-api/overview/errors"}}}, a.json(t))

	a = b.do(t, "POST", "/_sim/faults", "application/json", []byte(`{"revokeCredentials":true}`))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, http.StatusUnauthorized, b.api(t, "GET", "/v2/mailboxes", nil).status)
	tok := b.do(t, "POST", "/v2/oauth2/token", "application/json", []byte(`{"grant_type":"client_credentials","client_id":"app-id","client_secret":"app-secret"}`))
	require.Equal(t, http.StatusUnauthorized, tok.status)
	require.Equal(t, http.StatusBadRequest, b.do(t, "POST", "/_sim/faults", "application/json", []byte(`{"failureRate":2}`)).status)
	require.Equal(t, http.StatusBadRequest, b.do(t, "POST", "/_sim/faults", "application/json", []byte(`{"bogus":1}`)).status)

	b.do(t, "POST", "/_sim/faults", "application/json", []byte(`{}`))
	b.token = b.fetchToken(t)
	require.Equal(t, http.StatusOK, b.api(t, "GET", "/v2/mailboxes", nil).status)

	a = b.do(t, "GET", "/_sim/state", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	var st helpscoutsim.State
	require.NoError(t, json.Unmarshal(a.body, &st))
	require.Equal(t, 2, st.TokensIssued)
	require.Equal(t, 2, st.Requests["GET /v2/mailboxes"][503])
	require.Equal(t, 1, st.Requests["GET /v2/mailboxes"][500])
	require.Equal(t, 1, st.Requests["GET /v2/mailboxes"][401])
	require.Equal(t, 2, st.Requests["GET /v2/mailboxes"][200])
	require.Equal(t, 1, st.Requests["POST /v2/oauth2/token"][401])
}

func TestRandomFailuresAreSeeded(t *testing.T) {
	t.Parallel()
	run := func() []int {
		b := setup(t, nil)
		b.sim.SetFaults(helpscoutsim.Faults{FailureRate: 0.5, Seed: 42})
		out := make([]int, 0, 30)
		for range 30 {
			out = append(out, b.api(t, "GET", "/v2/mailboxes", nil).status)
		}
		return out
	}
	first, second := run(), run()
	require.Equal(t, first, second)
	require.Contains(t, first, 200)
	require.Contains(t, first, 500)
}

func TestTimeoutFaultHoldsUntilClientGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sim.SetFaults(helpscoutsim.Faults{Timeout: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", b.url+"/v2/mailboxes", nil)
	require.NoError(t, err)
	_, err = b.http.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestSendWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	type delivery struct {
		event, signature string
		body             []byte
	}
	got := make(chan delivery, 2)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get("X-HelpScout-Event"), r.Header.Get("X-HelpScout-Signature"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(recv.Close)

	status, err := b.sim.SendWebhook(context.Background(), recv.URL, "convo.deleted", []byte(`{"id":123}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	d := <-got
	require.Equal(t, "convo.deleted", d.event)
	require.Equal(t, "7S2+kN8bZsrdAEADJ+yYfWWsf/4=", d.signature, "the reference's test vector")
	require.Equal(t, `{"id":123}`, string(d.body))

	a := b.do(t, "POST", "/_sim/webhooks", "application/json",
		[]byte(`{"url":"`+recv.URL+`","event":"customer.updated","payload":{"id":7,"firstName":"Ann"}}`))
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.JSONEq(t, `{"status":202}`, string(a.body))
	d = <-got
	require.Equal(t, "customer.updated", d.event)
	require.True(t, helpscout.VerifySignature("asdfasdf", d.body, d.signature))
	require.Equal(t, 2, b.sim.State().WebhooksSent)
}

func TestStartAndStop(t *testing.T) {
	t.Parallel()
	sim := helpscoutsim.New(helpscoutsim.Options{})
	require.NoError(t, sim.Start(context.Background(), "127.0.0.1:0"))
	require.Error(t, sim.Start(context.Background(), "127.0.0.1:0"), "started once")
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, sim.URL())

	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	resp, err := hc.Get(sim.URL() + "/_sim/state")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, resp.Body.Close())

	// Empty credentials in Options accept any pair.
	c := helpscout.New(helpscout.Config{BaseURL: sim.URL(), ClientID: "any", ClientSecret: "pair", MailboxID: helpscoutsim.DefaultMailboxID})
	_, err = c.Ping(context.Background())
	require.NoError(t, err)

	sim.Stop()
	sim.Stop()
	_, err = hc.Get(sim.URL() + "/_sim/state")
	require.Error(t, err)
	require.Error(t, sim.Start(context.Background(), "127.0.0.1:0"), "a stopped simulator stays stopped")
}

func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *helpscoutsim.Options) { o.RateLimitPerMinute = 10000 })
	body, err := json.Marshal(validConversation())
	require.NoError(t, err)
	var wg sync.WaitGroup
	ids := make(chan string, 40)
	for range 40 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", b.url+"/v2/conversations", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+b.token)
			resp, err := b.http.Do(req)
			if err != nil {
				ids <- ""
				return
			}
			_ = resp.Body.Close()
			ids <- resp.Header.Get("Resource-Id")
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		require.NotEmpty(t, id)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
	convs := b.sim.Conversations()
	require.Len(t, convs, 40)
	for i, c := range convs {
		require.Equal(t, int64(helpscoutsim.FirstConversationID+i), c.ID)
		require.Equal(t, int64(helpscoutsim.FirstConversationNumber+i), c.Number)
	}
	require.Len(t, b.sim.Customers(), 1, "one email, one customer")
	require.Equal(t, 40, b.sim.CountConversations("ann@example.com", ""))
}

func TestPatchCustomerEntries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.sim.AddCustomer(helpscoutsim.Customer{FirstName: "Ann",
		Emails: []helpscoutsim.Entry{{Value: "ann@example.com"}, {Value: "old@example.com"}},
		Phones: []helpscoutsim.Entry{{Type: "work", Value: "123"}}})
	path := "/v2/customers/" + strconv.FormatInt(c.ID, 10)
	emailID := strconv.FormatInt(c.Emails[1].ID, 10)
	phoneID := strconv.FormatInt(c.Phones[0].ID, 10)

	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"replace an email", `[{"op":"replace","path":"/emails/` + emailID + `","value":{"type":"home","value":"new@example.com"}}]`, 204},
		{"remove a phone", `[{"op":"remove","path":"/phones/` + phoneID + `"}]`, 204},
		{"unknown entry", `[{"op":"remove","path":"/emails/999999"}]`, 400},
		{"bad email", `[{"op":"add","path":"/emails","value":{"type":"work","value":"nope"}}]`, 400},
		{"unknown op", `[{"op":"move","path":"/firstName","value":"x"}]`, 400},
		{"unknown path", `[{"op":"replace","path":"/shoeSize","value":"x"}]`, 400},
		{"another customer's email", `[{"op":"add","path":"/emails","value":{"type":"work","value":"taken@example.com"}}]`, 400},
		{"remove a scalar", `[{"op":"remove","path":"/firstName"}]`, 204},
	}
	b.sim.AddCustomer(helpscoutsim.Customer{Emails: []helpscoutsim.Entry{{Value: "taken@example.com"}}})
	for _, tt := range tests {
		a := b.api(t, "PATCH", path, tt.body)
		require.Equal(t, tt.status, a.status, "%s: %s", tt.name, a.body)
	}
	got, ok := b.sim.CustomerByEmail("new@example.com")
	require.True(t, ok)
	require.Equal(t, c.ID, got.ID)
	require.Equal(t, "home", got.Emails[1].Type)
	require.Empty(t, got.Phones)
	require.Empty(t, got.FirstName)
}

func TestConversationJSONAndUpdates(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	a := b.api(t, "POST", "/v2/conversations", validConversation())
	require.Equal(t, http.StatusCreated, a.status)
	id := int64(helpscoutsim.FirstConversationID)

	b.clock.Advance(time.Hour)
	conv, ok := b.sim.UpdateConversation(id, func(c *helpscoutsim.Conversation) {
		c.Status = "closed"
		c.Assignee = &helpscoutsim.User{ID: 5, First: "Jane", Last: "Agent", Email: "jane@shop.example"}
	})
	require.True(t, ok)
	require.Equal(t, b.clock.Now(), conv.ClosedAt)
	_, ok = b.sim.UpdateConversation(1, func(*helpscoutsim.Conversation) {})
	require.False(t, ok)

	raw, ok := b.sim.ConversationJSON(id)
	require.True(t, ok)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Equal(t, "closed", m["status"])
	require.Equal(t, "2026-03-02T13:00:15Z", m["closedAt"])
	require.Equal(t, "Jane", m["assignee"].(map[string]any)["first"])
	threads := m["_embedded"].(map[string]any)["threads"].([]any)
	require.Len(t, threads, 1)
	require.Equal(t, "Hello", threads[0].(map[string]any)["body"])

	parsed, err := helpscout.ParseConversation(raw)
	require.NoError(t, err)
	require.Equal(t, "Jane Agent", parsed.Assignee)

	got, ok := b.sim.Conversation(id)
	require.True(t, ok)
	cust, ok := b.sim.CustomerJSON(got.CustomerID)
	require.True(t, ok)
	pc, err := helpscout.ParseCustomer(cust)
	require.NoError(t, err)
	require.Equal(t, []string{"ann@example.com"}, pc.Emails)

	// The list embeds threads only when asked.
	q := url.Values{"status": {"all"}, "embed": {"threads"}, "query": {`(email:"ann@")`}}
	page := b.api(t, "GET", "/v2/conversations?"+q.Encode(), nil).json(t)
	items := page["_embedded"].(map[string]any)["conversations"].([]any)
	require.Len(t, items, 1)
	require.Contains(t, items[0].(map[string]any), "_embedded")
}
