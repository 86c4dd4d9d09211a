package syncer

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/faillog"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// lostAttemptMessage is the error message of an attempt whose worker
// stopped before it could record the outcome.
const lostAttemptMessage = "the worker stopped during this attempt; the outcome is unknown"

// finishTimeout bounds the transaction that records an attempt's outcome.
const finishTimeout = 15 * time.Second

// outcome is what one attempt achieved.
type outcome struct {
	// err is the failure, nil on success.
	err error
	// res is the deciding HelpScout operation's result.
	res helpscout.Result
	// duration is the time spent in HelpScout calls.
	duration time.Duration
	// conv is the conversation created (or found) for a contact form.
	conv *helpscout.ConversationRef
	// customerID is the HelpScout customer created or updated.
	customerID int64
	// customerCreated reports that the attempt created the customer.
	customerCreated bool
	// details are added to the event's details.
	details map[string]any
}

// add accounts for one operation's result.
func (o *outcome) add(res helpscout.Result) {
	o.res = res
	o.duration += res.Duration
}

// maxClaimWait caps how long a worker waits before claiming again while
// claims keep failing (the database is unreachable, say).
const maxClaimWait = 5 * time.Second

// claimWait is how long a worker waits after its failures-th claim in a
// row failed: the poll interval, doubled for each further failure, up to
// maxClaimWait (or the poll interval, when that is longer), so that an
// outage of the database is neither hammered nor logged many times a
// second by every worker.
func claimWait(poll time.Duration, failures int) time.Duration {
	wait := poll
	for i := 1; i < failures && wait < maxClaimWait; i++ {
		wait *= 2
	}
	return max(poll, min(wait, maxClaimWait))
}

// workLoop claims and carries out due jobs until loopCtx ends; calls use
// callCtx, which outlives loopCtx so that Stop can let attempts finish.
// While claims fail it waits longer between them (see claimWait), logs
// the first failure as an error and the others at debug level (see
// faillog), and says when claiming works again.
func (s *Service) workLoop(loopCtx, callCtx context.Context, n int) {
	var claims faillog.Run
	for {
		if loopCtx.Err() != nil {
			return
		}
		if !s.paused() {
			job, err := s.jobs.Claim(loopCtx, s.workerID, s.opts.Lease)
			if err != nil && loopCtx.Err() == nil {
				ev := claims.Failed(&s.log, zerolog.ErrorLevel)
				wait := claimWait(s.opts.PollInterval, claims.Failures())
				ev.Err(err).Int("worker", n).Dur("retry_in", wait).
					Msg("claiming a sync job failed; trying again, less often while it keeps failing")
				pause := time.NewTimer(wait)
				select {
				case <-loopCtx.Done():
					pause.Stop()
					return
				case <-pause.C:
				}
				continue
			}
			if err == nil {
				claims.Succeeded(&s.log).Int("worker", n).Msg("claiming sync jobs works again")
			}
			if job != nil {
				// Another job may be due: let an idle worker look.
				s.notify()
				s.attempt(callCtx, job)
				continue
			}
		}
		select {
		case <-loopCtx.Done():
			return
		case <-s.wake:
		}
	}
}

// pollLoop wakes one idle worker every poll interval until ctx ends, so
// that an idle process looks for due jobs (retries coming due, intake of
// other replicas) with one query per interval, whatever its number of
// workers; a worker that claims a job wakes the next.
func (s *Service) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.notify()
		}
	}
}

// attempt carries out one claimed job and records the outcome.
func (s *Service) attempt(callCtx context.Context, job *db.SyncJob) {
	ctx, cancel := context.WithCancel(callCtx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		s.keepLease(ctx, cancel, job.ID)
	}()
	out := s.perform(ctx, job)
	cancel()
	<-renewed
	if s.run.killed.Load() {
		return
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(callCtx), finishTimeout)
	defer fcancel()
	if err := s.finishPersistently(fctx, job, out); err != nil {
		s.log.Error().Err(err).Int64("job", job.ID).Msg("recording a sync attempt failed; its lease will expire and the job will be looked at again")
	}
}

