package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

// summaryMode is a width of timeline buckets and the zone of its days.
type summaryMode struct {
	bucket db.TimeBucket
	loc    *time.Location
}

// TestDayCacheFollowsChanges keeps one store's tallies of finished days
// across changes to those days, and checks after each change that its
// daily summaries equal those read from the rollups alone.
func TestDayCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newRollLog(t, 1500, 11)
	// Events of the last three days too, up to now, so that ranges
	// reach into today, which is never kept.
	_, err := l.bdb.ExecContext(ctx, `INSERT INTO sync_events (occurred_at, type, status, direction, error_code, source)
		SELECT now() - i * interval '13 minutes', (ARRAY['TICKET_CREATED', 'CUSTOMER_SYNCED', 'CONVERSATION_UPDATED'])[1 + i % 3],
			(ARRAY['SUCCESS', 'FAILED', 'PENDING', 'SUCCESS'])[1 + i % 4], (ARRAY['TO_HELPSCOUT', 'FROM_HELPSCOUT'])[1 + i % 2],
			CASE WHEN i % 4 = 1 THEN 'TIMEOUT' END, 'BATCH'
		FROM generate_series(0, 330) AS i`)
	require.NoError(t, err)
	now := time.Now()
	kept := db.NewRollupStore(l.bdb)
	fresh := kept.Uncached()
	at := func(d, h, m int) *time.Time {
		v := rollBase.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		return &v
	}
	filters := []struct {
		name string
		f    db.EventFilter
	}{
		{"whole log", db.EventFilter{From: at(-1, 23, 0), To: at(rollDays, 1, 0)}},
		{"the last three days and the next hour", db.EventFilter{From: rptr(now.Add(-72 * time.Hour)), To: rptr(now.Add(time.Hour))}},
		{"partial days and hours", db.EventFilter{From: at(0, 5, 30), To: at(3, 7, 15)}},
		{"one day", db.EventFilter{From: at(1, 0, 0), To: at(2, 0, 0)}},
		{"failures by code", db.EventFilter{From: at(0, 2, 0), To: at(4, 22, 0), Statuses: []db.EventStatus{db.StatusFailed},
			ErrorCodes: []db.ErrorCode{db.ErrorCodes[0], db.ErrorCodes[1]}}},
		{"tickets to HelpScout", db.EventFilter{From: at(0, 0, 0), To: at(rollDays, 0, 0), Types: []db.EventType{db.EventTicketCreated},
			Directions: []db.Direction{db.DirectionToHelpScout}}},
		{"same dimensions listed otherwise", db.EventFilter{From: at(0, 0, 0), To: at(rollDays, 0, 0),
			Types: []db.EventType{db.EventTicketCreated, db.EventTicketCreated}, Directions: []db.Direction{db.DirectionToHelpScout}}},
	}
	// The widths and zones of timelines: UTC days, hours, and the days of
	// zones whole hours off UTC and of one off by half an hour, whose
	// finished UTC days are cut at their midnights.
	var modes []summaryMode
	for _, m := range []struct {
		bucket db.TimeBucket
		zone   string
	}{{db.BucketDay, "UTC"}, {db.BucketHour, "UTC"}, {db.BucketDay, "Europe/Berlin"}, {db.BucketDay, "America/Chicago"}, {db.BucketDay, "Asia/Kolkata"}} {
		loc, err := time.LoadLocation(m.zone)
		require.NoError(t, err)
		modes = append(modes, summaryMode{m.bucket, loc})
	}
	const keptModes = 5
	check := func(step string) {
		t.Helper()
		for _, mode := range modes {
			for _, c := range filters {
				got, err := kept.Summarize(ctx, c.f, mode.bucket, mode.loc)
				require.NoError(t, err)
				want, err := fresh.Summarize(ctx, c.f, mode.bucket, mode.loc)
				require.NoError(t, err)
				require.Equal(t, want, got, "%s in %s buckets of %s after %s", c.name, mode.bucket, mode.loc, step)
			}
		}
	}

	check("the first reads")
	// For each timeline kept, "one day" finds its day kept by "whole
	// log", and the last filter finds the days of the one before it,
	// which selects the same events.
	reads := int64(keptModes * len(filters))
	hits, misses := kept.DayCacheStats()
	require.Equal(t, int64(2*keptModes), hits)
	require.Equal(t, reads-2*keptModes, misses)
	check("nothing")
	hits, misses = kept.DayCacheStats()
	require.Equal(t, reads+2*keptModes, hits, "the second reads used the kept days")
	require.Equal(t, reads-2*keptModes, misses)
	h, m := fresh.DayCacheStats()
	require.Zero(t, h+m, "an uncached store keeps nothing")

	steps := []struct {
		name string
		sql  string
	}{
		{"pending to success", `UPDATE sync_events SET status = 'SUCCESS' WHERE status = 'PENDING' AND id % 3 = 0`},
		{"failed reclassified", `UPDATE sync_events SET error_code = 'UNKNOWN' WHERE status = 'FAILED' AND id % 4 = 1`},
		{"moved to the next day", `UPDATE sync_events SET occurred_at = occurred_at + interval '1 day' WHERE id % 9 = 2`},
		{"moved within its hour", `UPDATE sync_events SET occurred_at = date_trunc('hour', occurred_at) WHERE id % 5 = 1`},
		{"one late event", `INSERT INTO sync_events (occurred_at, type, status, direction, error_code, source)
			VALUES ('2026-11-21T10:11:12Z', 'TICKET_CREATED', 'FAILED', 'TO_HELPSCOUT', 'TIMEOUT', 'BATCH')`},
		{"delete some", `DELETE FROM sync_events WHERE id % 17 = 0`},
		{"delete a whole day", `DELETE FROM sync_events WHERE occurred_at >= '2026-11-22T00:00:00Z' AND occurred_at < '2026-11-23T00:00:00Z'`},
		{"no-op update", `UPDATE sync_events SET status = status WHERE id % 2 = 0`},
	}
	for _, s := range steps {
		_, err := l.bdb.ExecContext(ctx, s.sql)
		require.NoError(t, err, s.name)
		check(s.name)
	}

	// A change not yet committed is not seen; once committed, it is.
	tx, err := l.bdb.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `UPDATE sync_events SET status = 'FAILED', error_code = 'RATE_LIMITED' WHERE id % 3 = 1`)
	require.NoError(t, err)
	check("an uncommitted change")
	require.NoError(t, tx.Commit())
	check("its commit")
}
