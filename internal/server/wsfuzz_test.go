package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

// FuzzWebSocketMessages sends two graphql-transport-ws messages the fuzzer
// chooses, after connection_init or instead of it, then a ping. The server
// must answer with well-formed messages whose errors carry codes a
// client's input may cause, until its pong, or close the connection with a
// close frame of the protocol (1000, 1009 or 44xx): never drop it, close
// it as an internal error, or leave it silent. Under go test only the seeds
// run; to search further:
//
//	go test -run '^$' -fuzz FuzzWebSocketMessages -fuzztime 5m ./internal/server/
func FuzzWebSocketMessages(f *testing.F) {
	bdb := dbtest.New(f)
	_, err := seed.Run(f.Context(), bdb, seed.Options{Events: 500, Days: 1, Now: time.Now(), Seed: 19})
	require.NoError(f, err)
	e := newLiveEnv(f, bdb)
	tok := e.token(f, auth.RoleManager, time.Hour)
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
	sub := func(id, query string, vars string) string {
		q, _ := json.Marshal(query)
		return `{"type":"subscribe","id":"` + id + `","payload":{"query":` + string(q) + `,"variables":` + vars + `}}`
	}
	for _, s := range []struct {
		init   bool
		m1, m2 string
	}{
		{true, sub("1", syncEventsSub, `{"filter":{"statuses":["FAILED"]}}`), `{"type":"complete","id":"1"}`},
		{true, sub("1", syncEventsSub, `{"after":"bm90IGEgY3Vyc29y"}`), ""},
		{true, sub("q", `{ viewer { role } syncEvents(first: 2) { nodes { id } } }`, `{}`), sub("q", `{ viewer { role } }`, `null`)},
		{true, sub("1", `subscription { summary(window: LAST_HOUR) { total } }`, `{}`), sub("2", `subscription { summary(window: LAST_HOUR) { total } }`, `{}`)},
		{true, sub("m", `mutation { retrySync(id: "1") { id } }`, `{}`), ""},
		{true, sub("1", syncEventsSub, `{"filter":{"timeZone":"Mars/Base","within":"TODAY"}}`), ""},
		{true, `{"type":"subscribe","id":"1","payload":{"query":"{ viewer { role } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}}`, ""},
		{true, `{"type":"connection_init"}`, ""},
		{true, `{"type":"pong"}`, `{"type":"complete","id":"9"}`},
		{false, sub("1", syncEventsSub, `{}`), ""},
		{false, `{"type":"connection_init","payload":{"Authorization":"Bearer x"}}`, ""},
		{false, `{"type":"connection_init","payload":[]}`, ""},
		{false, "", ""},
		{false, `{"type":"pong"}`, `{"type":"complete","id":"1"}`},
		{true, `[]`, `{"type":1}`},
		{true, `{"type":"subscribe","id":"","payload":{}}`, `"`},
	} {
		f.Add(s.init, s.m1, s.m2)
	}
	codes := append(slices.Clone(fuzzCodes), "TOO_MANY_OPERATIONS")

	f.Fuzz(func(t *testing.T, init bool, m1, m2 string) {
		ctx, cancel := context.WithTimeout(t.Context(), wsWait)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protoTransportWS}})
		require.NoError(t, err)
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 22)
		write := func(s string) error { return conn.Write(ctx, websocket.MessageText, []byte(s)) }
		if init {
			require.NoError(t, write(`{"type":"connection_init","payload":{"Authorization":"Bearer `+tok+`"}}`))
			_, data, err := conn.Read(ctx)
			require.NoError(t, err)
			require.JSONEq(t, `{"type":"connection_ack"}`, string(data))
		}
		for _, m := range []string{m1, m2, `{"type":"ping"}`} {
			if m != "" && write(m) != nil {
				break // closed by the server: read why below
			}
		}
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				require.NoError(t, ctx.Err(), "neither a pong nor a close after %q, %q", m1, m2)
				var ce websocket.CloseError
				require.True(t, errors.As(err, &ce), "the server dropped the connection without a close frame after %q, %q: %v", m1, m2, err)
				require.True(t, ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusMessageTooBig || (ce.Code >= 4400 && ce.Code < 4500),
					"closed with %d %q after %q, %q", ce.Code, ce.Reason, m1, m2)
				return
			}
			var msg struct {
				Type    string          `json:"type"`
				ID      string          `json:"id"`
				Payload json.RawMessage `json:"payload"`
			}
			require.NoError(t, json.Unmarshal(data, &msg), "message %s", data)
			requireNoLeak(t, data)
			var errs []gqlError
			switch msg.Type {
			case "pong":
				return
			case "ping":
				require.NoError(t, write(`{"type":"pong"}`))
			case "complete", "connection_ack":
			case "next":
				var p wsPayload
				require.NoError(t, json.Unmarshal(msg.Payload, &p), "message %s", data)
				require.True(t, len(p.Data) > 0 || len(p.Errors) > 0, "message %s", data)
				errs = p.Errors
			case "error":
				require.NoError(t, json.Unmarshal(msg.Payload, &errs), "message %s", data)
				require.NotEmpty(t, errs, "message %s", data)
			default:
				t.Fatalf("unexpected message %s after %q, %q", data, m1, m2)
			}
			for _, er := range errs {
				code, _ := er.Extensions["code"].(string)
				require.True(t, slices.Contains(codes, code), "error with code %q after %q, %q: %s", code, m1, m2, data)
			}
		}
	})
}
