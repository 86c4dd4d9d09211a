package synclog

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/pagination"
)

// maxEmailLength is the longest email address RFC 5321 allows.
const maxEmailLength = 254

// Customer returns the customer with this email, or nil when there is none.
func (s *Service) Customer(ctx context.Context, email string) (*db.Customer, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > maxEmailLength {
		return nil, apperr.BadInput("email", "give an email address of 1 to %d characters", maxEmailLength)
	}
	c, err := s.Customers.GetByEmail(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

// CustomerConnection is a page of customers.
type CustomerConnection struct {
	page[*db.Customer]
	total
}

// CustomerEdge is one customer with its cursor.
type CustomerEdge struct {
	Cursor string
	Node   *db.Customer
}

func customerCursor(c *db.Customer) string {
	return pagination.Encode(pagination.KindCustomer, db.Keyset{OccurredAt: c.LastEventAt, ID: c.ID})
}

// Edges returns the page's customers with their cursors.
func (c *CustomerConnection) Edges() []CustomerEdge {
	return edges(&c.page, func(cursor string, r *db.Customer) CustomerEdge { return CustomerEdge{Cursor: cursor, Node: r} })
}

// CustomerFilterInput is the customer filter as clients send it.
type CustomerFilterInput struct {
	Search         *string
	LastSyncStatus *db.EventStatus
}

// ListCustomers returns a page of customers, most recently active first.
func (s *Service) ListCustomers(ctx context.Context, in *CustomerFilterInput, args pagination.Args) (*CustomerConnection, error) {
	var f db.CustomerFilter
	if in != nil {
		if in.Search != nil {
			if err := checkSearch(*in.Search, "filter.search"); err != nil {
				return nil, err
			}
			f.Search = *in.Search
		}
		if in.LastSyncStatus != nil && *in.LastSyncStatus == db.StatusPending {
			return nil, apperr.BadInput("filter.lastSyncStatus", "a customer's status is that of its latest finished sync attempt, SUCCESS or FAILED; "+
				"to find attempts still pending, filter syncEvents by statuses: [PENDING]")
		}
		f.LastSyncStatus = in.LastSyncStatus
	}
	req, err := pagination.Resolve(pagination.KindCustomer, args, true)
	if err != nil {
		return nil, err
	}
	rows, more, err := s.Customers.List(ctx, f, req.Page)
	if err != nil {
		return nil, err
	}
	return &CustomerConnection{
		page:  newPage(rows, req, more, customerCursor),
		total: total{count: func(ctx context.Context) (int64, error) { return s.Customers.Count(ctx, f) }},
	}, nil
}

// ConversationConnection is a page of a customer's conversations.
type ConversationConnection struct {
	page[*db.Conversation]
	total
}

// ConversationEdge is one conversation with its cursor.
type ConversationEdge struct {
	Cursor string
	Node   *db.Conversation
}

func conversationCursor(c *db.Conversation) string {
	return pagination.Encode(pagination.KindConversation, db.Keyset{OccurredAt: c.CreatedAt, ID: c.ID})
}

// Edges returns the page's conversations with their cursors.
func (c *ConversationConnection) Edges() []ConversationEdge {
	return edges(&c.page, func(cursor string, r *db.Conversation) ConversationEdge {
		return ConversationEdge{Cursor: cursor, Node: r}
	})
}

// CustomerConversations returns a page of a customer's conversations, newest first.
func (s *Service) CustomerConversations(ctx context.Context, email string, args pagination.Args) (*ConversationConnection, error) {
	req, err := pagination.Resolve(pagination.KindConversation, args, true)
	if err != nil {
		return nil, err
	}
	rows, more, err := s.Conversations.ListByCustomer(ctx, email, req.Page)
	if err != nil {
		return nil, err
	}
	return &ConversationConnection{
		page:  newPage(rows, req, more, conversationCursor),
		total: total{count: func(ctx context.Context) (int64, error) { return s.Conversations.CountByCustomer(ctx, email) }},
	}, nil
}

// Conversation returns a conversation by HelpScout id or ticket number
// (exactly one must be given), or nil when there is none.
func (s *Service) Conversation(ctx context.Context, id, number *string) (*db.Conversation, error) {
	if (id == nil) == (number == nil) {
		return nil, apperr.BadInput("id", "give exactly one of id and number")
	}
	var (
		c   *db.Conversation
		err error
	)
	if id != nil {
		n, perr := ParseID("id", *id)
		if perr != nil {
			return nil, perr
		}
		c, err = s.Conversations.Get(ctx, n)
	} else {
		raw := strings.TrimPrefix(strings.TrimSpace(*number), "#")
		n, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil || n <= 0 {
			return nil, apperr.BadInput("number", "%s is not a ticket number", apperr.Quote(*number))
		}
		c, err = s.Conversations.GetByNumber(ctx, n)
	}
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return c, err
}
