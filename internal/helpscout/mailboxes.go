package helpscout

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kivalogic/helpscout-log/db"
)

// Mailbox is a HelpScout mailbox.
type Mailbox struct {
	// ID is the mailbox id conversations are created in.
	ID int64 `json:"id"`
	// Name is the mailbox's name.
	Name string `json:"name"`
	// Slug is its short key.
	Slug string `json:"slug"`
	// Email is its address.
	Email string `json:"email"`
}

// GetMailbox reads a mailbox: GET /v2/mailboxes/{id}. An unknown mailbox is
// MAILBOX_NOT_FOUND.
func (c *Client) GetMailbox(ctx context.Context, id int64) (mb *Mailbox, res Result, err error) {
	op := fmt.Sprintf("getting mailbox %d", id)
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	rep, err := c.roundTrip(ctx, &res, op, http.MethodGet, fmt.Sprintf("/v2/mailboxes/%d", id), nil)
	if err != nil {
		return nil, res, err
	}
	mb = &Mailbox{}
	if err := unmarshal(rep.body, mb); err != nil || mb.ID == 0 {
		return nil, res, unreadable(op, "mailbox", rep, err)
	}
	return mb, res, nil
}

// ListMailboxes lists the mailboxes the credentials can see (first page,
// 50 mailboxes): GET /v2/mailboxes. Administrators pick one from it.
func (c *Client) ListMailboxes(ctx context.Context) (out []Mailbox, res Result, err error) {
	const op = "listing mailboxes"
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	rep, err := c.roundTrip(ctx, &res, op, http.MethodGet, "/v2/mailboxes", nil)
	if err != nil {
		return nil, res, err
	}
	var p struct {
		Embedded *struct {
			Mailboxes []Mailbox `json:"mailboxes"`
		} `json:"_embedded"`
	}
	if err := unmarshal(rep.body, &p); err != nil {
		return nil, res, unreadable(op, "mailbox list", rep, err)
	}
	if p.Embedded != nil {
		out = p.Embedded.Mailboxes
	}
	return out, res, nil
}

// Ping tests the connection: it gets a token (a fresh one is not forced)
// and reads the configured mailbox, GET /v2/mailboxes/{mailboxId}. Wrong
// credentials are AUTHENTICATION_FAILED, a wrong or missing mailbox
// MAILBOX_NOT_FOUND.
func (c *Client) Ping(ctx context.Context) (res Result, err error) {
	const op = "testing connection"
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	id := c.MailboxID()
	if id == 0 {
		if _, _, err := c.accessToken(ctx, &res); err != nil {
			return res, tokenError(op, err)
		}
		return res, &Error{Op: op, Code: db.CodeMailboxNotFound, Message: "no HelpScout mailbox is configured"}
	}
	_, res, err = c.GetMailbox(ctx, id)
	return res, err
}
