package syncer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// Bounds of intake values: generous, only there to refuse broken input.
const (
	maxSubmissionIDLen = 200
	maxEmailLen        = 320
	maxNameLen         = 200
	maxSubjectLen      = 998
	maxMessageLen      = 100 << 10
	maxFieldLen        = 1000
	// excerptLen is how much of a message the event's details keep.
	excerptLen = 500
)

// checkText refuses an empty (when required) or overlong value of field.
// Only the empty string is empty: a subject of blanks is sent, so that
// HelpScout's refusal (MISSING_REQUIRED_FIELD) shows in the log.
func checkText(field, v string, required bool, maxLen int) error {
	if required && v == "" {
		return apperr.BadInput(field, "must not be empty")
	}
	if len(v) > maxLen {
		return apperr.BadInput(field, "must be at most %d bytes, got %d", maxLen, len(v))
	}
	return nil
}

// checkKey is checkText for a submission id, which also refuses what no
// text column can hold: the id keys the submission's job, so that a second
// sending is known, and no stand-in for a character may take its place.
func checkKey(field, v string) error {
	if err := checkText(field, v, true, maxSubmissionIDLen); err != nil {
		return err
	}
	if p := encodingProblem(field, &v); p != "" {
		return apperr.BadInput(field, "%s", strings.TrimPrefix(p, field+" "))
	}
	return nil
}

// checkOptional is checkText for an optional value.
func checkOptional(field string, v *string, maxLen int) error {
	if v == nil {
		return nil
	}
	return checkText(field, *v, false, maxLen)
}

