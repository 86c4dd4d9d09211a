package helpscout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kivalogic/helpscout-log/db"
)

// TimeLayout is how HelpScout writes and reads dates: yyyy-MM-dd'T'HH:mm:ss'Z'.
const TimeLayout = "2006-01-02T15:04:05Z"

// WebURL returns the address of a conversation in HelpScout's web app.
func WebURL(id, number int64) string {
	return fmt.Sprintf("https://secure.helpscout.net/conversation/%d/%d", id, number)
}

// ConversationInput is a conversation to create from a contact form: one
// customer thread in a mailbox.
type ConversationInput struct {
	// MailboxID is the target mailbox; Config.MailboxID when zero.
	MailboxID int64
	// Subject is the conversation's subject (required by HelpScout).
	Subject string
	// CustomerID names an existing HelpScout customer; when set it wins over the email.
	CustomerID int64
	// CustomerEmail identifies the customer; HelpScout creates one for an unknown email.
	CustomerEmail string
	// CustomerFirstName is used only when HelpScout creates the customer.
	CustomerFirstName string
	// CustomerLastName is used only when HelpScout creates the customer.
	CustomerLastName string
	// Text is the customer's message (the thread's body).
	Text string
	// Status is active, pending or closed; active when empty.
	Status string
	// CreatedAt backdates the conversation (the form's submission time); omitted when zero.
	CreatedAt time.Time
	// Tags are tag names to put on the conversation.
	Tags []string
	// Imported creates the conversation without HelpScout sending any email.
	Imported bool
}

// ConversationRef identifies a created conversation.
type ConversationRef struct {
	// ID is HelpScout's global id, used in API paths.
	ID int64
	// Number is the ticket number people see; 0 when it could not be read.
	Number int64
	// WebURL is the conversation's page in HelpScout; empty when the number is unknown.
	WebURL string
}

// Conversation is a HelpScout conversation as the API (and the convo.*
// webhooks) describe it, reduced to what we log.
type Conversation struct {
	// ID is HelpScout's global id.
	ID int64
	// Number is the ticket number.
	Number int64
	// Subject is the subject.
	Subject string
	// Status is HelpScout's status: active, pending, closed, spam (or open).
	Status string
	// State is draft, published or deleted.
	State string
	// Type is email, chat or phone.
	Type string
	// MailboxID is the mailbox the conversation is in.
	MailboxID int64
	// Assignee is the assigned user's "first last", or their email when they have no name; empty when unassigned.
	Assignee string
	// AssigneeID is the assigned user's id, 0 when unassigned.
	AssigneeID int64
	// AssigneeEmail is the assigned user's email.
	AssigneeEmail string
	// CustomerID is the primary customer's id.
	CustomerID int64
	// CustomerEmail is the primary customer's email.
	CustomerEmail string
	// Tags are the tag names.
	Tags []string
	// CreatedAt is when the conversation was created.
	CreatedAt time.Time
	// UpdatedAt is userUpdatedAt (the last change by a person), else updatedAt.
	UpdatedAt time.Time
	// ClosedAt is when it was closed, zero when open.
	ClosedAt time.Time
	// WebURL is _links.web.href, or the URL built from id and number.
	WebURL string
}

// DBStatus returns the status as our enum, "" for a status we do not know.
func (c *Conversation) DBStatus() db.ConversationStatus {
	return StatusOf(c.Status)
}

// StatusOf maps a HelpScout status (active, open, pending, closed, spam) to ours.
func StatusOf(s string) db.ConversationStatus {
	switch strings.ToLower(s) {
	case "active", "open":
		return db.ConversationActive
	case "pending":
		return db.ConversationPending
	case "closed":
		return db.ConversationClosed
	case "spam":
		return db.ConversationSpam
	}
	return ""
}

type wirePerson struct {
	ID    int64  `json:"id,omitempty"`
	Type  string `json:"type,omitempty"`
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	Email string `json:"email,omitempty"`
}

