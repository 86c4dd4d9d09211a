package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/live"
	"github.com/kivalogic/helpscout-log/internal/metrics"
	"github.com/kivalogic/helpscout-log/internal/retention"
	"github.com/kivalogic/helpscout-log/internal/seed"
	"github.com/kivalogic/helpscout-log/internal/server"
	"github.com/kivalogic/helpscout-log/internal/syncer"
	"github.com/kivalogic/helpscout-log/internal/synclog"
	"github.com/kivalogic/helpscout-log/internal/web"
	"github.com/kivalogic/helpscout-log/internal/webhooks"
)

// demoTokenTTL is how long the tokens printed by the demo stay valid.
const demoTokenTTL = 30 * 24 * time.Hour

// Stack is the service of one process: the HTTP handler and the parts
// that run behind it (the sync workers and the live hub).
type Stack struct {
	// Handler serves every route.
	Handler http.Handler
	// Sync is the sync pipeline.
	Sync *syncer.Service
	// Live is the live-event hub.
	Live *live.Hub
	// Retention deletes what is older than RETENTION_DAYS; nil when every
	// event is kept.
	Retention *retention.Pruner
	// Service is the sync log the API reads; tests may replace its clock
	// before the handler serves.
	Service *synclog.Service

	workers bool
	// draining ends when the shutdown begins (WebSockets close) and
	// stopExports when CSV exports in flight must end (see Drain).
	draining, stopExports  context.Context
	beginDrain, endExports context.CancelFunc
	// sockets counts the open WebSockets.
	sockets sync.WaitGroup
}

