// Package retention deletes what the log keeps no longer: events older
// than the configured number of days, sync jobs finished before then and
// API usage of those days. It deletes in small batches, each in its own
// transaction, so that no lock is held for long, and on one replica at a
// time.
package retention

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
)

// Defaults of Options.
const (
	// DefaultInterval is how often a replica looks for rows to delete.
	DefaultInterval = time.Hour
	// DefaultBatch is how many rows one statement deletes.
	DefaultBatch = 5000
)

// Options configure a Pruner.
type Options struct {
	// Days is how many days of events the log keeps; it must be positive.
	Days int
	// Interval is the time between rounds; DefaultInterval when zero.
	Interval time.Duration
	// Batch is how many rows one statement deletes; DefaultBatch when zero.
	Batch int
	// Log receives a line for every round that deleted something, and
	// the errors of rounds that failed.
	Log zerolog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Progress, when set, is called after every batch with what the round
	// has deleted so far.
	Progress func(db.Pruned)
}

// progressEvery is how often a long round logs how far it got.
const progressEvery = 30 * time.Second

// Pruner deletes, a round at a time, what lies beyond the retention.
type Pruner struct {
	store    *db.RetentionStore
	days     int
	interval time.Duration
	batch    int
	log      zerolog.Logger
	now      func() time.Time
	progress func(db.Pruned)

	deleted atomic.Int64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a pruner over bdb; nothing runs until Start.
func New(bdb *bun.DB, opts Options) *Pruner {
	p := &Pruner{
		store:    db.NewRetentionStore(bdb),
		days:     opts.Days,
		interval: opts.Interval,
		batch:    opts.Batch,
		log:      opts.Log,
		now:      opts.Now,
		progress: opts.Progress,
	}
	if p.interval <= 0 {
		p.interval = DefaultInterval
	}
	if p.batch <= 0 {
		p.batch = DefaultBatch
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Deleted returns how many events this process has deleted.
func (p *Pruner) Deleted() int64 { return p.deleted.Load() }

// Start runs a round at once and then one every interval, until Stop or
// the end of ctx.
func (p *Pruner) Start(ctx context.Context) error {
	if p.days <= 0 {
		return errors.New("retention: the number of days to keep must be positive")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return errors.New("retention: already started")
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.loop(ctx, p.done)
	return nil
}

// Stop ends the rounds, interrupting the batch in flight, and waits.
func (p *Pruner) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (p *Pruner) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		_, err := p.Run(ctx)
		switch {
		case errors.Is(err, ErrBusy):
			p.log.Debug().Msg("retention: another replica is deleting old rows")
		case err != nil && ctx.Err() == nil:
			p.log.Warn().Err(err).Msg("retention: deleting old rows failed; the next round tries again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrBusy says that another process was deleting: the round left the
// work to it.
var ErrBusy = errors.New("another process is deleting old rows")

// Cutoff is the time before which a round started now deletes.
func (p *Pruner) Cutoff() time.Time { return p.cutoff(p.now()) }

func (p *Pruner) cutoff(now time.Time) time.Time {
	return now.Add(-time.Duration(p.days) * 24 * time.Hour)
}

// Count counts what a round started now would delete.
func (p *Pruner) Count(ctx context.Context) (db.Pruned, error) {
	return p.store.Count(ctx, p.Cutoff())
}

// Run carries out one round: it deletes, batch after batch, the events
// older than the retention, then the finished jobs and the API usage of
// that time, and the rollup rows left empty. It stops early, with what it
// deleted so far and ErrBusy, when another replica is deleting. A long
// round logs how far it got every 30 seconds.
func (p *Pruner) Run(ctx context.Context) (db.Pruned, error) {
	start := p.now()
	cutoff := p.cutoff(start)
	lastLog := time.Now()
	var out db.Pruned
	counts := map[int]*int64{db.PruneEvents: &out.Events, db.PruneJobs: &out.Jobs, db.PruneUsage: &out.UsageMinutes}
	for _, kind := range []int{db.PruneEvents, db.PruneJobs, db.PruneUsage} {
		for {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			n, busy, err := p.store.PruneBatch(ctx, kind, cutoff, p.batch)
			if err != nil {
				return out, err
			}
			if busy {
				return out, ErrBusy
			}
			*counts[kind] += n
			if kind == db.PruneEvents {
				p.deleted.Add(n)
			}
			if p.progress != nil {
				p.progress(out)
			}
			if time.Since(lastLog) >= progressEvery {
				lastLog = time.Now()
				p.log.Info().Time("before", cutoff).Int64("events", out.Events).Int64("jobs", out.Jobs).
					Int64("usage_minutes", out.UsageMinutes).Msg("retention: still deleting")
			}
			if n < int64(p.batch) {
				break
			}
		}
	}
	if out.Events > 0 {
		if _, err := p.store.DropEmptyRollups(ctx, cutoff); err != nil {
			return out, err
		}
	}
	if out != (db.Pruned{}) {
		p.log.Info().Time("before", cutoff).Int64("events", out.Events).Int64("jobs", out.Jobs).
			Int64("usage_minutes", out.UsageMinutes).Dur("took", p.now().Sub(start)).
			Msgf("retention: deleted what is older than %d days", p.days)
	}
	return out, nil
}
