package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
)

// TestWebSocketProtocolRefusals: a client that breaks the rules of its
// subprotocol is closed with the code the protocol gives and a reason,
// instead of a generic protocol error or an operation left running that
// the client can no longer stop.
func TestWebSocketProtocolRefusals(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	raw := func(s string) func(t *testing.T, c *wsClient) {
		return func(t *testing.T, c *wsClient) {
			require.NoError(t, c.conn.Write(t.Context(), websocket.MessageText, []byte(s)))
		}
	}
	initOK := func(t *testing.T, c *wsClient) { c.initOK(t, tok) }
	subscribe := func(id string) func(t *testing.T, c *wsClient) {
		return func(t *testing.T, c *wsClient) { c.subscribe(t, id, syncEventsSub, nil) }
	}
	tests := []struct {
		name   string
		proto  string
		steps  []func(t *testing.T, c *wsClient)
		code   websocket.StatusCode
		reason string
	}{
		{"id of a running subscription", protoTransportWS, []func(*testing.T, *wsClient){initOK, subscribe("1"), subscribe("1")},
			4409, "Subscriber for 1 already exists"},
		{"id of a running subscription, graphql-ws", protoGraphQLWS, []func(*testing.T, *wsClient){initOK, subscribe("a"), subscribe("b"), subscribe("a")},
			4409, "Subscriber for a already exists"},
		{"subscribe before connection_init", protoTransportWS, []func(*testing.T, *wsClient){subscribe("1")},
			4401, "Unauthorized"},
		{"second connection_init", protoTransportWS, []func(*testing.T, *wsClient){initOK, raw(`{"type":"connection_init"}`)},
			4429, "Too many initialisation requests"},
		{"not JSON", protoTransportWS, []func(*testing.T, *wsClient){initOK, raw(`subscribe me`)},
			4400, "Invalid message received: not a JSON object with a type"},
		{"no type", protoTransportWS, []func(*testing.T, *wsClient){raw(`{"id":"1"}`)},
			4400, "Invalid message received: not a JSON object with a type"},
		{"unknown type", protoTransportWS, []func(*testing.T, *wsClient){initOK, raw(`{"type":"start","id":"1"}`)},
			4400, `Invalid message received: unknown type "start"`},
		{"subscribe without an id", protoTransportWS, []func(*testing.T, *wsClient){initOK, raw(`{"type":"subscribe","payload":{"query":"{ viewer { role } }"}}`)},
			4400, "Invalid message received: subscribe needs an id"},
		{"subscribe without a payload", protoTransportWS, []func(*testing.T, *wsClient){initOK, raw(`{"type":"subscribe","id":"1"}`)},
			4400, "Invalid message received: subscribe needs a payload object with the query"},
		{"subscribe with a string payload", protoTransportWS, []func(*testing.T, *wsClient){initOK, raw(`{"type":"subscribe","id":"1","payload":"{ viewer { role } }"}`)},
			4400, "Invalid message received: subscribe needs a payload object with the query"},
		{"connection_init with an array payload", protoTransportWS, []func(*testing.T, *wsClient){raw(`{"type":"connection_init","payload":[1,2]}`)},
			4400, "Invalid message received: the connection_init payload must be an object"},
		{"connection_init with a string payload", protoTransportWS, []func(*testing.T, *wsClient){raw(`{"type":"connection_init","payload":"Bearer x"}`)},
			4400, "Invalid message received: the connection_init payload must be an object"},
		{"connection_init with a number payload, graphql-ws", protoGraphQLWS, []func(*testing.T, *wsClient){raw(`{"type":"connection_init","payload":5}`)},
			4400, "Invalid message received: the connection_init payload must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustDialWS(t, e.srv.URL, tt.proto)
			for _, step := range tt.steps {
				step(t, c)
			}
			code, reason := c.waitClosed(t)
			require.Equal(t, tt.code, code)
			require.Equal(t, tt.reason, reason)
		})
	}
}

