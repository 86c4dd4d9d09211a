package db

import (
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// SyncEvent is one attempt to move data between our system and HelpScout,
// or one message received from it.
type SyncEvent struct {
	bun.BaseModel `bun:"table:sync_events,alias:e"`

	// ID is the event's identity; it also breaks ties in OccurredAt.
	ID int64 `bun:"id,pk,autoincrement"`
	// OccurredAt is when the event happened.
	OccurredAt time.Time `bun:"occurred_at,notnull"`
	// Type says what the event records.
	Type EventType `bun:"type,notnull"`
	// Status is the outcome.
	Status EventStatus `bun:"status,notnull"`
	// Direction says which way the data went.
	Direction Direction `bun:"direction,notnull"`
	// CustomerEmail is the customer's lower-cased email, if any.
	CustomerEmail *string `bun:"customer_email"`
	// ConversationID is HelpScout's conversation id, if any.
	ConversationID *int64 `bun:"conversation_id"`
	// TicketNumber is the conversation number shown in HelpScout.
	TicketNumber *int64 `bun:"ticket_number"`
	// Details is what was sent or received.
	Details JSONObject `bun:"details,type:jsonb,nullzero"`
	// ErrorCode says why the event failed.
	ErrorCode *ErrorCode `bun:"error_code"`
	// ErrorMessage is HelpScout's message, or ours.
	ErrorMessage *string `bun:"error_message"`
	// HTTPStatus is the status HelpScout answered with.
	HTTPStatus *int `bun:"http_status"`
	// DurationMs is how long the call took.
	DurationMs *int `bun:"duration_ms"`
	// Attempt counts from 1 for the first attempt of an operation.
	Attempt int `bun:"attempt,notnull,default:1"`
	// RetryOfID is the failed event this attempt retried.
	RetryOfID *int64 `bun:"retry_of"`
	// Source says what started the sync.
	Source EventSource `bun:"source,notnull"`
	// SourceRef is the reference in the source system.
	SourceRef *string `bun:"source_ref"`
	// Actor is who started the event by hand.
	Actor *string `bun:"actor"`
	// JobID is the sync job this event is an attempt of, if any.
	JobID *int64 `bun:"job_id"`
}

// DetailsObject returns Details, or an empty object for an event that
// recorded none (a NULL column), so that the API's details is always a
// JSON object and clients need not handle null.
func (e *SyncEvent) DetailsObject() map[string]any {
	if e.Details == nil {
		return map[string]any{}
	}
	return e.Details
}

// HelpScoutURL returns the link that opens the event's conversation in
// HelpScout, or nil when the event has none.
func (e *SyncEvent) HelpScoutURL() *string {
	if e.ConversationID == nil || e.TicketNumber == nil {
		return nil
	}
	u := ConversationURL(*e.ConversationID, *e.TicketNumber)
	return &u
}

// ConversationURL is HelpScout's web link for a conversation.
func ConversationURL(id, number int64) string {
	return fmt.Sprintf("https://secure.helpscout.net/conversation/%d/%d", id, number)
}

// Customer is a customer of ours as HelpScout knows it.
type Customer struct {
	bun.BaseModel `bun:"table:customers,alias:c"`

	// ID is our internal key; it breaks ties in LastEventAt.
	ID int64 `bun:"id,pk,autoincrement"`
	// Email is lower-cased and unique.
	Email string `bun:"email,notnull,unique"`
	// Name is the customer's full name.
	Name *string `bun:"name"`
	// HelpScoutID is HelpScout's customer id once created there.
	HelpScoutID *int64 `bun:"helpscout_id"`
	// FirstSyncedAt is when the customer was first created in HelpScout.
	FirstSyncedAt *time.Time `bun:"first_synced_at"`
	// LastSyncedAt is the latest successful sync.
	LastSyncedAt *time.Time `bun:"last_synced_at"`
	// LastSyncStatus is the status of the latest sync attempt.
	LastSyncStatus *EventStatus `bun:"last_sync_status"`
	// LastSyncErrorCode is the latest attempt's error code, if it failed.
	LastSyncErrorCode *ErrorCode `bun:"last_sync_error_code"`
	// LastSyncError is the latest attempt's error message, if it failed.
	LastSyncError *string `bun:"last_sync_error"`
	// LastEventAt is when the latest event concerning the customer occurred.
	LastEventAt time.Time `bun:"last_event_at,notnull"`
}

// Conversation is a HelpScout conversation (ticket).
type Conversation struct {
	bun.BaseModel `bun:"table:conversations,alias:cv"`

	// ID is HelpScout's conversation id.
	ID int64 `bun:"id,pk"`
	// Number is the ticket number shown in HelpScout.
	Number int64 `bun:"number,notnull"`
	// Subject is the subject line.
	Subject string `bun:"subject,notnull"`
	// Status is the status as last synced.
	Status ConversationStatus `bun:"status,notnull"`
	// MailboxID is the HelpScout mailbox.
	MailboxID int64 `bun:"mailbox_id,notnull"`
	// MailboxName is the mailbox's name.
	MailboxName *string `bun:"mailbox_name"`
	// Assignee is the assigned agent.
	Assignee *string `bun:"assignee"`
	// CustomerEmail is the customer's lower-cased email.
	CustomerEmail *string `bun:"customer_email"`
	// CreatedAt is when HelpScout created the conversation.
	CreatedAt time.Time `bun:"created_at,notnull"`
	// UpdatedAt is the latest known change.
	UpdatedAt time.Time `bun:"updated_at,notnull"`
	// FirstReplyAt is when an agent first replied, as HelpScout's
	// convo.agent.reply.created webhooks reported; nil before any.
	FirstReplyAt *time.Time `bun:"first_reply_at"`
	// DeletedAt is when HelpScout reported the conversation deleted; nil
	// while it exists (a later webhook about it clears it: restored).
	DeletedAt *time.Time `bun:"deleted_at"`
	// Placeholder is set while the row holds only what our own create sent
	// (see ConversationStore.RecordCreated); the first webhook about the
	// conversation replaces it.
	Placeholder bool `bun:"placeholder,notnull"`
}

// HelpScoutURL is the link that opens the conversation in HelpScout.
func (c *Conversation) HelpScoutURL() string { return ConversationURL(c.ID, c.Number) }
