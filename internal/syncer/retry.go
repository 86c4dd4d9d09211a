package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// maxBackoff caps the delay between automatic attempts.
const maxBackoff = 10 * time.Minute

// unknownOutcomeDelay is the least delay before the attempt after one whose
// outcome is unknown, so that HelpScout's search shows a conversation the
// lost attempt may have created.
const unknownOutcomeDelay = 2 * time.Second

// retryable reports whether a failure may go away by itself: rate
// limiting, timeouts, HelpScout outages. Permanent errors (INVALID_EMAIL,
// MISSING_REQUIRED_FIELD, VALIDATION_FAILED, MAILBOX_NOT_FOUND, ...) wait
// for someone to retry them.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if helpscout.IsTransient(err) {
		return true
	}
	switch helpscout.CodeOf(err) {
	case db.CodeRateLimited, db.CodeTimeout, db.CodeHelpScoutUnavailable:
		return true
	}
	_, isHelpScout := asHelpScoutError(err)
	// Our own failures (the database, a cancelled call) are worth another try.
	return !isHelpScout
}

// backoff is the delay before the attempt after attempts failed ones:
// exponential from RetryBase with full jitter over its upper half, at least
// what HelpScout asked for in X-RateLimit-Retry-After.
func (s *Service) backoff(attempts int, err error) time.Duration {
	d := s.opts.RetryBase
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if he, ok := asHelpScoutError(err); ok {
		if he.RetryAfter > d {
			d = he.RetryAfter + time.Duration(rand.Int64N(int64(250*time.Millisecond)))
		}
		if he.OutcomeUnknown && d < unknownOutcomeDelay {
			d = unknownOutcomeDelay
		}
	}
	return d
}

// Retry re-queues the operation behind a failed event as a new PENDING
// attempt linked to it (retry_of), recording who asked. An event without a
// job (history loaded from elsewhere) gets a job rebuilt from what it
// recorded, when that is enough to send it again. With fix, the attempt
// sends the corrected values (see Corrections).
func (s *Service) Retry(ctx context.Context, eventID int64, fix *Corrections, actor string) (*db.SyncEvent, error) {
	var out *db.SyncEvent
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = s.retryOne(ctx, tx, eventID, fix, actor)
		return err
	})
	if err != nil {
		if _, ok := apperr.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("error retrying sync event %d: %w", eventID, err)
	}
	s.notify()
	s.log.Info().Int64("event", eventID).Int64("attempt", out.ID).Str("actor", actor).Msg("sync event retried")
	return out, nil
}

// retryOne is Retry inside a transaction.
func (s *Service) retryOne(ctx context.Context, tx bun.Tx, eventID int64, fix *Corrections, actor string) (*db.SyncEvent, error) {
	e, err := s.jobs.Event(ctx, tx, eventID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "sync event %d does not exist", eventID)
	}
	if err != nil {
		return nil, err
	}
	if e.Status != db.StatusFailed {
		return nil, apperr.New(apperr.Conflict, "sync event %d is %s; only failed events can be retried", eventID, e.Status)
	}
	var retries []*db.SyncEvent
	if err := tx.NewSelect().Model(&retries).Where("retry_of = ?", eventID).OrderExpr("id DESC").Limit(1).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading retries of sync event %d: %w", eventID, err)
	}
	if len(retries) > 0 {
		return nil, apperr.New(apperr.Conflict, "sync event %d was already retried by event %d", eventID, retries[0].ID)
	}
	now := time.Now().UTC()
	job, err := s.jobs.ByEvent(ctx, tx, e)
	switch {
	case errors.Is(err, db.ErrNotFound):
		job, err = s.rebuildJob(ctx, tx, e, now)
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case fix == nil && refusedForEncoding(job):
		return nil, apperr.New(apperr.Conflict, "sync event %d cannot be retried as it was: the record holds characters HelpScout does not accept; "+
			"retry it with corrections, or have the host system send it again", eventID)
	case job.EventID == nil || *job.EventID != e.ID || job.State != db.JobFailed:
		return nil, apperr.New(apperr.Conflict, "sync event %d is not the latest attempt of its operation, which is %s", eventID, strings.ToLower(string(job.State)))
	}
	next := nextAttempt(e, now)
	next.Source, next.Actor, next.JobID = db.SourceManual, &actor, &job.ID
	next.Details["retriedBy"] = actor
	next.Details["retriedAt"] = now.Format(time.RFC3339)
	if fix != nil {
		if err := s.correct(ctx, tx, job, next, fix); err != nil {
			return nil, err
		}
	}
	job.State, job.RunAt, job.Attempts = db.JobQueued, now, 0
	job.LockedBy, job.LockedUntil = nil, nil
	if err := s.startJob(ctx, tx, job, next); err != nil {
		return nil, err
	}
	if err := s.jobs.Update(ctx, tx, job); err != nil {
		return nil, err
	}
	return next, nil
}

