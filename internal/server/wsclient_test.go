package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// The WebSocket subprotocols the server speaks.
const (
	protoTransportWS = "graphql-transport-ws"
	protoGraphQLWS   = "graphql-ws"
)

// wsWait bounds every wait for a WebSocket message. Live events wait for
// every older write transaction on the server, including those of other
// test packages loading data into their own databases.
const wsWait = 60 * time.Second

// wsMsg is one protocol message.
type wsMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsPayload is the payload of a next/data message.
type wsPayload struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// wsClient is a minimal client of graphql-transport-ws and graphql-ws: a
// goroutine reads every message, answers pings, drops keep-alives, and
// hands the rest over on msgs; closed is closed with the close error.
type wsClient struct {
	conn     *websocket.Conn
	proto    string
	msgs     chan wsMsg
	closed   chan struct{}
	closeErr error
}

// dialWS opens a WebSocket to the GraphQL endpoint of base with the
// subprotocol; header may carry an Origin.
func dialWS(ctx context.Context, base, proto string, header http.Header) (*wsClient, *http.Response, error) {
	url := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{proto}, HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 22)
	c := &wsClient{conn: conn, proto: proto, msgs: make(chan wsMsg, 1024), closed: make(chan struct{})}
	go c.readLoop()
	return c, resp, nil
}

// mustDialWS dials and fails the test on error.
func mustDialWS(t *testing.T, base, proto string) *wsClient {
	t.Helper()
	c, _, err := dialWS(t.Context(), base, proto, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.conn.CloseNow() })
	require.Equal(t, proto, c.conn.Subprotocol())
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.closed)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.closeErr = err
			return
		}
		var m wsMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.closeErr = err
			return
		}
		switch m.Type {
		case "ka":
			continue
		case "ping":
			_ = c.send(wsMsg{Type: "pong"})
			continue
		case "pong":
			continue
		}
		c.msgs <- m
	}
}

func (c *wsClient) send(m wsMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// init sends connection_init with payload and returns the answer.
func (c *wsClient) init(t *testing.T, payload map[string]any) wsMsg {
	t.Helper()
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	require.NoError(t, c.send(wsMsg{Type: "connection_init", Payload: b}))
	return c.next(t)
}

// initOK sends connection_init with a bearer token and requires the ack.
func (c *wsClient) initOK(t *testing.T, token string) {
	t.Helper()
	m := c.init(t, map[string]any{"Authorization": "Bearer " + token})
	require.Equal(t, "connection_ack", m.Type, "payload: %s", m.Payload)
}

// subscribe starts an operation with the protocol's message type.
func (c *wsClient) subscribe(t *testing.T, id, query string, vars map[string]any) {
	t.Helper()
	typ := "subscribe"
	if c.proto == protoGraphQLWS {
		typ = "start"
	}
	b, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	require.NoError(t, err)
	require.NoError(t, c.send(wsMsg{Type: typ, ID: id, Payload: b}))
}

// next waits for the next message.
func (c *wsClient) next(t *testing.T) wsMsg {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.closed:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		t.Fatalf("the connection closed: %v", c.closeErr)
	case <-time.After(wsWait):
		t.Fatal("no message in time")
	}
	return wsMsg{}
}

// data waits for the next result of operation id and decodes its data
// into v; it fails on errors.
func (c *wsClient) data(t *testing.T, id string, v any) {
	t.Helper()
	m := c.next(t)
	require.Contains(t, []string{"next", "data"}, m.Type, "message %s: %s", m.Type, m.Payload)
	require.Equal(t, id, m.ID)
	var p wsPayload
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	require.Empty(t, p.Errors)
	require.NoError(t, json.Unmarshal(p.Data, v))
}

// opErrors waits for the next message of operation id and returns its
// GraphQL errors, whether they come in an error message or in a result.
func (c *wsClient) opErrors(t *testing.T, id string) []gqlError {
	t.Helper()
	m := c.next(t)
	require.Equal(t, id, m.ID, "message %s: %s", m.Type, m.Payload)
	var errs []gqlError
	switch m.Type {
	case "error":
		if err := json.Unmarshal(m.Payload, &errs); err != nil {
			// graphql-ws sends one error object.
			var one gqlError
			require.NoError(t, json.Unmarshal(m.Payload, &one))
			errs = []gqlError{one}
		}
	case "next", "data":
		var p wsPayload
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		errs = p.Errors
		end := c.next(t)
		require.Equal(t, "complete", end.Type, "after an error result")
	default:
		t.Fatalf("unexpected message %s: %s", m.Type, m.Payload)
	}
	require.NotEmpty(t, errs)
	return errs
}

// waitClosed waits until the server closes the connection and returns the
// close status and reason.
func (c *wsClient) waitClosed(t *testing.T) (websocket.StatusCode, string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(wsWait):
		t.Fatal("the connection stayed open")
	}
	var ce websocket.CloseError
	if errors.As(c.closeErr, &ce) {
		return ce.Code, ce.Reason
	}
	return -1, ""
}
