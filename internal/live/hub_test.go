package live_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/live"
	"github.com/kivalogic/helpscout-log/internal/pagination"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// waitTimeout bounds every wait for a delivery. Deliveries wait for every
// older write transaction on the server, including those of other test
// packages loading data into their own databases.
const waitTimeout = 60 * time.Second

type testBundle struct {
	bdb *bun.DB
	hub *live.Hub
}

// setup starts a hub over a fresh database. A long poll interval makes
// deliveries depend on notifications unless a test says otherwise.
func setup(t *testing.T, opts live.Options) *testBundle {
	t.Helper()
	bdb := dbtest.New(t)
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Minute
	}
	return &testBundle{bdb: bdb, hub: startHub(t, bdb, opts)}
}

func startHub(t *testing.T, bdb *bun.DB, opts live.Options) *live.Hub {
	t.Helper()
	h := live.New(bdb, opts)
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(h.Stop)
	return h
}

var (
	clockMu sync.Mutex
	clock   = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
)

// tick returns the next event time, a second after the previous one.
func tick() time.Time {
	clockMu.Lock()
	defer clockMu.Unlock()
	clock = clock.Add(time.Second)
	return clock
}

// newEvent returns an event; label goes into details and the source ref.
func newEvent(label string, typ db.EventType, status db.EventStatus, email string) *db.SyncEvent {
	e := &db.SyncEvent{OccurredAt: tick(), Type: typ, Status: status, Direction: db.DirectionToHelpScout,
		Source: db.SourceContactForm, SourceRef: &label, Details: map[string]any{"label": label}}
	if email != "" {
		e.CustomerEmail = &email
	}
	return e
}

func insert(t *testing.T, bdb *bun.DB, events ...*db.SyncEvent) {
	t.Helper()
	require.NoError(t, db.NewEventStore(bdb).Insert(context.Background(), bdb, events))
}

func setStatus(t *testing.T, bdb *bun.DB, id int64, status db.EventStatus) {
	t.Helper()
	_, err := bdb.ExecContext(context.Background(), "UPDATE sync_events SET status = ? WHERE id = ?", status, id)
	require.NoError(t, err)
}

func label(c *live.Change) string { return *c.Event.SourceRef }

// next waits for the next change on ch.
func next(t *testing.T, ch <-chan *live.Change) *live.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		require.True(t, ok, "the subscription ended")
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no change delivered in time")
		return nil
	}
}

// take waits for n changes and returns their labels.
func take(t *testing.T, ch <-chan *live.Change, n int) ([]string, []*live.Change) {
	t.Helper()
	var labels []string
	var changes []*live.Change
	for range n {
		c := next(t, ch)
		labels = append(labels, label(c))
		changes = append(changes, c)
	}
	return labels, changes
}

// settle waits until the hub has read at least n changes in all.
func settle(t *testing.T, h *live.Hub, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return h.Stats().Changes >= n }, waitTimeout, 10*time.Millisecond)
}

// drain returns the labels buffered on ch without waiting.
func drain(ch <-chan *live.Change) []string {
	var out []string
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, label(c))
		default:
			return out
		}
	}
}

func TestDeliversCreatedThenUpdated(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{})
	ctx := t.Context()
	all, err := b.hub.Subscribe(ctx, db.EventFilter{}, "")
	require.NoError(t, err)
	failed, err := b.hub.Subscribe(ctx, db.EventFilter{Statuses: []db.EventStatus{db.StatusFailed}}, "")
	require.NoError(t, err)

	e := newEvent("a", db.EventTicketCreated, db.StatusPending, "ann@example.com")
	insert(t, b.bdb, e)
	c := next(t, all)
	require.Equal(t, live.ChangeCreated, c.Kind)
	require.Equal(t, db.StatusPending, c.Event.Status)
	require.False(t, c.Replay)

	setStatus(t, b.bdb, e.ID, db.StatusFailed)
	c = next(t, all)
	require.Equal(t, live.ChangeUpdated, c.Kind)
	require.Equal(t, db.StatusFailed, c.Event.Status)
	require.Equal(t, e.ID, c.Event.ID)

	c = next(t, failed)
	require.Equal(t, live.ChangeUpdated, c.Kind)
	require.Equal(t, e.ID, c.Event.ID)
	require.Empty(t, drain(failed), "the PENDING insert does not match FAILED")
}

func TestFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{})
	ctx := t.Context()
	conv := int64(4711)
	ticket := int64(88)
	code := db.CodeRateLimited

	withConv := newEvent("conv", db.EventConversationSynced, db.StatusSuccess, "bob@shop.example")
	withConv.ConversationID, withConv.TicketNumber = &conv, &ticket
	rateLimited := newEvent("rate", db.EventCustomerUpdated, db.StatusFailed, "carol@example.com")
	rateLimited.ErrorCode = &code
	incoming := newEvent("incoming", db.EventConversationUpdated, db.StatusSuccess, "dave@example.com")
	incoming.Direction, incoming.Source = db.DirectionFromHelpScout, db.SourceWebhook
	events := []*db.SyncEvent{
		newEvent("ann", db.EventTicketCreated, db.StatusPending, "ann@example.com"),
		withConv, rateLimited, incoming,
		newEvent("noemail", db.EventError, db.StatusFailed, ""),
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, e := range events {
		e.OccurredAt = base.Add(time.Duration(i) * time.Second)
	}
	from := base.Add(2 * time.Second)

	tests := []struct {
		name   string
		filter db.EventFilter
		want   []string
	}{
		{"everything", db.EventFilter{}, []string{"ann", "conv", "rate", "incoming", "noemail"}},
		{"type", db.EventFilter{Types: []db.EventType{db.EventTicketCreated, db.EventError}}, []string{"ann", "noemail"}},
		{"status", db.EventFilter{Statuses: []db.EventStatus{db.StatusFailed}}, []string{"rate", "noemail"}},
		{"direction", db.EventFilter{Directions: []db.Direction{db.DirectionFromHelpScout}}, []string{"incoming"}},
		{"error code", db.EventFilter{ErrorCodes: []db.ErrorCode{db.CodeRateLimited}}, []string{"rate"}},
		{"source", db.EventFilter{Sources: []db.EventSource{db.SourceWebhook, db.SourceManual}}, []string{"incoming"}},
		{"time range", db.EventFilter{From: &from}, []string{"rate", "incoming", "noemail"}},
		{"customer", db.EventFilter{CustomerEmail: new("Carol@Example.com")}, []string{"rate"}},
		{"conversation", db.EventFilter{ConversationID: &conv}, []string{"conv"}},
		{"search email part", db.EventFilter{Search: db.ParseSearch("EXAMPLE.COM")}, []string{"ann", "rate", "incoming"}},
		{"search resolved emails", db.EventFilter{Search: &db.Search{Email: "shop", Emails: []string{"bob@shop.example"}, Resolved: true}}, []string{"conv"}},
		{"search ticket number", db.EventFilter{Search: db.ParseSearch("#88")}, []string{"conv"}},
		{"search conversation id", db.EventFilter{Search: db.ParseSearch("4711")}, []string{"conv"}},
		{"no match", db.EventFilter{Search: db.ParseSearch("nobody")}, nil},
	}
	chans := make([]<-chan *live.Change, len(tests))
	for i, tt := range tests {
		ch, err := b.hub.Subscribe(ctx, tt.filter, "")
		require.NoError(t, err, tt.name)
		chans[i] = ch
	}
	insert(t, b.bdb, events...)
	settle(t, b.hub, int64(len(events)))
	for i, tt := range tests {
		require.Equal(t, tt.want, drain(chans[i]), tt.name)
	}

	// An event id matches a numeric search too.
	ch, err := b.hub.Subscribe(ctx, db.EventFilter{Search: db.ParseSearch(fmt.Sprint(events[0].ID))}, "")
	require.NoError(t, err)
	setStatus(t, b.bdb, events[0].ID, db.StatusSuccess)
	require.Equal(t, "ann", label(next(t, ch)))
}

func TestResumeFromFeedCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{PollInterval: 50 * time.Millisecond, BatchSize: 7})
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := b.hub.Subscribe(ctx, db.EventFilter{}, "")
	require.NoError(t, err)
	insert(t, b.bdb, newEvent("e1", db.EventTicketCreated, db.StatusPending, ""))
	insert(t, b.bdb, newEvent("e2", db.EventTicketCreated, db.StatusPending, ""))
	_, got := take(t, ch, 2)
	cursor := got[1].Cursor
	cancel()

	// Missed while disconnected: more than one batch, from many
	// transactions, while writers keep writing during the catch-up.
	var missed []string
	for i := range 20 {
		l := fmt.Sprintf("m%02d", i)
		missed = append(missed, l)
		insert(t, b.bdb, newEvent(l, db.EventTicketCreated, db.StatusPending, ""))
	}
	var wg sync.WaitGroup
	var during []string
	for w := range 3 {
		for i := range 10 {
			during = append(during, fmt.Sprintf("w%d-%02d", w, i))
		}
		wg.Go(func() {
			for i := range 10 {
				insert(t, b.bdb, newEvent(fmt.Sprintf("w%d-%02d", w, i), db.EventTicketCreated, db.StatusPending, ""))
			}
		})
	}
	resumed, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, cursor)
	require.NoError(t, err)
	labels, changes := take(t, resumed, 20)
	require.Equal(t, missed, labels, "the missed stretch, in order")
	for _, c := range changes {
		require.True(t, c.Replay)
	}
	wg.Wait()
	rest, _ := take(t, resumed, len(during))
	require.ElementsMatch(t, during, rest, "every concurrent write once")
	for w := range 3 {
		var mine []string
		for _, l := range rest {
			if l[:2] == fmt.Sprintf("w%d", w) {
				mine = append(mine, l)
			}
		}
		require.True(t, slices.IsSorted(mine), "each writer events in order: %v (all %v)", mine, rest)
	}
	insert(t, b.bdb, newEvent("live", db.EventTicketCreated, db.StatusPending, ""))
	c := next(t, resumed)
	require.Equal(t, "live", label(c))
	require.False(t, c.Replay)
	require.Empty(t, drain(resumed))
}

func TestResumeFromListCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{BatchSize: 2})
	events := []*db.SyncEvent{
		newEvent("l1", db.EventTicketCreated, db.StatusSuccess, ""),
		newEvent("l2", db.EventTicketCreated, db.StatusSuccess, ""),
		newEvent("l3", db.EventTicketCreated, db.StatusFailed, ""),
		newEvent("l4", db.EventTicketCreated, db.StatusPending, ""),
		newEvent("l5", db.EventTicketCreated, db.StatusFailed, ""),
	}
	insert(t, b.bdb, events...)
	settle(t, b.hub, 5)
	cursor := pagination.Encode(pagination.KindEvent, db.KeysetOf(events[1]))

	ch, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, cursor)
	require.NoError(t, err)
	labels, changes := take(t, ch, 3)
	require.Equal(t, []string{"l3", "l4", "l5"}, labels)
	for _, c := range changes {
		require.True(t, c.Replay)
	}
	failedOnly, err := b.hub.Subscribe(t.Context(), db.EventFilter{Statuses: []db.EventStatus{db.StatusFailed}}, cursor)
	require.NoError(t, err)
	labels, _ = take(t, failedOnly, 2)
	require.Equal(t, []string{"l3", "l5"}, labels)

	// Live after the replay: a change to an old event and a new event.
	setStatus(t, b.bdb, events[3].ID, db.StatusFailed)
	insert(t, b.bdb, newEvent("l6", db.EventTicketCreated, db.StatusPending, ""))
	labels, changes = take(t, ch, 2)
	require.Equal(t, []string{"l4", "l6"}, labels)
	require.Equal(t, live.ChangeUpdated, changes[0].Kind)
	require.False(t, changes[0].Replay)
	require.Equal(t, live.ChangeCreated, changes[1].Kind)
	require.Equal(t, "l4", label(next(t, failedOnly)))
	settle(t, b.hub, 7)
	require.Empty(t, drain(ch))
	require.Empty(t, drain(failedOnly))

	// A cursor of a replayed event resumes the replay after it.
	resumed, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, pagination.Encode(pagination.KindEvent, db.KeysetOf(events[3])))
	require.NoError(t, err)
	labels, _ = take(t, resumed, 2)
	require.Equal(t, []string{"l5", "l6"}, labels)
}

func TestBadCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{})
	for _, after := range []string{"garbage", pagination.Encode(pagination.KindCustomer, db.Keyset{ID: 1})} {
		_, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, after)
		ae, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.BadUserInput, ae.Code)
		require.Equal(t, "after", ae.Argument)
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{Buffer: 4})
	var ended error
	endedCh := make(chan struct{})
	slow, err := b.hub.Watch(t.Context(), live.Request{OnEnd: func(err error) { ended = err; close(endedCh) }})
	require.NoError(t, err)
	fast, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, "")
	require.NoError(t, err)

	var want []string
	for i := range 10 {
		l := fmt.Sprintf("s%d", i)
		want = append(want, l)
		insert(t, b.bdb, newEvent(l, db.EventTicketCreated, db.StatusPending, ""))
		require.Equal(t, l, label(next(t, fast)), "the fast subscriber keeps receiving")
	}
	select {
	case <-endedCh:
	case <-time.After(waitTimeout):
		t.Fatal("the slow subscriber was not dropped")
	}
	ae, ok := apperr.As(ended)
	require.True(t, ok)
	require.Equal(t, live.CodeSlowConsumer, ae.Code)
	require.Contains(t, ae.Message, "fell behind by more than 4 events")

	// The slow subscriber still gets what was buffered, then the end.
	var got []*live.Change
	for c := range slow {
		got = append(got, c)
	}
	require.Len(t, got, 4)
	last := got[len(got)-1].Cursor
	require.Contains(t, ae.Message, last)
	require.Equal(t, 0, b.hub.Stats().Subscribers-1, "only the fast subscriber is left")

	resumed, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, last)
	require.NoError(t, err)
	labels, _ := take(t, resumed, 6)
	require.Equal(t, want[4:], labels)
}