// finishPersistently records the outcome, trying again until ctx ends
// while the database cannot be reached: HelpScout has done what the
// attempt asked, and an outcome given up on becomes a lost attempt, shown
// as FAILED with an unknown outcome, once the lease expires. Trying again
// is safe: finish writes nothing unless the job is still held by this
// worker, which a recorded outcome releases.
func (s *Service) finishPersistently(ctx context.Context, job *db.SyncJob, out outcome) error {
	wait := 100 * time.Millisecond
	for {
		err := s.finish(ctx, job, out)
		if err == nil || s.run.killed.Load() {
			return err
		}
		s.log.Warn().Err(err).Int64("job", job.ID).Dur("retry_in", wait).Msg("recording a sync attempt failed; trying again")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// keepLease renews the job's lease every third of its length until ctx
// ends; when the lease was lost, it cancels the attempt.
func (s *Service) keepLease(ctx context.Context, cancel context.CancelFunc, id int64) {
	t := time.NewTicker(s.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.jobs.Renew(ctx, id, s.workerID, s.opts.Lease)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn().Err(err).Int64("job", id).Msg("renewing a job lease failed")
			}
			continue
		}
		if !ok {
			s.log.Warn().Int64("job", id).Msg("job lease lost; abandoning the attempt")
			cancel()
			return
		}
	}
}

// perform calls HelpScout for the job.
func (s *Service) perform(ctx context.Context, job *db.SyncJob) outcome {
	switch job.Kind {
	case db.JobContactForm:
		var in ContactForm
		if err := json.Unmarshal(job.Payload, &in); err != nil {
			return outcome{err: fmt.Errorf("error decoding job %d: %w", job.ID, err)}
		}
		return s.createConversation(ctx, job, in)
	case db.JobCustomerCreate, db.JobCustomerUpdate:
		var in CustomerRecord
		if err := json.Unmarshal(job.Payload, &in); err != nil {
			return outcome{err: fmt.Errorf("error decoding job %d: %w", job.ID, err)}
		}
		return s.syncCustomer(ctx, job, in)
	}
	return outcome{err: fmt.Errorf("error running job %d: unknown kind %q", job.ID, job.Kind)}
}

// createConversation creates the conversation of a contact form.
//
// A conversation must never be created twice for one submission. Every
// conversation carries the tag submission-<id>. When the previous attempt's
// outcome is unknown (the client reported OutcomeUnknown: a timeout, a
// broken connection or a 5xx during the create; or the worker's lease
// expired because it stopped mid-call), this attempt first lists the
// customer's conversations and, when one carries the tag and the subject,
// records it as the SUCCESS instead of sending the form again. Only when
// the look-up answers and finds nothing is the form sent. HelpScout's
// search may lag a few seconds behind a create; the backoff before such an
// attempt (and the lease length for a crash) gives it that time.
func (s *Service) createConversation(ctx context.Context, job *db.SyncJob, in ContactForm) outcome {
	out := outcome{details: map[string]any{}}
	tag := submissionTag(in.SubmissionID)
	if job.OutcomeUnknown {
		// A conversation the lost attempt created was created after the
		// job was queued, or, when the form gave its submission time, at
		// that time (HelpScout takes it as createdAt). A minute's margin
		// for the clocks.
		createdFrom := job.CreatedAt.Add(-time.Minute)
		if in.SubmittedAt != nil {
			createdFrom = in.SubmittedAt.UTC().Truncate(time.Second).Add(-time.Minute)
		}
		found, res, err := callValue(s, ctx, 1, func(ctx context.Context) ([]helpscout.Conversation, helpscout.Result, error) {
			return s.client.FindConversationsByCustomerEmail(ctx, in.Email, createdFrom)
		})
		out.add(res)
		out.details["lookedUp"] = true
		if err != nil {
			out.err = err
			out.details["lookupFailed"] = true
			return out
		}
		for _, c := range found {
			if c.Subject == in.Subject && hasTag(c.Tags, tag) {
				out.conv = &helpscout.ConversationRef{ID: c.ID, Number: c.Number, WebURL: c.WebURL}
				out.details["foundExisting"] = true
				return out
			}
		}
	}
	cin := helpscout.ConversationInput{Subject: in.Subject, CustomerEmail: in.Email, Text: in.Message, Tags: []string{tag}}
	if in.Name != nil {
		cin.CustomerFirstName, cin.CustomerLastName = splitName(*in.Name)
	}
	if in.SubmittedAt != nil {
		cin.CreatedAt = in.SubmittedAt.UTC().Truncate(time.Second)
	}
	ref, res, err := callValue(s, ctx, 3, func(ctx context.Context) (helpscout.ConversationRef, helpscout.Result, error) {
		return s.client.CreateConversation(ctx, cin)
	})
	out.add(res)
	if err != nil {
		out.err = err
		return out
	}
	out.conv = &ref
	// The create answers with the id only; the number comes from a read
	// that followed it. When that read failed, read again, so that the
	// ticket can be found by its number and opened from the log.
	followUp := res.FollowUpErr
	for try := 0; followUp != nil && try < numberRereads; try++ {
		conv, res, err := callValue(s, ctx, 1, func(ctx context.Context) (*helpscout.Conversation, helpscout.Result, error) {
			return s.client.GetConversation(ctx, ref.ID)
		})
		out.add(res)
		followUp = err
		if err == nil && conv.Number != 0 {
			ref.Number, ref.WebURL = conv.Number, conv.WebURL
			out.details["numberReadAgain"] = try + 1
		}
	}
	if followUp != nil {
		out.details["numberUnknown"] = followUp.Error()
	}
	return out
}

