package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// DefaultLimitPerMinute is the HelpScout rate limit assumed until an answer
// states it (the Plus plan's 400 units per minute).
const DefaultLimitPerMinute = 400

// APIUsageMinute is HelpScout API use in one minute, a row of
// helpscout_api_usage.
type APIUsageMinute struct {
	bun.BaseModel `bun:"table:helpscout_api_usage,alias:u"`

	// Minute is the minute's first instant (UTC).
	Minute time.Time `bun:"minute,pk"`
	// Calls counts API requests (token requests excluded).
	Calls int `bun:"calls,notnull"`
	// Units counts the rate-limit units they cost.
	Units int `bun:"units,notnull"`
	// RateLimited counts 429 answers.
	RateLimited int `bun:"rate_limited,notnull"`
	// Failed counts other failed requests.
	Failed int `bun:"failed,notnull"`
	// MinRemaining is the lowest remaining budget HelpScout reported.
	MinRemaining *int `bun:"min_remaining"`
	// LimitPerMin is the latest limit HelpScout reported.
	LimitPerMin *int `bun:"limit_per_min"`
}

// UsageBucket is API use aggregated over one bucket.
type UsageBucket struct {
	// Start is the bucket's first instant (UTC).
	Start time.Time `bun:"start"`
	// Calls counts API requests.
	Calls int `bun:"calls"`
	// Units counts rate-limit units.
	Units int `bun:"units"`
	// RateLimited counts 429 answers.
	RateLimited int `bun:"rate_limited"`
	// Failed counts other failures.
	Failed int `bun:"failed"`
	// PeakUnitsPerMinute is the busiest minute's units.
	PeakUnitsPerMinute int `bun:"peak"`
	// MinRemaining is the lowest remaining budget reported.
	MinRemaining *int `bun:"min_remaining"`
}

// BudgetView is the shared rate-limit budget as read for display, judged
// against the database's clock.
type BudgetView struct {
	// WindowStart is the current minute.
	WindowStart time.Time `bun:"window_start"`
	// Used is what was spent in the current minute; 0 when the stored
	// window is older.
	Used int `bun:"used"`
	// LimitPerMin is the units allowed per minute.
	LimitPerMin int `bun:"limit_per_min"`
	// Remaining is HelpScout's latest reading, when it was taken in the
	// current minute.
	Remaining *int `bun:"remaining"`
	// ReadAt is when HelpScout's headers were last read.
	ReadAt *time.Time `bun:"read_at"`
	// PausedUntil is set while a pause after a 429 lasts.
	PausedUntil *time.Time `bun:"paused_until"`
}

// UsageStore records and reports HelpScout API use.
type UsageStore struct {
	db bun.IDB
}

// NewUsageStore returns a store over idb.
func NewUsageStore(idb bun.IDB) *UsageStore { return &UsageStore{db: idb} }

// MergeUsageMinutes returns rows with one row per minute (UTC), oldest
// first, as Add stores them: counts are summed, the lowest remaining
// reading is kept and the latest stated limit. rows is left as it was.
func MergeUsageMinutes(rows []APIUsageMinute) []APIUsageMinute {
	if len(rows) == 0 {
		return nil
	}
	rows = slices.Clone(rows)
	for i := range rows {
		rows[i].Minute = rows[i].Minute.UTC().Truncate(time.Minute)
	}
	slices.SortStableFunc(rows, func(a, b APIUsageMinute) int { return a.Minute.Compare(b.Minute) })
	merged := rows[:1]
	for _, r := range rows[1:] {
		last := &merged[len(merged)-1]
		if !r.Minute.Equal(last.Minute) {
			merged = append(merged, r)
			continue
		}
		last.Calls += r.Calls
		last.Units += r.Units
		last.RateLimited += r.RateLimited
		last.Failed += r.Failed
		if r.MinRemaining != nil && (last.MinRemaining == nil || *r.MinRemaining < *last.MinRemaining) {
			last.MinRemaining = r.MinRemaining
		}
		if r.LimitPerMin != nil {
			last.LimitPerMin = r.LimitPerMin
		}
	}
	return merged
}

// Add adds each row to its minute's totals: counts are summed, the lowest
// remaining reading is kept and a stated limit replaces the stored one.
func (s *UsageStore) Add(ctx context.Context, rows []APIUsageMinute) error {
	if len(rows) == 0 {
		return nil
	}
	// One row per minute, in order, so that concurrent writers lock rows
	// in the same order.
	merged := MergeUsageMinutes(rows)
	_, err := s.db.NewInsert().Model(&merged).
		On("CONFLICT (minute) DO UPDATE").
		Set("calls = u.calls + EXCLUDED.calls").
		Set("units = u.units + EXCLUDED.units").
		Set("rate_limited = u.rate_limited + EXCLUDED.rate_limited").
		Set("failed = u.failed + EXCLUDED.failed").
		Set("min_remaining = LEAST(u.min_remaining, EXCLUDED.min_remaining)").
		Set("limit_per_min = COALESCE(EXCLUDED.limit_per_min, u.limit_per_min)").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error recording API usage: %w", err)
	}
	return nil
}

