package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/live"
)

// waitStats polls the hub until ok holds, failing after wsWait.
func waitStats(t *testing.T, e *liveEnv, what string, ok func(live.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(wsWait)
	for {
		st := e.stack.Live.Stats()
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: hub stats %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscribers returns a condition on the open subscriptions and the hub's
// own subscriptions to the feed.
func subscribers(subs, streams int) func(live.Stats) bool {
	return func(st live.Stats) bool { return st.Subscribers == subs && st.Streams == streams }
}

// dialMembers opens n connections, alternating the subprotocols, and
// subscribes each with query and vars as operation "1".
func dialMembers(t *testing.T, e *liveEnv, n int, token, query string, vars map[string]any) []*wsClient {
	t.Helper()
	clients := make([]*wsClient, n)
	for i := range clients {
		proto := protoTransportWS
		if i%2 == 1 {
			proto = protoGraphQLWS
		}
		c := mustDialWS(t, e.srv.URL, proto)
		c.initOK(t, token)
		c.subscribe(t, "1", query, vars)
		clients[i] = c
	}
	return clients
}

// stop ends operation id without closing the connection.
func (c *wsClient) stop(t *testing.T, id string) {
	t.Helper()
	typ := "complete"
	if c.proto == protoGraphQLWS {
		typ = "stop"
	}
	require.NoError(t, c.send(wsMsg{Type: typ, ID: id}))
}

// requireEvents requires that c receives the changes of events, in order.
func requireEvents(t *testing.T, c *wsClient, events ...*db.SyncEvent) []liveChange {
	t.Helper()
	got := make([]liveChange, len(events))
	for i, want := range events {
		got[i] = c.change(t, "1")
		require.Equal(t, idOf(want), got[i].SyncEvents.Event.ID, "change %d", i)
		require.False(t, got[i].SyncEvents.Replay)
	}
	return got
}

func TestSharedSubscriptionFansOut(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	const n = 50
	clients := dialMembers(t, e, n, e.token(t, auth.RoleManager, time.Hour), syncEventsSub, nil)
	waitStats(t, e, "50 members of one execution", subscribers(n, 1))

	var events []*db.SyncEvent
	for i := range 5 {
		events = append(events, writeEvent(t, e.bdb, db.StatusPending, fmt.Sprintf("fan%d@example.com", i)))
	}
	var cursors []string
	check := func(i int, got []liveChange) {
		var cs []string
		for _, g := range got {
			cs = append(cs, g.SyncEvents.Cursor)
		}
		if i == 0 {
			cursors = append(cursors, cs...)
		}
		require.Equal(t, cursors[len(cursors)-len(cs):], cs, "every member sees the same changes")
	}
	for i, c := range clients {
		check(i, requireEvents(t, c, events...))
	}
	// The metrics count the frames queued and the writes they left in.
	frames, writes := metricValue(t, e, "helpscout_log_websocket_frames_total"), metricValue(t, e, "helpscout_log_websocket_writes_total")
	require.GreaterOrEqual(t, frames, float64(n*len(events)))
	require.Positive(t, writes)
	require.Equal(t, float64(0), metricValue(t, e, "helpscout_log_websocket_spacing"), "50 members are far from busy")
	// Read before the update: the feed delivers an event changed twice
	// since the last read once, at its latest change.
	_, err := e.bdb.ExecContext(t.Context(), "UPDATE sync_events SET status = 'FAILED' WHERE id = ?", events[0].ID)
	require.NoError(t, err)
	for i, c := range clients {
		got := requireEvents(t, c, events[0])
		require.Equal(t, "UPDATED", got[0].SyncEvents.Kind)
		require.Equal(t, "FAILED", got[0].SyncEvents.Event.Status)
		check(i, got)
	}
	require.Equal(t, 1, e.stack.Live.Stats().Streams, "one execution, one subscription to the hub")

	// The member that started the execution leaves, then others, by
	// closing the connection or by stopping the operation: the rest go on.
	require.NoError(t, clients[0].conn.Close(websocket.StatusNormalClosure, "bye"))
	// A stopped operation gets no further message, not even a complete.
	for _, c := range clients[1:10] {
		c.stop(t, "1")
	}
	waitStats(t, e, "40 members left", subscribers(n-10, 1))
	ev := writeEvent(t, e.bdb, db.StatusSuccess, "")
	for _, c := range clients[10:] {
		requireEvents(t, c, ev)
	}
	for _, c := range clients[1:10] {
		c.subscribe(t, "2", `{ viewer { role } }`, nil)
		m := c.next(t)
		require.Equal(t, "2", m.ID, "%s: %s", m.Type, m.Payload)
	}

	// The execution ends with its last member.
	for _, c := range clients[10:] {
		require.NoError(t, c.conn.Close(websocket.StatusNormalClosure, "bye"))
	}
	waitStats(t, e, "no member left", subscribers(0, 0))
}

func TestSharedSubscriptionGroups(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	failedOnly := map[string]any{"filter": map[string]any{"statuses": []string{"FAILED"}}}
	all := dialMembers(t, e, 3, tok, syncEventsSub, nil)
	failed := dialMembers(t, e, 3, tok, syncEventsSub, failedOnly)
	// The same operation with its variables inlined is another group.
	inline := dialMembers(t, e, 2, tok, `subscription { syncEvents(filter: {statuses: [FAILED]}) { cursor kind replay event { id status } } }`, nil)
	waitStats(t, e, "three groups", subscribers(8, 3))

	ok := writeEvent(t, e.bdb, db.StatusSuccess, "")
	bad := writeEvent(t, e.bdb, db.StatusFailed, "")
	var from string
	for _, c := range all {
		from = requireEvents(t, c, ok, bad)[0].SyncEvents.Cursor
	}
	for _, c := range append(failed, inline...) {
		requireEvents(t, c, bad)
	}

	// A subscription with a cursor replays on its own, then goes live.
	r := mustDialWS(t, e.srv.URL, protoTransportWS)
	r.initOK(t, tok)
	r.subscribe(t, "1", syncEventsSub, map[string]any{"after": from})
	got := r.change(t, "1").SyncEvents
	require.Equal(t, idOf(bad), got.Event.ID)
	require.True(t, got.Replay)
	waitStats(t, e, "the replaying subscription runs alone", subscribers(9, 4))
	ev := writeEvent(t, e.bdb, db.StatusSuccess, "")
	for _, c := range append(all, r) {
		requireEvents(t, c, ev)
	}
}

func TestSharedSubscriptionAuthorisesEachMember(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	managers := dialMembers(t, e, 2, e.token(t, auth.RoleManager, time.Hour), syncEventsSub, nil)
	waitStats(t, e, "two members", subscribers(2, 1))

	tests := []struct {
		name, token, code string
	}{
		{"SERVICE", e.token(t, auth.RoleService, time.Hour), "FORBIDDEN"},
		{"no token", "", "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
			c := mustDialWS(t, e.srv.URL, proto)
			payload := map[string]any{}
			if tt.token != "" {
				payload["Authorization"] = "Bearer " + tt.token
			}
			require.Equal(t, "connection_ack", c.init(t, payload).Type)
			c.subscribe(t, "1", syncEventsSub, nil)
			errs := c.opErrors(t, "1")
			require.Equal(t, tt.code, errs[0].Extensions["code"], "%s over %s: %+v", tt.name, proto, errs)
			require.Equal(t, []any{"syncEvents"}, errs[0].Path)
		}
	}
	// A higher role is served by an execution of its own role.
	admin := dialMembers(t, e, 1, e.token(t, auth.RoleAdministrator, time.Hour), syncEventsSub, nil)[0]
	waitStats(t, e, "the managers and the administrator", subscribers(3, 2))

	ev := writeEvent(t, e.bdb, db.StatusPending, "")
	for _, c := range append(managers, admin) {
		requireEvents(t, c, ev)
	}
}

var afterCursor = regexp.MustCompile(`resubscribe with after: "([^"]*)"`)

func TestSharedSubscriptionTokenExpires(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
		t.Run(proto, func(t *testing.T) {
			// The member whose token expires starts the execution; a
			// summary subscription on the same connection expires too.
			short := mustDialWS(t, e.srv.URL, proto)
			short.initOK(t, e.token(t, auth.RoleManager, 3*time.Second))
			filter := map[string]any{"filter": map[string]any{"search": "expiry-" + proto}}
			short.subscribe(t, "1", syncEventsSub, filter)
			long := dialMembers(t, e, 2, e.token(t, auth.RoleManager, time.Hour), syncEventsSub, filter)
			waitStats(t, e, "three members of one execution", subscribers(3, 1))

			ev := writeEvent(t, e.bdb, db.StatusPending, "expiry-"+proto+"@example.com")
			seen := requireEvents(t, short, ev)[0].SyncEvents.Cursor
			for _, c := range long {
				requireEvents(t, c, ev)
			}

			errs := short.opErrors(t, "1")
			require.Equal(t, "UNAUTHENTICATED", errs[0].Extensions["code"])
			require.Contains(t, errs[0].Message, "token expired")
			require.Equal(t, []any{"syncEvents"}, errs[0].Path)
			m := afterCursor.FindStringSubmatch(errs[0].Message)
			require.NotNil(t, m, errs[0].Message)
			require.Equal(t, seen, m[1], "the cursor of the last change it received")

			// The others go on; the expired member resumes without a gap.
			missed := writeEvent(t, e.bdb, db.StatusFailed, "expiry-"+proto+"@example.com")
			for _, c := range long {
				requireEvents(t, c, missed)
			}
			again := mustDialWS(t, e.srv.URL, proto)
			again.initOK(t, e.token(t, auth.RoleManager, time.Hour))
			again.subscribe(t, "1", syncEventsSub, map[string]any{"filter": filter["filter"], "after": m[1]})
			got := again.change(t, "1").SyncEvents
			require.Equal(t, idOf(missed), got.Event.ID)
			require.True(t, got.Replay)
		})
	}
}

func TestSharedSummarySubscription(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	const q = `subscription { summary(window: LAST_24_HOURS) { total failed } }`
	type summary struct {
		Summary struct{ Total, Failed int } `json:"summary"`
	}
	tok := e.token(t, auth.RoleManager, time.Hour)
	clients := dialMembers(t, e, 3, tok, q, nil)
	for _, c := range clients {
		var v summary
		c.data(t, "1", &v)
		require.Equal(t, 0, v.Summary.Total, "the first value at once")
	}
	waitStats(t, e, "one summary execution", func(st live.Stats) bool {
		return st.SummarySubscribers == 3 && st.SummaryStreams == 1
	})
	writeEvent(t, e.bdb, db.StatusFailed, "")
	for _, c := range clients {
		var v summary
		c.data(t, "1", &v)
		require.Equal(t, 1, v.Summary.Failed)
	}

	// A late member gets the latest value at once, as from the hub.
	late := dialMembers(t, e, 1, tok, q, nil)[0]
	var v summary
	late.data(t, "1", &v)
	require.Equal(t, 1, v.Summary.Failed)
	waitStats(t, e, "four summary members", func(st live.Stats) bool {
		return st.SummarySubscribers == 4 && st.SummaryStreams == 1
	})
}

// smallBuffers makes the kernel hold little for a WebSocket that is not
// read, so that a slow client shows within a few hundred messages.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// dialUnread opens a WebSocket with a small receive buffer, authenticates
// and subscribes, and then reads nothing until the test says.
func dialUnread(t *testing.T, base, token, query string) *websocket.Conn {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	url := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	conn, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{protoTransportWS}, HTTPClient: client})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.CloseNow() })
	conn.SetReadLimit(1 << 22)
	send := func(v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, conn.Write(t.Context(), websocket.MessageText, b))
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	_, data, err := conn.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(data), `"connection_ack"`)
	send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query}})
	return conn
}

