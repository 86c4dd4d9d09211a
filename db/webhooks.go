package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// webhookLockSpace is the first key of the transaction advisory locks that
// serialise deliveries with the same id. Two-key advisory locks never
// conflict with the single-key migration lock.
const webhookLockSpace = 0x4857 // "HW"

// Delivery is one signed webhook from HelpScout, ready to be recorded.
type Delivery struct {
	// ID identifies the delivery: the hex SHA-256 of the event name and the
	// raw body. A redelivery of the same webhook has the same id.
	ID string
	// Event is the sync event to write. Its Source is set to SourceWebhook
	// and its SourceRef to ID.
	Event *SyncEvent
	// Conversation, when set, is upserted by id. A nil Status keeps the
	// stored status (ACTIVE for a new row); the row is left alone when the
	// stored UpdatedAt is newer (a late, out-of-order delivery). A newer
	// webhook about a deleted conversation clears DeletedAt: HelpScout
	// restored it.
	Conversation *WebhookConversation
	// AgentReplyAt, when set with Conversation, is when an agent replied
	// (convo.agent.reply.created): the conversation's FirstReplyAt becomes
	// the earliest such time, whatever order the deliveries come in.
	AgentReplyAt time.Time
	// ClosedConversationID, when non-zero, is a conversation HelpScout
	// deleted: its stored row (if any) is kept, marked CLOSED with the
	// time of the deletion in DeletedAt, and the event takes its ticket
	// number and customer email from it.
	ClosedConversationID int64
	// Customers are upserted by lower-cased email.
	Customers []WebhookCustomer
	// DeletedCustomerID, when non-zero, is a customer HelpScout deleted:
	// stored rows are kept, and the event takes its email from them.
	DeletedCustomerID int64
}

// WebhookConversation is what a convo.* webhook tells about a conversation.
type WebhookConversation struct {
	// ID is HelpScout's conversation id.
	ID int64
	// Number is the ticket number.
	Number int64
	// Subject is the subject line.
	Subject string
	// Status is the mapped status; nil when HelpScout sent one we do not know.
	Status *ConversationStatus
	// MailboxID is the mailbox.
	MailboxID int64
	// Assignee is the assigned agent; nil when unassigned.
	Assignee *string
	// CustomerEmail is the primary customer's email; nil keeps the stored one.
	CustomerEmail *string
	// CreatedAt is when HelpScout created it.
	CreatedAt time.Time
	// UpdatedAt is the latest change.
	UpdatedAt time.Time
}

// WebhookCustomer is what a webhook tells about a customer.
type WebhookCustomer struct {
	// Email is the customer's email; it is lower-cased before storing.
	Email string
	// Name is the full name; nil keeps the stored one.
	Name *string
	// HelpScoutID is HelpScout's customer id; nil keeps the stored one.
	HelpScoutID *int64
}

// WebhookStore records webhooks received from HelpScout.
type WebhookStore struct {
	db *bun.DB
}

// NewWebhookStore returns a store over bdb.
func NewWebhookStore(bdb *bun.DB) *WebhookStore { return &WebhookStore{db: bdb} }

// Record writes d in one transaction: the sync event, then the
// conversation and customer rows it carries. A delivery whose id was
// already recorded writes nothing and returns the earlier event's id with
// duplicate set. Concurrent redeliveries wait for each other on a
// transaction advisory lock keyed by the delivery id, so exactly one of
// them is recorded.
func (s *WebhookStore) Record(ctx context.Context, d Delivery) (eventID int64, duplicate bool, err error) {
	if d.ID == "" || d.Event == nil {
		return 0, false, errors.New("error recording webhook: delivery without id or event")
	}
	record := s.recordOnce(d, &eventID, &duplicate)
	err = Retry(ctx, func() error { return s.db.RunInTx(ctx, nil, record) })
	if err != nil {
		return 0, false, fmt.Errorf("error recording webhook delivery %s: %w", d.ID, err)
	}
	return eventID, duplicate, nil
}

