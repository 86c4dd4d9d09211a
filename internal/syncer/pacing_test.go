package syncer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// TestReplicasShareBudget runs two replicas against an account whose
// limit is smaller than the work: they pace themselves through the shared
// budget into the next minute with zero 429s, and the low-budget warning
// is written once per minute window.
func TestReplicasShareBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("crosses a minute boundary")
	}
	t.Parallel()
	const limit = 24
	b := newPipe(t, pipeSetup{sim: helpscoutsim.Options{RateLimitPerMinute: limit},
		opts: func(o *Options) { o.Workers = 3 }})
	one, two := b.start(t), b.start(t)
	ctx := context.Background()
	const forms = 12 // 36 units: more than one window holds
	var ids []int64
	for i := range forms {
		svc := one
		if i%2 == 1 {
			svc = two
		}
		res, err := svc.SubmitContactForm(ctx, form(fmt.Sprintf("pace-%d", i), fmt.Sprintf("pace%d@example.com", i)), "service")
		require.NoError(t, err)
		ids = append(ids, res.Event.ID)
	}
	for _, id := range ids {
		e := b.waitFinished(t, id, 150*time.Second)
		require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	}
	st := b.sim.State()
	require.Zero(t, st.RateLimited, "no 429: %v", st.Requests)
	require.Equal(t, forms, st.ConversationsCreated)
	// Both replicas did work; a job is counted just after its commit.
	require.Eventually(t, func() bool { return one.jobsDone.Load() > 0 && two.jobsDone.Load() > 0 },
		5*time.Second, 5*time.Millisecond, "each replica finished a job")

	var warnings []struct {
		Window  string `bun:"window"`
		Message string `bun:"error_message"`
	}
	require.NoError(t, b.bdb.NewRaw(`SELECT details->>'window' AS window, error_message FROM sync_events
		WHERE type = 'ERROR' AND error_code = 'RATE_LIMITED' ORDER BY id`).Scan(ctx, &warnings))
	require.NotEmpty(t, warnings, "the budget ran low")
	seen := map[string]bool{}
	for _, w := range warnings {
		require.False(t, seen[w.Window], "one warning per window: %v", warnings)
		seen[w.Window] = true
		require.Regexp(t, `^HelpScout rate-limit budget low: \d+ of 24 units left this minute$`, w.Message)
	}
}

// TestBudgetReserve checks the shared window: units fit up to the limit,
// then the caller waits for the next minute; before any reading only a
// probe passes; a pause holds everybody.
func TestBudgetReserve(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	ctx := context.Background()
	bs := db.NewBudgetStore(b.bdb)
	// Stay clear of the window's end so that the test does not straddle it.
	waitFor(t, 10*time.Second, "at least 5 s left in the minute", func() bool {
		st, err := bs.Get(ctx)
		require.NoError(t, err)
		return st.Now.Truncate(time.Minute).Add(time.Minute).Sub(st.Now) >= 5*time.Second
	})

	r, err := bs.Reserve(ctx, 3, windowGuard)
	require.NoError(t, err)
	require.True(t, r.OK, "the probe passes")
	r, err = bs.Reserve(ctx, 1, windowGuard)
	require.NoError(t, err)
	require.False(t, r.OK, "nothing else until HelpScout told the limit")
	require.LessOrEqual(t, r.Wait, 100*time.Millisecond)

	st, err := bs.Observe(ctx, 10, 8, time.Now())
	require.NoError(t, err)
	require.Equal(t, 10, st.LimitPerMin)
	require.Equal(t, 3, st.Used, "our count stays when higher than HelpScout's")
	st, err = bs.Observe(ctx, 10, 4, time.Now())
	require.NoError(t, err)
	require.Equal(t, 6, st.Used, "HelpScout's count wins when higher (another client)")

	for range 4 {
		r, err = bs.Reserve(ctx, 1, windowGuard)
		require.NoError(t, err)
		require.True(t, r.OK)
	}
	r, err = bs.Reserve(ctx, 1, windowGuard)
	require.NoError(t, err)
	require.False(t, r.OK, "the window is full")
	next := r.State.Now.Truncate(time.Minute).Add(time.Minute)
	require.InDelta(t, next.Sub(r.State.Now).Seconds(), r.Wait.Seconds(), 0.05, "wait for the next window")

	require.NoError(t, bs.Refund(ctx, r.State.WindowStart, 2))
	r, err = bs.Reserve(ctx, 2, windowGuard)
	require.NoError(t, err)
	require.True(t, r.OK, "refunded units can be spent")

	require.NoError(t, bs.Pause(ctx, time.Now().Add(90*time.Second)))
	r, err = bs.Reserve(ctx, 1, windowGuard)
	require.NoError(t, err)
	require.False(t, r.OK)
	require.Greater(t, r.Wait, 80*time.Second, "a pause outlasts the window")

	first, err := bs.ClaimWarning(ctx, b.bdb, r.State.WindowStart)
	require.NoError(t, err)
	require.True(t, first)
	first, err = bs.ClaimWarning(ctx, b.bdb, r.State.WindowStart)
	require.NoError(t, err)
	require.False(t, first, "one warning per window")
}
