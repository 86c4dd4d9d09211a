package live

import (
	"time"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/pagination"
)

// kindLive marks cursors of the live feed. They share the checksummed
// encoding of list cursors: the transaction id takes the place of the
// time and the change sequence the place of the id.
const kindLive pagination.Kind = "l"

// EncodeCursor returns the opaque cursor of a feed position.
func EncodeCursor(p db.ChangePos) string {
	return pagination.Encode(kindLive, db.Keyset{OccurredAt: time.Unix(0, int64(p.XID)), ID: p.Seq})
}

// start is where a subscription begins: after a feed position, or after a
// position of the event list (then the events after it are replayed by
// keyset first).
type start struct {
	pos    db.ChangePos
	list   *db.Keyset
	cursor string
}

// parseAfter decodes the after argument: a live cursor or a cursor of the
// syncEvents list.
func parseAfter(after string) (start, error) {
	if k, err := pagination.Decode(kindLive, after, "after"); err == nil {
		return start{pos: db.ChangePos{XID: uint64(k.OccurredAt.UnixNano()), Seq: k.ID}, cursor: after}, nil
	}
	if k, err := pagination.Decode(pagination.KindEvent, after, "after"); err == nil {
		return start{list: &k, cursor: after}, nil
	}
	return start{}, apperr.BadInput("after", "not a valid cursor; use a cursor from this feed or from the syncEvents list")
}

// listCursor is the cursor of an event replayed from a list position: it
// resumes the keyset replay after that event.
func listCursor(e *db.SyncEvent) string {
	return pagination.Encode(pagination.KindEvent, db.KeysetOf(e))
}
