package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
)

// ChangePos is a position in the change feed of sync events: the writing
// transaction and the sequence number stamped on the row by its latest
// insert or update. Positions are totally ordered by (XID, Seq).
type ChangePos struct {
	// XID is the writing transaction (change_xid).
	XID uint64
	// Seq orders the changes of one transaction (change_seq).
	Seq int64
}

// After reports whether p comes strictly after q in the feed.
func (p ChangePos) After(q ChangePos) bool {
	if p.XID != q.XID {
		return p.XID > q.XID
	}
	return p.Seq > q.Seq
}

// EventChange is one row of the change feed: an event in its latest state
// and the position of its latest change.
type EventChange struct {
	// Pos is the position of the change.
	Pos ChangePos
	// Created reports that the change is the event's insert.
	Created bool
	// Event is the event after the change.
	Event *SyncEvent
}

// changeRow scans an event with its change stamps.
type changeRow struct {
	SyncEvent `bun:",extend"`

	ChangeXID uint64 `bun:"change_xid,scanonly"`
	ChangeSeq int64  `bun:"change_seq,scanonly"`
	Created   bool   `bun:"created,scanonly"`
	Settled   bool   `bun:"settled,scanonly"`
}

func (r *changeRow) change() EventChange {
	e := r.SyncEvent
	return EventChange{Pos: ChangePos{XID: r.ChangeXID, Seq: r.ChangeSeq}, Created: r.Created, Event: &e}
}

// ChangeStore reads the change feed of sync events.
//
// Every insert and update of sync_events stamps the row with its writing
// transaction and a sequence number. Reading only rows whose transaction is
// older than the oldest transaction still running (the xmin of the current
// snapshot) sees each change exactly once and in position order, although
// transactions commit out of order: no transaction that could still write
// a position at or before the last one read is running.
type ChangeStore struct {
	db bun.IDB
}

// NewChangeStore returns a change store over idb.
func NewChangeStore(idb bun.IDB) *ChangeStore { return &ChangeStore{db: idb} }

// settled keeps the rows written by transactions that are all finished.
const settled = "e.change_xid < pg_snapshot_xmin(pg_current_snapshot())"

// changeColumns are the stamp columns selected beside the event.
const changeColumns = "e.change_xid::text AS change_xid, e.change_seq, (e.insert_xid = e.change_xid) AS created"

// Handover prepares a subscriber's move from a position of the event list
// (a list cursor) to the change feed. In one snapshot it returns the
// latest settled position, and the events at or before from whose latest
// change comes after that position although it is already visible: the
// client saw them in the list, so the feed must skip those changes.
func (s *ChangeStore) Handover(ctx context.Context, from Keyset) (pos ChangePos, seen map[int64]ChangePos, err error) {
	err = s.db.RunInTx(Quiet(ctx), &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if pos, err = NewChangeStore(tx).Head(ctx); err != nil {
			return err
		}
		var rows []struct {
			ID  int64  `bun:"id"`
			XID uint64 `bun:"xid"`
			Seq int64  `bun:"seq"`
		}
		err = tx.NewRaw(`SELECT e.id, e.change_xid::text AS xid, e.change_seq AS seq FROM sync_events AS e
			WHERE (e.change_xid, e.change_seq) > (?::text::xid8, ?) AND (e.occurred_at, e.id) <= (?, ?)`,
			fmt.Sprint(pos.XID), pos.Seq, from.OccurredAt, from.ID).Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("error reading changes not settled yet: %w", err)
		}
		seen = make(map[int64]ChangePos, len(rows))
		for _, r := range rows {
			seen[r.ID] = ChangePos{XID: r.XID, Seq: r.Seq}
		}
		return nil
	})
	if err != nil {
		return ChangePos{}, nil, fmt.Errorf("error preparing the handover from the list: %w", err)
	}
	return pos, seen, nil
}

// Head returns the position of the latest settled change, or the zero
// position when the log is empty.
func (s *ChangeStore) Head(ctx context.Context) (ChangePos, error) {
	return s.latest(ctx, "WHERE "+settled)
}

// Tail returns the position of the latest committed change, settled or
// not, or the zero position when the log is empty. Changes at or before
// it that are not settled yet were committed, or were being written by a
// transaction already running, when Tail was read.
func (s *ChangeStore) Tail(ctx context.Context) (ChangePos, error) {
	return s.latest(ctx, "")
}

// latest returns the position of the latest change among the rows that
// where (a WHERE clause, or empty for all) keeps.
func (s *ChangeStore) latest(ctx context.Context, where string) (ChangePos, error) {
	var rows []struct {
		XID uint64 `bun:"xid"`
		Seq int64  `bun:"seq"`
	}
	err := s.db.NewRaw(`SELECT e.change_xid::text AS xid, e.change_seq AS seq FROM sync_events AS e
		`+where+` ORDER BY e.change_xid DESC, e.change_seq DESC LIMIT 1`).Scan(ctx, &rows)
	if err != nil {
		return ChangePos{}, fmt.Errorf("error reading the latest position of the change feed: %w", err)
	}
	if len(rows) == 0 {
		return ChangePos{}, nil
	}
	return ChangePos{XID: rows[0].XID, Seq: rows[0].Seq}, nil
}

