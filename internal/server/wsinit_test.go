package server

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/graph"
)

// TestWebSocketInitTimeout: a connection that sends no connection_init
// within the timeout is closed with 4408 in either subprotocol, and one
// that sent it stays open past the timeout.
func TestWebSocketInitTimeout(t *testing.T) {
	t.Parallel()
	// Long enough that a loaded machine still handles connection_init
	// within it; the silent subtest waits this long.
	const timeout = 500 * time.Millisecond
	h := NewGraphQL(&graph.Resolver{}, nil, zerolog.Nop(), GraphQLOptions{InitTimeout: timeout, KeepAlive: timeout / 4})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	dial := func(t *testing.T, proto string) *websocket.Conn {
		c, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{proto}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.CloseNow() })
		return c
	}
	read := func(t *testing.T, c *websocket.Conn) (map[string]any, error) {
		_, data, err := c.Read(t.Context())
		if err != nil {
			return nil, err
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		return m, nil
	}
	for _, proto := range []string{protoGraphQLTransportWS, "graphql-ws"} {
		t.Run(proto+", silent", func(t *testing.T) {
			t.Parallel()
			// The server's timer starts when it accepts the connection,
			// before the dial returns here.
			start := time.Now()
			c := dial(t, proto)
			_, err := read(t, c)
			var ce websocket.CloseError
			require.True(t, errors.As(err, &ce), "read: %v", err)
			require.EqualValues(t, closeInitTimeout, ce.Code)
			require.Equal(t, "Connection initialisation timeout", ce.Reason)
			require.GreaterOrEqual(t, time.Since(start), timeout)
		})
		t.Run(proto+", initialised", func(t *testing.T) {
			t.Parallel()
			c := dial(t, proto)
			require.NoError(t, c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"connection_init"}`)))
			start := time.Now()
			// Keep-alive messages (graphql-ws "ka", graphql-transport-ws
			// "ping") arrive every timeout/4: the connection lives on
			// well past the timeout.
			for time.Since(start) < 3*timeout {
				m, err := read(t, c)
				require.NoError(t, err)
				if m["type"] == "ping" {
					require.NoError(t, c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"pong"}`)))
				}
			}
			typ := "subscribe"
			if proto == "graphql-ws" {
				typ = "start"
			}
			require.NoError(t, c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"`+typ+`","id":"1","payload":{"query":"{ __typename }"}}`)))
			for {
				m, err := read(t, c)
				require.NoError(t, err)
				if m["type"] == "next" || m["type"] == "data" {
					require.Equal(t, map[string]any{"data": map[string]any{"__typename": "Query"}}, m["payload"])
					break
				}
			}
		})
	}
}