// refusedForEncoding reports whether the job's record was refused before
// sending, for characters HelpScout does not accept (see refuseEncoding).
func refusedForEncoding(job *db.SyncJob) bool {
	return job.LastErrorCode != nil && *job.LastErrorCode == string(db.CodeInvalidEncoding) && strings.Contains(string(job.Result), "refused")
}

// rebuildJob writes a job for an event that has none, from what the event
// and the customer record hold.
func (s *Service) rebuildJob(ctx context.Context, tx bun.Tx, e *db.SyncEvent, now time.Time) (*db.SyncJob, error) {
	if e.Direction != db.DirectionToHelpScout || e.Type == db.EventError {
		return nil, apperr.New(apperr.Conflict, "sync event %d (%s) is not an operation sent to HelpScout, so there is nothing to send again", e.ID, e.Type)
	}
	if e.CustomerEmail == nil || *e.CustomerEmail == "" {
		return nil, apperr.New(apperr.Conflict, "sync event %d cannot be retried: it does not record the customer's email", e.ID)
	}
	email := *e.CustomerEmail
	str := func(k string) string {
		v, _ := e.Details[k].(string)
		return v
	}
	job := &db.SyncJob{State: db.JobQueued, RunAt: now, CustomerEmail: &email}
	var payload any
	switch e.Type {
	case db.EventTicketCreated:
		subject, message := str("subject"), str("message")
		if subject == "" || message == "" {
			return nil, apperr.New(apperr.Conflict, "sync event %d cannot be retried: the log does not hold the contact form's subject and message", e.ID)
		}
		if b, ok := e.Details["messageBytes"].(float64); ok && int(b) > len(message) {
			return nil, apperr.New(apperr.Conflict, "sync event %d cannot be retried: the log holds only an excerpt of the message", e.ID)
		}
		ref := str("submissionId")
		if ref == "" && e.SourceRef != nil {
			ref = *e.SourceRef
		}
		if ref == "" {
			ref = fmt.Sprintf("event-%d", e.ID)
		}
		form := ContactForm{SubmissionID: ref, Email: email, Subject: subject, Message: message}
		if n := str("name"); n != "" {
			form.Name = &n
		}
		key := "contact-form:" + ref
		job.Kind, job.IdempotencyKey, payload = db.JobContactForm, &key, form
	case db.EventCustomerSynced, db.EventCustomerUpdated:
		rec := CustomerRecord{Email: email}
		set := func(dst **string, k string) {
			if v := str(k); v != "" {
				*dst = &v
			}
		}
		set(&rec.FirstName, "firstName")
		set(&rec.LastName, "lastName")
		set(&rec.JobTitle, "jobTitle")
		set(&rec.Location, "location")
		set(&rec.Organization, "organization")
		set(&rec.Background, "background")
		set(&rec.Phone, "phone")
		if rec.FirstName == nil && rec.LastName == nil {
			var name *string
			err := tx.NewSelect().Model((*db.Customer)(nil)).Column("name").Where("email = ?", email).Scan(ctx, &name)
			if err != nil && !isNoRows(err) {
				return nil, fmt.Errorf("error reading customer %q: %w", email, err)
			}
			if name != nil && *name != "" {
				first, last := splitName(*name)
				rec.FirstName = &first
				if last != "" {
					rec.LastName = &last
				}
			}
		}
		known, err := s.customerKnown(ctx, tx, email)
		if err != nil {
			return nil, err
		}
		job.Kind, payload = db.JobCustomerCreate, rec
		if known {
			job.Kind = db.JobCustomerUpdate
		}
	default:
		return nil, apperr.New(apperr.Conflict, "sync event %d (%s) cannot be retried: the pipeline does not send this kind of event", e.ID, e.Type)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("error encoding the rebuilt job of event %d: %w", e.ID, err)
	}
	job.Payload = b
	inserted, err := s.jobs.Insert(ctx, tx, job)
	if err != nil {
		return nil, err
	}
	if !inserted {
		return nil, apperr.New(apperr.Conflict, "sync event %d cannot be retried: submission %q already has a job of its own", e.ID, strings.TrimPrefix(*job.IdempotencyKey, "contact-form:"))
	}
	return job, nil
}

