package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/server"
)

// liveEnv is one running service with its live hub started.
type liveEnv struct {
	bdb    *bun.DB
	srv    *httptest.Server
	stack  *app.Stack
	issuer *auth.Issuer
}

// newLiveEnv starts a Stack (handler plus live hub) over bdb.
func newLiveEnv(t testing.TB, bdb *bun.DB, cfgMods ...func(*config.Config)) *liveEnv {
	t.Helper()
	cfg := &config.Config{Introspection: true, ComplexityLimit: 5000, LogLevel: zerolog.Disabled}
	for _, m := range cfgMods {
		m(cfg)
	}
	issuer := auth.NewIssuer(testSecret)
	stack := app.NewStack(bdb, cfg, issuer, zerolog.Nop(), nil)
	require.NoError(t, stack.Live.Start(context.Background()))
	srv := httptest.NewServer(stack.Handler)
	t.Cleanup(func() {
		// The clients closed first (their cleanups run earlier): let the
		// server end their operations before the hub stops.
		deadline := time.Now().Add(wsWait)
		for stack.Live.Stats().Subscribers > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		stack.Live.Stop()
		srv.Close()
	})
	return &liveEnv{bdb: bdb, srv: srv, stack: stack, issuer: issuer}
}

func (e *liveEnv) token(t testing.TB, role auth.Role, ttl time.Duration) string {
	t.Helper()
	tok, err := e.issuer.Issue("live-"+strings.ToLower(string(role)), role, ttl)
	require.NoError(t, err)
	return tok
}

// gqlAs posts a query with a bearer token and returns its data; it fails
// on errors.
func (e *liveEnv) gqlAs(t testing.TB, token, query string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(gqlRequest{Query: query})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(body, &out))
	require.Empty(t, out.Errors, "body: %s", body)
	return out.Data
}

var liveSeq atomic.Int64

// writeEvent inserts an event through the event store and returns it.
func writeEvent(t *testing.T, bdb *bun.DB, status db.EventStatus, email string) *db.SyncEvent {
	t.Helper()
	ref := fmt.Sprintf("live-%d", liveSeq.Add(1))
	e := &db.SyncEvent{OccurredAt: time.Now().UTC(), Type: db.EventTicketCreated, Status: status,
		Direction: db.DirectionToHelpScout, Source: db.SourceContactForm, SourceRef: &ref}
	if email != "" {
		e.CustomerEmail = &email
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(context.Background(), bdb, []*db.SyncEvent{e}))
	return e
}

const syncEventsSub = `subscription($filter: SyncEventFilter, $after: String) {
  syncEvents(filter: $filter, after: $after) { cursor kind replay event { id status } }
}`

