package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestWebhookRecordConcurrentRedelivery: deliveries with the same id sent
// at once are recorded exactly once; the others report the duplicate and
// the recorded event's id.
func TestWebhookRecordConcurrentRedelivery(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	store := db.NewWebhookStore(bdb)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	st := db.ConversationPending

	const n = 8
	ids := make([]int64, n)
	dups := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "Redeliver@Example.com"
			d := db.Delivery{
				ID: "delivery-1",
				Event: &db.SyncEvent{OccurredAt: now, Type: db.EventConversationUpdated, Status: db.StatusSuccess,
					Direction: db.DirectionFromHelpScout, CustomerEmail: &email, Details: map[string]any{"event": "convo.status"}},
				Conversation: &db.WebhookConversation{ID: 9001, Number: 17, Subject: "s", Status: &st, MailboxID: 1,
					CustomerEmail: &email, CreatedAt: now, UpdatedAt: now},
			}
			ids[i], dups[i], errs[i] = store.Record(ctx, d)
		}()
	}
	wg.Wait()
	recorded := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
		if !dups[i] {
			recorded++
		}
	}
	require.Equal(t, 1, recorded)

	var events, customers int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM sync_events").Scan(ctx, &events))
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM customers WHERE email = 'redeliver@example.com'").Scan(ctx, &customers))
	require.Equal(t, 1, events)
	require.Equal(t, 1, customers)
	cv, err := db.NewConversationStore(bdb).Get(ctx, 9001)
	require.NoError(t, err)
	require.Equal(t, db.ConversationPending, cv.Status)
}

// TestWebhookConversationOutOfOrder: an older delivery arriving late does
// not overwrite a newer state, but is still recorded as an event.
func TestWebhookConversationOutOfOrder(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	store := db.NewWebhookStore(bdb)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	cases := []struct {
		ref     string
		status  db.ConversationStatus
		updated time.Time
		want    db.ConversationStatus
	}{
		{"a", db.ConversationActive, t0, db.ConversationActive},
		{"b", db.ConversationClosed, t0.Add(2 * time.Minute), db.ConversationClosed},
		{"c", db.ConversationPending, t0.Add(time.Minute), db.ConversationClosed},
	}
	for _, tc := range cases {
		st := tc.status
		_, dup, err := store.Record(ctx, db.Delivery{
			ID: tc.ref,
			Event: &db.SyncEvent{Type: db.EventConversationUpdated, Status: db.StatusSuccess,
				Direction: db.DirectionFromHelpScout},
			Conversation: &db.WebhookConversation{ID: 5, Number: 1, Subject: "s", Status: &st, MailboxID: 1,
				CreatedAt: t0, UpdatedAt: tc.updated},
		})
		require.NoError(t, err)
		require.False(t, dup)
		cv, err := db.NewConversationStore(bdb).Get(ctx, 5)
		require.NoError(t, err)
		require.Equal(t, tc.want, cv.Status, "after delivery %s", tc.ref)
	}
}

// TestWebhookFillsMissingTicketNumber: a ticket whose number could not be
// read from HelpScout when it was created takes it from the first delivery
// that carries its conversation; numbers already known stay as they are.
func TestWebhookFillsMissingTicketNumber(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	conv, other, known := int64(7001), int64(7002), int64(41)
	events := []*db.SyncEvent{
		{OccurredAt: t0, Type: db.EventTicketCreated, Status: db.StatusSuccess, Direction: db.DirectionToHelpScout,
			Source: db.SourceContactForm, ConversationID: &conv},
		{OccurredAt: t0.Add(time.Second), Type: db.EventConversationSynced, Status: db.StatusSuccess, Direction: db.DirectionToHelpScout,
			Source: db.SourceBatch, ConversationID: &conv, TicketNumber: &known},
		{OccurredAt: t0.Add(2 * time.Second), Type: db.EventTicketCreated, Status: db.StatusSuccess, Direction: db.DirectionToHelpScout,
			Source: db.SourceContactForm, ConversationID: &other},
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, events))

	_, _, err := db.NewWebhookStore(bdb).Record(ctx, db.Delivery{
		ID: "convo-created-7001",
		Event: &db.SyncEvent{Type: db.EventConversationSynced, Status: db.StatusSuccess,
			Direction: db.DirectionFromHelpScout, ConversationID: &conv},
		Conversation: &db.WebhookConversation{ID: conv, Number: 1234, Subject: "Order", MailboxID: 1,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)},
	})
	require.NoError(t, err)

	want := map[int64]*int64{events[0].ID: rptr(int64(1234)), events[1].ID: &known, events[2].ID: nil}
	for id, number := range want {
		e, err := db.NewEventStore(bdb).Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, number, e.TicketNumber, "event %d", id)
	}
	found, _, err := db.NewEventStore(bdb).List(ctx, db.EventFilter{Search: db.ParseSearch("#1234"), Types: []db.EventType{db.EventTicketCreated}}, db.Page{Limit: 10, Desc: true})
	require.NoError(t, err)
	require.Len(t, found, 1, "the ticket is found by its number")
	require.Equal(t, events[0].ID, found[0].ID)
}