// Read returns up to limit settled changes after pos, in position order.
// An event changed several times since pos appears once, at its latest
// change. A non-zero waiting is the transaction id of the first committed
// change after them that is not settled yet (an older transaction is still
// running): it settles when Xmin passes it, and no notification may come
// then, so the caller should watch Xmin and read again.
func (s *ChangeStore) Read(ctx context.Context, after ChangePos, limit int) (changes []EventChange, waiting uint64, err error) {
	var rows []*changeRow
	err = s.db.NewSelect().Model(&rows).
		ColumnExpr("?TableColumns").ColumnExpr(changeColumns).ColumnExpr(settled+" AS settled").
		Where("(e.change_xid, e.change_seq) > (?::text::xid8, ?)", fmt.Sprint(after.XID), after.Seq).
		OrderExpr("e.change_xid ASC, e.change_seq ASC").
		Limit(int64(limit)).
		Scan(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("error reading changes after %d/%d: %w", after.XID, after.Seq, err)
	}
	// Positions grow with the transaction id, so the settled rows come
	// first and every row after the first unsettled one is unsettled too.
	n := 0
	for n < len(rows) && rows[n].Settled {
		n++
	}
	if n < len(rows) {
		waiting = rows[n].ChangeXID
	}
	return toChanges(rows[:n]), waiting, nil
}

// Xmin returns the oldest transaction id still running: changes written by
// older transactions are settled.
func (s *ChangeStore) Xmin(ctx context.Context) (uint64, error) {
	var xmin uint64
	if err := s.db.NewRaw("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").Scan(ctx, &xmin); err != nil {
		return 0, fmt.Errorf("error reading the snapshot xmin: %w", err)
	}
	return xmin, nil
}

// ListUpTo returns up to limit events matching f after the keyset position
// from, in (occurred_at, id) order, whose latest change is at or before
// upTo. A subscriber resuming from a list cursor reads these, then the
// changes after upTo: every event after from is delivered once, either
// here or, when it changed after upTo, by the feed.
func (s *ChangeStore) ListUpTo(ctx context.Context, f EventFilter, from Keyset, upTo ChangePos, limit int) ([]EventChange, error) {
	w := eventWhere(f)
	addKeysetBounds(w, "occurred_at", Page{After: &from})
	w.add("(change_xid, change_seq) <= (?::text::xid8, ?)", fmt.Sprint(upTo.XID), upTo.Seq)
	var rows []*changeRow
	err := s.db.NewSelect().Model(&rows).
		ColumnExpr("?TableColumns").ColumnExpr(changeColumns).
		Where(w.sql(), w.args...).
		OrderExpr(orderBy("occurred_at", false)).
		Limit(int64(limit)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error listing events to replay: %w", err)
	}
	return toChanges(rows), nil
}

func toChanges(rows []*changeRow) []EventChange {
	out := make([]EventChange, len(rows))
	for i, r := range rows {
		out[i] = r.change()
	}
	return out
}

// Matches reports whether e satisfies f, evaluated in memory with the same
// meaning as the SQL condition the event list uses. A search's email part
// matches any customer email containing the text, whether or not the
// filter resolved the matching emails beforehand, so that customers
// created after the filter was resolved still match.
func (f EventFilter) Matches(e *SyncEvent) bool {
	if f.From != nil && e.OccurredAt.Before(*f.From) {
		return false
	}
	if f.To != nil && !e.OccurredAt.Before(*f.To) {
		return false
	}
	if len(f.Types) > 0 && !contains(f.Types, e.Type) {
		return false
	}
	if len(f.Statuses) > 0 && !contains(f.Statuses, e.Status) {
		return false
	}
	if len(f.Directions) > 0 && !contains(f.Directions, e.Direction) {
		return false
	}
	if len(f.ErrorCodes) > 0 && (e.ErrorCode == nil || !contains(f.ErrorCodes, *e.ErrorCode)) {
		return false
	}
	if f.CustomerEmail != nil && (e.CustomerEmail == nil || *e.CustomerEmail != strings.ToLower(*f.CustomerEmail)) {
		return false
	}
	if f.ConversationID != nil && (e.ConversationID == nil || *e.ConversationID != *f.ConversationID) {
		return false
	}
	if len(f.Sources) > 0 && !contains(f.Sources, e.Source) {
		return false
	}
	if s := f.Search; s != nil {
		if !s.matches(e.CustomerEmail, e.ID, e.ConversationID, e.TicketNumber) {
			return false
		}
	}
	return true
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func eqPtr(p *int64, v int64) bool { return p != nil && *p == v }