// liveChange is the decoded data of one syncEvents message.
type liveChange struct {
	SyncEvents struct {
		Cursor string `json:"cursor"`
		Kind   string `json:"kind"`
		Replay bool   `json:"replay"`
		Event  struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"event"`
	} `json:"syncEvents"`
}

func (c *wsClient) change(t *testing.T, id string) liveChange {
	t.Helper()
	var v liveChange
	c.data(t, id, &v)
	return v
}

func idOf(e *db.SyncEvent) string { return strconv.FormatInt(e.ID, 10) }

func TestSubscriptionDelivers(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	tests := []struct {
		name    string
		proto   string
		payload map[string]any
	}{
		{"graphql-transport-ws", protoTransportWS, map[string]any{"Authorization": "Bearer " + tok}},
		{"graphql-ws", protoGraphQLWS, map[string]any{"Authorization": "Bearer " + tok}},
		{"lower-case key", protoTransportWS, map[string]any{"authorization": "Bearer " + tok}},
		{"headers object", protoGraphQLWS, map[string]any{"headers": map[string]any{"Authorization": "Bearer " + tok}}},
	}
	clients := make([]*wsClient, len(tests))
	for i, tt := range tests {
		c := mustDialWS(t, e.srv.URL, tt.proto)
		m := c.init(t, tt.payload)
		require.Equal(t, "connection_ack", m.Type, tt.name)
		c.subscribe(t, "1", syncEventsSub, nil)
		clients[i] = c
	}
	require.Eventually(t, func() bool { return e.stack.Live.Stats().Subscribers == len(tests) }, wsWait, 10*time.Millisecond)

	ev := writeEvent(t, e.bdb, db.StatusPending, "ann@example.com")
	for i, c := range clients {
		got := c.change(t, "1").SyncEvents
		require.Equal(t, idOf(ev), got.Event.ID, tests[i].name)
		require.Equal(t, "CREATED", got.Kind)
		require.Equal(t, "PENDING", got.Event.Status)
		require.False(t, got.Replay)
		require.NotEmpty(t, got.Cursor)
	}
	_, err := e.bdb.ExecContext(t.Context(), "UPDATE sync_events SET status = 'SUCCESS' WHERE id = ?", ev.ID)
	require.NoError(t, err)
	for i, c := range clients {
		got := c.change(t, "1").SyncEvents
		require.Equal(t, idOf(ev), got.Event.ID, tests[i].name)
		require.Equal(t, "UPDATED", got.Kind)
		require.Equal(t, "SUCCESS", got.Event.Status)
	}
}

func TestSubscriptionFilter(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	c := mustDialWS(t, e.srv.URL, protoTransportWS)
	c.initOK(t, e.token(t, auth.RoleManager, time.Hour))
	c.subscribe(t, "failed", syncEventsSub, map[string]any{"filter": map[string]any{"statuses": []string{"FAILED"}}})
	c.subscribe(t, "bob", syncEventsSub, map[string]any{"filter": map[string]any{"search": "BOB@"}})
	require.Eventually(t, func() bool { return e.stack.Live.Stats().Subscribers == 2 }, wsWait, 10*time.Millisecond)

	writeEvent(t, e.bdb, db.StatusSuccess, "ann@example.com")
	failed := writeEvent(t, e.bdb, db.StatusFailed, "ann@example.com")
	bob := writeEvent(t, e.bdb, db.StatusSuccess, "bob@example.com")
	got := map[string]string{}
	for range 2 {
		m := c.next(t)
		var p wsPayload
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		var v liveChange
		require.NoError(t, json.Unmarshal(p.Data, &v))
		got[m.ID] = v.SyncEvents.Event.ID
	}
	require.Equal(t, map[string]string{"failed": idOf(failed), "bob": idOf(bob)}, got)
}

// TestSubscriptionWithinYesterday: a relative range that ends before now
// (YESTERDAY) keeps its end on the live feed: it follows the changes of
// yesterday's events, not the events written today.
func TestSubscriptionWithinYesterday(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	c := mustDialWS(t, e.srv.URL, protoTransportWS)
	c.initOK(t, e.token(t, auth.RoleManager, time.Hour))
	today := db.StartOfDay(time.Now(), 0, time.UTC)
	c.subscribe(t, "yesterday", syncEventsSub, map[string]any{"filter": map[string]any{"within": "YESTERDAY"}})
	require.Eventually(t, func() bool { return e.stack.Live.Stats().Subscribers == 1 }, wsWait, 10*time.Millisecond)

	// Written first, today: the subscription must pass over it.
	writeEvent(t, e.bdb, db.StatusSuccess, "today@example.com")
	ref := fmt.Sprintf("live-%d", liveSeq.Add(1))
	old := &db.SyncEvent{OccurredAt: today.Add(-time.Minute), Type: db.EventTicketCreated,
		Status: db.StatusFailed, ErrorCode: ptr(db.CodeTimeout), Direction: db.DirectionToHelpScout, Source: db.SourceContactForm, SourceRef: &ref}
	require.NoError(t, db.NewEventStore(e.bdb).Insert(context.Background(), e.bdb, []*db.SyncEvent{old}))

	if !db.StartOfDay(time.Now(), 0, time.UTC).Equal(today) {
		t.Skip("midnight passed while the test ran: its yesterday is no longer the subscription's")
	}
	got := c.change(t, "yesterday")
	require.Equal(t, idOf(old), got.SyncEvents.Event.ID, "the first change delivered is yesterday's event, not today's")
}

func TestSubscriptionResume(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	var events []*db.SyncEvent
	for range 4 {
		events = append(events, writeEvent(t, e.bdb, db.StatusSuccess, ""))
	}

	// From a list cursor: the events after it, then live.
	list := e.gqlAs(t, tok, `{ syncEvents(first: 2, orderBy: {direction: ASC}) { pageInfo { endCursor } } }`)
	var page struct {
		SyncEvents struct {
			PageInfo struct{ EndCursor string } `json:"pageInfo"`
		} `json:"syncEvents"`
	}
	require.NoError(t, json.Unmarshal(list, &page))
	c := mustDialWS(t, e.srv.URL, protoTransportWS)
	c.initOK(t, tok)
	c.subscribe(t, "1", syncEventsSub, map[string]any{"after": page.SyncEvents.PageInfo.EndCursor})
	for _, want := range events[2:] {
		got := c.change(t, "1").SyncEvents
		require.Equal(t, idOf(want), got.Event.ID)
		require.True(t, got.Replay)
	}
	fifth := writeEvent(t, e.bdb, db.StatusPending, "")
	got := c.change(t, "1").SyncEvents
	require.Equal(t, idOf(fifth), got.Event.ID)
	require.False(t, got.Replay)
	cursor := got.Cursor

	// Disconnected: a missed stretch, then a resume from the live cursor.
	require.NoError(t, c.conn.Close(1000, "bye"))
	var missed []string
	for range 3 {
		missed = append(missed, idOf(writeEvent(t, e.bdb, db.StatusPending, "")))
	}
	_, err := e.bdb.ExecContext(t.Context(), "UPDATE sync_events SET status = 'FAILED' WHERE id = ?", fifth.ID)
	require.NoError(t, err)
	missed = append(missed, idOf(fifth))

	c2 := mustDialWS(t, e.srv.URL, protoGraphQLWS)
	c2.initOK(t, tok)
	c2.subscribe(t, "1", syncEventsSub, map[string]any{"after": cursor})
	var replayed []string
	for range missed {
		got := c2.change(t, "1").SyncEvents
		require.True(t, got.Replay)
		replayed = append(replayed, got.Event.ID)
	}
	require.Equal(t, missed, replayed, "in order, no gap, no duplicate")
	live := writeEvent(t, e.bdb, db.StatusPending, "")
	got = c2.change(t, "1").SyncEvents
	require.Equal(t, idOf(live), got.Event.ID)
	require.False(t, got.Replay)

	// A bad cursor is BAD_USER_INPUT naming after.
	c2.subscribe(t, "bad", syncEventsSub, map[string]any{"after": "nonsense"})
	errs := c2.opErrors(t, "bad")
	require.Equal(t, "BAD_USER_INPUT", errs[0].Extensions["code"])
	require.Equal(t, "after", errs[0].Extensions["argument"])
}

// TestSubscriptionFromLiveCursor: a client reads the list with its
// liveCursor, then subscribes from it after a while. Every change made
// since reaches it: a status change of an event on the page, and an event
// written meanwhile with an earlier time than the page's newest (as a
// transaction that commits late writes it), which a resume from a list
// cursor would pass over. An empty log has a liveCursor too.
func TestSubscriptionFromLiveCursor(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	type listed struct {
		SyncEvents struct {
			LiveCursor *string `json:"liveCursor"`
			Nodes      []struct{ ID string }
		} `json:"syncEvents"`
	}
	read := func() listed {
		var page listed
		require.NoError(t, json.Unmarshal(e.gqlAs(t, tok, `{ syncEvents(first: 10) { liveCursor nodes { id } } }`), &page))
		require.NotNil(t, page.SyncEvents.LiveCursor)
		return page
	}

	empty := read()
	require.Empty(t, empty.SyncEvents.Nodes)
	first := writeEvent(t, e.bdb, db.StatusSuccess, "")
	c := mustDialWS(t, e.srv.URL, protoTransportWS)
	c.initOK(t, tok)
	c.subscribe(t, "empty", syncEventsSub, map[string]any{"after": *empty.SyncEvents.LiveCursor})
	require.Equal(t, idOf(first), c.change(t, "empty").SyncEvents.Event.ID, "written before the subscription, after the read")

	pending := writeEvent(t, e.bdb, db.StatusPending, "")
	page := read()
	require.Equal(t, idOf(pending), page.SyncEvents.Nodes[0].ID)
	_, err := e.bdb.ExecContext(t.Context(), "UPDATE sync_events SET status = 'FAILED' WHERE id = ?", pending.ID)
	require.NoError(t, err)
	late := &db.SyncEvent{OccurredAt: time.Now().UTC().Add(-time.Hour), Type: db.EventCustomerSynced, Status: db.StatusSuccess,
		Direction: db.DirectionToHelpScout, Source: db.SourceCustomerUpdate}
	require.NoError(t, db.NewEventStore(e.bdb).Insert(t.Context(), e.bdb, []*db.SyncEvent{late}))

	c2 := mustDialWS(t, e.srv.URL, protoTransportWS)
	c2.initOK(t, tok)
	c2.subscribe(t, "page", syncEventsSub, map[string]any{"after": *page.SyncEvents.LiveCursor})
	got := c2.change(t, "page").SyncEvents
	require.Equal(t, idOf(pending), got.Event.ID)
	require.Equal(t, "FAILED", got.Event.Status)
	require.Equal(t, idOf(late), c2.change(t, "page").SyncEvents.Event.ID)
	fresh := writeEvent(t, e.bdb, db.StatusPending, "")
	require.Equal(t, idOf(fresh), c2.change(t, "page").SyncEvents.Event.ID, "then live, nothing else in between")
}

func TestSubscriptionAcrossInstances(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	writer := newLiveEnv(t, bdb)
	reader := newLiveEnv(t, bdb)
	c := mustDialWS(t, reader.srv.URL, protoTransportWS)
	c.initOK(t, reader.token(t, auth.RoleManager, time.Hour))
	c.subscribe(t, "1", syncEventsSub, nil)
	require.Eventually(t, func() bool { return reader.stack.Live.Stats().Subscribers == 1 }, wsWait, 10*time.Millisecond)

	ev := writeEvent(t, writer.bdb, db.StatusPending, "")
	require.Equal(t, idOf(ev), c.change(t, "1").SyncEvents.Event.ID)

	// The reader's listening connection is killed: events still arrive.
	var killed []bool
	require.NoError(t, bdb.NewRaw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`).Scan(t.Context(), &killed))
	require.Len(t, killed, 2, "one listening connection per instance")
	ev2 := writeEvent(t, writer.bdb, db.StatusFailed, "")
	require.Equal(t, idOf(ev2), c.change(t, "1").SyncEvents.Event.ID)
	require.Eventually(t, func() bool { return reader.stack.Live.Stats().Reconnects >= 1 }, wsWait, 10*time.Millisecond)
	ev3 := writeEvent(t, writer.bdb, db.StatusSuccess, "")
	require.Equal(t, idOf(ev3), c.change(t, "1").SyncEvents.Event.ID)
}

