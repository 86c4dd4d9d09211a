package dbtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

// RequireRollupsMatchEvents fails t unless the five-minute, hourly and
// daily rollup tables equal a fresh grouping of the events they
// summarise, without a negative count; step names the change just made in
// the message.
func RequireRollupsMatchEvents(t testing.TB, bdb *bun.DB, step string) {
	t.Helper()
	ctx := context.Background()
	type row struct {
		Bucket    int64  `bun:"bucket"`
		Type      string `bun:"type"`
		Status    string `bun:"status"`
		Direction string `bun:"direction"`
		ErrorCode string `bun:"error_code"`
		N         int64  `bun:"n"`
	}
	for _, r := range []struct{ unit, table string }{
		{"5 minutes", "sync_event_5min"}, {"1 hour", "sync_event_hourly"}, {"1 day", "sync_event_daily"},
	} {
		var got, want []row
		require.NoError(t, bdb.NewRaw(`SELECT extract(epoch FROM bucket)::bigint AS bucket, type, status, direction, error_code, n
			FROM `+r.table+` WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5`).Scan(ctx, &got))
		require.NoError(t, bdb.NewRaw(`SELECT extract(epoch FROM date_bin(?::interval, occurred_at, 'epoch'))::bigint AS bucket,
			type, status, direction, coalesce(error_code, '') AS error_code, count(*) AS n
			FROM sync_events GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, r.unit).Scan(ctx, &want))
		require.Equal(t, want, got, "%s rollups after %s", r.unit, step)
		var negative int
		require.NoError(t, bdb.NewRaw(`SELECT count(*) FROM `+r.table+` WHERE n < 0`).Scan(ctx, &negative))
		require.Zero(t, negative, "negative %s rollup counts after %s", r.unit, step)
	}
}