// NewStack builds the service over an open database. Nothing runs in the
// background until Start.
func NewStack(bdb *bun.DB, cfg *config.Config, issuer *auth.Issuer, log zerolog.Logger, playgroundHeaders map[string]string) *Stack {
	svc := synclog.New(bdb, Version)
	svc.RetentionDays = cfg.RetentionDays
	m := metrics.New(bdb.DB)
	sync := syncer.New(bdb, syncer.Options{
		HelpScout: helpscout.Config{
			BaseURL:      cfg.HelpScoutAPIURL,
			ClientID:     cfg.HelpScoutClientID,
			ClientSecret: cfg.HelpScoutClientSecret,
			MailboxID:    cfg.HelpScoutMailboxID,
		},
		WebhookSecret: cfg.HelpScoutWebhookSecret,
		SettingsKey:   cfg.SettingsKey,
		Workers:       cfg.SyncWorkers,
		BatchInterval: cfg.CustomerBatchInterval,
		Version:       Version,
		Log:           log,
	})
	hub := live.New(bdb, live.Options{Log: log})
	m.GaugeFunc("helpscout_log_live_subscribers", "Open syncEvents subscriptions in this process.",
		func() float64 { return float64(hub.Stats().Subscribers) })
	m.GaugeFunc("helpscout_log_live_summary_subscribers", "Open summary subscriptions in this process.",
		func() float64 { return float64(hub.Stats().SummarySubscribers) })
	m.GaugeFunc("helpscout_log_live_held_back_seconds", "How long committed changes have waited to go live behind an older write transaction still running on the database server (0: none wait).",
		func() float64 { return hub.Stats().HeldBack.Seconds() })
	m.CounterFunc("helpscout_log_live_reconnects_total", "Times this process replaced its listening connection.",
		func() float64 { return float64(hub.Stats().Reconnects) })
	m.CounterFunc("helpscout_log_sync_attempts_succeeded_total", "HelpScout sync attempts this process finished successfully.",
		func() float64 { ok, _ := sync.Attempts(); return float64(ok) })
	m.CounterFunc("helpscout_log_sync_attempts_failed_total", "HelpScout sync attempts of this process that failed.",
		func() float64 { _, failed := sync.Attempts(); return float64(failed) })
	m.CounterFunc("helpscout_log_summary_kept_days_hits_total", "Summaries answered with the tallies this process keeps of finished days.",
		func() float64 { hits, _ := svc.Rollups.DayCacheStats(); return float64(hits) })
	m.CounterFunc("helpscout_log_summary_kept_days_misses_total", "Summaries that first read finished days new to this process or changed since it read them.",
		func() float64 { _, misses := svc.Rollups.DayCacheStats(); return float64(misses) })
	m.CounterFunc("helpscout_log_db_transaction_retries_total", "Transactions run again after a deadlock or a serialization failure.",
		func() float64 { return float64(db.Retries()) })
	workers := db.NewWorkerStore(bdb)
	m.SyncQueue(func(ctx context.Context) (metrics.QueueReading, error) {
		q, err := workers.Queue(ctx)
		if err != nil {
			return metrics.QueueReading{}, err
		}
		r := metrics.QueueReading{Queued: q.Queued, Due: q.Due, Running: q.Running, Failed: q.Failed}
		if q.OldestDueAt != nil {
			r.OldestDue = max(0, time.Since(*q.OldestDueAt))
		}
		return r, nil
	})
	st := &Stack{Sync: sync, Live: hub, Service: svc, workers: cfg.SyncWorkers > 0}
	if cfg.RetentionDays > 0 {
		st.Retention = retention.New(bdb, retention.Options{Days: cfg.RetentionDays, Log: log})
		m.CounterFunc("helpscout_log_retention_deleted_events_total", "Events this process deleted as older than RETENTION_DAYS.",
			func() float64 { return float64(st.Retention.Deleted()) })
	}
	st.draining, st.beginDrain = context.WithCancel(context.Background())
	st.stopExports, st.endExports = context.WithCancel(context.Background())
	st.Handler = server.NewRouter(server.Deps{
		Log:     log,
		Service: svc,
		Sync:    sync,
		Live:    hub,
		Issuer:  issuer,
		Metrics: m,
		GraphQL: server.GraphQLOptions{
			Introspection:   cfg.Introspection,
			ComplexityLimit: cfg.ComplexityLimit,
			TokenLimit:      cfg.TokenLimit,
			WriteInterval:   cfg.LiveWriteInterval,
			BusyRate:        cfg.LiveBusyRate,
			FieldByField:    cfg.FieldByField,
			Draining:        st.draining,
			Open:            &st.sockets,
		},
		StopExports:    st.stopExports,
		AllowedOrigins: cfg.AllowedOrigins,
		Ready: func(ctx context.Context) error {
			_, pending, err := db.MigrationState(ctx, bdb)
			if err != nil {
				return errors.New("database unreachable")
			}
			if len(pending) > 0 {
				return fmt.Errorf("%d migrations pending", len(pending))
			}
			return nil
		},
		Playground: web.Playground(web.PlaygroundOptions{
			Title:    "HelpScout Log",
			Endpoint: "/graphql",
			Headers:  playgroundHeaders,
			Examples: web.DefaultExamples(),
			// The conversation example finds the newest ticket.
			TicketNumber: db.NewConversationStore(bdb).LatestNumber,
		}),
		Wall:   web.Wall(web.WallOptions{Endpoint: "/graphql", Headers: playgroundHeaders}),
		Assets: web.Assets(),
		Webhooks: webhooks.New(webhooks.Options{
			SecretFunc: sync.WebhookSecret,
			Store:      db.NewWebhookStore(bdb),
			Log:        log,
		}),
	})
	return st
}

// Start runs the live hub, the sync workers unless SYNC_WORKERS is 0, and
// the retention when RETENTION_DAYS is set.
func (s *Stack) Start(ctx context.Context) error {
	if err := s.Live.Start(ctx); err != nil {
		return err
	}
	if s.workers {
		if err := s.Sync.Start(ctx); err != nil {
			s.Live.Stop()
			return err
		}
	}
	if s.Retention != nil {
		if err := s.Retention.Start(ctx); err != nil {
			if s.workers {
				s.Sync.Stop()
			}
			s.Live.Stop()
			return err
		}
	}
	return nil
}