func (p *wirePerson) display() string {
	if p == nil {
		return ""
	}
	if n := strings.TrimSpace(p.First + " " + p.Last); n != "" {
		return n
	}
	return p.Email
}

type wireConversation struct {
	ID              int64           `json:"id"`
	Number          int64           `json:"number"`
	Subject         string          `json:"subject"`
	Status          string          `json:"status"`
	State           string          `json:"state"`
	Type            string          `json:"type"`
	MailboxID       int64           `json:"mailboxId"`
	Assignee        *wirePerson     `json:"assignee"`
	PrimaryCustomer *wirePerson     `json:"primaryCustomer"`
	CreatedAt       string          `json:"createdAt"`
	UpdatedAt       string          `json:"updatedAt"`
	UserUpdatedAt   string          `json:"userUpdatedAt"`
	ClosedAt        string          `json:"closedAt"`
	Tags            json.RawMessage `json:"tags"`
	Links           struct {
		Web struct {
			Href string `json:"href"`
		} `json:"web"`
	} `json:"_links"`
}

func (w *wireConversation) conversation() *Conversation {
	c := &Conversation{
		ID: w.ID, Number: w.Number, Subject: w.Subject, Status: w.Status, State: w.State, Type: w.Type,
		MailboxID: w.MailboxID, Assignee: w.Assignee.display(),
		CreatedAt: parseTime(w.CreatedAt), ClosedAt: parseTime(w.ClosedAt), WebURL: w.Links.Web.Href,
		Tags: parseTags(w.Tags),
	}
	if w.Assignee != nil {
		c.AssigneeID, c.AssigneeEmail = w.Assignee.ID, w.Assignee.Email
	}
	if w.PrimaryCustomer != nil {
		c.CustomerID, c.CustomerEmail = w.PrimaryCustomer.ID, w.PrimaryCustomer.Email
	}
	c.UpdatedAt = parseTime(w.UserUpdatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = parseTime(w.UpdatedAt)
	}
	if c.WebURL == "" && c.ID != 0 && c.Number != 0 {
		c.WebURL = WebURL(c.ID, c.Number)
	}
	return c
}

// parseTags accepts tag objects ({"id","color","tag"}) or plain names.
func parseTags(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var objs []struct {
		Tag string `json:"tag"`
	}
	if err := unmarshal(raw, &objs); err == nil {
		out := make([]string, 0, len(objs))
		for _, o := range objs {
			out = append(out, o.Tag)
		}
		return out
	}
	var names []string
	if err := unmarshal(raw, &names); err == nil {
		return names
	}
	return nil
}

// parseTime reads HelpScout's dates (RFC 3339, usually without fractions);
// an empty or malformed date is the zero time.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// ParseConversation reads a v2 Conversation object, as GET
// /v2/conversations/{id} returns it and as convo.* webhooks carry it.
func ParseConversation(data []byte) (*Conversation, error) {
	var w wireConversation
	if err := unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("error reading conversation: %w", err)
	}
	if w.ID == 0 {
		return nil, fmt.Errorf("error reading conversation: no id")
	}
	return w.conversation(), nil
}

