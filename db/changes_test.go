package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

func changeEvent(ref string, at time.Time) *db.SyncEvent {
	return &db.SyncEvent{OccurredAt: at, Type: db.EventTicketCreated, Status: db.StatusPending,
		Direction: db.DirectionToHelpScout, Source: db.SourceContactForm, SourceRef: &ref}
}

func refs(changes []db.EventChange) []string {
	var out []string
	for _, c := range changes {
		out = append(out, *c.Event.SourceRef)
	}
	return out
}

// waitSettled waits until the feed holds n settled changes and nothing
// waits: transactions of other tests on the same server hold the snapshot
// xmin back for a moment.
func waitSettled(t *testing.T, store *db.ChangeStore, n int) []db.EventChange {
	t.Helper()
	var got []db.EventChange
	require.Eventually(t, func() bool {
		var waiting uint64
		var err error
		got, waiting, err = store.Read(context.Background(), db.ChangePos{}, 100)
		require.NoError(t, err)
		return len(got) == n && waiting == 0
	}, 60*time.Second, 5*time.Millisecond)
	return got
}

func TestChangeFeedReadsSettledChangesInOrder(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	store := db.NewChangeStore(bdb)
	events := db.NewEventStore(bdb)
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

	head, err := store.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, db.ChangePos{}, head, "an empty log")

	// Events days apart touch different rollup rows, so that the open
	// transaction below blocks no other writer.

	// A transaction that has written but not committed holds back every
	// later change, although those commit first.
	tx, err := bdb.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	require.NoError(t, events.Insert(ctx, tx, []*db.SyncEvent{changeEvent("early", base)}))
	late := changeEvent("late", base.Add(72*time.Hour))
	require.NoError(t, events.Insert(ctx, bdb, []*db.SyncEvent{late}))

	got, waiting, err := store.Read(ctx, head, 10)
	require.NoError(t, err)
	require.Empty(t, got, "the committed change waits for the older transaction")
	require.NotZero(t, waiting)
	xmin, err := store.Xmin(ctx)
	require.NoError(t, err)
	require.LessOrEqual(t, xmin, waiting)

	require.NoError(t, tx.Commit())
	got = waitSettled(t, store, 2)
	require.Equal(t, []string{"early", "late"}, refs(got), "in position order, not commit order")
	require.True(t, got[0].Created)
	require.True(t, got[1].Pos.After(got[0].Pos))

	// An update restamps the row: it appears once more, as a change.
	_, err = bdb.ExecContext(ctx, "UPDATE sync_events SET status = 'FAILED' WHERE id = ?", late.ID)
	require.NoError(t, err)
	waitSettled(t, store, 2)
	next, _, err := store.Read(ctx, got[1].Pos, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"late"}, refs(next))
	require.False(t, next[0].Created)
	require.Equal(t, db.StatusFailed, next[0].Event.Status)
	all, _, err := store.Read(ctx, head, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"early", "late"}, refs(all), "one row per event, at its latest change")

	head, err = store.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, next[0].Pos, head)

	// Limits page through the feed.
	page, _, err := store.Read(ctx, db.ChangePos{}, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"early"}, refs(page))
}

func TestChangeFeedHandoverFromList(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	store := db.NewChangeStore(bdb)
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var evs []*db.SyncEvent
	for i, ref := range []string{"a", "b", "c", "d"} {
		evs = append(evs, changeEvent(ref, base.Add(time.Duration(i)*72*time.Hour)))
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, evs))
	from := db.KeysetOf(evs[1])
	waitSettled(t, store, 4)

	// Hold back the settled position with an open transaction, then
	// change b (seen in the list) and d (after the list position).
	tx, err := bdb.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "UPDATE sync_events SET status = 'SUCCESS' WHERE id = ?", evs[0].ID)
	require.NoError(t, err)
	for _, e := range []*db.SyncEvent{evs[1], evs[3]} {
		_, err := bdb.ExecContext(ctx, "UPDATE sync_events SET status = 'FAILED' WHERE id = ?", e.ID)
		require.NoError(t, err)
	}

	pos, seen, err := store.Handover(ctx, from)
	require.NoError(t, err)
	require.Contains(t, seen, evs[1].ID, "b changed after the settled position and sits at or before the list position")
	require.NotContains(t, seen, evs[3].ID, "d comes after the list position: the feed delivers it")

	replay, err := store.ListUpTo(ctx, db.EventFilter{}, from, pos, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, refs(replay), "d changed after the position: the feed delivers it instead")
	filtered, err := store.ListUpTo(ctx, db.EventFilter{Statuses: []db.EventStatus{db.StatusFailed}}, from, pos, 10)
	require.NoError(t, err)
	require.Empty(t, filtered)
}

func TestEventFilterMatches(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	email := "ann@shop.example"
	conv, ticket := int64(77), int64(12)
	code := db.CodeTimeout
	e := &db.SyncEvent{ID: 5, OccurredAt: at, Type: db.EventTicketCreated, Status: db.StatusFailed, Direction: db.DirectionToHelpScout,
		CustomerEmail: &email, ConversationID: &conv, TicketNumber: &ticket, ErrorCode: &code}
	before, after := at.Add(-time.Minute), at.Add(time.Minute)
	other := int64(78)
	tests := []struct {
		name string
		f    db.EventFilter
		want bool
	}{
		{"empty", db.EventFilter{}, true},
		{"from inclusive", db.EventFilter{From: &at}, true},
		{"to exclusive", db.EventFilter{To: &at}, false},
		{"inside range", db.EventFilter{From: &before, To: &after}, true},
		{"type", db.EventFilter{Types: []db.EventType{db.EventError}}, false},
		{"status", db.EventFilter{Statuses: []db.EventStatus{db.StatusPending, db.StatusFailed}}, true},
		{"direction", db.EventFilter{Directions: []db.Direction{db.DirectionFromHelpScout}}, false},
		{"error code", db.EventFilter{ErrorCodes: []db.ErrorCode{db.CodeTimeout}}, true},
		{"customer exact", db.EventFilter{CustomerEmail: new("ANN@shop.example")}, true},
		{"customer partial is not exact", db.EventFilter{CustomerEmail: new("ann@")}, false},
		{"conversation", db.EventFilter{ConversationID: &other}, false},
		{"search partial email", db.EventFilter{Search: db.ParseSearch("Shop.")}, true},
		{"search event id", db.EventFilter{Search: db.ParseSearch("5")}, true},
		{"search ticket", db.EventFilter{Search: db.ParseSearch("#12")}, true},
		{"search conversation", db.EventFilter{Search: db.ParseSearch("77")}, true},
		{"search miss", db.EventFilter{Search: db.ParseSearch("99")}, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.f.Matches(e), tt.name)
	}
}
