package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/faillog"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

const (
	// heartbeatInterval is how often a process refreshes its worker row.
	heartbeatInterval = 5 * time.Second
	// aliveWithin is how recent a heartbeat must be for its worker to count as alive.
	aliveWithin = 30 * time.Second
	// pruneAfter is how long a silent worker's row is kept (a process that
	// crashed could not remove it).
	pruneAfter = time.Hour
	// pruneEvery is how often a process prunes silent workers.
	pruneEvery = time.Minute
	// maxWorkersShown caps the heartbeats the queue lists.
	maxWorkersShown = 100
	// connectionTestTimeout bounds testHelpScoutConnection.
	connectionTestTimeout = 20 * time.Second
	// connectionTestBudgetWait is how long a connection test waits for
	// rate-limit budget before it reports the budget spent.
	connectionTestBudgetWait = 5 * time.Second
)

// Budget returns the shared rate-limit budget of the current minute.
func (s *Service) Budget(ctx context.Context) (*Budget, error) {
	v, err := db.NewUsageStore(s.db).Budget(ctx)
	if err != nil {
		return nil, err
	}
	return &Budget{
		Limit: v.LimitPerMin, Used: v.Used, Remaining: v.Remaining,
		WindowStart: v.WindowStart, ReadAt: v.ReadAt, PausedUntil: v.PausedUntil,
	}, nil
}

// Queue describes the queue, the workers and the budget.
func (s *Service) Queue(ctx context.Context) (*Queue, error) {
	ws := db.NewWorkerStore(s.db)
	counts, err := ws.Queue(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := ws.List(ctx, aliveWithin, maxWorkersShown)
	if err != nil {
		return nil, err
	}
	budget, err := s.Budget(ctx)
	if err != nil {
		return nil, err
	}
	q := &Queue{
		Queued: counts.Queued, Due: counts.Due, Running: counts.Running, Failed: counts.Failed,
		OldestDueAt: counts.OldestDueAt, Workers: make([]Worker, 0, len(rows)), Budget: budget,
	}
	for _, w := range rows {
		q.Workers = append(q.Workers, Worker{
			ID: w.ID, Hostname: w.Hostname, Version: w.Version, StartedAt: w.StartedAt, LastSeenAt: w.HeartbeatAt,
			Alive: w.Alive, JobsDone: int(w.JobsDone), JobsFailed: int(w.JobsFailed),
		})
	}
	if t := s.client.TokenExpiry(); !t.IsZero() {
		t = t.UTC()
		q.TokenExpiresAt = &t
	}
	return q, nil
}

// TestConnection fetches a token and reads the configured mailbox with the
// settings in force, and reports the outcome with HelpScout's own message.
// A failure is an outcome, not an error.
func (s *Service) TestConnection(ctx context.Context) (*ConnectionTest, error) {
	if _, err := s.refresh(ctx, 0); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, connectionTestTimeout)
	defer cancel()
	start := time.Now()
	// The mailbox read costs one unit of the budget the workers share, so
	// that a test never pushes them into a 429.
	window, wait, err := s.reserveForTest(ctx)
	if err != nil {
		return nil, err
	}
	if window.IsZero() {
		code := db.CodeRateLimited
		return &ConnectionTest{
			OK: false, ErrorCode: &code, DurationMs: int(time.Since(start).Milliseconds()),
			Message: fmt.Sprintf("The rate-limit budget the workers share is spent (%s): try again in %d seconds; HelpScout was not called.",
				code, int(wait.Round(time.Second)/time.Second)+1),
		}, nil
	}
	var (
		mb  *helpscout.Mailbox
		res helpscout.Result
	)
	if id := s.client.MailboxID(); id != 0 {
		mb, res, err = s.client.GetMailbox(ctx, id)
	} else {
		res, err = s.client.Ping(ctx)
	}
	elapsed := time.Since(start)
	s.afterCall(context.WithoutCancel(ctx), res, err, window, 1)

	out := &ConnectionTest{OK: err == nil, DurationMs: int(elapsed.Milliseconds())}
	if err == nil && res.Status != 0 {
		st := res.Status
		out.HTTPStatus = &st
	}
	if t := s.client.TokenExpiry(); !t.IsZero() {
		t = t.UTC()
		out.TokenExpiresAt = &t
	}
	if rl := res.RateLimit; !rl.At.IsZero() {
		out.RateLimit = readingBudget(rl)
	}
	if err != nil {
		code := helpscout.CodeOf(err)
		out.ErrorCode = &code
		out.Message = connectionMessage(code, err)
		// The status of the answer that failed, if HelpScout answered at all.
		var he *helpscout.Error
		if errors.As(err, &he) && he.Status != 0 {
			st := he.Status
			out.HTTPStatus = &st
		}
		s.log.Warn().Str("error_code", string(code)).Interface("http_status", out.HTTPStatus).
			Str("helpscout_message", out.Message).Msg("HelpScout connection test failed")
		return out, nil
	}
	name := mb.Name
	out.MailboxName = &name
	out.Message = fmt.Sprintf("Connected to HelpScout: mailbox %q (%d) found.", mb.Name, mb.ID)
	s.log.Info().Int64("mailbox_id", mb.ID).Int("duration_ms", out.DurationMs).Msg("HelpScout connection test passed")
	return out, nil
}

