package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// WorkerHeartbeat is a row of sync_workers: one running worker process as
// its latest heartbeat shows it.
type WorkerHeartbeat struct {
	bun.BaseModel `bun:"table:sync_workers,alias:w"`

	// ID names the process (host, pid and a sequence number).
	ID string `bun:"id,pk"`
	// Hostname is the host the process runs on.
	Hostname string `bun:"hostname,notnull"`
	// Version is the build's version.
	Version string `bun:"version,notnull"`
	// StartedAt is when the process started its workers.
	StartedAt time.Time `bun:"started_at,notnull"`
	// HeartbeatAt is the latest heartbeat, by the database's clock.
	HeartbeatAt time.Time `bun:"heartbeat_at,notnull"`
	// JobsDone counts the attempts that succeeded.
	JobsDone int64 `bun:"jobs_done,notnull"`
	// JobsFailed counts the attempts that failed.
	JobsFailed int64 `bun:"jobs_failed,notnull"`
	// Alive reports a heartbeat within the liveness window; computed by List.
	Alive bool `bun:"alive,scanonly"`
}

// QueueCounts are the sync jobs by state.
type QueueCounts struct {
	// Queued counts waiting jobs, due or not.
	Queued int `bun:"queued"`
	// Due counts queued jobs whose run_at has come.
	Due int `bun:"due"`
	// Running counts claimed jobs.
	Running int `bun:"running"`
	// Failed counts jobs stopped by a permanent error.
	Failed int `bun:"failed"`
	// OldestDueAt is the run_at of the oldest due job.
	OldestDueAt *time.Time `bun:"oldest_due_at"`
}

// WorkerStore records worker heartbeats and reports the queue.
type WorkerStore struct {
	db bun.IDB
}

// NewWorkerStore returns a store over idb.
func NewWorkerStore(idb bun.IDB) *WorkerStore { return &WorkerStore{db: idb} }

// Beat creates or refreshes w's row with the database's clock as its
// heartbeat.
func (s *WorkerStore) Beat(ctx context.Context, w *WorkerHeartbeat) error {
	_, err := s.db.NewInsert().Model(w).
		Value("heartbeat_at", "now()").
		On("CONFLICT (id) DO UPDATE").
		Set("hostname = EXCLUDED.hostname").
		Set("version = EXCLUDED.version").
		Set("heartbeat_at = EXCLUDED.heartbeat_at").
		Set("jobs_done = EXCLUDED.jobs_done").
		Set("jobs_failed = EXCLUDED.jobs_failed").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error recording heartbeat of worker %s: %w", w.ID, err)
	}
	return nil
}

// Remove deletes the row of worker id.
func (s *WorkerStore) Remove(ctx context.Context, id string) error {
	if _, err := s.db.NewDelete().Model((*WorkerHeartbeat)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("error removing worker %s: %w", id, err)
	}
	return nil
}

// Prune deletes the rows of workers silent for longer than olderThan
// (processes that ended without removing their row), and returns how many.
func (s *WorkerStore) Prune(ctx context.Context, olderThan time.Duration) (int, error) {
	res, err := s.db.NewDelete().Model((*WorkerHeartbeat)(nil)).
		Where("heartbeat_at < now() - ?::interval", fmt.Sprintf("%d milliseconds", olderThan.Milliseconds())).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("error pruning silent workers: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// List returns up to limit workers, latest heartbeat first; Alive is set for
// those heard from within aliveWithin.
func (s *WorkerStore) List(ctx context.Context, aliveWithin time.Duration, limit int) ([]*WorkerHeartbeat, error) {
	var out []*WorkerHeartbeat
	err := s.db.NewSelect().Model(&out).
		ColumnExpr("w.*").
		ColumnExpr("w.heartbeat_at > now() - ?::interval AS alive", fmt.Sprintf("%d milliseconds", aliveWithin.Milliseconds())).
		OrderExpr("w.heartbeat_at DESC, w.id").
		Limit(int64(limit)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error listing workers: %w", err)
	}
	for _, w := range out {
		w.StartedAt, w.HeartbeatAt = w.StartedAt.UTC(), w.HeartbeatAt.UTC()
	}
	return out, nil
}

// Queue counts the sync jobs by state, each count from its partial index.
func (s *WorkerStore) Queue(ctx context.Context) (*QueueCounts, error) {
	var q QueueCounts
	err := s.db.NewRaw(`SELECT
		(SELECT count(*) FROM sync_jobs WHERE state = 'QUEUED')::int AS queued,
		(SELECT count(*) FROM sync_jobs WHERE state = 'QUEUED' AND run_at <= now())::int AS due,
		(SELECT count(*) FROM sync_jobs WHERE state = 'RUNNING')::int AS running,
		(SELECT count(*) FROM sync_jobs WHERE state = 'FAILED')::int AS failed,
		(SELECT min(run_at) FROM sync_jobs WHERE state = 'QUEUED' AND run_at <= now()) AS oldest_due_at`).Scan(ctx, &q)
	if err != nil {
		return nil, fmt.Errorf("error counting sync jobs: %w", err)
	}
	if q.OldestDueAt != nil {
		t := q.OldestDueAt.UTC()
		q.OldestDueAt = &t
	}
	return &q, nil
}
