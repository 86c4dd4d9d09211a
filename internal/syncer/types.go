package syncer

import (
	"time"

	"github.com/kivalogic/helpscout-log/db"
)

// ContactForm is a contact-form submission from the host system.
type ContactForm struct {
	// SubmissionID is the host system's id; the idempotency key.
	SubmissionID string `json:"submissionId"`
	// Email is the customer's address.
	Email string `json:"email"`
	// Name is the customer's full name.
	Name *string `json:"name,omitempty"`
	// Subject is the subject line.
	Subject string `json:"subject"`
	// Message is the customer's message.
	Message string `json:"message"`
	// SubmittedAt is when the form was sent; now when nil.
	SubmittedAt *time.Time `json:"submittedAt,omitempty"`
}

// ManualTicket is a ticket an Administrator creates by hand.
type ManualTicket struct {
	// Email is the customer's address.
	Email string
	// Name is the customer's full name.
	Name *string
	// Subject is the subject line.
	Subject string
	// Message is the message.
	Message string
	// SubmissionID, when set, is the host system's submission the ticket
	// stands in for: it shares the submission's idempotency key.
	SubmissionID *string
}

// CustomerRecord is a customer record from the host system.
type CustomerRecord struct {
	// Email is the key that finds the customer again.
	Email string `json:"email"`
	// FirstName is 1 to 40 characters.
	FirstName *string `json:"firstName,omitempty"`
	// LastName is 1 to 40 characters.
	LastName *string `json:"lastName,omitempty"`
	// JobTitle is at most 60 characters.
	JobTitle *string `json:"jobTitle,omitempty"`
	// Location is at most 60 characters.
	Location *string `json:"location,omitempty"`
	// Organization is at most 60 characters.
	Organization *string `json:"organization,omitempty"`
	// Background is at most 200 characters.
	Background *string `json:"background,omitempty"`
	// Phone is sent when the customer is created.
	Phone *string `json:"phone,omitempty"`
}

// Corrections are values a retry sends in place of those of the failed
// attempt, once someone has fixed what HelpScout refused. Nil fields keep
// their values. Email, Name, Subject and Message apply to contact forms
// (tickets), the others to customer records.
type Corrections struct {
	// Email is the customer's address on a ticket.
	Email *string
	// Name is the customer's full name on a ticket.
	Name *string
	// Subject is the ticket's subject line.
	Subject *string
	// Message is the ticket's message.
	Message *string
	// FirstName is the customer's first name.
	FirstName *string
	// LastName is the customer's last name.
	LastName *string
	// JobTitle is the customer's job title.
	JobTitle *string
	// Location is the customer's location.
	Location *string
	// Organization is the customer's organization.
	Organization *string
	// Background is the customer's background notes.
	Background *string
	// Phone is the customer's phone number.
	Phone *string
}

// IntakeResult is what an intake call queued.
type IntakeResult struct {
	// Event is the PENDING event, or the first accepted one for a duplicate.
	Event *db.SyncEvent
	// Duplicate reports that nothing new was queued.
	Duplicate bool
}

// BulkRetryResult is the outcome of a bulk retry.
type BulkRetryResult struct {
	// Queued counts the new attempts.
	Queued int
	// Skipped counts selected events that could not be retried when their
	// turn came; failures retried before the call are not selected.
	Skipped int
	// Truncated reports that more events matched than the limit.
	Truncated bool
	// Events are the new PENDING attempts.
	Events []*db.SyncEvent
}

// Settings are the integration settings as the API shows them; secrets
// only say whether they are set.
type Settings struct {
	// APIURL is HelpScout's base URL.
	APIURL string
	// ClientID is the OAuth2 App ID.
	ClientID *string
	// ClientSecretSet reports that a secret is configured.
	ClientSecretSet bool
	// MailboxID is where contact forms go.
	MailboxID *int64
	// WebhookSecretSet reports that a webhook secret is configured.
	WebhookSecretSet bool
	// BatchIntervalSeconds is the customer batch period.
	BatchIntervalSeconds int
	// Paused stops the workers.
	Paused bool
	// UpdatedBy is who changed the settings last.
	UpdatedBy *string
	// UpdatedAt is when.
	UpdatedAt *time.Time
	// Saved lists the settings saved through the API; the others come from
	// the environment.
	Saved []db.SettingField
	// SecretsEncrypted reports that the saved secrets are stored encrypted.
	SecretsEncrypted bool
}

