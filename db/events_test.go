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
	l := newRollLog(t, 3000, 17)
	ctx := context.Background()
	const scanRows = 150
	store := db.NewEventStore(l.bdb)
	store.SetBroadScanRows(scanRows)
	rng := rand.New(rand.NewPCG(17, 5))
	// Texts in most emails, in some, in one, in none, and numbers.
	texts := []string{"e", "@", ".", "EXAMPLE", "kiva.test", "alice", "BOB@", "%", "_b", "100", "zzz", "#1005"}
	inOrder := func(desc bool) func(a, b *db.SyncEvent) int {
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
	var fromScan, fromIndex int
	for i := 0; i < 120; i++ {
		f := rollRandomFilter(rng, l, false)
		f.CustomerEmail, f.ConversationID = nil, nil
		f.Search = db.ParseSearch(texts[rng.IntN(len(texts))])
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