// numberRereads is how often an attempt reads a created conversation again
// when the read after the create failed.
const numberRereads = 2

// syncCustomer creates or updates a customer. HelpScout may already know
// the customer (a contact form creates one), so it looks the email up
// first and updates the customer it finds instead of creating a second.
func (s *Service) syncCustomer(ctx context.Context, job *db.SyncJob, in CustomerRecord) outcome {
	out := outcome{details: map[string]any{}}
	cin := customerInput(in)
	var id int64
	if job.Kind == db.JobCustomerUpdate {
		var hsID *int64
		err := s.db.NewSelect().Model((*db.Customer)(nil)).Column("helpscout_id").Where("email = ?", in.Email).Scan(ctx, &hsID)
		if err != nil && !isNoRows(err) {
			out.err = fmt.Errorf("error reading customer %q: %w", in.Email, err)
			return out
		}
		if hsID != nil {
			id = *hsID
		}
	}
	if id == 0 {
		found, res, err := callValue(s, ctx, 1, func(ctx context.Context) (*helpscout.Customer, helpscout.Result, error) {
			return s.client.FindCustomerByEmail(ctx, in.Email)
		})
		out.add(res)
		if err != nil {
			out.err = err
			return out
		}
		if found != nil {
			id = found.ID
			out.details["existingCustomer"] = true
		}
	}
	if id == 0 {
		var (
			res helpscout.Result
			err error
		)
		id, res, err = callValue(s, ctx, 2, func(ctx context.Context) (int64, helpscout.Result, error) {
			return s.client.CreateCustomer(ctx, cin)
		})
		out.add(res)
		if he, ok := asHelpScoutError(err); ok && he.Status == http.StatusConflict {
			// Created meanwhile (a contact form of the same visitor, sent
			// at the same moment, creates the customer too): update the
			// customer HelpScout now has.
			out.details["createConflict"] = he.Message
			var found *helpscout.Customer
			found, res, err = callValue(s, ctx, 1, func(ctx context.Context) (*helpscout.Customer, helpscout.Result, error) {
				return s.client.FindCustomerByEmail(ctx, in.Email)
			})
			out.add(res)
			if err == nil && found == nil {
				err = he
			}
			if err == nil {
				id = found.ID
				out.details["existingCustomer"] = true
			}
		} else if err == nil {
			out.customerID, out.customerCreated = id, true
			return out
		}
		if err != nil {
			out.err = err
			return out
		}
	}
	if hasScalarFields(cin) {
		res, err := s.call(ctx, 2, func(ctx context.Context) (helpscout.Result, error) {
			return s.client.UpdateCustomer(ctx, id, cin)
		})
		out.add(res)
		if err != nil {
			out.err = err
			return out
		}
	}
	out.customerID = id
	return out
}

