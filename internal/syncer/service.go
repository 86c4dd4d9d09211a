// Package syncer performs the synchronization with HelpScout: intake
// writes a job and a PENDING event in one transaction, workers on every
// replica claim due jobs, call HelpScout and finish the event, and
// people retry what failed.
package syncer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// Options configure a Service.
type Options struct {
	// HelpScout is the client configuration from the environment; saved
	// integration settings override it.
	HelpScout helpscout.Config
	// WebhookSecret is the webhook secret from the environment.
	WebhookSecret string
	// SettingsKey, when set, encrypts the secrets of the saved integration
	// settings at rest (SETTINGS_KEY); every replica needs the same key.
	SettingsKey string
	// Workers is how many jobs this process carries out at once.
	Workers int
	// BatchInterval is how often changed customers are sent in one pass.
	BatchInterval time.Duration
	// Version is the build's version, shown in heartbeats.
	Version string
	// Log receives the pipeline's log lines.
	Log zerolog.Logger

	// Lease is how long a claimed job stays reserved to its worker without
	// a renewal; the worker renews it every third of it while it works, so
	// a crashed replica's jobs are taken over within about one Lease.
	// 30 s when zero.
	Lease time.Duration
	// PollInterval is how often an idle process looks for due jobs (one
	// query, however many workers it has); 250 ms when zero. Intake in the
	// same process wakes a worker at once.
	PollInterval time.Duration
	// RetryBase is the first automatic retry's delay, doubled for each
	// further attempt (with jitter); 1 s when zero.
	RetryBase time.Duration
	// MaxAttempts is how many attempts a job gets before it stops as
	// FAILED; 12 when zero: with the doubling delays, capped at 10 minutes
	// and each drawn between half and all of its value (see backoff), they
	// span a HelpScout outage of 14 to 27 minutes, about 20 on average.
	MaxAttempts int
	// StopTimeout bounds how long Stop waits for attempts in flight; 30 s
	// when zero.
	StopTimeout time.Duration
}

// Defaults of Options.
const (
	defaultLease        = 30 * time.Second
	defaultPollInterval = 250 * time.Millisecond
	defaultRetryBase    = time.Second
	defaultMaxAttempts  = 12
	defaultStopTimeout  = 30 * time.Second
)

// Service is the sync pipeline of one process.
type Service struct {
	db     *bun.DB
	client *helpscout.Client
	opts   Options
	log    zerolog.Logger

	// workerID names this process in heartbeats and job leases.
	workerID string
	// jobsDone and jobsFailed count this process's finished attempts.
	jobsDone, jobsFailed atomic.Int64
	// admin holds the effective settings (see settings.go).
	admin adminState
	// box encrypts the saved secrets; nil stores them as they are.
	box *secretBox

	jobs   *db.JobStore
	budget *db.BudgetStore
	events *db.EventStore
	// wake tells an idle worker that a job may be due.
	wake chan struct{}
	run  runState
	// usage keeps API usage a database outage kept from being stored.
	usage usageBacklog
}

// runState is what Start started and Stop stops.
type runState struct {
	mu      sync.Mutex
	started bool
	stopped bool
	// stopLoops ends claiming; abort cancels HelpScout calls in flight.
	stopLoops, abort context.CancelFunc
	// killed makes workers drop their attempts without writing anything,
	// as a crashed process would.
	killed atomic.Bool
	loops  sync.WaitGroup
	// stopping is closed when claiming ends; attempts still waiting for
	// rate-limit budget then give their job back.
	stopping <-chan struct{}
}

// workerSeq tells apart the services of one process (tests run several).
var workerSeq atomic.Int64