// SettingsInput changes the settings; nil fields keep their value.
type SettingsInput struct {
	// APIURL is HelpScout's base URL.
	APIURL *string `json:"apiUrl,omitempty"`
	// ClientID is the OAuth2 App ID.
	ClientID *string `json:"clientId,omitempty"`
	// ClientSecret is write-only.
	ClientSecret *string `json:"clientSecret,omitempty"`
	// MailboxID is where contact forms go.
	MailboxID *int64 `json:"mailboxId,omitempty"`
	// WebhookSecret is write-only.
	WebhookSecret *string `json:"webhookSecret,omitempty"`
	// BatchIntervalSeconds is 10 to 86400.
	BatchIntervalSeconds *int `json:"batchIntervalSeconds,omitempty"`
	// Paused stops or resumes the workers.
	Paused *bool `json:"paused,omitempty"`
	// Reset forgets saved settings, so that the environment applies again.
	Reset []db.SettingField `json:"reset,omitempty"`
}

// Budget is the account's rate-limit budget shared by every replica.
type Budget struct {
	// Limit is the units allowed per minute.
	Limit int
	// Used is the units spent in the current window.
	Used int
	// Remaining is HelpScout's latest reading.
	Remaining *int
	// WindowStart is the current minute.
	WindowStart time.Time
	// ReadAt is when HelpScout's headers were last read.
	ReadAt *time.Time
	// PausedUntil is set while every replica waits out a 429.
	PausedUntil *time.Time
}

// RemainingRatio is the share of the minute's budget still available.
func (b *Budget) RemainingRatio() float64 {
	if b.Limit <= 0 {
		return 0
	}
	left := b.Limit - b.Used
	if b.Remaining != nil && *b.Remaining < left {
		left = *b.Remaining
	}
	if left < 0 {
		left = 0
	}
	return float64(left) / float64(b.Limit)
}

// ConnectionTest is the outcome of testHelpScoutConnection.
type ConnectionTest struct {
	// OK reports that the credentials work and the mailbox exists.
	OK bool
	// ErrorCode says why not.
	ErrorCode *db.ErrorCode
	// Message is a readable outcome.
	Message string
	// HTTPStatus is HelpScout's status.
	HTTPStatus *int
	// DurationMs is how long the test took.
	DurationMs int
	// MailboxName is the configured mailbox's name.
	MailboxName *string
	// TokenExpiresAt is when the access token expires.
	TokenExpiresAt *time.Time
	// RateLimit is the answer's rate-limit reading.
	RateLimit *Budget
}

// UsageBucket is the width of an API-usage bucket.
type UsageBucket string

// The bucket widths.
const (
	UsageMinute UsageBucket = "MINUTE"
	UsageHour   UsageBucket = "HOUR"
	UsageDay    UsageBucket = "DAY"
)

// APIUsageBucket is HelpScout API use in one bucket.
type APIUsageBucket struct {
	// Start is the bucket's start.
	Start time.Time
	// Calls counts requests.
	Calls int
	// Units counts rate-limit units.
	Units int
	// RateLimited counts 429 answers.
	RateLimited int
	// Failed counts other failures.
	Failed int
	// PeakUnitsPerMinute is the busiest minute's units.
	PeakUnitsPerMinute int
	// MinRemaining is the lowest remaining budget reported.
	MinRemaining *int
}

// APIUsage is HelpScout API use over a period.
type APIUsage struct {
	// From is the period's start.
	From time.Time
	// To is the period's end.
	To time.Time
	// Calls counts requests.
	Calls int
	// Units counts rate-limit units.
	Units int
	// RateLimited counts 429 answers.
	RateLimited int
	// PeakUnitsPerMinute is the busiest minute's units.
	PeakUnitsPerMinute int
	// LimitPerMinute is the account's limit.
	LimitPerMinute int
	// Buckets are the buckets with calls, oldest first.
	Buckets []APIUsageBucket
}

// PeakUtilization is the busiest minute's use of the limit.
func (u *APIUsage) PeakUtilization() float64 {
	if u.LimitPerMinute <= 0 {
		return 0
	}
	return float64(u.PeakUnitsPerMinute) / float64(u.LimitPerMinute)
}

// Worker is a worker process as its heartbeat shows it.
type Worker struct {
	// ID is the worker's id.
	ID string
	// Hostname is the host name.
	Hostname string
	// Version is the build's version.
	Version string
	// StartedAt is when the worker started.
	StartedAt time.Time
	// LastSeenAt is the latest heartbeat.
	LastSeenAt time.Time
	// Alive reports a recent heartbeat.
	Alive bool
	// JobsDone counts successes.
	JobsDone int
	// JobsFailed counts failed attempts.
	JobsFailed int
}

// Queue describes the sync queue.
type Queue struct {
	// Queued counts waiting jobs.
	Queued int
	// Due counts jobs due now.
	Due int
	// Running counts claimed jobs.
	Running int
	// Failed counts jobs stopped by a permanent error.
	Failed int
	// OldestDueAt is when the oldest due job became due.
	OldestDueAt *time.Time
	// Workers are the heartbeats, newest first.
	Workers []Worker
	// TokenExpiresAt is when this process's access token expires.
	TokenExpiresAt *time.Time
	// Budget is the rate-limit budget.
	Budget *Budget
}
