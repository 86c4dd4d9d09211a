package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
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
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	webhookSecret = "webhook-secret-0123"
	jwtSecret     = "test-secret-0123456789"
)

// testBundle is the real service over a fresh database, and a simulated
// HelpScout account that signs its webhooks with the service's secret.
type testBundle struct {
	bdb    *bun.DB
	srv    *httptest.Server
	hook   string
	sim    *helpscoutsim.Server
	client *helpscout.Client
	issuer *auth.Issuer
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	bdb := dbtest.New(t)
	cfg := &config.Config{Introspection: true, ComplexityLimit: 5000, LogLevel: zerolog.Disabled,
		HelpScoutWebhookSecret: webhookSecret}
	issuer := auth.NewIssuer(jwtSecret)
	srv := httptest.NewServer(app.Handler(bdb, cfg, issuer, zerolog.Nop(), nil))
	t.Cleanup(srv.Close)

	sim := helpscoutsim.New(helpscoutsim.Options{ClientID: "id", ClientSecret: "secret", WebhookSecret: webhookSecret})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	t.Cleanup(sim.Stop)
	client := helpscout.New(helpscout.Config{BaseURL: simSrv.URL, ClientID: "id", ClientSecret: "secret",
		MailboxID: helpscoutsim.DefaultMailboxID, Timeout: 5 * time.Second})
	return &testBundle{bdb: bdb, srv: srv, hook: srv.URL + "/webhooks/helpscout", sim: sim, client: client, issuer: issuer}
}

// conversation creates a conversation in the simulator, changes it with fn
// and returns its webhook body.
func (b *testBundle) conversation(t testing.TB, email string, fn func(*helpscoutsim.Conversation)) (helpscoutsim.Conversation, []byte) {
	t.Helper()
	ref, _, err := b.client.CreateConversation(context.Background(), helpscout.ConversationInput{
		Subject: "Order missing", CustomerEmail: email, CustomerFirstName: "Ann", CustomerLastName: "Lee",
		Text: "My order has not arrived.",
	})
	require.NoError(t, err)
	c, ok := b.sim.UpdateConversation(ref.ID, fn)
	require.True(t, ok)
	body, ok := b.sim.ConversationJSON(ref.ID)
	require.True(t, ok)
	return c, body
}

func (b *testBundle) events(t *testing.T) []*db.SyncEvent {
	t.Helper()
	var es []*db.SyncEvent
	require.NoError(t, b.bdb.NewSelect().Model(&es).OrderExpr("id").Scan(context.Background()))
	return es
}

// post sends a webhook by hand, for bodies the simulator would not send.
func (b *testBundle) post(t *testing.T, event string, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.hook, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set(helpscout.HeaderEvent, event)
	if sig != "" {
		req.Header.Set(helpscout.HeaderSignature, sig)
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	return resp.StatusCode, out
}

func TestConversationWebhook(t *testing.T) {
	t.Parallel()
	agent := &helpscoutsim.User{ID: 7, First: "Jo", Last: "Agent", Email: "jo@kivalogic.test"}
	cases := []struct {
		name       string
		event      string
		change     func(*helpscoutsim.Conversation)
		wantStatus db.ConversationStatus
		wantAgent  *string
	}{
		{"assigned", "convo.assigned", func(c *helpscoutsim.Conversation) { c.Assignee = agent },
			db.ConversationActive, ptr("Jo Agent")},
		{"closed", "convo.status", func(c *helpscoutsim.Conversation) { c.Status = "closed" },
			db.ConversationClosed, nil},
		{"pending and assigned", "convo.agent.reply.created", func(c *helpscoutsim.Conversation) {
			c.Status, c.Assignee = "pending", agent
		}, db.ConversationPending, ptr("Jo Agent")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			c, body := b.conversation(t, "Ann.Lee@Example.com", tc.change)

			status, err := b.sim.SendWebhook(ctx, b.hook, tc.event, body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)

			es := b.events(t)
			require.Len(t, es, 1)
			e := es[0]
			require.Equal(t, db.EventConversationUpdated, e.Type)
			require.Equal(t, db.StatusSuccess, e.Status)
			require.Equal(t, db.DirectionFromHelpScout, e.Direction)
			require.Equal(t, db.SourceWebhook, e.Source)
			require.Equal(t, c.ID, *e.ConversationID)
			require.Equal(t, c.Number, *e.TicketNumber)
			require.Equal(t, "ann.lee@example.com", *e.CustomerEmail)
			require.Equal(t, webhooks.DeliveryID(tc.event, body), *e.SourceRef)
			require.Equal(t, tc.event, e.Details["event"])

			cv, err := db.NewConversationStore(b.bdb).Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, cv.Status)
			require.Equal(t, tc.wantAgent, cv.Assignee)
			require.Equal(t, c.Number, cv.Number)
			require.Equal(t, "ann.lee@example.com", *cv.CustomerEmail)
			require.EqualValues(t, helpscoutsim.DefaultMailboxID, cv.MailboxID)

			cu, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, "ann.lee@example.com")
			require.NoError(t, err)
			require.Equal(t, c.CustomerID, *cu.HelpScoutID)
		})
	}
}