func TestSharedSubscriptionDropsSlowMember(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	slowSrv := httptest.NewUnstartedServer(e.stack.Handler)
	slowSrv.Listener = smallBuffers{slowSrv.Listener}
	slowSrv.Start()
	t.Cleanup(slowSrv.Close)

	// Wide frames, so that the socket buffers fill quickly.
	var q strings.Builder
	q.WriteString("subscription { syncEvents { cursor kind replay event { id status }")
	for i := range 10 {
		fmt.Fprintf(&q, " e%d: event { id status type direction occurredAt customerEmail }", i)
	}
	q.WriteString(" } }")
	tok := e.token(t, auth.RoleManager, time.Hour)
	fast := dialMembers(t, e, 1, tok, q.String(), nil)[0]
	slow := dialUnread(t, slowSrv.URL, tok, q.String())
	waitStats(t, e, "two members", subscribers(2, 1))

	// Write in batches the fast member keeps up with, until the one that
	// reads nothing is dropped.
	var written []*db.SyncEvent
	for e.stack.Live.Stats().Subscribers == 2 {
		require.Less(t, len(written), 5000, "the slow member was never dropped")
		batch := make([]*db.SyncEvent, 50)
		for i := range batch {
			ref := fmt.Sprintf("slow-%d", len(written)+i)
			batch[i] = &db.SyncEvent{OccurredAt: time.Now().UTC(), Type: db.EventTicketCreated, Status: db.StatusPending,
				Direction: db.DirectionToHelpScout, Source: db.SourceContactForm, SourceRef: &ref}
		}
		require.NoError(t, db.NewEventStore(e.bdb).Insert(t.Context(), e.bdb, batch))
		requireEvents(t, fast, batch...)
		written = append(written, batch...)
	}
	waitStats(t, e, "the fast member is left", subscribers(1, 1))

	// The slow member now reads: the changes its buffer held, in order,
	// then SLOW_CONSUMER with the cursor of the last of them.
	var ids []string
	var last string
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	for {
		_, data, err := slow.Read(ctx)
		require.NoError(t, err)
		var m wsMsg
		require.NoError(t, json.Unmarshal(data, &m))
		if m.Type == "ping" {
			continue
		}
		if m.Type == "error" {
			var errs []gqlError
			require.NoError(t, json.Unmarshal(m.Payload, &errs))
			require.Equal(t, "SLOW_CONSUMER", errs[0].Extensions["code"], "%+v", errs)
			require.Contains(t, errs[0].Message, fmt.Sprintf("after: %q", last))
			break
		}
		require.Equal(t, "next", m.Type, "%s", data)
		var p wsPayload
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		var v liveChange
		require.NoError(t, json.Unmarshal(p.Data, &v))
		ids = append(ids, v.SyncEvents.Event.ID)
		last = v.SyncEvents.Cursor
	}
	require.GreaterOrEqual(t, len(ids), live.DefaultBuffer)
	for i, id := range ids {
		require.Equal(t, idOf(written[i]), id, "change %d", i)
	}

	// The fast member goes on.
	ev := writeEvent(t, e.bdb, db.StatusSuccess, "")
	requireEvents(t, fast, ev)
}

func TestSharedSubscriptionEndsWithTheHub(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	clients := dialMembers(t, e, 3, e.token(t, auth.RoleManager, time.Hour), syncEventsSub, nil)
	waitStats(t, e, "three members", subscribers(3, 1))
	ev := writeEvent(t, e.bdb, db.StatusPending, "")
	var last string
	for _, c := range clients {
		last = requireEvents(t, c, ev)[0].SyncEvents.Cursor
	}

	// The reason the hub gives the execution reaches every member.
	e.stack.Live.Stop()
	for _, c := range clients {
		errs := c.opErrors(t, "1")
		require.Equal(t, "UNAVAILABLE", errs[0].Extensions["code"], "%+v", errs)
		require.Contains(t, errs[0].Message, fmt.Sprintf("resubscribe with after: %q", last))
		require.Equal(t, []any{"syncEvents"}, errs[0].Path)
	}
}

// metricValue reads one unlabelled metric from /metrics.
func metricValue(t *testing.T, e *liveEnv, name string) float64 {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("%s is not in /metrics", name)
	return 0
}
