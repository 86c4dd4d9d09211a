package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// MaxBody is the largest webhook body accepted, 1 MiB.
const MaxBody = 1 << 20

// maxEventHeader caps how much of X-HelpScout-Event is logged.
const maxEventHeader = 100

// maxEmails caps the customer rows one customer webhook may touch.
const maxEmails = 20

// RejectedPerMinute is how many refused webhooks (missing or bad
// signature) a process records as ERROR events in a minute. Anyone can
// post unsigned requests: without a cap, a flood of them would fill the
// log and push the success rate, and so the health, down. The refusals
// over the cap are counted, and the next one recorded says how many
// (details.notRecorded).
const RejectedPerMinute = 10

// Error messages of rejected webhooks, as stored in the sync log.
const (
	MessageSignatureMissing = "webhook signature missing"
	MessageSignatureInvalid = "webhook signature invalid"
)

// Options configure a Handler.
type Options struct {
	// Secret is the webhook secret shared with HelpScout; when empty every
	// webhook is refused.
	Secret string
	// SecretFunc, when set, returns the secret in force for each webhook
	// (an Administrator may change it at run time) and overrides Secret.
	SecretFunc func(ctx context.Context) string
	// Store records the webhooks.
	Store *db.WebhookStore
	// Log receives one line per refused or failed webhook.
	Log zerolog.Logger
	// Now is the clock of the recorded events, time.Now when nil.
	Now func() time.Time
}

// Handler serves POST /webhooks/helpscout.
type Handler struct {
	opts Options

	// rejected limits the refused webhooks recorded per minute.
	rejected struct {
		sync.Mutex
		window   time.Time // start of the current minute
		recorded int       // refusals recorded in it
		skipped  int       // refusals not recorded since the last recorded one
	}
}

// New returns a handler with opts.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}
}

// kind is how an event is treated.
type kind int

const (
	kindIgnored kind = iota
	kindTest
	kindConversation
	kindConversationDeleted
	kindCustomer
	kindCustomerDeleted
	// kindMissingEvent is a signed delivery without an event name.
	kindMissingEvent
)

// errMissingEvent is why a signed delivery without an event name is refused.
var errMissingEvent = errors.New("the " + helpscout.HeaderEvent + " header is missing")

var kinds = map[string]kind{
	helpscout.EventTest:            kindTest,
	"convo.created":                kindConversation,
	"convo.assigned":               kindConversation,
	"convo.status":                 kindConversation,
	"convo.moved":                  kindConversation,
	"convo.merged":                 kindConversation,
	"convo.tags":                   kindConversation,
	"convo.custom-fields":          kindConversation,
	"convo.customer.reply.created": kindConversation,
	"convo.agent.reply.created":    kindConversation,
	"convo.note.created":           kindConversation,
	"convo.deleted":                kindConversationDeleted,
	"customer.created":             kindCustomer,
	"customer.updated":             kindCustomer,
	"customer.deleted":             kindCustomerDeleted,
}

