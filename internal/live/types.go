package live

import "github.com/kivalogic/helpscout-log/db"

// ChangeKind says how an event changed.
type ChangeKind string

// The change kinds.
const (
	ChangeCreated ChangeKind = "CREATED"
	ChangeUpdated ChangeKind = "UPDATED"
)

// Change is one change of a sync event, as the live feed delivers it.
type Change struct {
	// Cursor is the change's position in the feed.
	Cursor string
	// Kind says whether the event was written or changed.
	Kind ChangeKind
	// Replay reports a change committed before the subscription caught
	// up: replayed by the catch-up, or delivered by the shared stream when
	// an older transaction held it back past the catch-up.
	Replay bool
	// Event is the event after the change.
	Event *db.SyncEvent
}
