package db

// EventType says what a sync event records.
type EventType string

// The event types, as stored and as exposed through GraphQL.
const (
	EventTicketCreated       EventType = "TICKET_CREATED"
	EventCustomerSynced      EventType = "CUSTOMER_SYNCED"
	EventCustomerUpdated     EventType = "CUSTOMER_UPDATED"
	EventConversationSynced  EventType = "CONVERSATION_SYNCED"
	EventConversationUpdated EventType = "CONVERSATION_UPDATED"
	EventError               EventType = "ERROR"
)

// EventTypes lists every event type.
var EventTypes = []EventType{EventTicketCreated, EventCustomerSynced, EventCustomerUpdated,
	EventConversationSynced, EventConversationUpdated, EventError}

// EventStatus is the outcome of a sync event.
type EventStatus string

// The statuses.
const (
	StatusSuccess EventStatus = "SUCCESS"
	StatusFailed  EventStatus = "FAILED"
	StatusPending EventStatus = "PENDING"
)

// EventStatuses lists every status.
var EventStatuses = []EventStatus{StatusSuccess, StatusFailed, StatusPending}

// Direction says which way the data went.
type Direction string

// The directions.
const (
	DirectionToHelpScout   Direction = "TO_HELPSCOUT"
	DirectionFromHelpScout Direction = "FROM_HELPSCOUT"
)

// Directions lists both directions.
var Directions = []Direction{DirectionToHelpScout, DirectionFromHelpScout}

// ErrorCode says why a sync failed.
type ErrorCode string

// The error codes users search for.
const (
	CodeInvalidEmail         ErrorCode = "INVALID_EMAIL"
	CodeMailboxNotFound      ErrorCode = "MAILBOX_NOT_FOUND"
	CodeAuthenticationFailed ErrorCode = "AUTHENTICATION_FAILED"
	CodeRateLimited          ErrorCode = "RATE_LIMITED"
	CodeTimeout              ErrorCode = "TIMEOUT"
	CodeMissingRequiredField ErrorCode = "MISSING_REQUIRED_FIELD"
	CodeInvalidEncoding      ErrorCode = "INVALID_ENCODING"
	CodeHelpScoutUnavailable ErrorCode = "HELPSCOUT_UNAVAILABLE"
	CodeNotFound             ErrorCode = "NOT_FOUND"
	CodeValidationFailed     ErrorCode = "VALIDATION_FAILED"
	CodeUnknown              ErrorCode = "UNKNOWN"
)

// ErrorCodes lists every error code.
var ErrorCodes = []ErrorCode{CodeInvalidEmail, CodeMailboxNotFound, CodeAuthenticationFailed,
	CodeRateLimited, CodeTimeout, CodeMissingRequiredField, CodeInvalidEncoding,
	CodeHelpScoutUnavailable, CodeNotFound, CodeValidationFailed, CodeUnknown}

// EventSource says what started a sync.
type EventSource string

// The sources.
const (
	SourceContactForm    EventSource = "CONTACT_FORM"
	SourceCustomerUpdate EventSource = "CUSTOMER_UPDATE"
	SourceWebhook        EventSource = "WEBHOOK"
	SourceBatch          EventSource = "BATCH"
	SourceManual         EventSource = "MANUAL"
)

// EventSources lists every source.
var EventSources = []EventSource{SourceContactForm, SourceCustomerUpdate, SourceWebhook, SourceBatch, SourceManual}

// ConversationStatus is a conversation's status in HelpScout.
type ConversationStatus string

// The conversation statuses.
const (
	ConversationActive  ConversationStatus = "ACTIVE"
	ConversationPending ConversationStatus = "PENDING"
	ConversationClosed  ConversationStatus = "CLOSED"
	ConversationSpam    ConversationStatus = "SPAM"
)