// recordOnce is one try of Record.
func (s *WebhookStore) recordOnce(d Delivery, eventID *int64, duplicate *bool) func(ctx context.Context, tx bun.Tx) error {
	return func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, hashtext(?))", webhookLockSpace, d.ID); err != nil {
			return fmt.Errorf("error locking delivery: %w", err)
		}
		var prior int64
		err := tx.NewSelect().Model((*SyncEvent)(nil)).Column("id").
			Where("source = ? AND source_ref = ?", SourceWebhook, d.ID).
			OrderExpr("id ASC").Limit(1).Scan(ctx, &prior)
		switch {
		case err == nil:
			*eventID, *duplicate = prior, true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("error looking up delivery: %w", err)
		}
		id, err := s.record(ctx, tx, d)
		*eventID, *duplicate = id, false
		return err
	}
}

func (s *WebhookStore) record(ctx context.Context, tx bun.Tx, d Delivery) (int64, error) {
	e := d.Event
	e.Source = SourceWebhook
	ref := d.ID
	e.SourceRef = &ref
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	if e.Attempt == 0 {
		e.Attempt = 1
	}
	if e.CustomerEmail != nil {
		email := normEmail(*e.CustomerEmail)
		e.CustomerEmail = &email
	}

	if id := d.ClosedConversationID; id != 0 {
		var cv Conversation
		err := tx.NewRaw(`UPDATE conversations SET status = ?0, deleted_at = coalesce(deleted_at, ?1),
			updated_at = greatest(updated_at, ?1) WHERE id = ?2 RETURNING *`, ConversationClosed, e.OccurredAt, id).Scan(ctx, &cv)
		switch {
		case err == nil:
			if e.TicketNumber == nil {
				e.TicketNumber = &cv.Number
			}
			if e.CustomerEmail == nil && cv.CustomerEmail != nil {
				e.CustomerEmail = cv.CustomerEmail
			}
		case !errors.Is(err, sql.ErrNoRows):
			return 0, fmt.Errorf("error closing deleted conversation %d: %w", id, err)
		}
	}
	if id := d.DeletedCustomerID; id != 0 && e.CustomerEmail == nil {
		var email string
		err := tx.NewSelect().Model((*Customer)(nil)).Column("email").
			Where("helpscout_id = ?", id).OrderExpr("id ASC").Limit(1).Scan(ctx, &email)
		switch {
		case err == nil:
			e.CustomerEmail = &email
		case !errors.Is(err, sql.ErrNoRows):
			return 0, fmt.Errorf("error finding deleted customer %d: %w", id, err)
		}
	}

	if c := d.Conversation; c != nil {
		if err := upsertWebhookConversation(ctx, tx, c); err != nil {
			return 0, err
		}
		if !d.AgentReplyAt.IsZero() {
			// LEAST ignores the NULL of a conversation without a reply yet.
			_, err := tx.NewRaw("UPDATE conversations SET first_reply_at = LEAST(first_reply_at, ?) WHERE id = ?",
				d.AgentReplyAt, c.ID).Exec(ctx)
			if err != nil {
				return 0, fmt.Errorf("error recording the first reply of conversation %d: %w", c.ID, err)
			}
		}
	}
	customers := d.Customers
	if e.CustomerEmail != nil {
		// Every email an event carries has a customer row, so that the
		// search box finds the event through the customers table.
		customers = append(customers, WebhookCustomer{Email: *e.CustomerEmail})
	}
	if err := upsertWebhookCustomers(ctx, tx, customers, e.OccurredAt); err != nil {
		return 0, err
	}
	// The events last: their rollup rows are shared by every writer, which
	// all take them after the customer and conversation rows, so that no
	// two transactions wait on each other in a cycle.
	if c := d.Conversation; c != nil && c.Number != 0 {
		// Events that created or synced this conversation but could not
		// read its number from HelpScout take it from the delivery, so
		// that a search for the ticket number finds them.
		_, err := tx.NewUpdate().Model((*SyncEvent)(nil)).
			Set("ticket_number = ?", c.Number).
			Where("conversation_id = ? AND ticket_number IS NULL", c.ID).
			Exec(ctx)
		if err != nil {
			return 0, fmt.Errorf("error filling in ticket number %d: %w", c.Number, err)
		}
	}
	if _, err := tx.NewInsert().Model(e).Returning("id").Exec(ctx); err != nil {
		return 0, fmt.Errorf("error inserting sync event: %w", err)
	}
	return e.ID, nil
}

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func upsertWebhookConversation(ctx context.Context, tx bun.Tx, c *WebhookConversation) error {
	var email *string
	if c.CustomerEmail != nil && strings.TrimSpace(*c.CustomerEmail) != "" {
		e := normEmail(*c.CustomerEmail)
		email = &e
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO conversations AS cv
		(id, number, subject, status, mailbox_id, assignee, customer_email, created_at, updated_at)
		VALUES (?, ?, ?, coalesce(?, ?), ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			number = EXCLUDED.number,
			subject = EXCLUDED.subject,
			status = coalesce(?, cv.status),
			mailbox_id = EXCLUDED.mailbox_id,
			assignee = EXCLUDED.assignee,
			customer_email = coalesce(EXCLUDED.customer_email, cv.customer_email),
			created_at = CASE WHEN cv.placeholder THEN EXCLUDED.created_at ELSE cv.created_at END,
			updated_at = EXCLUDED.updated_at,
			deleted_at = NULL,
			placeholder = false
		WHERE cv.placeholder OR cv.updated_at <= EXCLUDED.updated_at`,
		c.ID, c.Number, c.Subject, c.Status, ConversationActive, c.MailboxID, c.Assignee, email,
		c.CreatedAt, c.UpdatedAt, c.Status)
	if err != nil {
		return fmt.Errorf("error upserting conversation %d: %w", c.ID, err)
	}
	return nil
}

func upsertWebhookCustomers(ctx context.Context, tx bun.Tx, cs []WebhookCustomer, at time.Time) error {
	// Merge entries for the same email, then write them in email order so
	// that concurrent deliveries lock rows in the same order.
	byEmail := map[string]WebhookCustomer{}
	var emails []string
	for _, c := range cs {
		email := normEmail(c.Email)
		if email == "" {
			continue
		}
		prev, seen := byEmail[email]
		if !seen {
			emails = append(emails, email)
		}
		if c.Name == nil {
			c.Name = prev.Name
		}
		if c.HelpScoutID == nil {
			c.HelpScoutID = prev.HelpScoutID
		}
		c.Email = email
		byEmail[email] = c
	}
	slices.Sort(emails)
	for _, email := range emails {
		c := byEmail[email]
		_, err := tx.ExecContext(ctx, `INSERT INTO customers AS c (email, name, helpscout_id, last_event_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (email) DO UPDATE SET
				name = coalesce(EXCLUDED.name, c.name),
				helpscout_id = coalesce(EXCLUDED.helpscout_id, c.helpscout_id),
				last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at)`,
			email, c.Name, c.HelpScoutID, at)
		if err != nil {
			return fmt.Errorf("error upserting customer %q: %w", email, err)
		}
	}
	return nil
}

// RecordRejected writes the event of a webhook refused before it was
// trusted (a missing or bad signature). Such events carry no delivery id:
// an unsigned body proves nothing, so it is never deduplicated.
func (s *WebhookStore) RecordRejected(ctx context.Context, e *SyncEvent) (int64, error) {
	e.Source = SourceWebhook
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	if e.Attempt == 0 {
		e.Attempt = 1
	}
	if _, err := s.db.NewInsert().Model(e).Returning("id").Exec(ctx); err != nil {
		return 0, fmt.Errorf("error recording rejected webhook: %w", err)
	}
	return e.ID, nil
}
