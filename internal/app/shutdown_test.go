package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

// freePort returns a port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// serveConfig is the configuration of a test that runs Serve over the
// database at dsn on port, with no sync workers.
func serveConfig(t *testing.T, dsn, secret string, port int) *config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"DATABASE_URL": dsn, "JWT_SECRET": secret, "PORT": strconv.Itoa(port),
			"SYNC_WORKERS": "0", "SHUTDOWN_TIMEOUT": "4s", "LOG_LEVEL": "error",
		}[k]
	})
	require.NoError(t, err)
	return cfg
}

// TestServeShutdown stops a serving process (as SIGTERM does) while a live
// subscription is open: the subscription ends with the cursor to resume
// from, its WebSocket then closes with 1001 (going away) instead of being
// cut, and Serve returns without error within the shutdown timeout.
func TestServeShutdown(t *testing.T) {
	dsn, bdb := dbtest.NewDSN(t)
	ctx := context.Background()
	_, err := seed.Run(ctx, bdb, seed.Options{Events: 1000, Days: 2, Now: time.Now(), Seed: 5})
	require.NoError(t, err)

	const secret = "shutdown-test-secret-0123456789"
	port := freePort(t)
	cfg := serveConfig(t, dsn, secret, port)
	token, err := auth.NewIssuer(secret).Issue("shutdown-test", auth.RoleManager, time.Hour)
	require.NoError(t, err)

	stop, served := startServe(t, cfg)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the service did not start: %v", err)
		select {
		case err := <-served:
			t.Fatalf("Serve returned before serving: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}

	// A cursor two events before the newest, from the list.
	q, err := json.Marshal(map[string]any{"query": `{ syncEvents(first: 2) { edges { cursor } } }`})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(q))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var list struct {
		Data struct {
			SyncEvents struct{ Edges []struct{ Cursor string } }
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Len(t, list.Data.SyncEvents.Edges, 2)

	// A live subscription over graphql-transport-ws, replaying from there:
	// its first result shows it runs.
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer ws.CloseNow()
	send := func(v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, ws.Write(ctx, websocket.MessageText, b))
	}
	read := func() (map[string]any, error) {
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		_, b, err := ws.Read(rctx)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return m, nil
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	m, err := read()
	require.NoError(t, err)
	require.Equal(t, "connection_ack", m["type"])
	send(map[string]any{"type": "subscribe", "id": "feed", "payload": map[string]any{
		"query":     `subscription($after: String) { syncEvents(after: $after) { kind cursor event { id } } }`,
		"variables": map[string]any{"after": list.Data.SyncEvents.Edges[1].Cursor}}})
	m, err = read()
	require.NoError(t, err)
	require.Equal(t, "next", m["type"], "message: %v", m)

	start := time.Now()
	stop()

	// The subscription ends with a cursor to resume from, then the socket
	// closes as going away.
	var ended map[string]any
	for {
		m, err := read()
		if err != nil {
			var ce websocket.CloseError
			require.True(t, errors.As(err, &ce), "read: %v", err)
			require.Equal(t, websocket.StatusGoingAway, ce.Code)
			break
		}
		if m["type"] == "error" {
			ended = m
		}
	}
	require.NotNil(t, ended, "the subscription's last message")
	require.Contains(t, ended["payload"].([]any)[0].(map[string]any)["message"], "resubscribe with after:")

	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	require.Less(t, time.Since(start), 4*time.Second+time.Second, "within the shutdown timeout")
}