// finish records an attempt's outcome in one transaction: the event
// becomes SUCCESS or FAILED, and the job DONE, FAILED, or QUEUED for an
// automatic retry with a new PENDING attempt linked to the failed one.
func (s *Service) finish(ctx context.Context, claimed *db.SyncJob, out outcome) error {
	now := time.Now().UTC()
	var failed, released bool
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		job, err := s.jobs.LockHeld(ctx, tx, claimed.ID, s.workerID)
		if errors.Is(err, db.ErrNotFound) {
			s.log.Warn().Int64("job", claimed.ID).Msg("job lease lost before the outcome was recorded; discarding it")
			return nil
		}
		if err != nil {
			return err
		}
		e, err := s.jobs.Event(ctx, tx, *job.EventID)
		if err != nil {
			return err
		}
		if errors.Is(out.err, errStopping) {
			// Nothing was sent for this attempt yet: give the job back with
			// its PENDING event, as if it had never been claimed.
			job.State, job.RunAt, job.Attempts = db.JobQueued, now, max(job.Attempts-1, 0)
			job.LockedBy, job.LockedUntil = nil, nil
			released = true
			return s.jobs.Update(ctx, tx, job)
		}
		// The customer and conversation rows come before the events: event
		// writes lock rollup rows that every writer shares, so every
		// transaction takes those last and none waits on another in a
		// cycle (see db.JobStore.InsertQueued).
		applyOutcome(e, out)
		job.LockedBy, job.LockedUntil = nil, nil
		if out.err == nil {
			job.State, job.OutcomeUnknown, job.LastErrorCode = db.JobDone, false, nil
			job.Result = resultJSON(out)
			if err := s.recordSuccess(ctx, tx, e, out, now); err != nil {
				return err
			}
			if err := s.jobs.Update(ctx, tx, job); err != nil {
				return err
			}
			if err := s.jobs.FinishEvent(ctx, tx, e); err != nil {
				return err
			}
			return s.settleCoalesced(ctx, tx, e)
		}
		failed = true
		code := string(*e.ErrorCode)
		job.LastErrorCode = &code
		job.OutcomeUnknown = job.OutcomeUnknown || outcomeUnknown(out.err)
		if err := recordCustomerState(ctx, tx, e, now); err != nil {
			return err
		}
		if err := s.jobs.FinishEvent(ctx, tx, e); err != nil {
			return err
		}
		if retryable(out.err) && job.Attempts < s.opts.MaxAttempts {
			job.State = db.JobQueued
			job.RunAt = now.Add(s.backoff(job.Attempts, out.err))
			if err := s.startJob(ctx, tx, job, nextAttempt(e, now)); err != nil {
				return err
			}
		} else {
			job.State = db.JobFailed
			if err := s.settleCoalesced(ctx, tx, e); err != nil {
				return err
			}
		}
		return s.jobs.Update(ctx, tx, job)
	})
	if err != nil {
		return fmt.Errorf("error recording the attempt of job %d: %w", claimed.ID, err)
	}
	switch {
	case released:
	case failed:
		s.jobsFailed.Add(1)
	default:
		s.jobsDone.Add(1)
	}
	return nil
}

// applyOutcome writes an outcome onto its event.
func applyOutcome(e *db.SyncEvent, out outcome) {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	for k, v := range out.details {
		e.Details[k] = v
	}
	if out.res.LogRef != "" {
		e.Details["logRef"] = out.res.LogRef
	}
	if out.res.Method != "" {
		e.Details["request"] = out.res.Method + " " + out.res.Path
	}
	if out.res.TokenRenewed {
		e.Details["tokenRenewed"] = true
	}
	ms := int(out.duration.Milliseconds())
	e.DurationMs = &ms
	if out.res.Status != 0 {
		st := out.res.Status
		e.HTTPStatus = &st
	}
	if out.err == nil {
		e.Status = db.StatusSuccess
		if out.conv != nil {
			e.ConversationID = &out.conv.ID
			if out.conv.Number != 0 {
				e.TicketNumber = &out.conv.Number
			}
		}
		if out.customerID != 0 {
			e.Details["customerId"] = out.customerID
		}
		return
	}
	e.Status = db.StatusFailed
	code := helpscout.CodeOf(out.err)
	msg := out.err.Error()
	var he *helpscout.Error
	if errors.As(out.err, &he) {
		if he.Message != "" {
			msg = he.Message
		}
		if he.Status != 0 {
			st := he.Status
			e.HTTPStatus = &st
		}
		if he.LogRef != "" {
			e.Details["logRef"] = he.LogRef
		}
		if he.RetryAfter > 0 {
			e.Details["retryAfterSeconds"] = he.RetryAfter.Seconds()
		}
		if he.OutcomeUnknown {
			e.Details["outcomeUnknown"] = true
		}
	}
	e.ErrorCode, e.ErrorMessage = &code, &msg
}

