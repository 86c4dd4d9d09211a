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
	_, tok, url := newWSFuzzEnv(f, 19)
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
		exchangeWS(t, url, tok, init, codes, m1, m2)
	})
}

// exchangeWS opens a graphql-transport-ws connection to url, sends
// connection_init with tok when init is set, then msgs and a ping, and
// requires of what comes back what FuzzWebSocketMessages states, with
// errors carrying only the given codes.
func exchangeWS(t *testing.T, url, tok string, init bool, codes []string, msgs ...string) {
	t.Helper()
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
	for _, m := range append(msgs, `{"type":"ping"}`) {
		if m != "" && write(m) != nil {
			break // closed by the server: read why below
		}
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "neither a pong nor a close after %q", msgs)
			var ce websocket.CloseError
			require.True(t, errors.As(err, &ce), "the server dropped the connection without a close frame after %q: %v", msgs, err)
			require.True(t, ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusMessageTooBig || (ce.Code >= 4400 && ce.Code < 4500),
				"closed with %d %q after %q", ce.Code, ce.Reason, msgs)
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
			t.Fatalf("unexpected message %s after %q", data, msgs)
		}
		for _, er := range errs {
			code, _ := er.Extensions["code"].(string)
			require.True(t, slices.Contains(codes, code), "error with code %q after %q: %s", code, msgs, data)
		}
	}
}

// FuzzLiveSubscription subscribes to the live feed and to the live summary
// with arguments the fuzzer chooses (search text, time zone, range, status
// and a cursor to resume after), then completes the operation. Whatever
// the arguments, the exchange keeps to what FuzzWebSocketMessages requires:
// an error carries a code a client's input may cause.
//
//	go test -run '^$' -fuzz FuzzLiveSubscription -fuzztime 5m ./internal/server/
func FuzzLiveSubscription(f *testing.F) {
	e, tok, url := newWSFuzzEnv(f, 23)
	var list struct {
		SyncEvents struct {
			LiveCursor string `json:"liveCursor"`
			PageInfo   struct {
				EndCursor string `json:"endCursor"`
			} `json:"pageInfo"`
		} `json:"syncEvents"`
	}
	require.NoError(f, json.Unmarshal(e.gqlAs(f, tok, `{ syncEvents(first: 3) { liveCursor pageInfo { endCursor } } }`), &list))
	cursor := list.SyncEvents.LiveCursor
	for _, s := range []struct {
		summary                   bool
		search, zone, after, tail string
		within, status            uint8
	}{
		{false, "", "", cursor, "", 0, 0},
		{false, "gmail", "Europe/Berlin", list.SyncEvents.PageInfo.EndCursor, "", 3, 1},
		{false, "", "Mars/Base", "", "", 3, 0},
		{false, "a\x00b", "", cursor + "x", "", 1, 2},
		{false, "#12", "", "bm90IGEgY3Vyc29y", "", 5, 3},
		{true, "", "", "", "", 6, 0},
		{true, "x", "America/Chicago", "", "", 4, 1},
		{true, strings.Repeat("s", 201), "", "", "", 2, 2},
		{false, "", "", "", `,"extra":1`, 0, 0},
	} {
		f.Add(s.summary, s.search, s.zone, s.after, s.tail, s.within, s.status)
	}
	ranges := []string{"LAST_HOUR", "LAST_24_HOURS", "LAST_48_HOURS", "TODAY", "YESTERDAY", "LAST_7_DAYS", "LAST_30_DAYS", "NEVER"}
	statuses := []string{"SUCCESS", "FAILED", "PENDING", "failed"}
	codes := append(slices.Clone(fuzzCodes), "TOO_MANY_OPERATIONS")
	f.Fuzz(func(t *testing.T, summary bool, search, zone, after, tail string, within, status uint8) {
		filter := map[string]any{"search": search, "statuses": []string{statuses[int(status)%len(statuses)]}}
		if zone != "" {
			filter["timeZone"] = zone
		}
		vars := map[string]any{"filter": filter}
		query := `subscription($filter: SyncEventFilter, $after: String) { syncEvents(filter: $filter, after: $after) { cursor kind replay event { id status } } }`
		if summary {
			query = `subscription($filter: SyncEventFilter, $w: RelativeRange) { summary(window: $w, filter: $filter) { total failed health timeline { start total } } }`
			vars["w"] = ranges[int(within)%len(ranges)]
		} else {
			filter["within"] = ranges[int(within)%len(ranges)]
			vars["after"] = after
		}
		payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		require.NoError(t, err)
		// tail lands inside the payload object, after its last member.
		p := string(payload[:len(payload)-1]) + tail + "}"
		exchangeWS(t, url, tok, true, codes,
			`{"type":"subscribe","id":"1","payload":`+p+`}`, `{"type":"complete","id":"1"}`)
	})
}

// newWSFuzzEnv starts the service with live events over a database seeded
// with 500 events generated from the seed from, and returns it with a Manager token and the
// WebSocket URL of its GraphQL endpoint.
func newWSFuzzEnv(f *testing.F, from int64) (*liveEnv, string, string) {
	bdb := dbtest.New(f)
	_, err := seed.Run(f.Context(), bdb, seed.Options{Events: 500, Days: 1, Now: time.Now(), Seed: from})
	require.NoError(f, err)
	e := newLiveEnv(f, bdb)
	return e, e.token(f, auth.RoleManager, time.Hour), "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
}
