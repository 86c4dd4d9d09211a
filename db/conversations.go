package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// ConversationStore reads and writes conversations.
type ConversationStore struct {
	db *bun.DB
}

// NewConversationStore returns a store over bdb.
func NewConversationStore(bdb *bun.DB) *ConversationStore { return &ConversationStore{db: bdb} }

func (s *ConversationStore) one(ctx context.Context, what string, cond string, arg any) (*Conversation, error) {
	c := new(Conversation)
	err := s.db.NewSelect().Model(c).Where(cond, arg).OrderExpr("created_at DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error reading conversation %s %v: %w", what, arg, err)
	}
	return c, nil
}

// Get returns the conversation with HelpScout id id, or ErrNotFound.
func (s *ConversationStore) Get(ctx context.Context, id int64) (*Conversation, error) {
	return s.one(ctx, "id", "id = ?", id)
}

// GetByNumber returns the newest conversation with this ticket number, or
// ErrNotFound. Numbers are unique per HelpScout account.
func (s *ConversationStore) GetByNumber(ctx context.Context, number int64) (*Conversation, error) {
	return s.one(ctx, "number", "number = ?", number)
}

// LatestNumber returns the highest ticket number of the log's
// conversations, or 0 when there are none.
func (s *ConversationStore) LatestNumber(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.NewRaw("SELECT coalesce(max(number), 0) FROM conversations").Scan(ctx, &n); err != nil {
		return 0, fmt.Errorf("error reading the latest ticket number: %w", err)
	}
	return n, nil
}

// GetMany returns the conversations with these ids, in no particular
// order; missing ones are left out.
func (s *ConversationStore) GetMany(ctx context.Context, ids []int64) ([]*Conversation, error) {
	var cs []*Conversation
	if err := s.db.NewSelect().Model(&cs).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading %d conversations: %w", len(ids), err)
	}
	return cs, nil
}

// ListByCustomer returns up to p.Limit conversations of a customer ordered
// by (created_at, id) in the scan order of p, and whether more follow.
func (s *ConversationStore) ListByCustomer(ctx context.Context, email string, p Page) ([]*Conversation, bool, error) {
	w := &where{}
	w.add("customer_email = ?", email)
	addKeysetBounds(w, "created_at", p)
	var cs []*Conversation
	err := s.db.NewSelect().Model(&cs).
		Where(w.sql(), w.args...).
		OrderExpr(orderBy("created_at", p.Desc)).
		Limit(int64(p.Limit) + 1).
		Scan(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("error listing conversations of %q: %w", email, err)
	}
	more := len(cs) > p.Limit
	if more {
		cs = cs[:p.Limit]
	}
	return cs, more, nil
}

// CountByCustomer returns how many conversations a customer has.
func (s *ConversationStore) CountByCustomer(ctx context.Context, email string) (int64, error) {
	n, err := s.db.NewSelect().Model((*Conversation)(nil)).Where("customer_email = ?", email).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("error counting conversations of %q: %w", email, err)
	}
	return int64(n), nil
}

// RecordCreated saves, within idb, a conversation that the sync created
// (or found) in HelpScout, from what it sent: id, number, subject, mailbox
// and customer, active, at now. The row is a placeholder: the first
// webhook about the conversation replaces it whatever its time, since
// HelpScout's account is newer than what was sent (see the migration
// conversation_placeholder). A row that webhooks already wrote keeps what
// they said and gets the number.
func (s *ConversationStore) RecordCreated(ctx context.Context, idb bun.IDB, id, number int64, subject string, mailboxID int64, customerEmail *string, now time.Time) error {
	_, err := idb.NewRaw(`INSERT INTO conversations
		(id, number, subject, status, mailbox_id, customer_email, created_at, updated_at, placeholder)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, true)
		ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number`,
		id, number, subject, ConversationActive, mailboxID, customerEmail, now, now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error saving conversation %d: %w", id, err)
	}
	return nil
}

// Insert writes new conversations.
func (s *ConversationStore) Insert(ctx context.Context, idb bun.IDB, cs []*Conversation) error {
	if len(cs) == 0 {
		return nil
	}
	if _, err := idb.NewInsert().Model(&cs).Exec(ctx); err != nil {
		return fmt.Errorf("error inserting %d conversations: %w", len(cs), err)
	}
	return nil
}