// nextAttempt is the PENDING event of the attempt after a failed one.
func nextAttempt(failed *db.SyncEvent, now time.Time) *db.SyncEvent {
	details := map[string]any{}
	for _, k := range []string{"request", "subject", "message", "messageBytes", "submissionId", "tag", "name",
		"submittedAt", "fields", "firstName", "lastName", "jobTitle", "location", "organization", "background",
		"phone", "batched", "coalesced"} {
		if v, ok := failed.Details[k]; ok {
			details[k] = v
		}
	}
	return &db.SyncEvent{OccurredAt: now, Type: failed.Type, Status: db.StatusPending, Direction: failed.Direction,
		CustomerEmail: failed.CustomerEmail, Details: details, Attempt: failed.Attempt + 1, RetryOfID: &failed.ID,
		Source: failed.Source, SourceRef: failed.SourceRef, JobID: failed.JobID}
}

// recordSuccess makes the read API show what the attempt created.
func (s *Service) recordSuccess(ctx context.Context, tx bun.Tx, e *db.SyncEvent, out outcome, now time.Time) error {
	if out.conv != nil && out.conv.Number != 0 {
		subject, _ := e.Details["subject"].(string)
		err := db.NewConversationStore(s.db).RecordCreated(ctx, tx, out.conv.ID, out.conv.Number, subject, s.client.MailboxID(), e.CustomerEmail, now)
		if err != nil {
			return err
		}
	}
	if e.CustomerEmail == nil {
		return nil
	}
	var hsID *int64
	if out.customerID != 0 {
		hsID = &out.customerID
	}
	// Outcomes of one customer may commit out of the order of their
	// clocks (replicas, concurrent jobs): the sync times only move outwards.
	_, err := tx.NewRaw(`UPDATE customers SET last_sync_status = 'SUCCESS', last_sync_error_code = NULL, last_sync_error = NULL,
			last_synced_at = GREATEST(last_synced_at, ?0), last_event_at = GREATEST(last_event_at, ?0),
			helpscout_id = coalesce(?1, helpscout_id),
			first_synced_at = CASE WHEN ?1::bigint IS NOT NULL THEN LEAST(first_synced_at, ?0) ELSE first_synced_at END
		WHERE email = ?2`, now, hsID, *e.CustomerEmail).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error saving the sync state of customer %q: %w", *e.CustomerEmail, err)
	}
	return nil
}

// recordCustomerState records a failed attempt on its customer.
func recordCustomerState(ctx context.Context, tx bun.Tx, e *db.SyncEvent, now time.Time) error {
	if e.CustomerEmail == nil {
		return nil
	}
	_, err := tx.NewRaw(`UPDATE customers SET last_sync_status = ?, last_sync_error_code = ?, last_sync_error = ?,
			last_event_at = GREATEST(last_event_at, ?) WHERE email = ?`,
		e.Status, e.ErrorCode, e.ErrorMessage, now, *e.CustomerEmail).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error saving the sync state of customer %q: %w", *e.CustomerEmail, err)
	}
	return nil
}

// reclaimLoop takes over, every lease/3, the jobs whose worker stopped.
func (s *Service) reclaimLoop(ctx context.Context) {
	t := time.NewTicker(max(s.opts.Lease/3, 100*time.Millisecond))
	defer t.Stop()
	var runs faillog.Run
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.reclaim(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			runs.Failed(&s.log, zerolog.ErrorLevel).Err(err).Msg("reclaiming expired job leases failed")
		case err == nil:
			runs.Succeeded(&s.log).Msg("reclaiming expired job leases works again")
		}
		if n > 0 {
			s.notify()
		}
	}
}