const (
	// DefaultBulkRetry is how many failed events retryFailedSyncs takes
	// when no limit is given.
	DefaultBulkRetry = 100
	// MaxBulkRetry is the highest limit retryFailedSyncs accepts.
	MaxBulkRetry = 500
)

// retryScanPage is how many failed events RetryFailed reads at a time.
const retryScanPage = 200

// RetryFailed retries the FAILED, not yet retried events f selects, oldest
// first, looking at no more than limit of them: those that cannot be
// retried are counted as skipped. Truncated reports that more matched.
func (s *Service) RetryFailed(ctx context.Context, f db.EventFilter, limit int, actor string) (*BulkRetryResult, error) {
	if len(f.Statuses) > 0 && !slices.Equal(f.Statuses, []db.EventStatus{db.StatusFailed}) {
		return nil, apperr.BadInput("filter.statuses", "only failed events are retried: leave statuses out or give [FAILED]")
	}
	f.Statuses = []db.EventStatus{db.StatusFailed}
	out := &BulkRetryResult{Events: []*db.SyncEvent{}}
	p := db.Page{Limit: retryScanPage}
	seen := 0
	for {
		events, more, err := s.events.List(ctx, f, p)
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		retried := map[int64]bool{}
		if len(ids) > 0 {
			rs, err := s.events.RetriesOf(ctx, ids)
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				retried[*r.RetryOfID] = true
			}
		}
		for _, e := range events {
			if retried[e.ID] {
				continue
			}
			if seen == limit {
				out.Truncated = true
				return out, nil
			}
			seen++
			var next *db.SyncEvent
			err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
				var err error
				next, err = s.retryOne(ctx, tx, e.ID, nil, actor)
				return err
			})
			switch {
			case err == nil:
				out.Queued++
				out.Events = append(out.Events, next)
			case isAppErr(err):
				out.Skipped++
			default:
				return nil, fmt.Errorf("error retrying sync event %d: %w", e.ID, err)
			}
		}
		if !more || len(events) == 0 {
			break
		}
		last := db.KeysetOf(events[len(events)-1])
		p.After = &last
	}
	if out.Queued > 0 {
		s.notify()
	}
	s.log.Info().Int("queued", out.Queued).Int("skipped", out.Skipped).Bool("truncated", out.Truncated).
		Str("actor", actor).Msg("failed sync events retried")
	return out, nil
}

// isAppErr reports an error meant for API clients (a refusal), as opposed
// to a failure.
func isAppErr(err error) bool {
	_, ok := apperr.As(err)
	return ok
}
