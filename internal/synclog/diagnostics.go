package synclog

import (
	"context"
	"time"

	"github.com/kivalogic/helpscout-log/db"
)

// Diagnostics is what the vendor's support wants to know about a deployment.
type Diagnostics struct {
	Stats             *db.DatabaseStats
	CurrentMigration  string
	PendingMigrations []string
	PoolOpen          int
	PoolInUse         int
	PoolIdle          int
	PoolMaxOpen       int
	PoolWaitCount     int64
	OldestEventAt     *time.Time
	NewestEventAt     *time.Time
	Version           string
	RetentionDays     int
}

// Diagnostics gathers database size, index health, migration state, pool
// figures and the log's time span.
func (s *Service) Diagnostics(ctx context.Context) (*Diagnostics, error) {
	st, err := s.Diag.Stats(ctx)
	if err != nil {
		return nil, err
	}
	cur, pending, err := db.MigrationState(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	oldest, newest, err := s.Events.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	ps := s.DB.Stats()
	return &Diagnostics{
		Stats: st, CurrentMigration: cur, PendingMigrations: pending,
		PoolOpen: ps.OpenConnections, PoolInUse: ps.InUse, PoolIdle: ps.Idle,
		PoolMaxOpen: ps.MaxOpenConnections, PoolWaitCount: ps.WaitCount,
		OldestEventAt: oldest, NewestEventAt: newest, Version: s.Version,
		RetentionDays: s.RetentionDays,
	}, nil
}