func TestSubscriptionAuth(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tests := []struct {
		name  string
		proto string
		token string
		code  string
	}{
		{"no token", protoTransportWS, "", "UNAUTHENTICATED"},
		{"no token, graphql-ws", protoGraphQLWS, "", "UNAUTHENTICATED"},
		{"SERVICE", protoTransportWS, e.token(t, auth.RoleService, time.Hour), "FORBIDDEN"},
		{"SERVICE, graphql-ws", protoGraphQLWS, e.token(t, auth.RoleService, time.Hour), "FORBIDDEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDialWS(t, e.srv.URL, tt.proto)
			payload := map[string]any{}
			if tt.token != "" {
				payload["Authorization"] = "Bearer " + tt.token
			}
			require.Equal(t, "connection_ack", c.init(t, payload).Type)
			for _, q := range []string{syncEventsSub, `subscription { summary { total } }`} {
				c.subscribe(t, "1", q, nil)
				errs := c.opErrors(t, "1")
				require.Equal(t, tt.code, errs[0].Extensions["code"], "%s: %+v", q, errs)
			}
		})
	}

	refused := []struct {
		name, token, reason string
	}{
		{"invalid token", "not.a.jwt", "UNAUTHENTICATED: the bearer token is invalid"},
		{"expired token", e.token(t, auth.RoleManager, -time.Hour), "UNAUTHENTICATED: the bearer token has expired"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDialWS(t, e.srv.URL, protoTransportWS)
			b, err := json.Marshal(map[string]any{"Authorization": "Bearer " + tt.token})
			require.NoError(t, err)
			require.NoError(t, c.send(wsMsg{Type: "connection_init", Payload: b}))
			code, reason := c.waitClosed(t)
			require.EqualValues(t, 4401, code)
			require.Equal(t, tt.reason, reason)
		})
	}
}