// TestWebhookReplacesOurOwnRow: the sync writes a conversation it created
// with what it sent and its own clock. HelpScout's first webhook about it
// replaces that row even when it carries an earlier time (a workflow that
// assigned the ticket before our create call returned, a clock behind
// ours); after that, an older webhook no longer overwrites a newer one.
func TestWebhookReplacesOurOwnRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	agent := &helpscoutsim.User{ID: 7, First: "Jo", Last: "Agent", Email: "jo@kivalogic.test"}
	c, assigned := b.conversation(t, "ann.lee@example.com", func(c *helpscoutsim.Conversation) { c.Assignee = agent })

	// Our row, written when the create call returned, a minute later by our clock.
	store := db.NewConversationStore(b.bdb)
	email := "ann.lee@example.com"
	ours := time.Now().Add(time.Minute)
	require.NoError(t, store.RecordCreated(ctx, b.bdb, c.ID, c.Number, "Order missing", helpscoutsim.DefaultMailboxID, &email, ours))
	cv, err := store.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Nil(t, cv.Assignee)

	status, err := b.sim.SendWebhook(ctx, b.hook, "convo.assigned", assigned)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	cv, err = store.Get(ctx, c.ID)
	require.NoError(t, err)
	require.NotNil(t, cv.Assignee, "the webhook replaced our own row")
	require.Equal(t, "Jo Agent", *cv.Assignee)
	require.Equal(t, c.UpdatedAt, cv.UpdatedAt.UTC())
	require.Equal(t, c.CreatedAt, cv.CreatedAt.UTC(), "HelpScout's creation time")
	require.False(t, cv.Placeholder)

	// A change an hour later, then a stale delivery of the first: the
	// later stays.
	var later map[string]any
	require.NoError(t, json.Unmarshal(assigned, &later))
	later["status"] = "closed"
	for _, k := range []string{"updatedAt", "userUpdatedAt"} {
		if v, ok := later[k].(string); ok {
			at, err := time.Parse(time.RFC3339, v)
			require.NoError(t, err)
			later[k] = at.Add(time.Hour).Format(time.RFC3339)
		}
	}
	body, err := json.Marshal(later)
	require.NoError(t, err)
	status, err = b.sim.SendWebhook(ctx, b.hook, "convo.status", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	status, err = b.sim.SendWebhook(ctx, b.hook, "convo.created", assigned)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	cv, err = store.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, db.ConversationClosed, cv.Status, "an older webhook does not overwrite a newer one")

	// The sync finding the conversation again keeps what the webhooks said.
	require.NoError(t, store.RecordCreated(ctx, b.bdb, c.ID, c.Number, "Order missing", helpscoutsim.DefaultMailboxID, &email, time.Now()))
	cv, err = store.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, db.ConversationClosed, cv.Status)
	require.Equal(t, "Jo Agent", *cv.Assignee)
	require.False(t, cv.Placeholder)
}

