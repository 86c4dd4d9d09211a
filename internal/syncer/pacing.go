package syncer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// windowGuard is the end of each minute in which no request is started:
// a request reserved in one minute must reach HelpScout in that minute,
// since HelpScout counts per clock minute.
const windowGuard = 400 * time.Millisecond

// lowBudgetShare is the share of the limit under which a low-budget ERROR
// event is written (once per window).
const lowBudgetShare = 0.10

// errStopping ends an attempt that was still waiting for rate-limit budget
// when the Service stopped: its job is given back untouched.
var errStopping = errors.New("the sync workers are stopping")

// callValue is call for an operation that also returns a value.
func callValue[T any](s *Service, ctx context.Context, units int, op func(ctx context.Context) (T, helpscout.Result, error)) (T, helpscout.Result, error) {
	var v T
	res, err := s.call(ctx, units, func(ctx context.Context) (helpscout.Result, error) {
		var (
			r   helpscout.Result
			err error
		)
		v, r, err = op(ctx)
		return r, err
	})
	return v, res, err
}

// call carries out one HelpScout operation under the shared budget: it
// reserves units in the current minute window (waiting for the next
// window, or for a pause after a 429, when they do not fit), runs op, and
// records what HelpScout said about the budget.
func (s *Service) call(ctx context.Context, units int, op func(ctx context.Context) (helpscout.Result, error)) (helpscout.Result, error) {
	window, err := s.reserve(ctx, units)
	if err != nil {
		return helpscout.Result{}, err
	}
	res, opErr := op(ctx)
	s.afterCall(context.WithoutCancel(ctx), res, opErr, window, units)
	return res, opErr
}

// reserve waits until units fit in the shared budget and reserves them;
// it returns the window they were counted in.
func (s *Service) reserve(ctx context.Context, units int) (time.Time, error) {
	for {
		r, err := s.budget.Reserve(ctx, units, windowGuard)
		if err != nil {
			return time.Time{}, err
		}
		if r.OK {
			s.maybeWarn(ctx, r.State)
			return r.State.WindowStart, nil
		}
		// A little jitter spreads the replicas that wake for a new window.
		wait := r.Wait + time.Duration(rand.Int64N(int64(20*time.Millisecond)))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, fmt.Errorf("error waiting for the HelpScout rate-limit budget: %w", ctx.Err())
		case <-s.run.stopping:
			t.Stop()
			return time.Time{}, errStopping
		case <-t.C:
		}
	}
}

// afterCall records the operation's API usage, gives back units reserved
// for requests that were not sent, aligns the budget with HelpScout's
// reading, and makes every replica pause after a 429.
func (s *Service) afterCall(ctx context.Context, res helpscout.Result, opErr error, window time.Time, reserved int) {
	s.recordUsage(ctx, res)
	_, spent := res.APICalls()
	if spent < reserved {
		if err := s.budget.Refund(ctx, window, reserved-spent); err != nil {
			s.log.Warn().Err(err).Msg("rate-limit refund failed")
		}
	}
	if rl := res.RateLimit; !rl.At.IsZero() && (rl.Limit > 0 || rl.Remaining >= 0) {
		st, err := s.budget.Observe(ctx, rl.Limit, rl.Remaining, rl.At)
		if err != nil {
			s.log.Warn().Err(err).Msg("recording the rate-limit reading failed")
		} else {
			s.maybeWarn(ctx, st)
		}
	}
	if he, ok := asHelpScoutError(opErr); ok && he.Code == db.CodeRateLimited {
		wait := he.RetryAfter
		if wait <= 0 {
			wait = helpscout.DefaultRetryAfter
		}
		if err := s.budget.Pause(ctx, time.Now().Add(wait)); err != nil {
			s.log.Warn().Err(err).Msg("pausing after a 429 failed")
		}
		s.log.Warn().Dur("retry_after_ms", wait).Msg("HelpScout rate limit reached; every replica pauses")
	}
}

// maybeWarn writes the low-budget ERROR event when less than a tenth of
// the limit is left in the state's window, once per window across replicas.
func (s *Service) maybeWarn(ctx context.Context, st db.BudgetState) {
	if st.LimitPerMin <= 0 || st.ReadAt == nil {
		return
	}
	if st.WarnedWindow != nil && !st.WarnedWindow.Before(st.WindowStart) {
		return
	}
	left := st.Left()
	if float64(left) >= lowBudgetShare*float64(st.LimitPerMin) {
		return
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		first, err := s.budget.ClaimWarning(ctx, tx, st.WindowStart)
		if err != nil || !first {
			return err
		}
		msg := fmt.Sprintf("HelpScout rate-limit budget low: %d of %d units left this minute", left, st.LimitPerMin)
		details := map[string]any{"window": st.WindowStart.UTC().Format(time.RFC3339), "limit": st.LimitPerMin,
			"used": st.Used, "left": left, "worker": s.workerID}
		if st.Remaining != nil {
			details["remaining"] = *st.Remaining
		}
		code := db.CodeRateLimited
		e := &db.SyncEvent{OccurredAt: time.Now().UTC(), Type: db.EventError, Status: db.StatusFailed,
			Direction: db.DirectionToHelpScout, Source: db.SourceBatch, ErrorCode: &code, ErrorMessage: &msg,
			Details: details, Attempt: 1}
		if err := s.events.Insert(ctx, tx, []*db.SyncEvent{e}); err != nil {
			return err
		}
		s.log.Warn().Int("left", left).Int("limit", st.LimitPerMin).Msg(msg)
		return nil
	})
	if err != nil {
		s.log.Warn().Err(err).Msg("writing the low-budget warning failed")
	}
}