// TestWebSocketReusesEndedIDs: once an operation has ended, because it
// was a query that answered or because the client completed it, its id
// may start another operation on the same connection, at once.
func TestWebSocketReusesEndedIDs(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
		t.Run(proto, func(t *testing.T) {
			c := mustDialWS(t, e.srv.URL, proto)
			c.initOK(t, tok)

			// A query answers once and completes.
			for range 2 {
				requireViewerQuery(t, c, "1")
			}

			// A subscription the client completed gives its id back at
			// once, and nothing more is sent for it: not even a complete,
			// which the client would take for the end of the operation
			// that reuses the id.
			for range 20 {
				c.subscribe(t, "1", syncEventsSub, nil)
				c.stop(t, "1")
			}
			c.subscribe(t, "1", syncEventsSub, nil)
			require.Eventually(t, func() bool { return e.stack.Live.Stats().Subscribers == 1 }, wsWait, 5*time.Millisecond)
			ev := writeEvent(t, e.bdb, db.StatusSuccess, "reuse@example.com")
			var ch liveChange
			c.data(t, "1", &ch)
			require.Equal(t, idOf(ev), ch.SyncEvents.Event.ID)
			c.stop(t, "1")

			// The next message is the answer to the next operation.
			requireViewerQuery(t, c, "2")
			require.Eventually(t, func() bool { return e.stack.Live.Stats().Subscribers == 0 }, wsWait, 5*time.Millisecond)
			select {
			case m := <-c.msgs:
				t.Fatalf("unexpected message %s for %q: %s", m.Type, m.ID, m.Payload)
			default:
			}
		})
	}
}

// TestWebSocketErrorEndsTheOperation: an error message ends its operation
// (graphql-transport-ws: "no further messages will be sent" for that id;
// graphql-ws likewise sends no complete after it), so no complete follows
// it, and the next message a client reads belongs to its next operation.
func TestWebSocketErrorEndsTheOperation(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	cases := []struct{ name, query string }{
		{"document that does not parse", `subscription {`},
		{"document that does not validate", `subscription { syncEvents { nope } }`},
	}
	for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
		for _, tc := range cases {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c := mustDialWS(t, e.srv.URL, proto)
				c.initOK(t, tok)
				c.subscribe(t, "1", tc.query, nil)
				m := c.next(t)
				require.Equal(t, "error", m.Type, "%s", m.Payload)
				require.Equal(t, "1", m.ID)

				requireViewerQuery(t, c, "2")
			})
		}
	}
}

// TestWebSocketIDReusedAtOnce reuses an operation id as soon as the server
// has completed it (a result with errors): the new operation must start,
// however soon it follows, not close the connection with 4409.
func TestWebSocketIDReusedAtOnce(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			// A SERVICE token may not read: each operation ends at once.
			c := mustDialWS(t, e.srv.URL, proto)
			c.initOK(t, e.token(t, auth.RoleService, time.Hour))
			for range 200 {
				c.subscribe(t, "1", `subscription { summary { total } }`, nil)
				require.Equal(t, "FORBIDDEN", c.opErrors(t, "1")[0].Extensions["code"])
			}
		})
	}
}

// requireViewerQuery runs a query for the viewer's role as operation id
// and requires that the next messages are its answer and its complete.
func requireViewerQuery(t *testing.T, c *wsClient, id string) {
	t.Helper()
	c.subscribe(t, id, `{ viewer { role } }`, nil)
	var v struct {
		Viewer struct{ Role string } `json:"viewer"`
	}
	c.data(t, id, &v)
	require.Equal(t, "MANAGER", v.Viewer.Role)
	end := c.next(t)
	require.Equal(t, "complete", end.Type)
	require.Equal(t, id, end.ID)
}

// TestWebSocketPingBeforeInit: graphql-transport-ws allows a ping at any
// time, so one sent before connection_init gets its pong (with its
// payload), a pong or complete that early is ignored, and the connection
// then initialises as usual.
func TestWebSocketPingBeforeInit(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, dbtest.New(t))
	tok := e.token(t, auth.RoleManager, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{protoTransportWS}})
	require.NoError(t, err)
	defer conn.CloseNow()
	for _, m := range []string{`{"type":"pong"}`, `{"type":"complete","id":"1"}`, `{"type":"ping","payload":{"n":1}}`, `{"type":"ping"}`,
		`{"type":"connection_init","payload":{"Authorization":"Bearer ` + tok + `"}}`} {
		require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(m)))
	}
	for _, want := range []string{`{"type":"pong","payload":{"n":1}}`, `{"type":"pong"}`, `{"type":"connection_ack"}`} {
		_, data, err := conn.Read(ctx)
		require.NoError(t, err)
		require.JSONEq(t, want, string(data))
	}
}