// TestSignatureRefused: a bad or missing signature answers 401 and leaves
// one ERROR event that does not hold the body.
func TestSignatureRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sig     string
		wantMsg string
	}{
		{"bad", helpscout.Sign("another-secret", []byte(`{"id":1}`)), webhooks.MessageSignatureInvalid},
		{"not base64", "!!!", webhooks.MessageSignatureInvalid},
		{"missing", "", webhooks.MessageSignatureMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			_, body := b.conversation(t, "secret.customer@example.com", func(*helpscoutsim.Conversation) {})

			status, err := b.sim.SendRawWebhook(ctx, b.hook, "convo.created", body, tc.sig)
			require.NoError(t, err)
			require.Equal(t, http.StatusUnauthorized, status)

			es := b.events(t)
			require.Len(t, es, 1)
			e := es[0]
			require.Equal(t, db.EventError, e.Type)
			require.Equal(t, db.StatusFailed, e.Status)
			require.Equal(t, db.DirectionFromHelpScout, e.Direction)
			require.Equal(t, db.SourceWebhook, e.Source)
			require.Equal(t, db.CodeAuthenticationFailed, *e.ErrorCode)
			require.Equal(t, tc.wantMsg, *e.ErrorMessage)
			require.Equal(t, http.StatusUnauthorized, *e.HTTPStatus)
			require.Nil(t, e.CustomerEmail)
			require.Nil(t, e.ConversationID)
			details, err := json.Marshal(e.Details)
			require.NoError(t, err)
			require.NotContains(t, string(details), "secret.customer")
			require.NotContains(t, string(details), "Order missing")
			require.Equal(t, "convo.created", e.Details["event"])
			require.EqualValues(t, len(body), e.Details["bodySize"])
			require.NotEmpty(t, e.Details["remoteAddr"])

			_, err = db.NewCustomerStore(b.bdb).GetByEmail(ctx, "secret.customer@example.com")
			require.ErrorIs(t, err, db.ErrNotFound, "a refused webhook changes nothing")
		})
	}
}

// TestReplay: redelivering the same webhook answers 200 duplicate and is
// recorded once; the same body under another event is another delivery.
func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, body := b.conversation(t, "replay@example.com", func(c *helpscoutsim.Conversation) { c.Status = "pending" })

	code, first := b.post(t, "convo.status", body, helpscout.Sign(webhookSecret, body))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, first["ok"])
	require.NotEmpty(t, first["eventId"])
	for range 2 {
		code, again := b.post(t, "convo.status", body, helpscout.Sign(webhookSecret, body))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, true, again["duplicate"])
		require.Equal(t, first["eventId"], again["eventId"])
	}
	require.Len(t, b.events(t), 1)

	status, err := b.sim.SendWebhook(ctx, b.hook, "convo.tags", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, b.events(t), 2)
}

func TestOtherEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		event     string
		body      string
		wantCode  int
		wantType  db.EventType // "" means nothing recorded
		wantState db.EventStatus
	}{
		{"test ping", helpscout.EventTest, `{"id":1}`, http.StatusOK, db.EventConversationSynced, db.StatusSuccess},
		{"unused event", "satisfaction.ratings", `{"id":5,"rating":"great"}`, http.StatusAccepted, "", ""},
		{"unreadable conversation", "convo.created", `{"url":"https://api.helpscout.net/v2/conversations/1"}`,
			http.StatusBadRequest, db.EventError, db.StatusFailed},
		{"deleted unknown conversation", "convo.deleted", `{"id":42}`, http.StatusOK, db.EventConversationUpdated, db.StatusSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			body := []byte(tc.body)
			code, _ := b.post(t, tc.event, body, helpscout.Sign(webhookSecret, body))
			require.Equal(t, tc.wantCode, code)
			es := b.events(t)
			if tc.wantType == "" {
				require.Empty(t, es)
				return
			}
			require.Len(t, es, 1)
			require.Equal(t, tc.wantType, es[0].Type)
			require.Equal(t, tc.wantState, es[0].Status)
			require.Equal(t, db.DirectionFromHelpScout, es[0].Direction)
			require.Equal(t, tc.event, es[0].Details["event"])
		})
	}
}

func TestConversationDeletedKeepsRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, body := b.conversation(t, "gone@example.com", func(*helpscoutsim.Conversation) {})
	status, err := b.sim.SendWebhook(ctx, b.hook, "convo.created", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	status, err = b.sim.SendWebhook(ctx, b.hook, "convo.deleted", map[string]int64{"id": c.ID})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	convs := db.NewConversationStore(b.bdb)
	cv, err := convs.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, db.ConversationClosed, cv.Status)
	es := b.events(t)
	require.Len(t, es, 2)
	require.NotNil(t, cv.DeletedAt)
	require.True(t, es[1].OccurredAt.Equal(*cv.DeletedAt), "deleted when the webhook came: %s, event at %s", cv.DeletedAt, es[1].OccurredAt)
	require.Equal(t, c.Number, *es[1].TicketNumber, "taken from the stored row")
	require.Equal(t, "gone@example.com", *es[1].CustomerEmail)

	// Restored from the trash: HelpScout's next webhook about it, changed
	// after the deletion, clears deletedAt.
	var restored map[string]any
	require.NoError(t, json.Unmarshal(body, &restored))
	restored["status"] = "active"
	restored["userUpdatedAt"] = cv.DeletedAt.Add(time.Minute).UTC().Format(time.RFC3339)
	status, err = b.sim.SendWebhook(ctx, b.hook, "convo.status", restored)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	cv, err = convs.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Nil(t, cv.DeletedAt)
	require.Equal(t, db.ConversationActive, cv.Status)
}

