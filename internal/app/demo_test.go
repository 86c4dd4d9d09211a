package app

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/syncer"
	"github.com/kivalogic/helpscout-log/internal/webhooks"
)

// TestDemoAgentAnswers: the demo's agents answer its open conversations
// through the webhook HelpScout sends, so that the demo log shows who took
// a ticket and when it was first answered.
func TestDemoAgentAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	const secret = "demo-test-webhook-secret"
	sim := helpscoutsim.New(helpscoutsim.Options{MailboxIDs: []int64{demoMailboxID}, WebhookSecret: secret})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	t.Cleanup(sim.Stop)
	hooks := httptest.NewServer(webhooks.New(webhooks.Options{Secret: secret, Store: db.NewWebhookStore(bdb), Log: zerolog.Nop()}))
	t.Cleanup(hooks.Close)
	sync := syncer.New(bdb, syncer.Options{
		HelpScout: helpscout.Config{BaseURL: simSrv.URL, ClientID: "demo-app", ClientSecret: "demo-secret",
			MailboxID: demoMailboxID, Timeout: 5 * time.Second},
		Workers: 1, BatchInterval: time.Minute, Version: "test", Log: zerolog.Nop(), PollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, sync.Start(ctx))
	t.Cleanup(sync.Stop)
	d := &demoTraffic{sync: sync, sim: sim, webhookURL: hooks.URL, log: zerolog.Nop(), rng: rand.New(rand.NewPCG(1, 2))}

	res, err := sync.SubmitContactForm(ctx, syncer.ContactForm{SubmissionID: "demo-answer-1", Email: "waiting@example.com",
		Subject: "Where is my order?", Message: "It has not arrived."}, "demo-shop")
	require.NoError(t, err)
	var conv int64
	deadline := time.Now().Add(20 * time.Second)
	for conv == 0 {
		e, err := db.NewEventStore(bdb).Get(ctx, res.Event.ID)
		require.NoError(t, err)
		if e.ConversationID != nil {
			conv = *e.ConversationID
		}
		require.True(t, time.Now().Before(deadline), "the ticket was not created")
		<-time.After(20 * time.Millisecond) // poll interval
	}

	require.NoError(t, d.answerConversation(ctx))
	cv, err := db.NewConversationStore(bdb).Get(ctx, conv)
	require.NoError(t, err)
	require.NotNil(t, cv.FirstReplyAt, "answered")
	require.NotNil(t, cv.Assignee)
	require.Equal(t, db.ConversationPending, cv.Status)
	hs, ok := sim.Conversation(conv)
	require.True(t, ok)
	require.Equal(t, "pending", hs.Status)
}
