package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Keyset is a position in the event log's total order (occurred_at, id).
type Keyset struct {
	// OccurredAt is the event's time.
	OccurredAt time.Time
	// ID breaks ties.
	ID int64
}

// KeysetOf returns the position of e.
func KeysetOf(e *SyncEvent) Keyset { return Keyset{OccurredAt: e.OccurredAt, ID: e.ID} }

// Page asks for a slice of an ordered list by keyset.
type Page struct {
	// Limit is how many rows to return.
	Limit int
	// Desc scans newest first.
	Desc bool
	// After, when set, starts strictly after this position in scan order.
	After *Keyset
	// Before, when set, stops strictly before this position in scan order.
	Before *Keyset
	// OmitDetails leaves SyncEvent.Details unread (event lists only): the
	// column is the largest of a row and the costliest to decode, and most
	// readers do not show it.
	OmitDetails bool
}

// EventStore reads and writes sync events.
type EventStore struct {
	db *bun.DB
	// broadScanRows is how many events, next in page order, a page of a
	// broad search reads before it gives up on finding its matches among
	// them (see listBroad).
	broadScanRows int64
}

// defaultBroadScanRows is EventStore.broadScanRows: a few milliseconds of
// reading, enough for a text in the emails of 1% of the events to fill a
// page of 50.
const defaultBroadScanRows = 5000

// NewEventStore returns a store over bdb.
func NewEventStore(bdb *bun.DB) *EventStore {
	return &EventStore{db: bdb, broadScanRows: defaultBroadScanRows}
}

// List returns up to p.Limit events matching f in the scan order of p, and
// whether more follow.
func (s *EventStore) List(ctx context.Context, f EventFilter, p Page) ([]*SyncEvent, bool, error) {
	if f.Search.broad() && s.broadScanRows > 0 {
		events, more, err := s.listBroad(ctx, f, p)
		if err != nil || events != nil {
			return events, more, err
		}
	}
	return s.listIndexed(ctx, f, p)
}

// listIndexed is List by the query the filter's indexes serve.
func (s *EventStore) listIndexed(ctx context.Context, f EventFilter, p Page) ([]*SyncEvent, bool, error) {
	w := eventWhere(f)
	addKeysetBounds(w, "occurred_at", p)
	var events []*SyncEvent
	err := s.selectEvents(&events, p).
		Where(w.sql(), w.args...).
		OrderExpr(orderBy("occurred_at", p.Desc)).
		Limit(int64(p.Limit) + 1).
		Scan(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("error listing sync events: %w", err)
	}
	return cutPage(events, p)
}

// listBroad tries to fill a page of a broad search, one whose text is in
// the emails of many customers (often most of the log, as with a domain),
// from the next s.broadScanRows events that the rest of the filter selects,
// keeping those whose email contains the text. More than a page found
// among them is exactly the page, as they come first in page order.
// Otherwise it returns no events and the caller runs the general query,
// which reads every matching event through the email index: right for a
// text whose matches are sparse, and far too much work for one that
// matches half a million events of which a page shows 50.
func (s *EventStore) listBroad(ctx context.Context, f EventFilter, p Page) ([]*SyncEvent, bool, error) {
	next, search := s.following(f, p, s.broadScanRows)
	var events []*SyncEvent
	err := s.selectEvents(&events, p).
		ModelTableExpr("(?) AS e", next).
		Where(search.sql(), search.args...).
		OrderExpr(orderBy("occurred_at", p.Desc)).
		Limit(int64(p.Limit) + 1).
		Scan(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("error listing sync events: %w", err)
	}
	if len(events) <= p.Limit {
		return nil, false, nil
	}
	return cutPage(events, p)
}

// following returns the query of the next rows events in the order of p
// that f selects but for its search, and the search's condition on each
// event's own email, to test them with.
func (s *EventStore) following(f EventFilter, p Page, rows int64) (*bun.SelectQuery, *where) {
	rest := f
	rest.Search = nil
	w := eventWhere(rest)
	addKeysetBounds(w, "occurred_at", p)
	q := s.selectEvents(nil, p).
		Where(w.sql(), w.args...).
		OrderExpr(orderBy("occurred_at", p.Desc)).
		Limit(rows)
	search := &where{}
	search.addSearch(f.Search, true)
	return q, search
}