// exportMargin is how long before the shutdown deadline CSV exports in
// flight end their files, so that the last row and the end of the
// response still reach the client.
const exportMargin = 2 * time.Second

// Drain begins the shutdown of what the HTTP server cannot finish by
// itself before deadline: live subscriptions end with the cursor to
// resume from, WebSockets then close with 1001 (going away), and CSV
// exports still running shortly before deadline end their files with a
// row saying where they stopped. Requests that finish in time are not
// disturbed.
func (s *Stack) Drain(deadline time.Time) {
	s.Live.Stop()
	s.beginDrain()
	time.AfterFunc(time.Until(deadline.Add(-min(exportMargin, time.Until(deadline)/4))), s.endExports)
}

// WaitWebSockets waits until every WebSocket has closed, or ctx ends.
func (s *Stack) WaitWebSockets(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.sockets.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop stops the retention, the workers (finishing attempts in flight),
// then the hub.
func (s *Stack) Stop() {
	if s.Retention != nil {
		s.Retention.Stop()
	}
	if s.workers {
		s.Sync.Stop()
	}
	s.Live.Stop()
}

// Handler builds the service's HTTP handler over an open database, with
// nothing running in the background (no workers, no live feed).
func Handler(bdb *bun.DB, cfg *config.Config, issuer *auth.Issuer, log zerolog.Logger, playgroundHeaders map[string]string) http.Handler {
	return NewStack(bdb, cfg, issuer, log, playgroundHeaders).Handler
}

// Serve runs the HTTP service until ctx ends, then shuts down in order:
// stop accepting, finish requests in flight, close the database.
func Serve(ctx context.Context, cfg *config.Config, log zerolog.Logger, out io.Writer) error {
	secret, demo, err := Secret(cfg)
	if err != nil {
		return err
	}
	issuer := auth.NewIssuer(secret)
	TuneRuntime()
	// Take the port first, so that a second instance fails before it
	// starts anything.
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("error listening on port %d (another instance running? set PORT): %w", cfg.Port, err)
	}
	defer ln.Close()
	// The port answers from now on (see bootHandler), also while a long
	// migration runs.
	boot := newBootHandler("opening the database and applying migrations")
	srv := &http.Server{
		Handler:           boot,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      10 * time.Minute, // long CSV exports
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	defer srv.Close()
	// A stop (SIGTERM) while the service starts is not an error: what
	// was under way rolls back, and the next start takes it up again.
	stoppedStarting := func(err error) error {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			log.Info().Str("phase", boot.currentPhase()).Msg("stopped while starting")
			return nil
		}
		return err
	}
	database, err := OpenDatabase(ctx, cfg, log)
	if err != nil {
		return stoppedStarting(err)
	}
	defer func() {
		if err := database.Close(); err != nil {
			log.Error().Err(err).Msg("error closing the database")
		}
	}()
	if cfg.Embedded() && cfg.SeedEvents > 0 {
		boot.setPhase("loading demo data")
		if err := seedDemo(ctx, database, cfg.SeedEvents, log); err != nil {
			return stoppedStarting(err)
		}
	}

	// The embedded demo talks to an in-process HelpScout simulator unless
	// a HelpScout API is configured.
	var sim *helpscoutsim.Server
	if cfg.Embedded() && cfg.HelpScoutAPIURL == "" {
		demoCfg := *cfg
		cfg = &demoCfg
		if sim, err = startDemoHelpScout(ctx, database.DB, cfg, secret, log); err != nil {
			return err
		}
		defer sim.Stop()
	}

	var headers map[string]string
	tokens := map[auth.Role]string{}
	if demo {
		for _, r := range auth.Roles {
			tok, err := issuer.Issue("demo-"+string(r), r, demoTokenTTL)
			if err != nil {
				return err
			}
			tokens[r] = tok
		}
		headers = map[string]string{"Authorization": "Bearer " + tokens[auth.RoleKivaAdmin]}
	}

	stack := NewStack(database.DB, cfg, issuer, log, headers)
	if err := stack.Start(ctx); err != nil {
		return err
	}
	defer stack.Stop()
	boot.ready(stack.Handler)

	base := fmt.Sprintf("http://localhost:%d", cfg.Port)
	log.Info().Str("playground", base+"/").Str("graphql", base+"/graphql").Msg("serving")
	if demo {
		printDemo(out, base, tokens)
	}
	if sim != nil {
		traffic := &demoTraffic{sync: stack.Sync, sim: sim, webhookURL: base + "/webhooks/helpscout",
			perMinute: cfg.DemoTraffic, log: log}
		go traffic.run(ctx)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("error serving http: %w", err)
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", cfg.ShutdownTimeout).Msg("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	deadline, _ := shutdownCtx.Deadline()
	stack.Drain(deadline)
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("error shutting down http: %w", err)
	}
	if err := stack.WaitWebSockets(shutdownCtx); err != nil {
		log.Warn().Msg("shutting down: WebSockets still closing at the deadline")
	}
	log.Info().Msg("http stopped")
	return nil
}