// TestAgentReplySetsFirstReply: convo.agent.reply.created deliveries set
// the conversation's first reply to the earliest reply reported, in
// whatever order they come.
func TestAgentReplySetsFirstReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, body := b.conversation(t, "answered@example.com", func(*helpscoutsim.Conversation) {})
	status, err := b.sim.SendWebhook(ctx, b.hook, "convo.created", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	convs := db.NewConversationStore(b.bdb)
	cv, err := convs.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Nil(t, cv.FirstReplyAt, "no reply yet")

	base := time.Now().UTC().Truncate(time.Second).Add(time.Hour)
	reply := func(at time.Time) {
		t.Helper()
		var v map[string]any
		require.NoError(t, json.Unmarshal(body, &v))
		v["userUpdatedAt"] = at.Format(time.RFC3339)
		status, err := b.sim.SendWebhook(ctx, b.hook, "convo.agent.reply.created", v)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	steps := []struct {
		name      string
		at, first time.Time
	}{
		{"first reply", base, base},
		{"a later reply", base.Add(10 * time.Minute), base},
		{"an earlier reply delivered late", base.Add(-5 * time.Minute), base.Add(-5 * time.Minute)},
	}
	for _, st := range steps {
		reply(st.at)
		cv, err := convs.Get(ctx, c.ID)
		require.NoError(t, err)
		require.NotNil(t, cv.FirstReplyAt, st.name)
		require.True(t, st.first.Equal(*cv.FirstReplyAt), "%s: first reply %s, want %s", st.name, cv.FirstReplyAt, st.first)
	}
}

func TestCustomerUpdated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, db.NewCustomerStore(b.bdb).Insert(ctx, b.bdb, []*db.Customer{
		{Email: "mia@example.com", Name: ptr("Old Name"), LastEventAt: time.Now().Add(-time.Hour)},
	}))
	cu := b.sim.AddCustomer(helpscoutsim.Customer{FirstName: "Mia", LastName: "Wong",
		Emails: []helpscoutsim.Entry{{Value: "Mia@Example.com"}, {Value: "mia.w@example.org"}}})
	body, ok := b.sim.CustomerJSON(cu.ID)
	require.True(t, ok)

	status, err := b.sim.SendWebhook(ctx, b.hook, "customer.updated", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	for _, email := range []string{"mia@example.com", "mia.w@example.org"} {
		got, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, email)
		require.NoError(t, err)
		require.Equal(t, "Mia Wong", *got.Name)
		require.Equal(t, cu.ID, *got.HelpScoutID)
	}
	es := b.events(t)
	require.Len(t, es, 1)
	require.Equal(t, db.EventCustomerUpdated, es[0].Type)
	require.Equal(t, "mia@example.com", *es[0].CustomerEmail)

	status, err = b.sim.SendWebhook(ctx, b.hook, "customer.deleted", map[string]int64{"id": cu.ID})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	es = b.events(t)
	require.Len(t, es, 2)
	require.Equal(t, "mia@example.com", *es[1].CustomerEmail, "found by HelpScout id")
	_, err = db.NewCustomerStore(b.bdb).GetByEmail(ctx, "mia@example.com")
	require.NoError(t, err, "a deleted customer's row stays")
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := []byte(`{"id":1,"pad":"` + strings.Repeat("x", webhooks.MaxBody) + `"}`)
	status, err := b.sim.SendWebhook(context.Background(), b.hook, "convo.created", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Empty(t, b.events(t))
}

// TestListedThroughGraphQL: an accepted webhook shows in syncEvents
// filtered to FROM_HELPSCOUT, found by its customer's email.
func TestListedThroughGraphQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, body := b.conversation(t, "graph@example.com", func(*helpscoutsim.Conversation) {})
	status, err := b.sim.SendWebhook(ctx, b.hook, "convo.created", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	tok, err := b.issuer.Issue("test-manager", auth.RoleManager, time.Hour)
	require.NoError(t, err)
	q, err := json.Marshal(map[string]any{"query": `{ syncEvents(filter: {directions: [FROM_HELPSCOUT], search: "graph@example"}) {
		totalCount nodes { type direction source conversationId customerEmail } } }`})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/graphql", bytes.NewReader(q))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out struct {
		Data struct {
			SyncEvents struct {
				TotalCount int
				Nodes      []struct {
					Type, Direction, Source, ConversationID, CustomerEmail string
				}
			}
		}
		Errors []any
	}
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	require.Empty(t, out.Errors, "body: %s", raw)
	require.Equal(t, 1, out.Data.SyncEvents.TotalCount, "body: %s", raw)
	n := out.Data.SyncEvents.Nodes[0]
	require.Equal(t, "CONVERSATION_UPDATED", n.Type)
	require.Equal(t, "FROM_HELPSCOUT", n.Direction)
	require.Equal(t, "WEBHOOK", n.Source)
	require.Equal(t, "graph@example.com", n.CustomerEmail)
	require.Equal(t, strconv.FormatInt(c.ID, 10), n.ConversationID)
}

