package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// BudgetState is the row of helpscout_budget: the units every replica
// together spent in the current minute window, HelpScout's latest reading
// and the pause after a 429.
type BudgetState struct {
	// WindowStart is the minute the units were spent in.
	WindowStart time.Time `bun:"window_start"`
	// Used is the units reserved (or reported used by HelpScout) in it.
	Used int `bun:"used"`
	// LimitPerMin is the account's limit, as HelpScout last reported it.
	LimitPerMin int `bun:"limit_per_min"`
	// Remaining is HelpScout's latest X-RateLimit-Remaining-Minute.
	Remaining *int `bun:"remaining"`
	// ReadAt is when HelpScout's headers were last read; nil until then.
	ReadAt *time.Time `bun:"read_at"`
	// PausedUntil is when calls may resume after a 429.
	PausedUntil *time.Time `bun:"paused_until"`
	// WarnedWindow is the latest window a low-budget event was written for.
	WarnedWindow *time.Time `bun:"warned_window"`
	// Now is the database clock when the row was read.
	Now time.Time `bun:"now"`
}

// Reservation is the outcome of BudgetStore.Reserve.
type Reservation struct {
	// OK reports that the units were reserved.
	OK bool
	// Wait is how long to wait before asking again, when not OK.
	Wait time.Duration
	// State is the budget after the reservation (or as it stood).
	State BudgetState
}

// ProbeUnits is what may be spent in a window before HelpScout has ever
// told us the account's limit: one operation, whose answer tells it.
const ProbeUnits = 3

// BudgetStore shares HelpScout's per-minute rate limit between replicas.
// The window is the database's clock minute, as HelpScout (and Kong's
// fixed-window rate limiting) count per clock minute.
type BudgetStore struct {
	db *bun.DB
}

// NewBudgetStore returns a store over bdb.
func NewBudgetStore(bdb *bun.DB) *BudgetStore { return &BudgetStore{db: bdb} }

// Reserve atomically adds units to the current minute window when they fit
// under the limit, no pause is in force, and more than guard is left of
// the minute (so that the request reaches HelpScout inside the window it
// was counted in). Otherwise it reports how long to wait: until the pause
// ends or the next window starts. Until HelpScout has sent a reading, a
// window admits only ProbeUnits.
func (s *BudgetStore) Reserve(ctx context.Context, units int, guard time.Duration) (Reservation, error) {
	var st BudgetState
	err := s.db.NewRaw(`WITH w AS (SELECT clock_timestamp() AS t, date_trunc('minute', clock_timestamp()) AS ws)
		UPDATE helpscout_budget b SET window_start = w.ws,
			used = (CASE WHEN b.window_start = w.ws THEN b.used ELSE 0 END) + ?0,
			remaining = CASE WHEN b.window_start = w.ws THEN b.remaining END
		FROM w
		WHERE b.id = 1 AND b.window_start <= w.ws
			AND (b.paused_until IS NULL OR b.paused_until <= w.t)
			AND w.t < w.ws + interval '1 minute' - ?1::interval
			AND (CASE WHEN b.window_start = w.ws THEN b.used ELSE 0 END) + ?0 <= b.limit_per_min
			AND (b.read_at IS NOT NULL OR (CASE WHEN b.window_start = w.ws THEN b.used ELSE 0 END) + ?0 <= ?2)
		RETURNING b.window_start, b.used, b.limit_per_min, b.remaining, b.read_at, b.paused_until, b.warned_window, w.t AS now`,
		units, interval(guard), ProbeUnits).Scan(ctx, &st)
	if err == nil {
		return Reservation{OK: true, State: st}, nil
	}
	if !isNoRows(err) {
		return Reservation{}, fmt.Errorf("error reserving %d rate-limit units: %w", units, err)
	}
	st, err = s.Get(ctx)
	if err != nil {
		return Reservation{}, err
	}
	r := Reservation{State: st}
	ws := st.Now.Truncate(time.Minute)
	next := ws.Add(time.Minute)
	used := st.Used
	if !st.WindowStart.Equal(ws) {
		used = 0
	}
	switch {
	case st.PausedUntil != nil && st.PausedUntil.After(st.Now):
		r.Wait = st.PausedUntil.Sub(st.Now)
	case st.WindowStart.After(ws):
		r.Wait = st.WindowStart.Sub(st.Now)
	case !st.Now.Before(next.Add(-guard)) || used+units > st.LimitPerMin:
		r.Wait = next.Sub(st.Now)
	case st.ReadAt == nil:
		// A probe is out; its answer will tell the limit.
		r.Wait = 50 * time.Millisecond
	default:
		r.Wait = 10 * time.Millisecond
	}
	return r, nil
}