func TestSubscriptionTokenExpires(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c := mustDialWS(t, e.srv.URL, proto)
			c.initOK(t, e.token(t, auth.RoleManager, 2*time.Second))
			c.subscribe(t, "1", syncEventsSub, nil)
			errs := c.opErrors(t, "1")
			require.Equal(t, "UNAUTHENTICATED", errs[0].Extensions["code"])
			require.Contains(t, errs[0].Message, "token expired")
			require.Contains(t, errs[0].Message, "resubscribe with after:")

			// New operations on the connection are refused too.
			c.subscribe(t, "2", syncEventsSub, nil)
			errs = c.opErrors(t, "2")
			require.Equal(t, "UNAUTHENTICATED", errs[0].Extensions["code"])
		})
	}
}

func TestSubscriptionOrigin(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	sameOnly := newLiveEnv(t, bdb)
	allowing := newLiveEnv(t, bdb, func(c *config.Config) { c.AllowedOrigins = []string{"https://wall.example.com"} })
	tests := []struct {
		name   string
		env    *liveEnv
		origin string
		ok     bool
	}{
		{"no Origin (not a browser)", sameOnly, "", true},
		{"same origin", sameOnly, sameOnly.srv.URL, true},
		{"foreign origin", sameOnly, "https://evil.example.com", false},
		{"allowed origin", allowing, "https://wall.example.com", true},
		{"other origin", allowing, "https://evil.example.com", false},
		{"allowed host over another scheme", allowing, "http://wall.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := dialWS(t.Context(), tt.env.srv.URL, protoTransportWS, h)
			if !tt.ok {
				require.Error(t, err)
				require.NotNil(t, resp)
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
				return
			}
			require.NoError(t, err)
			defer c.conn.CloseNow()
			c.initOK(t, tt.env.token(t, auth.RoleManager, time.Hour))
		})
	}
}