// reserveForTest reserves one unit of the shared budget, waiting at most
// connectionTestBudgetWait. It returns the window reserved in, or the zero
// time and how long the budget stays spent.
func (s *Service) reserveForTest(ctx context.Context) (time.Time, time.Duration, error) {
	deadline := time.Now().Add(connectionTestBudgetWait)
	for {
		r, err := s.budget.Reserve(ctx, 1, windowGuard)
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("error reserving rate-limit budget for the connection test: %w", err)
		}
		if r.OK {
			return r.State.WindowStart, 0, nil
		}
		if time.Now().Add(r.Wait).After(deadline) {
			return time.Time{}, r.Wait, nil
		}
		t := time.NewTimer(r.Wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, 0, fmt.Errorf("error waiting for rate-limit budget: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// connectionMessage explains a failed test with HelpScout's message.
func connectionMessage(code db.ErrorCode, err error) string {
	var he *helpscout.Error
	msg := ""
	if errors.As(err, &he) {
		msg = he.Message
	}
	if msg == "" {
		msg = "no further detail"
	}
	lead := map[db.ErrorCode]string{
		db.CodeAuthenticationFailed: "HelpScout refused the credentials",
		db.CodeMailboxNotFound:      "The mailbox was not found",
		db.CodeRateLimited:          "HelpScout's rate limit is reached",
		db.CodeTimeout:              "HelpScout did not answer in time",
		db.CodeHelpScoutUnavailable: "HelpScout is unavailable",
	}[code]
	if lead == "" {
		lead = "The connection test failed"
	}
	return fmt.Sprintf("%s (%s): %s", lead, code, msg)
}

// readingBudget shows one answer's rate-limit headers as a budget.
func readingBudget(rl helpscout.RateLimitState) *Budget {
	at := rl.At.UTC()
	b := &Budget{Limit: rl.Limit, WindowStart: at.Truncate(time.Minute), ReadAt: &at}
	if rl.Remaining >= 0 {
		rem := rl.Remaining
		b.Remaining = &rem
		if rl.Limit >= 0 {
			b.Used = max(rl.Limit-rem, 0)
		}
	}
	if b.Limit < 0 {
		b.Limit = 0
	}
	if rl.RetryAfter > 0 {
		until := at.Add(rl.RetryAfter)
		b.PausedUntil = &until
	}
	return b
}

// runHeartbeats refreshes this process's worker row until ctx ends, re-reads
// the settings so that changes saved through other replicas apply, and
// removes the row on the way out. Failures are logged, never fatal.
func (s *Service) runHeartbeats(ctx context.Context) {
	s.heartbeatLoop(ctx, heartbeatInterval)
}

func (s *Service) heartbeatLoop(ctx context.Context, every time.Duration) {
	host, _ := os.Hostname()
	s.admin.mu.Lock()
	if s.admin.startedAt.IsZero() {
		s.admin.startedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	started := s.admin.startedAt
	s.admin.mu.Unlock()
	ws := db.NewWorkerStore(s.db)
	var beats, rereads faillog.Run
	beat := func() {
		w := &db.WorkerHeartbeat{
			ID: s.workerID, Hostname: host, Version: s.opts.Version, StartedAt: started,
			JobsDone: s.jobsDone.Load(), JobsFailed: s.jobsFailed.Load(),
		}
		bctx, cancel := context.WithTimeout(ctx, every)
		defer cancel()
		switch err := ws.Beat(bctx, w); {
		case err != nil && ctx.Err() == nil:
			beats.Failed(&s.log, zerolog.WarnLevel).Err(err).Msg("error recording heartbeat")
		case err == nil:
			beats.Succeeded(&s.log).Msg("recording heartbeats works again")
		}
	}
	beat()
	if _, err := ws.Prune(ctx, pruneAfter); err != nil && ctx.Err() == nil {
		s.log.Warn().Err(err).Msg("error pruning silent workers")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := ws.Remove(rctx, s.workerID); err != nil {
				s.log.Warn().Err(err).Msg("error removing worker heartbeat")
			}
			return
		case <-t.C:
			beat()
			if tick%int(max(pruneEvery/every, 1)) == 0 {
				if _, err := ws.Prune(ctx, pruneAfter); err != nil && ctx.Err() == nil {
					s.log.Warn().Err(err).Msg("error pruning silent workers")
				}
			}
			switch _, err := s.refresh(ctx, settingsMaxAge-every/2); {
			case err != nil && ctx.Err() == nil:
				rereads.Failed(&s.log, zerolog.WarnLevel).Err(err).Msg("error re-reading integration settings")
			case err == nil:
				rereads.Succeeded(&s.log).Msg("re-reading integration settings works again")
			}
		}
	}
}
