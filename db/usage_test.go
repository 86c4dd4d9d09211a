package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestUsageAddAndBuckets records calls in a few minutes of two hours and
// two days and reads them back in every bucket width.
func TestUsageAddAndBuckets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	us := db.NewUsageStore(dbtest.New(t))
	base := time.Date(2026, 11, 26, 23, 58, 0, 0, time.UTC)
	at := func(m int, s int) time.Time {
		return base.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}

	// Two writers add to the first minute (in separate calls and twice in
	// one call); the last minute is on the next day.
	require.NoError(t, us.Add(ctx, []db.APIUsageMinute{
		{Minute: at(0, 5), Calls: 3, Units: 5, MinRemaining: rptr(390), LimitPerMin: rptr(400)},
		{Minute: at(0, 40), Calls: 1, Units: 2, RateLimited: 1, MinRemaining: rptr(0)},
	}))
	require.NoError(t, us.Add(ctx, []db.APIUsageMinute{
		{Minute: at(0, 59), Calls: 2, Units: 2, Failed: 1, MinRemaining: rptr(380)},
		{Minute: at(1, 0), Calls: 10, Units: 20, MinRemaining: rptr(350)},
	}))
	require.NoError(t, us.Add(ctx, []db.APIUsageMinute{
		{Minute: at(3, 1), Calls: 4, Units: 4, LimitPerMin: rptr(200)},
	}))
	require.NoError(t, us.Add(ctx, nil))

	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	cases := []struct {
		unit     string
		from, to time.Time
		want     []db.UsageBucket
		loc      *time.Location
	}{
		{"minute", base.Add(-time.Hour), base.Add(time.Hour), []db.UsageBucket{
			{Start: at(0, 0), Calls: 6, Units: 9, RateLimited: 1, Failed: 1, PeakUnitsPerMinute: 9, MinRemaining: rptr(0)},
			{Start: at(1, 0), Calls: 10, Units: 20, PeakUnitsPerMinute: 20, MinRemaining: rptr(350)},
			{Start: at(3, 0), Calls: 4, Units: 4, PeakUnitsPerMinute: 4},
		}, nil},
		{"hour", base.Add(-time.Hour), base.Add(time.Hour), []db.UsageBucket{
			{Start: time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC), Calls: 16, Units: 29, RateLimited: 1, Failed: 1, PeakUnitsPerMinute: 20, MinRemaining: rptr(0)},
			{Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Calls: 4, Units: 4, PeakUnitsPerMinute: 4},
		}, nil},
		{"day", base.AddDate(0, 0, -2), base.AddDate(0, 0, 2), []db.UsageBucket{
			{Start: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Calls: 16, Units: 29, RateLimited: 1, Failed: 1, PeakUnitsPerMinute: 20, MinRemaining: rptr(0)},
			{Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Calls: 4, Units: 4, PeakUnitsPerMinute: 4},
		}, nil},
		// The minute holding from counts whole; to is exclusive.
		{"minute", at(1, 30), at(3, 0), []db.UsageBucket{
			{Start: at(1, 0), Calls: 10, Units: 20, PeakUnitsPerMinute: 20, MinRemaining: rptr(350)},
		}, nil},
		{"hour", base.Add(time.Hour), base.Add(2 * time.Hour), nil, nil},
		// In Kolkata every minute falls on the 27th, which began at 18:30 UTC
		// on the 26th; hours stay those of UTC.
		{"day", base.AddDate(0, 0, -2), base.AddDate(0, 0, 2), []db.UsageBucket{
			{Start: time.Date(2026, 11, 26, 18, 30, 0, 0, time.UTC), Calls: 20, Units: 33, RateLimited: 1, Failed: 1, PeakUnitsPerMinute: 20, MinRemaining: rptr(0)},
		}, kolkata},
		{"hour", base.Add(-time.Hour), base.Add(time.Hour), []db.UsageBucket{
			{Start: time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC), Calls: 16, Units: 29, RateLimited: 1, Failed: 1, PeakUnitsPerMinute: 20, MinRemaining: rptr(0)},
			{Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Calls: 4, Units: 4, PeakUnitsPerMinute: 4},
		}, kolkata},
	}
	for _, tc := range cases {
		got, err := us.Buckets(ctx, tc.from, tc.to, tc.unit, tc.loc)
		require.NoError(t, err, tc.unit)
		require.Equal(t, tc.want, got, "%s from %s to %s", tc.unit, tc.from, tc.to)
	}
	_, err = us.Buckets(ctx, base, base.Add(time.Hour), "week", nil)
	require.Error(t, err)

	// Havana's clocks go back from 01:00 to midnight on 1 November 2026:
	// the day begins at the first midnight (04:00 UTC), as the summary's
	// days and TODAY do, so 04:30 UTC belongs to it.
	havana, err := time.LoadLocation("America/Havana")
	require.NoError(t, err)
	require.NoError(t, us.Add(ctx, []db.APIUsageMinute{
		{Minute: time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC), Calls: 1, Units: 1},
		{Minute: time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC), Calls: 2, Units: 2},
	}))
	days, err := us.Buckets(ctx, time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), "day", havana)
	require.NoError(t, err)
	require.Equal(t, []db.UsageBucket{
		{Start: time.Date(2026, 10, 31, 4, 0, 0, 0, time.UTC), Calls: 1, Units: 1, PeakUnitsPerMinute: 1},
		{Start: time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), Calls: 2, Units: 2, PeakUnitsPerMinute: 2},
	}, days)

	limits := []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"latest in range", base, at(2, 0), 400},
		{"latest at all when the range states none", at(5, 0), at(9, 0), 200},
	}
	for _, tc := range limits {
		got, err := us.LimitPerMinute(ctx, tc.from, tc.to)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
}