// SubmitContactForm queues a contact-form submission: a job keyed by the
// submission id and a PENDING TICKET_CREATED event, in one transaction.
// The same submission sent again queues nothing: it returns the original
// event with Duplicate set and records the suppression on that event.
// The email's format is not checked here: a bad address must reach
// HelpScout and be logged as a FAILED event with INVALID_EMAIL.
func (s *Service) SubmitContactForm(ctx context.Context, in ContactForm, actor string) (*IntakeResult, error) {
	// Every field is checked, so that a form with several mistakes hears
	// of all of them at once.
	var errs []error
	for _, c := range []error{
		checkKey("input.submissionId", strings.TrimSpace(in.SubmissionID)),
		checkText("input.email", strings.TrimSpace(in.Email), true, maxEmailLen),
		checkText("input.subject", in.Subject, true, maxSubjectLen),
		checkText("input.message", in.Message, true, maxMessageLen),
		checkOptional("input.name", in.Name, maxNameLen),
	} {
		errs = append(errs, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	in.SubmissionID = strings.TrimSpace(in.SubmissionID)
	return s.queueTicket(ctx, in, db.SourceContactForm, actor)
}

// CreateTicket queues a ticket an Administrator (actor) creates by hand,
// as SubmitContactForm queues a form, logged with source MANUAL and the
// actor. With a submission id it shares that submission's idempotency
// key; without, it gets an id of its own, so that each call creates a
// ticket.
func (s *Service) CreateTicket(ctx context.Context, in ManualTicket, actor string) (*IntakeResult, error) {
	var id string
	if in.SubmissionID != nil {
		id = strings.TrimSpace(*in.SubmissionID)
	}
	var errs []error
	for _, c := range []error{
		checkText("input.email", strings.TrimSpace(in.Email), true, maxEmailLen),
		checkText("input.subject", in.Subject, true, maxSubjectLen),
		checkText("input.message", in.Message, true, maxMessageLen),
		checkOptional("input.name", in.Name, maxNameLen),
	} {
		errs = append(errs, c)
	}
	if in.SubmissionID != nil {
		errs = append(errs, checkKey("input.submissionId", id))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if in.SubmissionID == nil {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("error making a submission id: %w", err)
		}
		id = "manual-" + hex.EncodeToString(b)
	}
	form := ContactForm{SubmissionID: id, Email: in.Email, Name: in.Name, Subject: in.Subject, Message: in.Message}
	return s.queueTicket(ctx, form, db.SourceManual, actor)
}

// queueTicket queues the checked form as a job and its PENDING
// TICKET_CREATED event from source; a manual ticket records actor on the
// event.
func (s *Service) queueTicket(ctx context.Context, in ContactForm, source db.EventSource, actor string) (*IntakeResult, error) {
	email := normEmail(in.Email)
	in.Email = email
	refusal := encodingProblem("email", &in.Email, "name", in.Name, "subject", &in.Subject, "message", &in.Message)
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("error encoding contact form %q: %w", in.SubmissionID, err)
	}
	name := in.Name
	if refusal != "" {
		email, name = storable(email), storablePtr(name)
	}
	key := "contact-form:" + in.SubmissionID
	details := map[string]any{
		"request":      "POST /v2/conversations",
		"subject":      printable(in.Subject),
		"message":      printable(excerpt(in.Message, excerptLen)),
		"messageBytes": len(in.Message),
		"submissionId": in.SubmissionID,
		"tag":          submissionTag(in.SubmissionID),
	}
	if in.Name != nil {
		details["name"] = printable(*in.Name)
	}
	if in.SubmittedAt != nil {
		details["submittedAt"] = in.SubmittedAt.UTC().Format(time.RFC3339)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	job := &db.SyncJob{Kind: db.JobContactForm, IdempotencyKey: &key, Payload: payload,
		State: db.JobQueued, RunAt: now, CustomerEmail: &email}
	e := &db.SyncEvent{OccurredAt: now, Type: db.EventTicketCreated, Status: db.StatusPending,
		Direction: db.DirectionToHelpScout, CustomerEmail: &email, Details: details, Attempt: 1,
		Source: source, SourceRef: &in.SubmissionID}
	if source == db.SourceManual {
		e.Actor = &actor
		details["createdBy"] = actor
	}
	if refusal == "" {
		// The common case in one statement: job, event and customer row.
		var inserted bool
		err := db.Retry(ctx, func() error {
			var err error
			inserted, err = s.jobs.InsertQueued(ctx, s.db, job, e, in.Name)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("error queueing contact form %q: %w", in.SubmissionID, err)
		}
		if inserted {
			s.notify()
			return &IntakeResult{Event: e}, nil
		}
	}
	var out IntakeResult
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		inserted, err := s.jobs.Insert(ctx, tx, job)
		if err != nil {
			return err
		}
		if !inserted {
			dup, err := s.jobs.CountDuplicate(ctx, tx, key)
			if err != nil {
				return err
			}
			first, err := s.jobs.FirstEvent(ctx, tx, dup.ID)
			if err != nil {
				return err
			}
			marked, err := s.jobs.MarkDuplicate(ctx, tx, first.ID, dup.Duplicates, now)
			if err != nil {
				return err
			}
			out = IntakeResult{Event: marked, Duplicate: true}
			s.log.Info().Str("submissionId", in.SubmissionID).Int64("event", marked.ID).Int64("job", dup.ID).
				Int("duplicates", dup.Duplicates).Str("actor", actor).
				Msg("duplicate contact-form submission suppressed")
			return nil
		}
		// The customer row before the event, whose rollup rows every
		// writer locks last.
		if err := upsertCustomer(ctx, tx, email, name, now); err != nil {
			return err
		}
		e.JobID = &job.ID
		if err := s.startJob(ctx, tx, job, e); err != nil {
			return err
		}
		if err := s.refuseEncoding(ctx, tx, job, e, refusal); err != nil {
			return err
		}
		out = IntakeResult{Event: e}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error queueing contact form %q: %w", in.SubmissionID, err)
	}
	if !out.Duplicate && refusal == "" {
		s.notify()
	}
	return &out, nil
}

// SyncCustomer queues a customer record: CUSTOMER_SYNCED (sent at once)
// when the customer is not in HelpScout yet and no creation is pending,
// else CUSTOMER_UPDATED, which waits for the next batch run.
func (s *Service) SyncCustomer(ctx context.Context, in CustomerRecord, actor string) (*IntakeResult, error) {
	var errs []error
	for _, c := range []error{
		checkText("input.email", strings.TrimSpace(in.Email), true, maxEmailLen),
		checkOptional("input.firstName", in.FirstName, maxFieldLen),
		checkOptional("input.lastName", in.LastName, maxFieldLen),
		checkOptional("input.jobTitle", in.JobTitle, maxFieldLen),
		checkOptional("input.location", in.Location, maxFieldLen),
		checkOptional("input.organization", in.Organization, maxFieldLen),
		checkOptional("input.background", in.Background, maxFieldLen),
		checkOptional("input.phone", in.Phone, maxFieldLen),
	} {
		errs = append(errs, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	email := normEmail(in.Email)
	in.Email = email
	refusal := encodingProblem("email", &in.Email, "firstName", in.FirstName, "lastName", in.LastName,
		"jobTitle", in.JobTitle, "location", in.Location, "organization", in.Organization,
		"background", in.Background, "phone", in.Phone)
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("error encoding customer %q: %w", email, err)
	}
	name := fullName(in.FirstName, in.LastName)
	if refusal != "" {
		email, name = storable(email), storablePtr(name)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var out IntakeResult
	created := false
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// Intakes of one customer take turns, so that two records sent at
		// once do not both create the customer.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "customer:"+email); err != nil {
			return fmt.Errorf("error locking customer %q: %w", email, err)
		}
		known, err := s.customerKnown(ctx, tx, email)
		if err != nil {
			return err
		}
		job := &db.SyncJob{Payload: payload, State: db.JobQueued, CustomerEmail: &email}
		e := &db.SyncEvent{OccurredAt: now, Status: db.StatusPending, Direction: db.DirectionToHelpScout,
			CustomerEmail: &email, Details: customerDetails(in), Attempt: 1}
		if known {
			job.Kind, job.RunAt = db.JobCustomerUpdate, db.BatchRunAt
			e.Type, e.Source = db.EventCustomerUpdated, db.SourceBatch
			e.Details["request"] = "PATCH /v2/customers"
			e.Details["batched"] = true
		} else {
			job.Kind, job.RunAt = db.JobCustomerCreate, now
			e.Type, e.Source = db.EventCustomerSynced, db.SourceCustomerUpdate
			e.Details["request"] = "POST /v2/customers"
			created = true
		}
		if _, err := s.jobs.Insert(ctx, tx, job); err != nil {
			return err
		}
		if err := upsertCustomer(ctx, tx, email, name, now); err != nil {
			return err
		}
		e.JobID = &job.ID
		if err := s.startJob(ctx, tx, job, e); err != nil {
			return err
		}
		if err := s.refuseEncoding(ctx, tx, job, e, refusal); err != nil {
			return err
		}
		out = IntakeResult{Event: e}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error queueing customer %q: %w", email, err)
	}
	if created && refusal == "" {
		s.notify()
	}
	return &out, nil
}

// customerKnown reports whether HelpScout has the customer, or will once a
// pending creation runs.
func (s *Service) customerKnown(ctx context.Context, idb bun.IDB, email string) (bool, error) {
	var hsID *int64
	err := idb.NewSelect().Model((*db.Customer)(nil)).Column("helpscout_id").Where("email = ?", email).Scan(ctx, &hsID)
	if err != nil && !isNoRows(err) {
		return false, fmt.Errorf("error reading customer %q: %w", email, err)
	}
	if hsID != nil {
		return true, nil
	}
	return s.jobs.HasPendingCreate(ctx, idb, email)
}

// startJob writes an attempt's PENDING event and points the job at it.
func (s *Service) startJob(ctx context.Context, tx bun.Tx, job *db.SyncJob, e *db.SyncEvent) error {
	if err := s.events.Insert(ctx, tx, []*db.SyncEvent{e}); err != nil {
		return err
	}
	job.EventID = &e.ID
	if _, err := tx.NewUpdate().Model(job).Column("event_id").WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("error linking job %d to event %d: %w", job.ID, e.ID, err)
	}
	return nil
}

// upsertCustomer makes sure the customer has a row, with its name when
// given, and moves its last event time forward.
func upsertCustomer(ctx context.Context, idb bun.IDB, email string, name *string, at time.Time) error {
	_, err := idb.NewRaw(`INSERT INTO customers (email, name, last_event_at) VALUES (?, ?, ?)
		ON CONFLICT (email) DO UPDATE SET name = coalesce(EXCLUDED.name, customers.name),
			last_event_at = GREATEST(customers.last_event_at, EXCLUDED.last_event_at)`,
		email, name, at).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error saving customer %q: %w", email, err)
	}
	return nil
}