// DeliveryID returns the id of a delivery: the hex SHA-256 of the event
// name, a NUL byte and the raw body.
func DeliveryID(event string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(event))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ServeHTTP handles one webhook.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	event := strings.TrimSpace(r.Header.Get(helpscout.HeaderEvent))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.opts.Log.Warn().Str("event", clip(event)).Str("remote_addr", r.RemoteAddr).Msg("webhook body too large")
			writeError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("the body is over the limit of %d bytes", MaxBody))
			return
		}
		writeError(w, http.StatusBadRequest, string(apperr.BadUserInput), "the body could not be read")
		return
	}

	sig := r.Header.Get(helpscout.HeaderSignature)
	secret := h.secret(ctx)
	if !helpscout.VerifySignature(secret, body, sig) {
		h.reject(w, r, event, len(body), sig, secret != "")
		return
	}
	k, ok := kinds[event]
	if event == "" {
		// Signed, so sent with the secret, yet unreadable without its
		// event name: recorded like an unreadable body.
		k, ok = kindMissingEvent, true
	}
	if !ok {
		h.opts.Log.Debug().Str("event", clip(event)).Msg("webhook event not used; ignored")
		writeJSON(w, http.StatusAccepted, map[string]any{"ok": true, "ignored": true})
		return
	}

	now := h.opts.Now().UTC()
	d, perr := delivery(k, event, body, now)
	d.ID = DeliveryID(event, body)
	id, dup, err := h.opts.Store.Record(ctx, d)
	if err != nil {
		h.opts.Log.Error().Err(err).Str("event", event).Str("delivery_id", d.ID).Msg("error recording webhook")
		writeError(w, http.StatusInternalServerError, string(apperr.Internal), "the webhook could not be recorded; HelpScout retries it")
		return
	}
	ans := map[string]any{"ok": perr == nil, "eventId": strconv.FormatInt(id, 10)}
	if dup {
		ans["ok"], ans["duplicate"] = true, true
		writeJSON(w, http.StatusOK, ans)
		return
	}
	if perr != nil {
		h.opts.Log.Warn().Err(perr).Str("event", event).Str("delivery_id", d.ID).Msg("unreadable webhook body")
		msg := "the body is not a " + event + " payload"
		if k == kindMissingEvent {
			msg = errMissingEvent.Error()
		}
		ans["error"] = errorBody(string(apperr.BadUserInput), msg+"; it is logged as an ERROR event")
		writeJSON(w, http.StatusBadRequest, ans)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// secret returns the webhook secret in force.
func (h *Handler) secret(ctx context.Context) string {
	if h.opts.SecretFunc != nil {
		return h.opts.SecretFunc(ctx)
	}
	return h.opts.Secret
}

// reject answers 401 and logs the refused webhook without its body.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, event string, size int, sig string, secretSet bool) {
	msg := MessageSignatureInvalid
	if strings.TrimSpace(sig) == "" {
		msg = MessageSignatureMissing
	}
	now := h.opts.Now().UTC()
	record, skipped := h.admitRejected(now)
	if !record {
		h.opts.Log.Debug().Str("event", clip(event)).Str("remote_addr", r.RemoteAddr).Int("body_size", size).
			Msg(msg + " (not recorded: over the limit of refused webhooks a minute)")
		writeError(w, http.StatusUnauthorized, string(apperr.Unauthenticated), msg)
		return
	}
	details := map[string]any{"event": clip(event), "bodySize": size, "remoteAddr": r.RemoteAddr}
	if !secretSet {
		details["secretConfigured"] = false
	}
	if skipped > 0 {
		details["notRecorded"] = skipped
	}
	code := db.CodeAuthenticationFailed
	status := http.StatusUnauthorized
	e := &db.SyncEvent{
		OccurredAt: now, Type: db.EventError, Status: db.StatusFailed,
		Direction: db.DirectionFromHelpScout, Details: details,
		ErrorCode: &code, ErrorMessage: &msg, HTTPStatus: &status,
	}
	ev := h.opts.Log.Warn().Str("event", clip(event)).Str("remote_addr", r.RemoteAddr).Int("body_size", size)
	if !secretSet {
		ev = ev.Bool("no_secret_configured", true)
	}
	if skipped > 0 {
		ev = ev.Int("not_recorded", skipped)
	}
	if _, err := h.opts.Store.RecordRejected(r.Context(), e); err != nil {
		h.opts.Log.Error().Err(err).Msg("error recording rejected webhook")
	}
	ev.Msg(msg)
	writeError(w, http.StatusUnauthorized, string(apperr.Unauthenticated), msg)
}

// admitRejected reports whether a refusal at now is recorded, within
// RejectedPerMinute a minute, and when it is, how many refusals before it
// were not.
func (h *Handler) admitRejected(now time.Time) (record bool, skipped int) {
	rl := &h.rejected
	rl.Lock()
	defer rl.Unlock()
	if minute := now.Truncate(time.Minute); !minute.Equal(rl.window) {
		rl.window, rl.recorded = minute, 0
	}
	if rl.recorded >= RejectedPerMinute {
		rl.skipped++
		return false, 0
	}
	rl.recorded++
	skipped, rl.skipped = rl.skipped, 0
	return true, skipped
}

