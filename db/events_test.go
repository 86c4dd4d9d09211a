package db_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestListOmitDetails: a page read without details carries every other
// column as the full read does, and no details.
func TestListOmitDetails(t *testing.T) {
	ctx := context.Background()
	bdb := dbtest.New(t)
	store := db.NewEventStore(bdb)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var events []*db.SyncEvent
	for i := range 3 {
		events = append(events, &db.SyncEvent{
			OccurredAt: at.Add(time.Duration(i) * time.Minute), Type: db.EventTicketCreated, Status: db.StatusFailed,
			Direction: db.DirectionToHelpScout, CustomerEmail: rptr("ann@example.com"), Attempt: 1, Source: db.SourceContactForm,
			ErrorCode: rptr(db.ErrorCodes[i]), ErrorMessage: rptr("rejected"),
			Details: map[string]any{"subject": "Order question", "seq": float64(i)},
		})
	}
	require.NoError(t, store.Insert(ctx, bdb, events))

	tests := []struct {
		name        string
		omit        bool
		wantDetails bool
	}{
		{name: "full", omit: false, wantDetails: true},
		{name: "without details", omit: true, wantDetails: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more, err := store.List(ctx, db.EventFilter{}, db.Page{Limit: 10, Desc: true, OmitDetails: tt.omit})
			require.NoError(t, err)
			require.False(t, more)
			require.Len(t, got, len(events))
			for i, g := range got {
				want := *events[len(events)-1-i]
				if !tt.wantDetails {
					want.Details = nil
				}
				require.Equal(t, want.ID, g.ID)
				require.True(t, want.OccurredAt.Equal(g.OccurredAt))
				g.OccurredAt = want.OccurredAt
				require.Equal(t, want, *g)
			}
		})
	}
}

// TestListSearchPages pages through searches, forward and backward, with
// the other filters at random, and compares each page with the events
// that match in memory. The scan bound is small, so that some pages come
// from the first events in page order and others from the email index.
func TestListSearchPages(t *testing.T) {
	t.Parallel()
	l := newSearchLog(t, 17)
	ctx := context.Background()
	const scanRows = 150
	store := db.NewEventStore(l.bdb)
	store.SetBroadScanRows(scanRows)
	rng := rand.New(rand.NewPCG(17, 5))
	var fromScan, fromIndex int
	for i := 0; i < 120; i++ {
		f := randomSearch(rng, l)
		desc := rng.IntN(2) == 0
		limit := 1 + rng.IntN(40)
		order := inOrder(desc)
		all := slices.Clone(l.events)
		slices.SortFunc(all, order)
		var stop *db.Keyset
		if rng.IntN(3) == 0 {
			k := db.KeysetOf(all[rng.IntN(len(all))])
			stop = &k
		}
		within := func(e *db.SyncEvent, after *db.Keyset) bool {
			if after != nil && order(e, &db.SyncEvent{OccurredAt: after.OccurredAt, ID: after.ID}) <= 0 {
				return false
			}
			return stop == nil || order(e, &db.SyncEvent{OccurredAt: stop.OccurredAt, ID: stop.ID}) < 0
		}
		rest := f
		rest.Search = nil
		var want []int64
		for _, e := range all {
			if within(e, nil) && rollMatches(f, e) {
				want = append(want, e.ID)
			}
		}
		var got []int64
		p := db.Page{Limit: limit, Desc: desc, Before: stop, OmitDetails: true}
		for pages := 0; ; pages++ {
			require.Less(t, pages, len(l.events), "paging does not end: %s", rollDescribe(f))
			// Which way the page should come: the first scanRows events the
			// rest of the filter selects hold more than a page of matches.
			var read, matched int
			for _, e := range all {
				if read == scanRows {
					break
				}
				if within(e, p.After) && rollMatches(rest, e) {
					read++
					if rollMatches(f, e) {
						matched++
					}
				}
			}
			if matched > limit {
				fromScan++
			} else {
				fromIndex++
			}
			rows, more, err := store.List(ctx, f, p)
			require.NoError(t, err)
			for _, e := range rows {
				got = append(got, e.ID)
				require.Nil(t, e.Details)
			}
			require.Equal(t, len(got) < len(want), more, "more after %d of %d: %s", len(got), len(want), rollDescribe(f))
			if !more {
				break
			}
			require.Len(t, rows, limit)
			k := db.KeysetOf(rows[len(rows)-1])
			p.After = &k
		}
		require.Equal(t, want, got, "%s desc=%v limit=%d before=%v", rollDescribe(f), desc, limit, stop)
	}
	require.Greater(t, fromScan, 20, "pages filled from the first events")
	require.Greater(t, fromIndex, 20, "pages that needed the email index")
}