// reclaim finishes the attempts of jobs whose lease expired as FAILED with
// an unknown outcome and queues each job again with a new PENDING attempt
// that will look in HelpScout before sending anything.
func (s *Service) reclaim(ctx context.Context) (int, error) {
	now := time.Now().UTC()
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		jobs, err := s.jobs.LockExpired(ctx, tx, 50)
		if err != nil {
			return err
		}
		// The lost attempts fail; their customers' rows are written first,
		// in email order as concurrent writers take them, and the events
		// last, since event writes lock the rollup rows every writer shares
		// (see finish).
		events := make([]*db.SyncEvent, len(jobs))
		lost := make([]bool, len(jobs))
		for i, job := range jobs {
			e, err := s.jobs.Event(ctx, tx, *job.EventID)
			if err != nil {
				return err
			}
			if e.Status == db.StatusPending {
				code, msg := db.CodeUnknown, lostAttemptMessage
				e.Status, e.ErrorCode, e.ErrorMessage = db.StatusFailed, &code, &msg
				if e.Details == nil {
					e.Details = map[string]any{}
				}
				if job.LockedBy != nil {
					e.Details["lostWorker"] = *job.LockedBy
				}
				e.Details["outcomeUnknown"] = true
				lost[i] = true
			}
			events[i] = e
		}
		byEmail := slices.Clone(events)
		slices.SortFunc(byEmail, func(a, b *db.SyncEvent) int {
			return cmp.Compare(ptrValue(a.CustomerEmail), ptrValue(b.CustomerEmail))
		})
		for _, e := range byEmail {
			if err := recordCustomerState(ctx, tx, e, now); err != nil {
				return err
			}
		}
		for i, job := range jobs {
			e := events[i]
			if lost[i] {
				if err := s.jobs.FinishEvent(ctx, tx, e); err != nil {
					return err
				}
			}
			code := string(db.CodeUnknown)
			job.LastErrorCode = &code
			job.LockedBy, job.LockedUntil = nil, nil
			job.OutcomeUnknown = true
			if job.Attempts < s.opts.MaxAttempts {
				job.State, job.RunAt = db.JobQueued, now
				if err := s.startJob(ctx, tx, job, nextAttempt(e, now)); err != nil {
					return err
				}
			} else {
				job.State = db.JobFailed
				if err := s.settleCoalesced(ctx, tx, e); err != nil {
					return err
				}
			}
			if err := s.jobs.Update(ctx, tx, job); err != nil {
				return err
			}
			s.log.Warn().Int64("job", job.ID).Int64("event", e.ID).Msg("took over a job whose worker stopped")
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("error reclaiming expired leases: %w", err)
	}
	return n, nil
}

// ptrValue is *p, or the zero value when p is nil.
func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// resultJSON is what a successful job keeps as its result.
func resultJSON(out outcome) db.JSONText {
	r := map[string]any{}
	if out.conv != nil {
		r["conversationId"], r["number"] = out.conv.ID, out.conv.Number
	}
	if out.customerID != 0 {
		r["customerId"], r["created"] = out.customerID, out.customerCreated
	}
	b, _ := json.Marshal(r)
	return b
}

// customerInput converts a record to the client's input.
func customerInput(in CustomerRecord) helpscout.CustomerInput {
	v := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	ci := helpscout.CustomerInput{FirstName: v(in.FirstName), LastName: v(in.LastName), Email: in.Email,
		JobTitle: v(in.JobTitle), Location: v(in.Location), Organization: v(in.Organization), Background: v(in.Background)}
	if in.Phone != nil && *in.Phone != "" {
		ci.Phones = []helpscout.Phone{{Type: "work", Value: *in.Phone}}
	}
	return ci
}

// hasScalarFields reports whether an update would send anything.
func hasScalarFields(c helpscout.CustomerInput) bool {
	return c.FirstName != "" || c.LastName != "" || c.JobTitle != "" || c.Location != "" ||
		c.Organization != "" || c.Background != ""
}

// splitName splits a full name into first and last name.
func splitName(name string) (first, last string) {
	name = strings.TrimSpace(name)
	if i := strings.LastIndex(name, " "); i > 0 {
		return strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:])
	}
	return name, ""
}

// hasTag reports whether tags hold tag, letter case ignored.
func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// asHelpScoutError returns the *helpscout.Error in err's chain.
func asHelpScoutError(err error) (*helpscout.Error, bool) {
	var he *helpscout.Error
	if errors.As(err, &he) {
		return he, true
	}
	return nil, false
}

// outcomeUnknown reports whether a failed write may have been carried out.
func outcomeUnknown(err error) bool {
	he, ok := asHelpScoutError(err)
	return ok && he.OutcomeUnknown
}

// isNoRows reports a query that found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