// SearchShare returns the share of the next rows events, newest first,
// that f selects but for its search, which its search matches: an
// estimate of how much of the log a search finds. Zero when f has no
// search or selects no event.
func (s *EventStore) SearchShare(ctx context.Context, f EventFilter, rows int64) (float64, error) {
	if f.Search == nil {
		return 0, nil
	}
	sample, search := s.following(f, Page{Desc: true, OmitDetails: true}, rows)
	var hits, read int64
	err := s.db.NewSelect().TableExpr("(?) AS e", sample).
		ColumnExpr("count(*) FILTER (WHERE "+search.sql()+")", search.args...).
		ColumnExpr("count(*)").
		Scan(ctx, &hits, &read)
	if err != nil {
		return 0, fmt.Errorf("error sampling a search: %w", err)
	}
	if read == 0 {
		return 0, nil
	}
	return float64(hits) / float64(read), nil
}

// selectEvents starts a select of events into dest (the table alone when
// dest is nil), without their details when the page omits them.
func (s *EventStore) selectEvents(dest *[]*SyncEvent, p Page) *bun.SelectQuery {
	q := s.db.NewSelect()
	if dest != nil {
		q = q.Model(dest)
	} else {
		q = q.Model((*SyncEvent)(nil))
	}
	if p.OmitDetails {
		q = q.ExcludeColumn("details")
	}
	return q
}

// cutPage trims events read with one extra row to the page, and reports
// whether more follow.
func cutPage(events []*SyncEvent, p Page) ([]*SyncEvent, bool, error) {
	if len(events) > p.Limit {
		return events[:p.Limit], true, nil
	}
	return events, false, nil
}

// addKeysetBounds bounds a scan ordered by (col, id) to the page's cursors.
func addKeysetBounds(w *where, col string, p Page) {
	after, before := ">", "<"
	if p.Desc {
		after, before = "<", ">"
	}
	if p.After != nil {
		w.add("("+col+", id) "+after+" (?, ?)", p.After.OccurredAt, p.After.ID)
	}
	if p.Before != nil {
		w.add("("+col+", id) "+before+" (?, ?)", p.Before.OccurredAt, p.Before.ID)
	}
}

func orderBy(col string, desc bool) string {
	if desc {
		return col + " DESC, id DESC"
	}
	return col + " ASC, id ASC"
}

// Get returns the event with the given id, or ErrNotFound.
func (s *EventStore) Get(ctx context.Context, id int64) (*SyncEvent, error) {
	e := new(SyncEvent)
	err := s.db.NewSelect().Model(e).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error reading sync event %d: %w", id, err)
	}
	return e, nil
}

// GetMany returns the events with the given ids, in no particular order;
// missing ids are left out.
func (s *EventStore) GetMany(ctx context.Context, ids []int64) ([]*SyncEvent, error) {
	var events []*SyncEvent
	if err := s.db.NewSelect().Model(&events).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading %d sync events: %w", len(ids), err)
	}
	return events, nil
}

// byID is GetMany keyed by event id.
func (s *EventStore) byID(ctx context.Context, ids []int64) (map[int64]*SyncEvent, error) {
	events, err := s.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]*SyncEvent, len(events))
	for _, e := range events {
		m[e.ID] = e
	}
	return m, nil
}

// RetriesOf returns the events that retried any of the given events,
// oldest first.
func (s *EventStore) RetriesOf(ctx context.Context, ids []int64) ([]*SyncEvent, error) {
	var events []*SyncEvent
	err := s.db.NewSelect().Model(&events).
		Where("retry_of IN (?)", bun.In(ids)).
		OrderExpr("occurred_at ASC, id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error reading retries of %d sync events: %w", len(ids), err)
	}
	return events, nil
}