// New returns a Service over the database; Start runs its workers.
func New(bdb *bun.DB, opts Options) *Service {
	host, _ := os.Hostname()
	if opts.Lease <= 0 {
		opts.Lease = defaultLease
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = defaultRetryBase
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = defaultStopTimeout
	}
	return &Service{
		db: bdb, client: helpscout.New(opts.HelpScout), opts: opts, log: opts.Log,
		workerID: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), workerSeq.Add(1)),
		jobs:     db.NewJobStore(bdb),
		budget:   db.NewBudgetStore(bdb),
		events:   db.NewEventStore(bdb),
		wake:     make(chan struct{}, 1),
		box:      newSecretBox(opts.SettingsKey),
	}
}

// inTx runs fn in a transaction, and again when PostgreSQL rolls it back
// for a deadlock or a serialization failure (see db.Retry).
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.Retry(ctx, func() error { return s.db.RunInTx(ctx, nil, fn) })
}

// Attempts reports how many attempts this process finished, succeeded and
// failed, since it started.
func (s *Service) Attempts() (succeeded, failed int64) {
	return s.jobsDone.Load(), s.jobsFailed.Load()
}

// Start applies the saved settings and runs the workers, the lease
// reclaimer, the customer batch and the heartbeat until ctx ends or Stop
// is called. When ctx ends the workers stop claiming but finish the
// attempts in flight; Stop waits for them.
func (s *Service) Start(ctx context.Context) error {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	if s.run.started {
		return fmt.Errorf("error starting the sync workers: already started")
	}
	if err := s.sealPlainSecrets(ctx); err != nil {
		return fmt.Errorf("error starting the sync workers: %w", err)
	}
	if err := s.loadSettings(ctx); err != nil {
		return fmt.Errorf("error starting the sync workers: %w", err)
	}
	s.run.started = true
	loopCtx, stopLoops := context.WithCancel(ctx)
	callCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	s.run.stopLoops, s.run.abort = stopLoops, abort
	s.run.stopping = loopCtx.Done()

	n := max(s.opts.Workers, 1)
	s.run.loops.Add(n + 4)
	for i := range n {
		go func() {
			defer s.run.loops.Done()
			s.workLoop(loopCtx, callCtx, i)
		}()
	}
	go func() {
		defer s.run.loops.Done()
		s.pollLoop(loopCtx)
	}()
	go func() {
		defer s.run.loops.Done()
		s.reclaimLoop(loopCtx)
	}()
	go func() {
		defer s.run.loops.Done()
		s.batchLoop(loopCtx)
	}()
	go func() {
		defer s.run.loops.Done()
		s.runHeartbeats(loopCtx)
	}()
	s.log.Info().Str("worker", s.workerID).Int("workers", n).Msg("sync workers started")
	return nil
}

// Stop stops claiming jobs, lets the attempts in flight finish (for at most
// Options.StopTimeout, after which they are cancelled and their leases
// left to expire, so that another replica looks in HelpScout before
// repeating them), and returns. Calling it more than once is safe.
func (s *Service) Stop() {
	s.run.mu.Lock()
	if !s.run.started || s.run.stopped {
		s.run.mu.Unlock()
		return
	}
	s.run.stopped = true
	s.run.mu.Unlock()

	s.run.stopLoops()
	done := make(chan struct{})
	go func() {
		s.run.loops.Wait()
		close(done)
	}()
	t := time.NewTimer(s.opts.StopTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn().Str("worker", s.workerID).Msg("sync attempts still running at shutdown; cancelling them")
		s.run.killed.Store(true)
		s.run.abort()
		<-done
	}
	s.run.abort()
	s.flushUsage()
	s.log.Info().Str("worker", s.workerID).Msg("sync workers stopped")
}

// kill stops the Service as a crash would: calls in flight are cancelled
// and nothing more is written, leases are left to expire.
func (s *Service) kill() {
	s.run.mu.Lock()
	if !s.run.started || s.run.stopped {
		s.run.mu.Unlock()
		return
	}
	s.run.stopped = true
	s.run.mu.Unlock()
	s.run.killed.Store(true)
	s.run.stopLoops()
	s.run.abort()
	s.run.loops.Wait()
}

// notify wakes one idle worker of this process.
func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