func TestListeningConnectionKilled(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{})
	ch, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, "")
	require.NoError(t, err)
	insert(t, b.bdb, newEvent("before", db.EventTicketCreated, db.StatusPending, ""))
	require.Equal(t, "before", label(next(t, ch)))

	var killed []bool
	require.NoError(t, b.bdb.NewRaw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`).Scan(t.Context(), &killed))
	require.Equal(t, []bool{true}, killed)
	// Written while the hub has no listening connection.
	insert(t, b.bdb, newEvent("while down", db.EventTicketCreated, db.StatusPending, ""))
	require.Eventually(t, func() bool { return b.hub.Stats().Reconnects >= 1 }, waitTimeout, 10*time.Millisecond)
	require.Equal(t, "while down", label(next(t, ch)), "caught up after reconnecting")
	insert(t, b.bdb, newEvent("after", db.EventTicketCreated, db.StatusPending, ""))
	require.Equal(t, "after", label(next(t, ch)), "notified again (the poll interval is a minute)")
}

func TestTwoHubsShareTheDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{})
	other := startHub(t, b.bdb, live.Options{PollInterval: time.Minute})
	ch1, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, "")
	require.NoError(t, err)
	ch2, err := other.Subscribe(t.Context(), db.EventFilter{}, "")
	require.NoError(t, err)
	insert(t, b.bdb, newEvent("shared", db.EventTicketCreated, db.StatusPending, ""))
	require.Equal(t, "shared", label(next(t, ch1)))
	require.Equal(t, "shared", label(next(t, ch2)))
}

func TestReadsDoNotDependOnSubscribers(t *testing.T) {
	t.Parallel()
	for _, n := range []int{50, 500} {
		b := setup(t, live.Options{})
		chans := make([]<-chan *live.Change, n)
		for i := range chans {
			ch, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, "")
			require.NoError(t, err)
			chans[i] = ch
		}
		before := b.hub.Stats().FeedReads
		for i := range 5 {
			insert(t, b.bdb, newEvent(fmt.Sprint(i), db.EventTicketCreated, db.StatusPending, ""))
			for _, ch := range chans {
				next(t, ch)
			}
		}
		// Feed reads, not xmin polls: how often those run depends on the
		// other transactions of the whole server, not on the subscribers.
		reads := b.hub.Stats().FeedReads - before
		// Reading per subscriber would take at least 5*n reads.
		require.Less(t, reads, int64(40), "%d subscribers", n)
	}
}

func TestSummaryPushesChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, live.Options{PollInterval: 50 * time.Millisecond, SummaryInterval: 50 * time.Millisecond})
	var computed int
	var mu sync.Mutex
	compute := func(ctx context.Context) (*db.Summary, error) {
		mu.Lock()
		computed++
		mu.Unlock()
		var n int64
		err := b.bdb.NewSelect().Table("sync_events").ColumnExpr("count(*)").Scan(ctx, &n)
		return &db.Summary{Total: n, From: time.Now()}, err
	}
	s1, err := b.hub.SubscribeSummary(t.Context(), "k", compute)
	require.NoError(t, err)
	s2, err := b.hub.SubscribeSummary(t.Context(), "k", compute)
	require.NoError(t, err)
	for _, ch := range []<-chan *db.Summary{s1, s2} {
		select {
		case v := <-ch:
			require.EqualValues(t, 0, v.Total, "the first value at once")
		case <-time.After(waitTimeout):
			t.Fatal("no first summary")
		}
	}
	insert(t, b.bdb, newEvent("x", db.EventTicketCreated, db.StatusPending, ""))
	for _, ch := range []<-chan *db.Summary{s1, s2} {
		select {
		case v := <-ch:
			require.EqualValues(t, 1, v.Total)
		case <-time.After(waitTimeout):
			t.Fatal("no pushed summary")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Less(t, computed, 10, "one computation per tick for both subscribers")
}

// TestHeldBackByAnotherDatabase holds a write transaction open in another
// database of the same server: transaction ids are shared by the whole
// server, so an event committed after it began waits for it. The hub shows
// the wait in its stats and delivers the event once the transaction ends.
func TestHeldBackByAnotherDatabase(t *testing.T) {
	b := setup(t, live.Options{})
	ctx := t.Context()
	sub, err := b.hub.Subscribe(ctx, db.EventFilter{}, "")
	require.NoError(t, err)

	other := dbtest.New(t)
	blocker, err := other.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer blocker.Rollback() //nolint:errcheck
	var xid string
	require.NoError(t, blocker.NewRaw("SELECT pg_current_xact_id()::text").Scan(ctx, &xid))

	insert(t, b.bdb, newEvent("held", db.EventTicketCreated, db.StatusPending, ""))
	require.Eventually(t, func() bool { return b.hub.Stats().HeldBack > 0 }, waitTimeout, 10*time.Millisecond,
		"the hub shows the wait behind transaction %s", xid)
	require.Empty(t, drain(sub), "the event waits for the older transaction")

	require.NoError(t, blocker.Commit())
	require.Equal(t, "held", label(next(t, sub)))
}

// TestReplayHeldBackByOlderTransaction resumes while the missed events
// are committed but held back by an older transaction: the catch-up joins
// the shared stream after a while, and the stream delivers those events,
// still marked as replay, once the transaction ends.
func TestReplayHeldBackByOlderTransaction(t *testing.T) {
	b := setup(t, live.Options{PollInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	first, err := b.hub.Subscribe(ctx, db.EventFilter{}, "")
	require.NoError(t, err)
	insert(t, b.bdb, newEvent("seen", db.EventTicketCreated, db.StatusPending, ""))
	cursor := next(t, first).Cursor
	cancel()
	require.Eventually(t, func() bool { return b.hub.Stats().Streams == 0 }, waitTimeout, 10*time.Millisecond)

	other := dbtest.New(t)
	blocker, err := other.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	defer blocker.Rollback() //nolint:errcheck
	var xid string
	require.NoError(t, blocker.NewRaw("SELECT pg_current_xact_id()::text").Scan(t.Context(), &xid))
	insert(t, b.bdb, newEvent("m1", db.EventTicketCreated, db.StatusPending, ""))
	insert(t, b.bdb, newEvent("m2", db.EventTicketCreated, db.StatusPending, ""))

	resumed, err := b.hub.Subscribe(t.Context(), db.EventFilter{}, cursor)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.hub.Stats().Streams == 1 }, waitTimeout, 10*time.Millisecond,
		"the catch-up joins the stream while transaction %s runs", xid)
	require.Empty(t, drain(resumed), "the missed events wait for the older transaction")

	require.NoError(t, blocker.Commit())
	labels, changes := take(t, resumed, 2)
	require.Equal(t, []string{"m1", "m2"}, labels)
	for _, c := range changes {
		require.True(t, c.Replay, "%s was committed before the subscription caught up", label(c))
	}
	insert(t, b.bdb, newEvent("live", db.EventTicketCreated, db.StatusPending, ""))
	c := next(t, resumed)
	require.Equal(t, "live", label(c))
	require.False(t, c.Replay)
}
