package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"
)

// CustomerFilter selects customers.
type CustomerFilter struct {
	// Search matches part of the email or name, case-insensitively.
	Search string
	// LastSyncStatus restricts to customers whose latest attempt had it.
	LastSyncStatus *EventStatus
}

// CustomerStore reads and writes customers.
type CustomerStore struct {
	db *bun.DB
}

// NewCustomerStore returns a store over bdb.
func NewCustomerStore(bdb *bun.DB) *CustomerStore { return &CustomerStore{db: bdb} }

// GetByEmail returns the customer with this email (any case), or ErrNotFound.
func (s *CustomerStore) GetByEmail(ctx context.Context, email string) (*Customer, error) {
	c := new(Customer)
	err := s.db.NewSelect().Model(c).Where("email = ?", strings.ToLower(strings.TrimSpace(email))).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error reading customer %q: %w", email, err)
	}
	return c, nil
}

// GetManyByEmail returns the customers with these lower-cased emails, in no
// particular order; missing ones are left out.
func (s *CustomerStore) GetManyByEmail(ctx context.Context, emails []string) ([]*Customer, error) {
	var cs []*Customer
	if err := s.db.NewSelect().Model(&cs).Where("email IN (?)", bun.In(emails)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading %d customers: %w", len(emails), err)
	}
	return cs, nil
}

func customerWhere(f CustomerFilter) *where {
	w := &where{}
	if q := strings.TrimSpace(f.Search); q != "" {
		pat := likePattern(strings.ToLower(q))
		w.add("(email LIKE ? OR lower(name) LIKE ?)", pat, pat)
	}
	if f.LastSyncStatus != nil {
		w.add("last_sync_status = ?", *f.LastSyncStatus)
	}
	return w
}

// List returns up to p.Limit customers matching f ordered by
// (last_event_at, id) in the scan order of p, and whether more follow.
func (s *CustomerStore) List(ctx context.Context, f CustomerFilter, p Page) ([]*Customer, bool, error) {
	w := customerWhere(f)
	addKeysetBounds(w, "last_event_at", p)
	var cs []*Customer
	err := s.db.NewSelect().Model(&cs).
		Where(w.sql(), w.args...).
		OrderExpr(orderBy("last_event_at", p.Desc)).
		Limit(int64(p.Limit) + 1).
		Scan(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("error listing customers: %w", err)
	}
	more := len(cs) > p.Limit
	if more {
		cs = cs[:p.Limit]
	}
	return cs, more, nil
}

// Count returns how many customers match f.
func (s *CustomerStore) Count(ctx context.Context, f CustomerFilter) (int64, error) {
	w := customerWhere(f)
	n, err := s.db.NewSelect().Model((*Customer)(nil)).Where(w.sql(), w.args...).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("error counting customers: %w", err)
	}
	return int64(n), nil
}

// Insert writes new customers and sets their ids.
func (s *CustomerStore) Insert(ctx context.Context, idb bun.IDB, cs []*Customer) error {
	if len(cs) == 0 {
		return nil
	}
	for _, c := range cs {
		c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	}
	if _, err := idb.NewInsert().Model(&cs).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("error inserting %d customers: %w", len(cs), err)
	}
	return nil
}

// MatchEmails returns up to limit customer emails containing text
// (lower-cased), and whether that is all of them.
//
// A text holding an @ with something before it (an address, whole or in
// part) is looked up by its local part: an email that contains the text
// has a local part ending with the text's, found by prefix in the index of
// reversed local parts, and is then checked whole. Other texts go through
// the trigram index.
func (s *CustomerStore) MatchEmails(ctx context.Context, text string, limit int) ([]string, bool, error) {
	text = strings.ToLower(text)
	q := s.db.NewSelect().Model((*Customer)(nil)).Column("email")
	if local, _, ok := strings.Cut(text, "@"); ok && local != "" {
		q = q.Where("reverse(split_part(email, '@', 1)) LIKE ?", likeEscaper.Replace(reverseRunes(local))+"%").
			Where("strpos(email, ?) > 0", text)
	} else {
		q = q.Where("email LIKE ?", likePattern(text))
	}
	var emails []string
	err := q.Limit(int64(limit)+1).Scan(ctx, &emails)
	if err != nil {
		return nil, false, fmt.Errorf("error matching customer emails: %w", err)
	}
	if len(emails) > limit {
		return nil, false, nil
	}
	return emails, true, nil
}

// reverseRunes reverses s by characters, as PostgreSQL's reverse does.
func reverseRunes(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}
