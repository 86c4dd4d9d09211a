package db

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// TableStat is one table's size.
type TableStat struct {
	Name          string `bun:"name"`
	EstimatedRows int64  `bun:"estimated_rows"`
	TableBytes    int64  `bun:"table_bytes"`
	IndexBytes    int64  `bun:"index_bytes"`
}

// IndexStat is one index's size and use.
type IndexStat struct {
	Name  string `bun:"name"`
	Table string `bun:"table"`
	Bytes int64  `bun:"bytes"`
	Scans int64  `bun:"scans"`
	Valid bool   `bun:"valid"`
}

// DatabaseStats is what the diagnostics query reports about the database.
type DatabaseStats struct {
	PostgresVersion string
	DatabaseBytes   int64
	Tables          []TableStat
	Indexes         []IndexStat
}

// DiagnosticsStore reads PostgreSQL's catalogues for support diagnostics.
type DiagnosticsStore struct {
	db *bun.DB
}

// NewDiagnosticsStore returns a store over bdb.
func NewDiagnosticsStore(bdb *bun.DB) *DiagnosticsStore { return &DiagnosticsStore{db: bdb} }

// Stats reads sizes, row estimates and index health of the public schema.
func (s *DiagnosticsStore) Stats(ctx context.Context) (*DatabaseStats, error) {
	st := new(DatabaseStats)
	err := s.db.NewRaw("SELECT current_setting('server_version'), pg_database_size(current_database())").
		Scan(ctx, &st.PostgresVersion, &st.DatabaseBytes)
	if err != nil {
		return nil, fmt.Errorf("error reading database size: %w", err)
	}
	err = s.db.NewRaw(`SELECT c.relname AS name, greatest(c.reltuples, 0)::bigint AS estimated_rows,
			pg_table_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		ORDER BY pg_total_relation_size(c.oid) DESC`).Scan(ctx, &st.Tables)
	if err != nil {
		return nil, fmt.Errorf("error reading table sizes: %w", err)
	}
	err = s.db.NewRaw(`SELECT s.indexrelname AS name, s.relname AS table, pg_relation_size(s.indexrelid) AS bytes,
			s.idx_scan AS scans, i.indisvalid AS valid
		FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
		WHERE s.schemaname = current_schema()
		ORDER BY s.relname, s.indexrelname`).Scan(ctx, &st.Indexes)
	if err != nil {
		return nil, fmt.Errorf("error reading index statistics: %w", err)
	}
	return st, nil
}