// bucketUnits are the date_trunc units of the bucket widths.
var bucketUnits = map[string]bool{"minute": true, "hour": true, "day": true}

// Buckets aggregates the minutes in [from, to) into buckets of unit
// ("minute", "hour" or "day"), oldest first; buckets without rows are left
// out. The minute holding from counts whole. Minutes and hours are those
// of UTC; days begin at midnight in loc (UTC when nil).
func (s *UsageStore) Buckets(ctx context.Context, from, to time.Time, unit string, loc *time.Location) ([]UsageBucket, error) {
	if !bucketUnits[unit] {
		return nil, fmt.Errorf("error aggregating API usage: unknown bucket unit %q", unit)
	}
	q := s.db.NewSelect().TableExpr("helpscout_api_usage AS u")
	if unit == "day" && loc != nil && loc != time.UTC {
		// The days of loc as the summary and TODAY cut them: each minute
		// goes to the last day start at or before it.
		days := pgdialect.Array(LocalDays(from.Truncate(time.Minute), to, loc))
		q = q.ColumnExpr("(?::timestamptz[])[width_bucket(u.minute, ?::timestamptz[])] AS start", days, days)
	} else {
		q = q.ColumnExpr("date_trunc(?, u.minute, 'UTC') AS start", unit)
	}
	var out []UsageBucket
	err := q.
		ColumnExpr("sum(u.calls)::int AS calls").
		ColumnExpr("sum(u.units)::int AS units").
		ColumnExpr("sum(u.rate_limited)::int AS rate_limited").
		ColumnExpr("sum(u.failed)::int AS failed").
		ColumnExpr("max(u.units) AS peak").
		ColumnExpr("min(u.min_remaining) AS min_remaining").
		Where("u.minute >= date_trunc('minute', ?::timestamptz, 'UTC')", from.UTC()).
		Where("u.minute < ?", to.UTC()).
		GroupExpr("1").
		OrderExpr("1").
		Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("error aggregating API usage: %w", err)
	}
	for i := range out {
		out[i].Start = out[i].Start.UTC()
	}
	return out, nil
}

// LimitPerMinute returns the account's limit as last stated: the latest
// limit recorded in [from, to), else the latest recorded at all, else the
// shared budget's limit, else DefaultLimitPerMinute.
func (s *UsageStore) LimitPerMinute(ctx context.Context, from, to time.Time) (int, error) {
	var limit int
	err := s.db.NewRaw(`SELECT COALESCE(
		(SELECT limit_per_min FROM helpscout_api_usage
		  WHERE limit_per_min IS NOT NULL AND minute >= date_trunc('minute', ?::timestamptz, 'UTC') AND minute < ?
		  ORDER BY minute DESC LIMIT 1),
		(SELECT limit_per_min FROM helpscout_api_usage WHERE limit_per_min IS NOT NULL ORDER BY minute DESC LIMIT 1),
		(SELECT limit_per_min FROM helpscout_budget WHERE id = 1),
		?)`, from.UTC(), to.UTC(), DefaultLimitPerMinute).Scan(ctx, &limit)
	if err != nil {
		return 0, fmt.Errorf("error reading the API limit: %w", err)
	}
	return limit, nil
}

// Budget reads the shared rate-limit budget. A window older than the
// current minute reports nothing used; a HelpScout reading from an older
// minute and a pause that has ended are left out.
func (s *UsageStore) Budget(ctx context.Context) (*BudgetView, error) {
	var v BudgetView
	err := s.db.NewRaw(`SELECT date_trunc('minute', now(), 'UTC') AS window_start,
		CASE WHEN b.window_start >= date_trunc('minute', now(), 'UTC') THEN b.used ELSE 0 END AS used,
		b.limit_per_min,
		CASE WHEN b.read_at >= date_trunc('minute', now(), 'UTC') THEN b.remaining END AS remaining,
		b.read_at,
		CASE WHEN b.paused_until > now() THEN b.paused_until END AS paused_until
		FROM helpscout_budget AS b WHERE b.id = 1`).Scan(ctx, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return &BudgetView{WindowStart: time.Now().UTC().Truncate(time.Minute), LimitPerMin: DefaultLimitPerMinute}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading the rate-limit budget: %w", err)
	}
	v.WindowStart = v.WindowStart.UTC()
	if v.ReadAt != nil {
		t := v.ReadAt.UTC()
		v.ReadAt = &t
	}
	if v.PausedUntil != nil {
		t := v.PausedUntil.UTC()
		v.PausedUntil = &t
	}
	return &v, nil
}
