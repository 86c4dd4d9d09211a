package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// FuzzSignedWebhook posts bodies the fuzzer chooses, correctly signed, under
// every event name HelpScout sends and under names it does not. HelpScout
// retries a delivery answered 5xx, so whatever the body, the answer must be
// 200 or a 400 BAD_USER_INPUT in JSON, and a refused delivery must leave
// an ERROR event in the log. Under go test only the seeds run; to search
// further:
//
//	go test -run '^$' -fuzz FuzzSignedWebhook -fuzztime 5m ./internal/webhooks/
func FuzzSignedWebhook(f *testing.F) {
	b := setup(f)
	events := []string{"convo.created", "convo.assigned", "convo.status", "convo.moved", "convo.merged", "convo.tags",
		"convo.custom-fields", "convo.customer.reply.created", "convo.agent.reply.created", "convo.note.created",
		"convo.deleted", "customer.created", "customer.updated", "customer.deleted", "satisfaction.ratings", "", "convo."}
	_, conv := b.conversation(f, "fuzz@example.com", func(c *helpscoutsim.Conversation) { c.Status = "active" })
	cu := b.sim.AddCustomer(helpscoutsim.Customer{FirstName: "Fu", LastName: "Zz", Emails: []helpscoutsim.Entry{{Value: "fu@example.com"}}})
	customer, ok := b.sim.CustomerJSON(cu.ID)
	require.True(f, ok)
	for i := range events {
		for _, body := range [][]byte{conv, customer, []byte(`{"id":1}`), []byte(`{"id":-1,"customer":{"email":"a\u0000b"}}`),
			[]byte(`{"id":9223372036854775807,"number":"x","createdAt":"yesterday"}`), []byte(`[]`), []byte(`null`), nil} {
			f.Add(uint8(i), body)
		}
	}

	client := b.srv.Client()
	f.Fuzz(func(t *testing.T, ev uint8, body []byte) {
		event := events[int(ev)%len(events)]
		before := countErrors(t, b)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.hook, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(helpscout.HeaderEvent, event)
		req.Header.Set(helpscout.HeaderSignature, helpscout.Sign(webhookSecret, body))
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.True(t, slices.Contains([]int{http.StatusOK, http.StatusAccepted, http.StatusBadRequest}, resp.StatusCode),
			"%s %q answered %d: %s", event, body, resp.StatusCode, raw)
		var out struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(raw, &out), "%s %q answered %s", event, body, raw)
		if resp.StatusCode != http.StatusBadRequest {
			return
		}
		require.NotNil(t, out.Error, "%s %q answered %s", event, body, raw)
		require.Equal(t, "BAD_USER_INPUT", out.Error.Code, "%s %q answered %s", event, body, raw)
		require.Greater(t, countErrors(t, b), before, "%s %q refused without an ERROR event", event, body)
	})
}

// countErrors counts the ERROR events in the log.
func countErrors(t *testing.T, b *testBundle) int64 {
	t.Helper()
	n, err := b.bdb.NewSelect().Table("sync_events").Where("type = 'ERROR'").Count(context.Background())
	require.NoError(t, err)
	return n
}