func printDemo(out io.Writer, base string, tokens map[auth.Role]string) {
	fmt.Fprintf(out, "\nHelpScout Log demo is running.\n\n")
	fmt.Fprintf(out, "  GraphiQL playground: %s/   (opens with example operations and a KIVA_ADMIN token)\n", base)
	fmt.Fprintf(out, "  GraphQL endpoint:    %s/graphql   (subscriptions over WebSocket at the same URL)\n", base)
	fmt.Fprintf(out, "  Wall screen:         %s/wall\n", base)
	fmt.Fprintf(out, "  CSV export:          %s/export/sync-events.csv?status=FAILED&within=LAST_24_HOURS\n\n", base)
	fmt.Fprintf(out, "Tokens for this demo (send as Authorization: Bearer <token>; valid %d days):\n", int(demoTokenTTL.Hours()/24))
	for _, r := range auth.Roles {
		fmt.Fprintf(out, "  %-13s %s\n", r, tokens[r])
	}
	fmt.Fprintf(out, "\nMore tokens: go run . token -role MANAGER\n\n")
}

// demoDays is the span of the demo data.
const demoDays = 30

// seedDemo fills an empty demo database with realistic data, and tops up
// a demo database that has been idle, so that "last 24 hours" and "today"
// show activity whenever the demo starts.
func seedDemo(ctx context.Context, database *Database, events int, log zerolog.Logger) error {
	_, newest, err := db.NewEventStore(database.DB).Bounds(ctx)
	if err != nil {
		return fmt.Errorf("error checking for demo data: %w", err)
	}
	now := time.Now()
	opts := seed.Options{Events: events, Days: demoDays, Now: now, Seed: now.UnixNano()}
	switch {
	case newest == nil:
		log.Info().Int("events", events).Msg("loading demo data (first start only)")
	case now.Sub(*newest) > time.Hour:
		gap := now.Sub(*newest)
		opts.Days = min(demoDays, int(gap.Hours()/24)+1)
		opts.Events = min(events, max(100, int(float64(events)*gap.Hours()/(demoDays*24))))
		log.Info().Int("events", opts.Events).Str("idle", gap.Round(time.Minute).String()).Msg("topping up demo data for the time the demo was idle")
	default:
		return nil
	}
	opts.Progress = func(done, total int) {
		log.Info().Int("done", done).Int("total", total).Msg("loading demo data")
	}
	st, err := seed.Run(ctx, database.DB, opts)
	if err != nil {
		return fmt.Errorf("error loading demo data: %w", err)
	}
	log.Info().Int("events", st.Events).Int("customers", st.Customers).
		Int("conversations", st.Conversations).Str("took", st.Elapsed.Round(time.Millisecond).String()).Msg("demo data loaded")
	return nil
}