// delivery builds what to record for an accepted event. When the body
// cannot be read it returns a failed ERROR event and the reason.
func delivery(k kind, event string, body []byte, now time.Time) (db.Delivery, error) {
	e := &db.SyncEvent{
		OccurredAt: now, Status: db.StatusSuccess, Direction: db.DirectionFromHelpScout,
		Details: map[string]any{"event": event},
	}
	d := db.Delivery{Event: e}
	var err error
	switch k {
	case kindTest:
		e.Type = db.EventConversationSynced
	case kindConversation:
		e.Type = db.EventConversationUpdated
		err = conversationDelivery(&d, body, now)
		if err == nil && event == "convo.agent.reply.created" && d.Conversation != nil {
			// The reply is the conversation's latest change.
			d.AgentReplyAt = d.Conversation.UpdatedAt
		}
	case kindConversationDeleted:
		e.Type = db.EventConversationUpdated
		var id int64
		if id, err = deletedID(body, "conversation"); err == nil {
			e.ConversationID, d.ClosedConversationID = &id, id
			e.Details["deleted"] = true
		}
	case kindCustomer:
		e.Type = db.EventCustomerUpdated
		err = customerDelivery(&d, body)
	case kindMissingEvent:
		err = errMissingEvent
	case kindCustomerDeleted:
		e.Type = db.EventCustomerUpdated
		var id int64
		if id, err = deletedID(body, "customer"); err == nil {
			d.DeletedCustomerID = id
			e.Details["customerId"], e.Details["deleted"] = id, true
		}
	}
	if err != nil {
		code, msg, status := db.CodeValidationFailed, err.Error(), http.StatusBadRequest
		*e = db.SyncEvent{
			OccurredAt: now, Type: db.EventError, Status: db.StatusFailed, Direction: db.DirectionFromHelpScout,
			ErrorCode: &code, ErrorMessage: &msg, HTTPStatus: &status,
			Details: map[string]any{"event": event, "bodySize": len(body)},
		}
		d = db.Delivery{Event: e}
	}
	return d, err
}

func conversationDelivery(d *db.Delivery, body []byte, now time.Time) error {
	c, err := helpscout.ParseConversation(body)
	if err != nil {
		return err
	}
	e := d.Event
	e.ConversationID = &c.ID
	if c.Number != 0 {
		e.TicketNumber = &c.Number
	}
	if email := strings.TrimSpace(c.CustomerEmail); email != "" {
		e.CustomerEmail = &email
	}
	e.Details["status"] = c.Status
	e.Details["subject"] = c.Subject
	e.Details["mailboxId"] = c.MailboxID
	e.Details["number"] = c.Number
	if c.Assignee != "" {
		e.Details["assignee"] = c.Assignee
	}
	if c.State != "" {
		e.Details["state"] = c.State
	}
	if len(c.Tags) > 0 {
		e.Details["tags"] = c.Tags
	}
	if c.Number == 0 {
		// Without a number the row could not be shown; record the event only.
		return nil
	}
	wc := &db.WebhookConversation{
		ID: c.ID, Number: c.Number, Subject: c.Subject, MailboxID: c.MailboxID,
		CustomerEmail: e.CustomerEmail, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if st := c.DBStatus(); st != "" {
		wc.Status = &st
	}
	if c.Assignee != "" {
		a := c.Assignee
		wc.Assignee = &a
	}
	if wc.UpdatedAt.IsZero() {
		wc.UpdatedAt = now
	}
	if wc.CreatedAt.IsZero() {
		wc.CreatedAt = wc.UpdatedAt
	}
	d.Conversation = wc
	if e.CustomerEmail != nil && c.CustomerID != 0 {
		id := c.CustomerID
		d.Customers = append(d.Customers, db.WebhookCustomer{Email: *e.CustomerEmail, HelpScoutID: &id})
	}
	return nil
}

func customerDelivery(d *db.Delivery, body []byte) error {
	c, err := helpscout.ParseCustomer(body)
	if err != nil {
		return err
	}
	e := d.Event
	name := strings.TrimSpace(c.FirstName + " " + c.LastName)
	e.Details["customerId"] = c.ID
	if name != "" {
		e.Details["name"] = name
	}
	id := c.ID
	for i, email := range c.Emails {
		email = strings.TrimSpace(email)
		if email == "" || i >= maxEmails {
			continue
		}
		if e.CustomerEmail == nil {
			e.CustomerEmail = &email
		}
		wc := db.WebhookCustomer{Email: email, HelpScoutID: &id}
		if name != "" {
			wc.Name = &name
		}
		d.Customers = append(d.Customers, wc)
	}
	e.Details["emails"] = len(d.Customers)
	return nil
}

// deletedID reads the {"id": n} body of a deletion webhook.
func deletedID(body []byte, what string) (int64, error) {
	var v struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("error reading deleted %s: %w", what, err)
	}
	if v.ID == 0 {
		return 0, fmt.Errorf("error reading deleted %s: no id", what)
	}
	return v.ID, nil
}

// clip shortens an untrusted header for logs and details.
func clip(s string) string {
	if len(s) > maxEventHeader {
		return strings.ToValidUTF8(s[:maxEventHeader], "")
	}
	return strings.ToValidUTF8(s, "")
}

// errorBody is the "error" member of an answer, shaped like the other
// endpoints' errors: a code and a message.
func errorBody(code, msg string) map[string]string {
	return map[string]string{"code": code, "message": msg}
}

// writeError answers status with {"error": {"code", "message"}}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": errorBody(code, msg)})
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
