package graph

import (
	"encoding/json"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/graph/model"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

func viewerModel(c *auth.Caller) *model.Viewer {
	v := &model.Viewer{
		Subject:     c.Subject,
		Role:        c.Role,
		CanRetry:    c.Role.Satisfies(auth.RoleAdministrator),
		CanDiagnose: c.Role.Satisfies(auth.RoleKivaAdmin),
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt
		v.ExpiresAt = &t
	}
	return v
}

func diagnosticsModel(d *synclog.Diagnostics) *model.Diagnostics {
	m := &model.Diagnostics{
		PostgresVersion: d.Stats.PostgresVersion,
		DatabaseBytes:   int(d.Stats.DatabaseBytes),
		Tables:          make([]*db.TableStat, len(d.Stats.Tables)),
		Indexes:         make([]*db.IndexStat, len(d.Stats.Indexes)),
		Migrations:      &model.MigrationStatus{Pending: d.PendingMigrations},
		Pool: &model.PoolStat{
			Open: d.PoolOpen, InUse: d.PoolInUse, Idle: d.PoolIdle,
			MaxOpen: d.PoolMaxOpen, WaitCount: int(d.PoolWaitCount),
		},
		OldestEventAt: d.OldestEventAt,
		NewestEventAt: d.NewestEventAt,
		Version:       d.Version,
	}
	if m.Migrations.Pending == nil {
		m.Migrations.Pending = []string{}
	}
	if d.CurrentMigration != "" {
		cur := d.CurrentMigration
		m.Migrations.Current = &cur
	}
	if d.RetentionDays > 0 {
		days := d.RetentionDays
		m.RetentionDays = &days
	}
	for i := range d.Stats.Tables {
		m.Tables[i] = &d.Stats.Tables[i]
	}
	for i := range d.Stats.Indexes {
		m.Indexes[i] = &d.Stats.Indexes[i]
	}
	return m
}

// summaryKey identifies a summary subscription's arguments, so that
// subscribers asking for the same summary share one computation.
func summaryKey(w synclog.RelativeRange, f *synclog.FilterInput) string {
	b, _ := json.Marshal(struct {
		W synclog.RelativeRange
		F *synclog.FilterInput
	}{w, f})
	return string(b)
}