type wireCustomerRef struct {
	ID        int64  `json:"id,omitempty"`
	Email     string `json:"email,omitempty"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
}

type wireThreadIn struct {
	Type     string          `json:"type"`
	Customer wireCustomerRef `json:"customer"`
	Text     string          `json:"text"`
}

type wireConversationIn struct {
	Subject   string          `json:"subject"`
	Customer  wireCustomerRef `json:"customer"`
	MailboxID int64           `json:"mailboxId"`
	Type      string          `json:"type"`
	Status    string          `json:"status"`
	CreatedAt string          `json:"createdAt,omitempty"`
	Imported  bool            `json:"imported,omitempty"`
	Tags      []string        `json:"tags,omitempty"`
	Threads   []wireThreadIn  `json:"threads"`
}

// CreateConversation creates an email conversation with one customer
// thread: POST /v2/conversations. HelpScout answers 201 with the new id in
// Resource-Id (and Location) and no body, so the ticket number is read with
// a follow-up GET /v2/conversations/{id}. When only that read fails, the
// conversation exists: the error is nil, ref.Number is 0 and
// res.FollowUpErr says why. A failed create whose error has OutcomeUnknown
// may nevertheless have created the conversation.
func (c *Client) CreateConversation(ctx context.Context, in ConversationInput) (ref ConversationRef, res Result, err error) {
	const op = "creating conversation"
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()

	if err := checkUTF8(op, "subject", in.Subject, "customer email", in.CustomerEmail,
		"customer first name", in.CustomerFirstName, "customer last name", in.CustomerLastName,
		"text", in.Text, "tags", strings.Join(in.Tags, ",")); err != nil {
		return ref, res, err
	}
	mailbox := in.MailboxID
	if mailbox == 0 {
		mailbox = c.MailboxID()
	}
	if mailbox == 0 {
		return ref, res, &Error{Op: op, Code: db.CodeMailboxNotFound, Message: "no HelpScout mailbox is configured"}
	}
	status := in.Status
	if status == "" {
		status = "active"
	}
	body := wireConversationIn{
		Subject:   in.Subject,
		MailboxID: mailbox,
		Type:      "email",
		Status:    status,
		Imported:  in.Imported,
		Tags:      in.Tags,
		Threads: []wireThreadIn{{
			Type:     "customer",
			Customer: wireCustomerRef{ID: in.CustomerID, Email: in.CustomerEmail},
			Text:     in.Text,
		}},
	}
	if in.CustomerID != 0 {
		body.Customer = wireCustomerRef{ID: in.CustomerID}
	} else {
		body.Customer = wireCustomerRef{Email: in.CustomerEmail, FirstName: in.CustomerFirstName, LastName: in.CustomerLastName}
	}
	if !in.CreatedAt.IsZero() {
		body.CreatedAt = in.CreatedAt.UTC().Format(TimeLayout)
	}
	data, err := encodeJSON(body)
	if err != nil {
		return ref, res, &Error{Op: op, Code: db.CodeUnknown, Message: "error encoding request", Err: err}
	}
	rep, err := c.roundTrip(ctx, &res, op, http.MethodPost, "/v2/conversations", data)
	if err != nil {
		return ref, res, err
	}
	main := len(res.Calls) - 1
	id, err := resourceID(rep)
	if err != nil {
		// Created, but we cannot tell which one; the caller must look it up.
		return ref, res, &Error{Op: op, Code: db.CodeUnknown, Status: rep.status, LogRef: rep.logRef,
			Message: err.Error(), OutcomeUnknown: true}
	}
	ref.ID = id
	conv, _, gerr := c.getConversation(ctx, &res, id)
	res.markMain(main)
	if gerr != nil {
		res.FollowUpErr = gerr
		return ref, res, nil
	}
	ref.Number, ref.WebURL = conv.Number, conv.WebURL
	return ref, res, nil
}

// resourceID reads the id of a created resource from Resource-Id, else
// from the last segment of Location.
func resourceID(rep *reply) (int64, error) {
	if v, ok := headerValue(rep.header, "Resource-Id"); ok && v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	if v, ok := headerValue(rep.header, "Location"); ok && v != "" {
		if u, err := url.Parse(v); err == nil {
			if id, err := strconv.ParseInt(path.Base(u.Path), 10, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("HelpScout answered %d without a Resource-Id or Location", rep.status)
}

// GetConversation reads a conversation: GET /v2/conversations/{id}. A
// missing conversation is NOT_FOUND.
func (c *Client) GetConversation(ctx context.Context, id int64) (conv *Conversation, res Result, err error) {
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	conv, _, err = c.getConversation(ctx, &res, id)
	return conv, res, err
}

func (c *Client) getConversation(ctx context.Context, res *Result, id int64) (*Conversation, *reply, error) {
	op := fmt.Sprintf("getting conversation %d", id)
	rep, err := c.roundTrip(ctx, res, op, http.MethodGet, fmt.Sprintf("/v2/conversations/%d", id), nil)
	if err != nil {
		return nil, rep, err
	}
	conv, err := ParseConversation(rep.body)
	if err != nil {
		return nil, rep, unreadable(op, "conversation", rep, err)
	}
	return conv, rep, nil
}

type conversationPage struct {
	Embedded struct {
		Conversations []wireConversation `json:"conversations"`
	} `json:"_embedded"`
	Page page `json:"page"`
}

type page struct {
	Size          int `json:"size"`
	TotalElements int `json:"totalElements"`
	TotalPages    int `json:"totalPages"`
	Number        int `json:"number"`
}

// maxConversationPages bounds FindConversationsByCustomerEmail (25 per
// page) when it is not told how far back to look; maxConversationPagesSince
// when it is.
const (
	maxConversationPages      = 4
	maxConversationPagesSince = 40
)

// FindConversationsByCustomerEmail lists the configured mailbox's
// conversations whose primary customer has exactly this email (letter case
// ignored), newest first. It searches with
// GET /v2/conversations?query=(email:"x")&status=all (all statuses: the
// default lists only active ones) sorted by createdAt, and keeps exact
// matches, since HelpScout's search also returns partial matches. With a
// zero createdFrom it reads at most 100 conversations; otherwise it reads
// on until the conversations are older than createdFrom (at most 1,000),
// so that one created long ago (a create that gave the form's submission
// time) is found behind a busy customer's newer ones. It lets a caller
// check whether an attempt whose outcome is unknown created the
// conversation. HelpScout's search index may lag behind a create by a few
// seconds (UNCONFIRMED); an empty answer right after a create proves
// nothing.
func (c *Client) FindConversationsByCustomerEmail(ctx context.Context, email string, createdFrom time.Time) (out []Conversation, res Result, err error) {
	const op = "finding conversations by customer email"
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if err := checkUTF8(op, "email", email); err != nil {
		return nil, res, err
	}
	if strings.TrimSpace(email) == "" {
		return nil, res, &Error{Op: op, Code: db.CodeMissingRequiredField, Message: "email is empty"}
	}
	pages := maxConversationPages
	if !createdFrom.IsZero() {
		pages = maxConversationPagesSince
	}
	q := url.Values{}
	if mb := c.MailboxID(); mb != 0 {
		q.Set("mailbox", strconv.FormatInt(mb, 10))
	}
	q.Set("status", "all")
	q.Set("query", searchQuery("email", email))
	q.Set("sortField", "createdAt")
	q.Set("sortOrder", "desc")
	for pg := 1; pg <= pages; pg++ {
		q.Set("page", strconv.Itoa(pg))
		rep, err := c.roundTrip(ctx, &res, op, http.MethodGet, "/v2/conversations?"+q.Encode(), nil)
		if err != nil {
			return out, res, err
		}
		var p conversationPage
		if err := unmarshal(rep.body, &p); err != nil {
			return out, res, unreadable(op, "conversation list", rep, err)
		}
		older := false
		for i := range p.Embedded.Conversations {
			conv := p.Embedded.Conversations[i].conversation()
			if strings.EqualFold(conv.CustomerEmail, email) {
				out = append(out, *conv)
			}
			older = older || (!conv.CreatedAt.IsZero() && conv.CreatedAt.Before(createdFrom))
		}
		if len(p.Embedded.Conversations) == 0 || p.Page.Number >= p.Page.TotalPages || older {
			break
		}
	}
	return out, res, nil
}

// searchQuery builds HelpScout's search syntax, (field:"value").
func searchQuery(field, value string) string {
	value = strings.ReplaceAll(value, `\`, `\\`)
	value = strings.ReplaceAll(value, `"`, `\"`)
	return "(" + field + `:"` + value + `")`
}

// encodeJSON marshals v without escaping <, > and &.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