// TestUsageLimitDefault falls back to the shared budget's limit when no
// answer stated one.
func TestUsageLimitDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	us := db.NewUsageStore(bdb)
	got, err := us.LimitPerMinute(ctx, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Equal(t, db.DefaultLimitPerMinute, got)
	_, err = bdb.ExecContext(ctx, "UPDATE helpscout_budget SET limit_per_min = 800")
	require.NoError(t, err)
	got, err = us.LimitPerMinute(ctx, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Equal(t, 800, got)
}

// TestBudgetView reads the shared budget as stored by the pacing: a stale
// window, reading or pause is not reported as current.
func TestBudgetView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	us := db.NewUsageStore(bdb)
	cases := []struct {
		name                          string
		set                           string
		used                          int
		remaining, readAt, pausedLeft bool
	}{
		{"current window", "window_start = date_trunc('minute', now()), used = 37, remaining = 300, read_at = now(), paused_until = now() + interval '20 seconds'",
			37, true, true, true},
		{"old window", "window_start = date_trunc('minute', now()) - interval '2 minutes', used = 37, remaining = 300, read_at = now() - interval '2 minutes', paused_until = now() - interval '1 minute'",
			0, false, true, false},
	}
	for _, tc := range cases {
		_, err := bdb.ExecContext(ctx, "UPDATE helpscout_budget SET "+tc.set+", limit_per_min = 400 WHERE id = 1")
		require.NoError(t, err, tc.name)
		before := time.Now().UTC().Truncate(time.Minute)
		b, err := us.Budget(ctx)
		require.NoError(t, err, tc.name)
		after := time.Now().UTC().Truncate(time.Minute)
		require.True(t, !b.WindowStart.Before(before) && !b.WindowStart.After(after), "%s: window %s", tc.name, b.WindowStart)
		require.Equal(t, 400, b.LimitPerMin, tc.name)
		if b.WindowStart.Equal(before) {
			require.Equal(t, tc.used, b.Used, tc.name)
		}
		require.Equal(t, tc.remaining, b.Remaining != nil, tc.name)
		require.Equal(t, tc.readAt, b.ReadAt != nil, tc.name)
		require.Equal(t, tc.pausedLeft, b.PausedUntil != nil, tc.name)
	}
}
