package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// retentionLockKey is the transaction advisory lock each retention batch
// takes, so that one replica at a time deletes.
const retentionLockKey = 0x48534c5254 // "HSLRT"

// RetentionStore deletes what the log no longer keeps.
type RetentionStore struct {
	db *bun.DB
}

// NewRetentionStore returns a store over bdb.
func NewRetentionStore(bdb *bun.DB) *RetentionStore { return &RetentionStore{db: bdb} }

// Pruned counts the rows one retention step deleted.
type Pruned struct {
	// Events, Jobs and UsageMinutes count deleted sync events, finished
	// sync jobs and minutes of API usage.
	Events, Jobs, UsageMinutes int64
}

// The kinds of rows PruneBatch deletes.
const (
	// PruneEvents deletes sync events, oldest first. Retries that outlive
	// the attempt they retried lose their retry_of. Events of jobs still
	// queued or running are kept, for the attempts to come link to them.
	PruneEvents = iota
	// PruneJobs deletes finished (DONE or FAILED) sync jobs last changed
	// before the cutoff.
	PruneJobs
	// PruneUsage deletes minutes of API usage.
	PruneUsage
)

// PruneBatch deletes up to limit rows of one kind older than cutoff, in
// one transaction, and returns how many. busy reports that another process
// is deleting at that moment (it holds the retention lock): the caller
// leaves the work to it.
func (s *RetentionStore) PruneBatch(ctx context.Context, kind int, cutoff time.Time, limit int) (n int64, busy bool, err error) {
	var query string
	switch kind {
	case PruneEvents:
		query = `DELETE FROM sync_events WHERE id = ANY(ARRAY(
			SELECT id FROM sync_events
			WHERE occurred_at < ?0
			  AND id NOT IN (
				SELECT event_id FROM sync_jobs WHERE state = 'QUEUED' AND event_id IS NOT NULL
				UNION ALL
				SELECT event_id FROM sync_jobs WHERE state = 'RUNNING' AND event_id IS NOT NULL)
			ORDER BY occurred_at, id
			LIMIT ?1))`
	case PruneJobs:
		query = `DELETE FROM sync_jobs WHERE id = ANY(ARRAY(
			SELECT id FROM sync_jobs
			WHERE state IN ('DONE', 'FAILED') AND updated_at < ?0
			ORDER BY id
			LIMIT ?1))`
	case PruneUsage:
		query = `DELETE FROM helpscout_api_usage WHERE minute = ANY(ARRAY(
			SELECT minute FROM helpscout_api_usage WHERE minute < ?0 ORDER BY minute LIMIT ?1))`
	default:
		return 0, false, fmt.Errorf("unknown kind of rows to prune: %d", kind)
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var locked bool
		if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", int64(retentionLockKey)).Scan(ctx, &locked); err != nil {
			return err
		}
		if !locked {
			busy = true
			return nil
		}
		res, err := tx.NewRaw(query, cutoff, limit).Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("error deleting rows older than %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return n, busy, nil
}

// Count counts what lies before cutoff: the events PruneEvents would
// delete, the finished jobs and the minutes of API usage.
func (s *RetentionStore) Count(ctx context.Context, cutoff time.Time) (Pruned, error) {
	var c Pruned
	err := s.db.NewRaw(`SELECT
		(SELECT count(*) FROM sync_events WHERE occurred_at < ?0) AS events,
		(SELECT count(*) FROM sync_jobs WHERE state IN ('DONE', 'FAILED') AND updated_at < ?0) AS jobs,
		(SELECT count(*) FROM helpscout_api_usage WHERE minute < ?0) AS usage_minutes`, cutoff).
		Scan(ctx, &c.Events, &c.Jobs, &c.UsageMinutes)
	if err != nil {
		return c, fmt.Errorf("error counting rows older than %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return c, nil
}

// DropEmptyRollups deletes the rollup rows (five-minute, hourly, daily) before cutoff
// that count nothing any more: those of deleted events.
func (s *RetentionStore) DropEmptyRollups(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	for _, table := range []string{"sync_event_5min", "sync_event_hourly", "sync_event_daily"} {
		res, err := s.db.NewRaw("DELETE FROM ? WHERE bucket < ? AND n = 0", bun.Ident(table), cutoff).Exec(ctx)
		if err != nil {
			return n, fmt.Errorf("error deleting empty rollups: %w", err)
		}
		d, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += d
	}
	return n, nil
}
