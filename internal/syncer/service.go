// Package syncer performs the synchronization with HelpScout: intake
// writes a job and a PENDING event in one transaction, workers on every
// replica claim due jobs, call HelpScout and finish the event, and
// people retry what failed.
package syncer

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// Options configure a Service.
type Options struct {
	// HelpScout is the client configuration from the environment; saved
	// integration settings override it.
	HelpScout helpscout.Config
	// WebhookSecret is the webhook secret from the environment.
	WebhookSecret string
	// Workers is how many jobs this process carries out at once.
	Workers int
	// BatchInterval is how often changed customers are sent in one pass.
	BatchInterval time.Duration
	// Version is the build's version, shown in heartbeats.
	Version string
	// Log receives the pipeline's log lines.
	Log zerolog.Logger
}

// Service is the sync pipeline of one process.
type Service struct {
	db     *bun.DB
	client *helpscout.Client
	opts   Options
	log    zerolog.Logger
}

// New returns a Service over the database; Start runs its workers.
func New(bdb *bun.DB, opts Options) *Service {
	return &Service{db: bdb, client: helpscout.New(opts.HelpScout), opts: opts, log: opts.Log}
}

// Start runs the workers until ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) error { return nil }

// Stop stops the workers and waits for attempts in flight.
func (s *Service) Stop() {}

var errNotBuilt = apperr.New(apperr.Unavailable, "retrying needs the sync pipeline, which is not running in this deployment")

// SubmitContactForm queues a contact-form submission.
func (s *Service) SubmitContactForm(ctx context.Context, in ContactForm, actor string) (*IntakeResult, error) {
	return nil, errNotBuilt
}

// SyncCustomer queues a customer record.
func (s *Service) SyncCustomer(ctx context.Context, in CustomerRecord, actor string) (*IntakeResult, error) {
	return nil, errNotBuilt
}

// Retry re-queues the operation behind a failed event as a new attempt.
func (s *Service) Retry(ctx context.Context, eventID int64, actor string) (*db.SyncEvent, error) {
	events := db.NewEventStore(s.db)
	e, err := events.Get(ctx, eventID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "sync event %d does not exist", eventID)
	}
	if err != nil {
		return nil, err
	}
	if e.Status != db.StatusFailed {
		return nil, apperr.New(apperr.Conflict, "sync event %d is %s; only failed events can be retried", eventID, e.Status)
	}
	retries, err := events.RetriesOf(ctx, []int64{eventID})
	if err != nil {
		return nil, err
	}
	if len(retries) > 0 {
		return nil, apperr.New(apperr.Conflict, "sync event %d was already retried by event %d", eventID, retries[len(retries)-1].ID)
	}
	return nil, errNotBuilt
}

// RetryFailed retries the failed events a filter selects, at most limit.
func (s *Service) RetryFailed(ctx context.Context, f db.EventFilter, limit int, actor string) (*BulkRetryResult, error) {
	return nil, errNotBuilt
}

// Settings returns the integration settings.
func (s *Service) Settings(ctx context.Context) (*Settings, error) { return nil, errNotBuilt }

// UpdateSettings changes the integration settings.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput, actor string) (*Settings, error) {
	return nil, errNotBuilt
}

// TestConnection fetches a token and reads the configured mailbox.
func (s *Service) TestConnection(ctx context.Context) (*ConnectionTest, error) {
	return nil, errNotBuilt
}

// Budget returns the shared rate-limit budget.
func (s *Service) Budget(ctx context.Context) (*Budget, error) { return nil, errNotBuilt }

// Queue describes the queue, the workers and the budget.
func (s *Service) Queue(ctx context.Context) (*Queue, error) { return nil, errNotBuilt }

// APIUsage reports HelpScout API use between from and to.
func (s *Service) APIUsage(ctx context.Context, from, to time.Time, bucket UsageBucket) (*APIUsage, error) {
	return nil, errNotBuilt
}