func TestSummarySubscription(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	c := mustDialWS(t, e.srv.URL, protoTransportWS)
	c.initOK(t, e.token(t, auth.RoleManager, time.Hour))
	c.subscribe(t, "s", `subscription { summary(window: LAST_24_HOURS) { total failed } }`, nil)
	var v struct {
		Summary struct{ Total, Failed int } `json:"summary"`
	}
	c.data(t, "s", &v)
	require.Equal(t, 0, v.Summary.Total, "the first value at once")
	writeEvent(t, e.bdb, db.StatusFailed, "")
	c.data(t, "s", &v)
	require.Equal(t, 1, v.Summary.Total)
	require.Equal(t, 1, v.Summary.Failed)
}

// TestOperationsPerConnection: one WebSocket runs at most
// server.MaxWSOperations operations at once; the next is refused with
// TOO_MANY_OPERATIONS while the others keep running, and completing one
// makes room again.
func TestOperationsPerConnection(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	c := mustDialWS(t, e.srv.URL, protoTransportWS)
	c.initOK(t, e.token(t, auth.RoleManager, time.Hour))
	for i := 1; i <= server.MaxWSOperations; i++ {
		c.subscribe(t, strconv.Itoa(i), syncEventsSub, nil)
	}
	require.Eventually(t, func() bool { return e.stack.Live.Stats().Subscribers == server.MaxWSOperations }, wsWait, 10*time.Millisecond)

	const query = `{ viewer { role } }`
	for _, op := range []struct{ id, query string }{{"one subscription more", syncEventsSub}, {"a query", query}} {
		c.subscribe(t, op.id, op.query, nil)
		errs := c.opErrors(t, op.id)
		require.Len(t, errs, 1)
		require.Equal(t, "TOO_MANY_OPERATIONS", errs[0].code(), op.id)
		require.Contains(t, errs[0].Message, strconv.Itoa(server.MaxWSOperations))
	}

	// The refusals took nothing from the running subscriptions.
	ev := writeEvent(t, e.bdb, db.StatusPending, "ann@example.com")
	seen := map[string]bool{}
	for len(seen) < server.MaxWSOperations {
		m := c.next(t)
		require.Equal(t, "next", m.Type, "payload: %s", m.Payload)
		require.Contains(t, string(m.Payload), `"id":"`+idOf(ev)+`"`)
		seen[m.ID] = true
	}

	// Completing one makes room; the server frees it once it has read the
	// complete message, so the probe is repeated until it runs.
	require.NoError(t, c.send(wsMsg{Type: "complete", ID: "1"}))
	probes := 0
	require.Eventually(t, func() bool {
		probes++
		id := "probe-" + strconv.Itoa(probes)
		c.subscribe(t, id, query, nil)
		m := c.next(t)
		if m.ID == "1" {
			// The server's own end of the completed subscription.
			require.Equal(t, "complete", m.Type)
			m = c.next(t)
		}
		require.Equal(t, id, m.ID, "message %s: %s", m.Type, m.Payload)
		if m.Type == "next" && !strings.Contains(string(m.Payload), "TOO_MANY_OPERATIONS") {
			require.JSONEq(t, `{"data":{"viewer":{"role":"MANAGER"}}}`, string(m.Payload))
			return true
		}
		require.Equal(t, "complete", c.next(t).Type)
		return false
	}, wsWait, 10*time.Millisecond, "a query runs once a subscription completed")
}