// Get returns the budget row with the database clock.
func (s *BudgetStore) Get(ctx context.Context) (BudgetState, error) {
	var st BudgetState
	err := s.db.NewRaw(`SELECT window_start, used, limit_per_min, remaining, read_at, paused_until, warned_window,
		clock_timestamp() AS now FROM helpscout_budget WHERE id = 1`).Scan(ctx, &st)
	if err != nil {
		return BudgetState{}, fmt.Errorf("error reading the rate-limit budget: %w", err)
	}
	return st, nil
}

// Refund gives back units reserved in window but not spent (a request
// that was never sent); units of an older window are gone anyway.
func (s *BudgetStore) Refund(ctx context.Context, window time.Time, units int) error {
	if units <= 0 {
		return nil
	}
	_, err := s.db.NewRaw(`UPDATE helpscout_budget SET used = GREATEST(used - ?, 0) WHERE id = 1 AND window_start = ?`,
		units, window).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error refunding %d rate-limit units: %w", units, err)
	}
	return nil
}

// Observe records a reading of HelpScout's headers taken at at: the limit,
// and, for the current window, raises the units used to what HelpScout
// counted (other clients of the account spend from the same budget). A
// negative limit or remaining means the header was absent.
func (s *BudgetStore) Observe(ctx context.Context, limit, remaining int, at time.Time) (BudgetState, error) {
	var st BudgetState
	var lim, rem *int
	if limit > 0 {
		lim = &limit
	}
	if remaining >= 0 {
		rem = &remaining
	}
	ws := at.UTC().Truncate(time.Minute)
	err := s.db.NewRaw(`UPDATE helpscout_budget SET
			limit_per_min = coalesce(?0, limit_per_min),
			remaining = CASE WHEN window_start = ?2 THEN coalesce(?1, remaining) ELSE remaining END,
			read_at = ?3,
			used = CASE WHEN window_start = ?2 AND ?1::int IS NOT NULL
				THEN GREATEST(used, coalesce(?0, limit_per_min) - ?1::int) ELSE used END
		WHERE id = 1
		RETURNING window_start, used, limit_per_min, remaining, read_at, paused_until, warned_window, clock_timestamp() AS now`,
		lim, rem, ws, at.UTC()).Scan(ctx, &st)
	if err != nil {
		return BudgetState{}, fmt.Errorf("error recording a rate-limit reading: %w", err)
	}
	return st, nil
}

// Pause makes every replica wait until until (after a 429); an existing
// later pause is kept.
func (s *BudgetStore) Pause(ctx context.Context, until time.Time) error {
	_, err := s.db.NewRaw(`UPDATE helpscout_budget SET paused_until = GREATEST(coalesce(paused_until, ?0), ?0) WHERE id = 1`,
		until.UTC()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error pausing HelpScout calls: %w", err)
	}
	return nil
}

// ClaimWarning reports whether the caller is the first to warn about a low
// budget in window; it records the window so that no other replica warns
// again in it.
func (s *BudgetStore) ClaimWarning(ctx context.Context, idb bun.IDB, window time.Time) (bool, error) {
	res, err := idb.NewRaw(`UPDATE helpscout_budget SET warned_window = ?0
		WHERE id = 1 AND (warned_window IS NULL OR warned_window < ?0)`, window.UTC()).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("error claiming the low-budget warning: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("error claiming the low-budget warning: %w", err)
	}
	return n == 1, nil
}

// Left is the units still available in the state's window, the lower of
// our count and HelpScout's reading.
func (st BudgetState) Left() int {
	left := st.LimitPerMin - st.Used
	if st.Remaining != nil && *st.Remaining < left {
		left = *st.Remaining
	}
	return max(left, 0)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
