package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// JobKind says what a sync job does in HelpScout.
type JobKind string

// The job kinds.
const (
	// JobContactForm creates a conversation from a contact-form submission.
	JobContactForm JobKind = "CONTACT_FORM"
	// JobCustomerCreate creates a customer (or adopts the one HelpScout has).
	JobCustomerCreate JobKind = "CUSTOMER_CREATE"
	// JobCustomerUpdate changes a customer; it waits for the batch run.
	JobCustomerUpdate JobKind = "CUSTOMER_UPDATE"
)

// JobState is where a job stands.
type JobState string

// The job states.
const (
	// JobQueued waits until run_at.
	JobQueued JobState = "QUEUED"
	// JobRunning is claimed by a worker until locked_until.
	JobRunning JobState = "RUNNING"
	// JobDone succeeded.
	JobDone JobState = "DONE"
	// JobFailed stopped on a permanent error (or too many attempts) and
	// waits for someone to retry it.
	JobFailed JobState = "FAILED"
)

// BatchRunAt is the run_at of a customer update that waits for the next
// batch run: queued, but never due until the batch run makes it due.
var BatchRunAt = time.Date(9999, time.January, 1, 0, 0, 0, 0, time.UTC)

// SyncJob is one operation to carry out in HelpScout; each attempt is a
// sync event.
type SyncJob struct {
	bun.BaseModel `bun:"table:sync_jobs,alias:j"`

	// ID is the job's identity.
	ID int64 `bun:"id,pk,autoincrement"`
	// Kind says what the job does.
	Kind JobKind `bun:"kind,notnull"`
	// IdempotencyKey is unique per operation, e.g. contact-form:<id>.
	IdempotencyKey *string `bun:"idempotency_key"`
	// Payload is the record to send.
	Payload JSONText `bun:"payload,type:jsonb,notnull"`
	// State is where the job stands.
	State JobState `bun:"state,notnull"`
	// Attempts counts the claims so far.
	Attempts int `bun:"attempts,notnull"`
	// RunAt is when a queued job becomes due.
	RunAt time.Time `bun:"run_at,notnull"`
	// LockedBy is the worker holding a running job.
	LockedBy *string `bun:"locked_by"`
	// LockedUntil is when that worker's lease ends.
	LockedUntil *time.Time `bun:"locked_until"`
	// OutcomeUnknown says the previous attempt may have been carried out.
	OutcomeUnknown bool `bun:"outcome_unknown,notnull"`
	// CustomerEmail is the lower-cased email the job concerns.
	CustomerEmail *string `bun:"customer_email"`
	// EventID is the latest attempt's event.
	EventID *int64 `bun:"event_id"`
	// LastErrorCode is the latest failed attempt's code.
	LastErrorCode *string `bun:"last_error_code"`
	// Result is what the successful attempt produced.
	Result JSONText `bun:"result,type:jsonb,nullzero"`
	// Duplicates counts repeated submissions suppressed by the key.
	Duplicates int `bun:"duplicates,notnull"`
	// CreatedAt is when the job was queued.
	CreatedAt time.Time `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	// UpdatedAt is the latest change.
	UpdatedAt time.Time `bun:"updated_at,nullzero,notnull,default:current_timestamp"`
}

// JobStore reads and writes sync jobs and the events of their attempts.
type JobStore struct {
	db *bun.DB
}

// NewJobStore returns a store over bdb.
func NewJobStore(bdb *bun.DB) *JobStore { return &JobStore{db: bdb} }

// Insert writes a job unless another one has the same idempotency key; it
// reports whether it inserted (and then sets the job's id).
func (s *JobStore) Insert(ctx context.Context, idb bun.IDB, j *SyncJob) (bool, error) {
	res, err := idb.NewInsert().Model(j).
		ExcludeColumn("id", "created_at", "updated_at").
		On("CONFLICT (idempotency_key) DO NOTHING").
		Returning("id, created_at, updated_at").
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("error inserting sync job: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("error inserting sync job: %w", err)
	}
	return n == 1, nil
}

// Get returns the job with this id, or ErrNotFound.
func (s *JobStore) Get(ctx context.Context, idb bun.IDB, id int64) (*SyncJob, error) {
	j := new(SyncJob)
	err := idb.NewSelect().Model(j).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error reading sync job %d: %w", id, err)
	}
	return j, nil
}

// GetForUpdate returns the job with this id locked for the transaction,
// or ErrNotFound.
func (s *JobStore) GetForUpdate(ctx context.Context, tx bun.Tx, id int64) (*SyncJob, error) {
	j := new(SyncJob)
	err := tx.NewSelect().Model(j).Where("id = ?", id).For("UPDATE").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error locking sync job %d: %w", id, err)
	}
	return j, nil
}

// CountDuplicate adds one suppressed duplicate to the job with this
// idempotency key and returns the job, or ErrNotFound.
func (s *JobStore) CountDuplicate(ctx context.Context, idb bun.IDB, key string) (*SyncJob, error) {
	j := new(SyncJob)
	err := idb.NewUpdate().Model(j).
		Set("duplicates = duplicates + 1").
		Set("updated_at = now()").
		Where("idempotency_key = ?", key).
		Returning("*").
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error counting a duplicate of %q: %w", key, err)
	}
	return j, nil
}

// FirstEvent returns the first attempt's event of a job, or ErrNotFound.
func (s *JobStore) FirstEvent(ctx context.Context, idb bun.IDB, jobID int64) (*SyncEvent, error) {
	e := new(SyncEvent)
	err := idb.NewSelect().Model(e).Where("job_id = ?", jobID).OrderExpr("id ASC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error reading the first event of job %d: %w", jobID, err)
	}
	return e, nil
}

// MarkDuplicate records on an event that a repeated submission was
// suppressed: details.duplicateSubmissions and details.lastDuplicateAt.
// It is an UPDATE of the event so that the live feed shows it.
func (s *JobStore) MarkDuplicate(ctx context.Context, idb bun.IDB, eventID int64, count int, at time.Time) (*SyncEvent, error) {
	e := new(SyncEvent)
	patch, err := json.Marshal(map[string]any{"duplicateSubmissions": count, "lastDuplicateAt": at.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return nil, fmt.Errorf("error encoding the duplicate mark: %w", err)
	}
	_, err = idb.NewUpdate().Model(e).
		Set("details = coalesce(details, '{}'::jsonb) || ?::jsonb", string(patch)).
		Where("id = ?", eventID).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("error marking event %d as duplicated: %w", eventID, err)
	}
	if err := idb.NewSelect().Model(e).Where("id = ?", eventID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading event %d: %w", eventID, err)
	}
	return e, nil
}

// HasPendingCreate reports whether a customer-create job for this email is
// waiting or running.
func (s *JobStore) HasPendingCreate(ctx context.Context, idb bun.IDB, email string) (bool, error) {
	n, err := idb.NewSelect().Model((*SyncJob)(nil)).
		Where("customer_email = ?", email).
		Where("kind = ?", JobCustomerCreate).
		Where("state IN (?)", bun.In([]JobState{JobQueued, JobRunning})).
		Limit(1).
		Count(ctx)
	if err != nil {
		return false, fmt.Errorf("error looking for a pending customer create of %q: %w", email, err)
	}
	return n > 0, nil
}

// Claim takes the oldest due job, marks it RUNNING under a lease held by
// worker until lease from now, and counts the attempt. It skips jobs other
// workers hold (FOR UPDATE SKIP LOCKED) and returns nil when none is due.
func (s *JobStore) Claim(ctx context.Context, worker string, lease time.Duration) (*SyncJob, error) {
	j := new(SyncJob)
	err := s.db.NewRaw(`UPDATE sync_jobs SET state = 'RUNNING', locked_by = ?, locked_until = clock_timestamp() + ?::interval,
			attempts = attempts + 1, updated_at = now()
		WHERE id = (SELECT id FROM sync_jobs WHERE state = 'QUEUED' AND run_at <= now()
			ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING *`, worker, interval(lease)).Scan(ctx, j)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error claiming a sync job: %w", err)
	}
	return j, nil
}

// Renew extends the lease of a job worker holds; it reports false when the
// worker no longer holds it.
func (s *JobStore) Renew(ctx context.Context, id int64, worker string, lease time.Duration) (bool, error) {
	res, err := s.db.NewRaw(`UPDATE sync_jobs SET locked_until = clock_timestamp() + ?::interval
		WHERE id = ? AND state = 'RUNNING' AND locked_by = ?`, interval(lease), id, worker).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("error renewing the lease of job %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("error renewing the lease of job %d: %w", id, err)
	}
	return n == 1, nil
}

// LockHeld locks a running job that worker still holds, for the
// transaction that finishes its attempt; it returns ErrNotFound when the
// lease was lost.
func (s *JobStore) LockHeld(ctx context.Context, tx bun.Tx, id int64, worker string) (*SyncJob, error) {
	j := new(SyncJob)
	err := tx.NewSelect().Model(j).
		Where("id = ? AND state = 'RUNNING' AND locked_by = ?", id, worker).
		For("UPDATE").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error locking running job %d: %w", id, err)
	}
	return j, nil
}

// LockExpired locks up to limit running jobs whose lease ended (their
// worker stopped), skipping those another replica is reclaiming.
func (s *JobStore) LockExpired(ctx context.Context, tx bun.Tx, limit int) ([]*SyncJob, error) {
	var jobs []*SyncJob
	err := tx.NewSelect().Model(&jobs).
		Where("state = 'RUNNING' AND locked_until < clock_timestamp()").
		OrderExpr("locked_until, id").
		Limit(int64(limit)).
		For("UPDATE SKIP LOCKED").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error locking expired sync jobs: %w", err)
	}
	return jobs, nil
}

// Update writes a job's state columns (state, run_at, lease, outcome,
// latest event, error, result, attempts) and stamps updated_at.
func (s *JobStore) Update(ctx context.Context, idb bun.IDB, j *SyncJob) error {
	_, err := idb.NewUpdate().Model(j).
		Column("state", "run_at", "locked_by", "locked_until", "outcome_unknown", "event_id",
			"last_error_code", "result", "attempts").
		Set("updated_at = now()").
		WherePK().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error updating sync job %d: %w", j.ID, err)
	}
	return nil
}

// UpdatePayload replaces a job's payload.
func (s *JobStore) UpdatePayload(ctx context.Context, idb bun.IDB, id int64, payload json.RawMessage) error {
	_, err := idb.NewUpdate().Model((*SyncJob)(nil)).Set("payload = ?", string(payload)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error updating the payload of sync job %d: %w", id, err)
	}
	return nil
}

// UpdateRecord replaces what a job sends: its payload and the customer
// email it concerns.
func (s *JobStore) UpdateRecord(ctx context.Context, idb bun.IDB, j *SyncJob) error {
	_, err := idb.NewUpdate().Model(j).Column("customer_email").
		Set("payload = ?", j.Payload).Set("updated_at = now()").WherePK().Exec(ctx)
	if err != nil {
		return fmt.Errorf("error updating the record of sync job %d: %w", j.ID, err)
	}
	return nil
}

// FinishEvent writes the outcome of an attempt onto its event: status,
// error columns, conversation, details and duration.
func (s *JobStore) FinishEvent(ctx context.Context, idb bun.IDB, e *SyncEvent) error {
	_, err := idb.NewUpdate().Model(e).
		Column("status", "error_code", "error_message", "http_status", "duration_ms",
			"conversation_id", "ticket_number", "details", "source").
		WherePK().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error finishing sync event %d: %w", e.ID, err)
	}
	return nil
}

// Event returns an event locked for the transaction, or ErrNotFound.
func (s *JobStore) Event(ctx context.Context, tx bun.Tx, id int64) (*SyncEvent, error) {
	e := new(SyncEvent)
	err := tx.NewSelect().Model(e).Where("id = ?", id).For("UPDATE").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error locking sync event %d: %w", id, err)
	}
	return e, nil
}

// WaitingUpdates locks the customer updates that wait for the batch run,
// oldest first, skipping those another replica holds.
func (s *JobStore) WaitingUpdates(ctx context.Context, tx bun.Tx, limit int) ([]*SyncJob, error) {
	var jobs []*SyncJob
	err := tx.NewSelect().Model(&jobs).
		Where("state = 'QUEUED' AND kind = ? AND run_at = ?", JobCustomerUpdate, BatchRunAt).
		OrderExpr("id").
		Limit(int64(limit)).
		For("UPDATE SKIP LOCKED").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error locking waiting customer updates: %w", err)
	}
	return jobs, nil
}

// ByEvent returns the job an event is an attempt of, locked for the
// transaction, or ErrNotFound.
func (s *JobStore) ByEvent(ctx context.Context, tx bun.Tx, e *SyncEvent) (*SyncJob, error) {
	if e.JobID == nil {
		return nil, ErrNotFound
	}
	return s.GetForUpdate(ctx, tx, *e.JobID)
}

// InsertQueued writes a new job, the PENDING event of its first attempt,
// and the customer's row (name when given, last event time), in one
// statement, so that intake costs one round trip. It reports false, and
// writes nothing, when another job has the same idempotency key.
//
// Lock order: the statement takes the customer row before the rollup rows
// (its rollup trigger runs at the end of the statement). Every writer of
// events does the same, writing customers and conversations first and
// events last, since the rollup rows are shared by all of them: two
// transactions then never wait on each other in a cycle.
func (s *JobStore) InsertQueued(ctx context.Context, idb bun.IDB, j *SyncJob, e *SyncEvent, customerName *string) (bool, error) {
	var row struct {
		JobID   int64 `bun:"job_id"`
		EventID int64 `bun:"event_id"`
	}
	err := idb.NewRaw(`WITH ids AS (
			SELECT nextval(pg_get_serial_sequence('sync_jobs', 'id')) AS job_id,
				nextval(pg_get_serial_sequence('sync_events', 'id')) AS event_id),
		job AS (
			INSERT INTO sync_jobs (id, kind, idempotency_key, payload, state, run_at, customer_email, event_id)
			OVERRIDING SYSTEM VALUE
			SELECT ids.job_id, ?0, ?1, ?2::jsonb, ?3, ?4, ?5, ids.event_id FROM ids
			ON CONFLICT (idempotency_key) DO NOTHING
			RETURNING id, event_id),
		cust AS (
			INSERT INTO customers (email, name, last_event_at) SELECT ?5, ?6, ?7 FROM job
			ON CONFLICT (email) DO UPDATE SET name = coalesce(EXCLUDED.name, customers.name),
				last_event_at = GREATEST(customers.last_event_at, EXCLUDED.last_event_at))
		INSERT INTO sync_events (id, occurred_at, type, status, direction, customer_email, details, attempt,
			source, source_ref, actor, job_id)
		OVERRIDING SYSTEM VALUE
		SELECT job.event_id, ?7, ?8, ?9, ?10, ?5, ?11::jsonb, ?12, ?13, ?14, ?15, job.id FROM job
		RETURNING job_id, id AS event_id`,
		j.Kind, j.IdempotencyKey, j.Payload, j.State, j.RunAt, j.CustomerEmail, customerName,
		e.OccurredAt, e.Type, e.Status, e.Direction, e.Details, e.Attempt, e.Source, e.SourceRef, e.Actor,
	).Scan(ctx, &row)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("error queueing sync job: %w", err)
	}
	j.ID, j.EventID = row.JobID, &row.EventID
	e.ID, e.JobID, e.CustomerEmail = row.EventID, &row.JobID, j.CustomerEmail
	return true, nil
}