// Each calls fn for every event matching f, in keyset batches of batchSize,
// so that any number of rows streams through constant memory. It stops at
// the first error fn returns.
func (s *EventStore) Each(ctx context.Context, f EventFilter, desc bool, batchSize int, fn func(*SyncEvent) error) error {
	p := Page{Limit: batchSize, Desc: desc}
	// A broad search may go through the events in windows (see
	// windowsPay); left is how many events the windows have yet to read.
	windows := f.Search.broad() && s.broadScanRows > 0
	var left int64
	if windows {
		rest := f
		rest.Search = nil
		n, err := NewRollupStore(s.db).Count(ctx, rest)
		if err != nil {
			return err
		}
		left = n
	}
	for {
		var (
			events []*SyncEvent
			next   *Keyset
			err    error
		)
		if windows {
			events, next, err = s.scanWindow(ctx, f, p, s.broadScanRows)
			left -= s.broadScanRows
			windows = windowsPay(int64(len(events)), s.broadScanRows, left, int64(batchSize))
		} else {
			var more bool
			events, more, err = s.listIndexed(ctx, f, p)
			if more {
				last := KeysetOf(events[len(events)-1])
				next = &last
			}
		}
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		p.After = next
	}
}

// windowsPay reports whether the rest of a broad search, left events of
// which a window of size read found hits matching, costs less in windows
// than in batches of batch through the email index. Per event delivered,
// windows read 1/share events; a batch reads every match left, on average
// share*left/2 over the batches to come, per batch of batch events. A
// window reads the events in time order, mostly in the order they lie in
// the table, about four times faster than the scattered reads of the email
// index. So windows pay while share² * left > batch / 2.
func windowsPay(hits, size, left, batch int64) bool {
	if hits == 0 || left <= 0 {
		return false
	}
	share := float64(hits) / float64(size)
	return share*share*float64(left) > float64(batch)/2
}

// windowRow is an event of a scan window and whether the search matches it.
type windowRow struct {
	SyncEvent `bun:",extend"`

	Hit bool `bun:"hit,scanonly"`
}

// scanWindow reads the next rows events, details included, in the order of
// p that f selects but for its search, and returns those the search
// matches and the position of the last event read: nil when none was left
// to read.
func (s *EventStore) scanWindow(ctx context.Context, f EventFilter, p Page, rows int64) ([]*SyncEvent, *Keyset, error) {
	p.OmitDetails = false
	window, search := s.following(f, p, rows)
	var read []*windowRow
	err := s.db.NewSelect().With("win", window).Model(&read).ModelTableExpr("win AS e").
		ColumnExpr("?TableColumns").
		ColumnExpr("("+search.sql()+") AS hit", search.args...).
		Where("("+search.sql()+") OR (e.occurred_at, e.id) = (SELECT occurred_at, id FROM win ORDER BY "+orderBy("occurred_at", !p.Desc)+" LIMIT 1)", search.args...).
		OrderExpr(orderBy("occurred_at", p.Desc)).
		Scan(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("error reading a window of sync events: %w", err)
	}
	if len(read) == 0 {
		return nil, nil, nil
	}
	last := KeysetOf(&read[len(read)-1].SyncEvent)
	events := make([]*SyncEvent, 0, len(read))
	for _, r := range read {
		if r.Hit {
			events = append(events, &r.SyncEvent)
		}
	}
	return events, &last, nil
}

// Insert writes events in one statement and sets their ids.
func (s *EventStore) Insert(ctx context.Context, idb bun.IDB, events []*SyncEvent) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := idb.NewInsert().Model(&events).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("error inserting %d sync events: %w", len(events), err)
	}
	return nil
}

// Bounds returns the times of the oldest and newest events, or nils when
// the log is empty.
func (s *EventStore) Bounds(ctx context.Context) (oldest, newest *time.Time, err error) {
	var row struct {
		Oldest *time.Time `bun:"oldest"`
		Newest *time.Time `bun:"newest"`
	}
	err = s.db.NewRaw(`SELECT (SELECT occurred_at FROM sync_events ORDER BY occurred_at ASC, id ASC LIMIT 1) AS oldest,
		(SELECT occurred_at FROM sync_events ORDER BY occurred_at DESC, id DESC LIMIT 1) AS newest`).Scan(ctx, &row)
	if err != nil {
		return nil, nil, fmt.Errorf("error reading the log bounds: %w", err)
	}
	return row.Oldest, row.Newest, nil
}
