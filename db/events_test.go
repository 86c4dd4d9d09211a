package db_test

import (
	"context"
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