func ptr[T any](v T) *T { return &v }

// TestErrorAnswers: every refusal answers {"error": {"code", "message"}},
// the shape of the service's other endpoints, and the unreadable body
// also says which event logged it.
func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	unreadable := `{"url":"https://api.helpscout.net/v2/conversations/1"}`
	tooLarge := `{"id":1,"pad":"` + strings.Repeat("x", webhooks.MaxBody) + `"}`
	cases := []struct {
		name, event, body, sig string
		status                 int
		code, message          string
	}{
		{name: "bad signature", event: "convo.created", body: `{"id":1}`, sig: helpscout.Sign("another-secret", []byte(`{"id":1}`)),
			status: http.StatusUnauthorized, code: "UNAUTHENTICATED", message: webhooks.MessageSignatureInvalid},
		{name: "no signature", event: "convo.created", body: `{"id":1}`,
			status: http.StatusUnauthorized, code: "UNAUTHENTICATED", message: webhooks.MessageSignatureMissing},
		{name: "no event header", event: "", body: `{"id":1}`, sig: helpscout.Sign(webhookSecret, []byte(`{"id":1}`)),
			status: http.StatusBadRequest, code: "BAD_USER_INPUT", message: "the X-HelpScout-Event header is missing; it is logged as an ERROR event"},
		{name: "body too large", event: "convo.created", body: tooLarge, sig: "any",
			status: http.StatusRequestEntityTooLarge, code: "REQUEST_TOO_LARGE", message: fmt.Sprintf("the body is over the limit of %d bytes", webhooks.MaxBody)},
		{name: "unreadable body", event: "convo.created", body: unreadable, sig: helpscout.Sign(webhookSecret, []byte(unreadable)),
			status: http.StatusBadRequest, code: "BAD_USER_INPUT", message: "the body is not a convo.created payload; it is logged as an ERROR event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := b.post(t, tc.event, []byte(tc.body), tc.sig)
			require.Equal(t, tc.status, status)
			require.Equal(t, map[string]any{"code": tc.code, "message": tc.message}, out["error"], "answer: %v", out)
		})
	}
}

// TestRejectedCapped: a flood of unsigned webhooks is answered 401 one by
// one, but records at most RejectedPerMinute ERROR events a minute; the
// first one recorded in a later minute counts those that were not.
func TestRejectedCapped(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 10, 0, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := httptest.NewServer(webhooks.New(webhooks.Options{Secret: webhookSecret, Store: db.NewWebhookStore(bdb),
		Log: zerolog.Nop(), Now: clock}))
	t.Cleanup(srv.Close)
	b := &testBundle{bdb: bdb, srv: srv, hook: srv.URL}

	const over = 7
	for range webhooks.RejectedPerMinute + over {
		status, out := b.post(t, "convo.created", []byte(`{"id":1}`), "forged")
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "UNAUTHENTICATED", out["error"].(map[string]any)["code"])
	}
	es := b.events(t)
	require.Len(t, es, webhooks.RejectedPerMinute, "refusals recorded within one minute")
	for _, e := range es {
		require.Equal(t, db.EventError, e.Type)
		require.NotContains(t, e.Details, "notRecorded")
	}

	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	status, _ := b.post(t, "convo.created", []byte(`{"id":1}`), "")
	require.Equal(t, http.StatusUnauthorized, status)
	es = b.events(t)
	require.Len(t, es, webhooks.RejectedPerMinute+1)
	last := es[len(es)-1]
	require.Equal(t, webhooks.MessageSignatureMissing, *last.ErrorMessage)
	require.EqualValues(t, over, last.Details["notRecorded"])

	// A signed webhook is never held back by the refusals.
	body := []byte(`{"id":42}`)
	status, out := b.post(t, "convo.deleted", body, helpscout.Sign(webhookSecret, body))
	require.Equal(t, http.StatusOK, status, "answer: %v", out)
}