// customerDetails is what a customer event records of the record sent.
func customerDetails(in CustomerRecord) map[string]any {
	d := map[string]any{}
	var fields []string
	add := func(name string, v *string) {
		if v != nil && *v != "" {
			d[name] = printable(*v)
			fields = append(fields, name)
		}
	}
	add("firstName", in.FirstName)
	add("lastName", in.LastName)
	add("jobTitle", in.JobTitle)
	add("location", in.Location)
	add("organization", in.Organization)
	add("background", in.Background)
	add("phone", in.Phone)
	d["fields"] = fields
	return d
}

// normEmail is the form emails are stored in.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// fullName joins first and last name, nil when both are empty.
func fullName(first, last *string) *string {
	var parts []string
	for _, p := range []*string{first, last} {
		if p != nil && strings.TrimSpace(*p) != "" {
			parts = append(parts, strings.TrimSpace(*p))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	n := strings.Join(parts, " ")
	return &n
}

// excerpt cuts s to at most n bytes on a rune boundary, marking the cut.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// submissionTag is the tag put on the conversation of a submission, by
// which a later attempt finds it (see createConversation). HelpScout keeps
// tags lower-case and plain, so the readable part (the id, lower-cased,
// other characters as '-', at most 60 of them) can be the same for
// different ids ("Form-A7" and "form-a7"); the hash of the exact id that
// ends the tag keeps every submission's tag its own, so that a look-up
// never takes another submission's ticket for this one's.
func submissionTag(id string) string {
	var b strings.Builder
	b.WriteString("submission-")
	for _, r := range strings.ToLower(id) {
		if b.Len() >= len("submission-")+60 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(id))
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(sum[:6]))
	return b.String()
}

// printable replaces NUL characters, which PostgreSQL cannot store in
// jsonb, by the visible symbol for NUL (U+2400) in what the log shows.
func printable(s string) string { return strings.ReplaceAll(s, "\x00", "\u2400") }

// storable is s as a text column can hold it: each NUL as U+2400 and each
// byte that is not UTF-8 as U+FFFD, as a record refused for its encoding
// is stored (see encodingProblem). The email and name of such a record
// key and name its rows in the log.
func storable(s string) string { return strings.ToValidUTF8(printable(s), "\ufffd") }

// storablePtr is storable for an optional value.
func storablePtr(s *string) *string {
	if s == nil {
		return nil
	}
	v := storable(*s)
	return &v
}

// encodingProblem describes the first of the named values (name, value
// pairs) that HelpScout would refuse for its encoding (a NUL character or
// bytes that are not UTF-8), or returns "". Such values cannot be stored
// as they are either (jsonb holds neither), so the submission is logged as
// refused instead of being sent, as the client refuses bad UTF-8 itself.
func encodingProblem(pairs ...any) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		name, _ := pairs[i].(string)
		v, _ := pairs[i+1].(*string)
		if v == nil {
			continue
		}
		if !utf8.ValidString(*v) {
			return name + " is not valid UTF-8"
		}
		if strings.ContainsRune(*v, 0) {
			return name + " contains a NUL character"
		}
	}
	return ""
}

// refuseEncoding finishes a just-queued attempt as FAILED with
// INVALID_ENCODING when refusal says why; the job stops as FAILED and is
// never sent (see encodingProblem).
func (s *Service) refuseEncoding(ctx context.Context, tx bun.Tx, job *db.SyncJob, e *db.SyncEvent, refusal string) error {
	if refusal == "" {
		return nil
	}
	code := db.CodeInvalidEncoding
	msg := refusal + "; HelpScout does not accept it, so nothing was sent"
	zero := 0
	e.Status, e.ErrorCode, e.ErrorMessage, e.DurationMs = db.StatusFailed, &code, &msg, &zero
	e.Details["refusedBeforeSending"] = true
	// The refusal is the customer's latest attempt, as any failure is. The
	// transaction holds the customer row already (intake writes it before
	// the event), so this takes no new lock.
	if err := recordCustomerState(ctx, tx, e, e.OccurredAt); err != nil {
		return err
	}
	if err := s.jobs.FinishEvent(ctx, tx, e); err != nil {
		return err
	}
	c := string(code)
	job.State, job.LastErrorCode = db.JobFailed, &c
	job.Result = db.JSONText(`{"refused":"INVALID_ENCODING"}`)
	return s.jobs.Update(ctx, tx, job)
}