// searchTexts are in most emails of a search log, in some, in one, in a
// rare one, in none, and numbers.
var searchTexts = []string{"e", "@", ".", "EXAMPLE", "kiva.test", "alice", "BOB@", "%", "_b", "100", "zzz", "#1005", "rare", "elsewhere.test"}

// randomSearch is a random filter (see rollRandomFilter) whose record
// condition is a search for one of searchTexts.
func randomSearch(rng *rand.Rand, l *rollLog) db.EventFilter {
	f := rollRandomFilter(rng, l, false)
	f.CustomerEmail, f.ConversationID = nil, nil
	f.Search = db.ParseSearch(searchTexts[rng.IntN(len(searchTexts))])
	f.Search.Direct = rng.IntN(2) == 0
	return f
}

// newSearchLog is a generated log (see newRollLog) with a few events of a
// rare customer besides, whose email few events hold.
func newSearchLog(t *testing.T, seed uint64) *rollLog {
	t.Helper()
	l := newRollLog(t, 3000, seed)
	ctx := context.Background()
	const rare = "rare.one@elsewhere.test"
	require.NoError(t, db.NewCustomerStore(l.bdb).Insert(ctx, l.bdb, []*db.Customer{{Email: rare, LastEventAt: rollBase}}))
	rng := rand.New(rand.NewPCG(seed, 7))
	var extra []*db.SyncEvent
	for range 12 {
		e := rollRandomEvent(rng, l.convs)
		e.CustomerEmail = rptr(rare)
		e.OccurredAt = rollBase.Add(time.Duration(rng.Int64N(int64(rollDays * 24 * time.Hour))))
		extra = append(extra, e)
	}
	require.NoError(t, db.NewEventStore(l.bdb).Insert(ctx, l.bdb, extra))
	l.events = append(l.events, extra...)
	return l
}

// inOrder compares events in the log's order, newest first when desc.
func inOrder(desc bool) func(a, b *db.SyncEvent) int {
	return func(a, b *db.SyncEvent) int {
		c := a.OccurredAt.Compare(b.OccurredAt)
		if c == 0 {
			c = int(a.ID - b.ID)
		}
		if desc {
			return -c
		}
		return c
	}
}

// TestEachSearch streams searches, with the other filters at random, in
// batches of many sizes, and compares the stream with the events that
// match in memory. The windows are small, so that broad texts go through
// the log in windows, sparse ones through the email index, and some
// change from one way to the other on the way.
func TestEachSearch(t *testing.T) {
	t.Parallel()
	l := newSearchLog(t, 23)
	ctx := context.Background()
	store := db.NewEventStore(l.bdb)
	store.SetBroadScanRows(100)
	rng := rand.New(rand.NewPCG(23, 5))
	for i := 0; i < 80; i++ {
		f := randomSearch(rng, l)
		desc := rng.IntN(2) == 0
		batch := 1 + rng.IntN(300)
		all := slices.Clone(l.events)
		slices.SortFunc(all, inOrder(desc))
		var want, got []int64
		for _, e := range all {
			if rollMatches(f, e) {
				want = append(want, e.ID)
			}
		}
		require.NoError(t, store.Each(ctx, f, desc, batch, func(e *db.SyncEvent) error {
			got = append(got, e.ID)
			return nil
		}))
		require.Equal(t, want, got, "%s desc=%v batch=%d", rollDescribe(f), desc, batch)
	}
}

// TestWindowsPay: windows pay for texts in many of many events left, and
// not for sparse matches, a short rest or large batches.
func TestWindowsPay(t *testing.T) {
	for _, c := range []struct {
		name                    string
		hits, size, left, batch int64
		want                    bool
	}{
		{"every event matches", 5000, 5000, 1000000, 2000, true},
		{"one in ten of a million", 500, 5000, 1000000, 2000, true},
		{"one in ten of fifty thousand", 500, 5000, 50000, 2000, false},
		{"three in a hundred of ten million", 150, 5000, 10000000, 2000, true},
		{"three in a hundred of 640,000", 150, 5000, 640000, 2000, false},
		{"no match", 0, 5000, 10000000, 2000, false},
		{"nothing left", 5000, 5000, 0, 2000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, db.WindowsPay(c.hits, c.size, c.left, c.batch))
		})
	}
}
