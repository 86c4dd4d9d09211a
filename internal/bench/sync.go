package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/syncer"
)

// SyncOptions configure the sync benchmark.
type SyncOptions struct {
	// Limit is the simulator's rate limit in units per minute.
	Limit int
	// Duration is how long the workers run; throughput is reported for the
	// full minutes inside it after a warm-up.
	Duration time.Duration
	// Replicas is how many syncer Services share the database.
	Replicas int
	// Workers is how many jobs each replica carries out at once.
	Workers int
	// Jobs is how many contact forms are queued first; zero queues enough
	// to keep the workers busy for the whole run.
	Jobs int
	// IntakeDuration is how long each intake measurement runs.
	IntakeDuration time.Duration
	// Concurrency is how many intake requests are in flight at once.
	Concurrency int
	// KeepDatabase keeps the benchmark database afterwards.
	KeepDatabase bool
	// Database, when set, runs in this existing database instead of a fresh one.
	Database string
	// SkipSync runs only the intake half.
	SkipSync bool
}

// syncWarmUp is the least time the workers run before the first measured
// minute starts: the token is fetched and the pacing has seen a window.
const syncWarmUp = 15 * time.Second

const (
	benchClientID     = "bench-app"
	benchClientSecret = "bench-secret-value"
)

// Sync parses the bench-sync flags and runs the sync benchmark with the
// configuration read from getenv once the flags are accepted.
func Sync(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench-sync", flag.ContinueOnError)
	limit := fs.Int("limit", helpscoutsim.DefaultRateLimitPerMinute, "the simulator's rate limit in units per minute")
	dur := fs.Duration("duration", 2*time.Minute+30*time.Second, "how long the workers run (full minutes after a warm-up are measured)")
	replicas := fs.Int("replicas", 2, "syncer services sharing the database")
	workers := fs.Int("workers", 4, "jobs each replica carries out at once")
	jobs := fs.Int("jobs", 0, "contact forms to queue first (0: enough for the whole run)")
	intakeDur := fs.Duration("intake-duration", 10*time.Second, "how long each intake measurement runs")
	conc := fs.Int("concurrency", 8, "intake requests in flight at once")
	keep := fs.Bool("keep", false, "keep the benchmark database afterwards")
	existing := fs.String("database", "", "run in this existing database (name on the same server) instead of a fresh one")
	skipSync := fs.Bool("intake-only", false, "measure only the intake")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log bench-sync [-limit 400] [-duration 2m30s] [-replicas 2] [-workers 4] [-concurrency 8]\n\n"+
			"Creates a fresh database on the server of DATABASE_URL (or 127.0.0.1:5432, or the\n"+
			"embedded server), queues contact forms, and runs several syncer replicas against\n"+
			"an in-process HelpScout simulator at its rate limit: units used per full minute\n"+
			"against the limit, calls, 429s and jobs done. Then measures submitContactForm over\n"+
			"HTTP GraphQL beside a raw single-row INSERT through the same pool.\n\n")
		fs.PrintDefaults()
	}
	if err := app.ParseFlags(fs, args, out); err != nil {
		return err
	}
	opts := SyncOptions{Limit: *limit, Duration: *dur, Replicas: *replicas, Workers: *workers, Jobs: *jobs,
		IntakeDuration: *intakeDur, Concurrency: *conc, KeepDatabase: *keep, Database: *existing, SkipSync: *skipSync}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	return RunSync(ctx, cfg, opts, out)
}

// RunSync runs the sync benchmark with opts.
func RunSync(ctx context.Context, cfg *config.Config, opts SyncOptions, out io.Writer) error {
	switch {
	case opts.Limit < 2:
		return errors.New("-limit must be at least 2")
	case opts.Replicas < 1 || opts.Workers < 1 || opts.Concurrency < 1:
		return errors.New("-replicas, -workers and -concurrency must be positive")
	case !opts.SkipSync && opts.Duration < 2*time.Minute+syncWarmUp:
		// The first measured minute starts up to a minute after the warm-up.
		return fmt.Errorf("-duration must be at least %s to hold one full minute after the warm-up", 2*time.Minute+syncWarmUp)
	}
	dsn, cleanup, err := benchDatabase(ctx, cfg, opts.Database, opts.KeepDatabase, out)
	if err != nil {
		return err
	}
	defer cleanup()
	maxConns := max(cfg.DBMaxConns, opts.Concurrency+4)
	bdb, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: maxConns})
	if err != nil {
		return err
	}
	defer bdb.Close()
	if _, err := db.Migrate(ctx, bdb); err != nil {
		return err
	}
	if !opts.SkipSync {
		if err := runSyncThroughput(ctx, dsn, bdb, opts, out); err != nil {
			return err
		}
	}
	if opts.IntakeDuration <= 0 {
		return nil
	}
	return runIntake(ctx, cfg, bdb, opts, out)
}

// benchDatabase creates a fresh benchmark database, or names an existing
// one, on the server of DATABASE_URL, else 127.0.0.1:5432, else the
// embedded server, and returns its DSN and what drops it (unless kept) and
// stops whatever it started.
func benchDatabase(ctx context.Context, cfg *config.Config, name string, keep bool, out io.Writer) (string, func(), error) {
	adminURL := cfg.DatabaseURL
	var stops []func()
	cleanup := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if adminURL == "" {
		adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err == nil {
			c.Close()
		} else {
			d, err := app.OpenDatabase(ctx, cfg, zerolog.Nop())
			if err != nil {
				return "", nil, err
			}
			_ = d.DB.Close()
			adminURL = d.Embedded.DSN("postgres")
			stops = append(stops, func() { _ = d.Embedded.Stop() })
		}
	}
	admin, err := db.Open(ctx, adminURL, db.Options{MaxOpenConns: 1})
	if err != nil {
		cleanup()
		return "", nil, err
	}
	stops = append(stops, func() { _ = admin.Close() })
	if name == "" {
		buf := make([]byte, 4)
		_, _ = rand.Read(buf)
		name = "hslog_bench_" + hex.EncodeToString(buf)
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(name)); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("error creating the benchmark database: %w", err)
		}
		fmt.Fprintf(out, "database %s\n", name)
		if !keep {
			stops = append(stops, func() {
				_, _ = admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name))
			})
		}
	}
	return replaceDatabase(adminURL, name), cleanup, nil
}

// minuteStats is what the simulator answered in one minute, as counted by
// a middleware in front of it.
type minuteStats struct {
	units, calls, limited, tokens int
}

// simMeter counts the simulator's answers per minute of its clock.
type simMeter struct {
	mu      sync.Mutex
	minutes map[time.Time]*minuteStats
}

func (m *simMeter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now().Truncate(time.Minute)
		sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		st := m.minutes[at]
		if st == nil {
			st = &minuteStats{}
			m.minutes[at] = st
		}
		switch {
		case r.URL.Path == "/v2/oauth2/token":
			st.tokens++
		case sw.status == http.StatusTooManyRequests:
			st.calls++
			st.limited++
		default:
			st.calls++
			st.units += unitCost(r.Method)
		}
	})
}

func (m *simMeter) at(minute time.Time) minuteStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.minutes[minute]; st != nil {
		return *st
	}
	return minuteStats{}
}

func unitCost(method string) int {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return 2
	}
	return 1
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// runSyncThroughput queues contact forms, runs the replicas against the
// simulator for opts.Duration and prints the use of each full minute.
func runSyncThroughput(ctx context.Context, dsn string, bdb *bun.DB, opts SyncOptions, out io.Writer) error {
	sim := helpscoutsim.New(helpscoutsim.Options{RateLimitPerMinute: opts.Limit, ClientID: benchClientID, ClientSecret: benchClientSecret})
	meter := &simMeter{minutes: map[time.Time]*minuteStats{}}
	simSrv := httptest.NewServer(meter.wrap(sim.Handler()))
	defer simSrv.Close()
	defer sim.Stop()
	hs := helpscout.Config{BaseURL: simSrv.URL, ClientID: benchClientID, ClientSecret: benchClientSecret,
		MailboxID: helpscoutsim.DefaultMailboxID, Timeout: 30 * time.Second}

	jobs := opts.Jobs
	if jobs <= 0 {
		// A ticket costs at least 2 units; queue enough for every minute
		// of the run and one more.
		jobs = opts.Limit / 2 * (int(opts.Duration/time.Minute) + 2)
	}
	intake := syncer.New(bdb, syncer.Options{HelpScout: hs, Log: zerolog.Nop(), Version: app.Version})
	t0 := time.Now()
	if err := parallel(ctx, opts.Concurrency, jobs, func(ctx context.Context, i int) error {
		_, err := intake.SubmitContactForm(ctx, benchForm(fmt.Sprintf("bench-sync-%d", i), i), "bench")
		return err
	}); err != nil {
		return fmt.Errorf("error queueing contact forms: %w", err)
	}
	fmt.Fprintf(out, "queued %d contact forms in %s\n", jobs, time.Since(t0).Round(time.Millisecond))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var services []*syncer.Service
	for i := 0; i < opts.Replicas; i++ {
		rdb, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: opts.Workers + 4})
		if err != nil {
			return err
		}
		defer rdb.Close()
		svc := syncer.New(rdb, syncer.Options{HelpScout: hs, Workers: opts.Workers, BatchInterval: time.Minute,
			Version: app.Version, Log: zerolog.Nop()})
		if err := svc.Start(runCtx); err != nil {
			return fmt.Errorf("error starting replica %d: %w", i+1, err)
		}
		services = append(services, svc)
	}
	stopAll := func() {
		var wg sync.WaitGroup
		for _, s := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Stop()
			}()
		}
		wg.Wait()
		services = nil
	}
	defer stopAll()

	start := time.Now()
	end := start.Add(opts.Duration)
	first := start.Add(syncWarmUp).Truncate(time.Minute)
	if first.Before(start.Add(syncWarmUp)) {
		first = first.Add(time.Minute)
	}
	var windows []time.Time
	for m := first; !m.Add(time.Minute).After(end); m = m.Add(time.Minute) {
		windows = append(windows, m)
	}
	fmt.Fprintf(out, "running %d replicas × %d workers against a simulator allowing %d units/min for %s; measuring %d full minute(s) from %s UTC\n",
		opts.Replicas, opts.Workers, opts.Limit, opts.Duration, len(windows), first.UTC().Format("15:04:05"))

	// Jobs done at each minute boundary.
	done := map[time.Time]int{}
	countDone := func() (int, error) {
		n, err := bdb.NewSelect().Table("sync_jobs").Where("state = 'DONE'").Count(ctx)
		return int(n), err
	}
	for _, m := range append(slices.Clone(windows), windows[len(windows)-1].Add(time.Minute)) {
		if err := sleepUntil(ctx, m); err != nil {
			return err
		}
		n, err := countDone()
		if err != nil {
			return err
		}
		done[m] = n
		// Progress: the minute that just ended, while the next one runs.
		if prev := m.Add(-time.Minute); m != windows[0] {
			st := meter.at(prev)
			fmt.Fprintf(out, "  %s UTC: %d of %d units (%.1f%%), %d calls, %d 429s, %d jobs done\n", prev.UTC().Format("15:04"),
				st.units, opts.Limit, 100*float64(st.units)/float64(opts.Limit), st.calls, st.limited, n-done[prev])
		}
	}
	if err := sleepUntil(ctx, end); err != nil {
		return err
	}
	cancel()
	stopAll()
	total, err := countDone()
	if err != nil {
		return err
	}
	state := sim.State()

	// What the replicas recorded for the apiUsage query, as a cross-check.
	recorded := map[time.Time]int{}
	rows, err := db.NewUsageStore(bdb).Buckets(ctx, windows[0], windows[len(windows)-1].Add(time.Minute), "minute", nil)
	if err != nil {
		return err
	}
	for _, r := range rows {
		recorded[r.Start] = r.Units
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "minute (UTC)\tunits used\tallowed\tused %\tcalls\t429s\tjobs done\tunits in apiUsage\t")
	var sumUnits, sumCalls, sumLimited, sumDone, sumRecorded int
	for _, m := range windows {
		st := meter.at(m)
		jd := done[m.Add(time.Minute)] - done[m]
		rec := recorded[m.UTC()]
		sumUnits, sumCalls, sumLimited, sumDone, sumRecorded = sumUnits+st.units, sumCalls+st.calls, sumLimited+st.limited, sumDone+jd, sumRecorded+rec
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t\n", m.UTC().Format("15:04"), st.units, opts.Limit,
			100*float64(st.units)/float64(opts.Limit), st.calls, st.limited, jd, rec)
	}
	n := len(windows)
	fmt.Fprintf(tw, "mean\t%.1f\t%d\t%.1f%%\t%.1f\t%.1f\t%.1f\t%.1f\t\n", float64(sumUnits)/float64(n), opts.Limit,
		100*float64(sumUnits)/float64(n*opts.Limit), float64(sumCalls)/float64(n), float64(sumLimited)/float64(n),
		float64(sumDone)/float64(n), float64(sumRecorded)/float64(n))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwhole run: %d of %d jobs done, %d conversations created, %d token requests, 429s seen by the simulator: %d\n",
		total, jobs, state.ConversationsCreated, state.TokensIssued, state.RateLimited)
	target := "met"
	if sumUnits*100 < 95*n*opts.Limit || state.RateLimited > 0 {
		target = "NOT met"
	}
	fmt.Fprintf(out, "target (on average >= 95%% of the allowed units per measured minute, zero 429s): %s\n\n", target)
	return nil
}

// sleepUntil waits for t or for ctx to end.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parallel runs fn for 0..n-1 from conc goroutines and returns the first error.
func parallel(ctx context.Context, conc, n int, fn func(ctx context.Context, i int) error) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		once sync.Once
		ferr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { ferr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return ferr
}

// benchForm is a plausible contact form.
func benchForm(id string, i int) syncer.ContactForm {
	name := fmt.Sprintf("Bench Customer %d", i)
	return syncer.ContactForm{
		SubmissionID: id,
		Email:        fmt.Sprintf("bench.customer.%d@example.com", i%500),
		Name:         &name,
		Subject:      fmt.Sprintf("Order %d has not arrived", 100000+i),
		Message:      "Hello, I ordered two weeks ago and the parcel has not arrived yet. Could you look into it? Thanks.",
	}
}

const intakeMutation = `mutation($in: ContactFormInput!) { submitContactForm(input: $in) { duplicate event { id status } } }`

// runIntake measures submitContactForm over HTTP GraphQL beside a raw
// single-row INSERT INTO sync_events through the same pool.
func runIntake(ctx context.Context, cfg *config.Config, bdb *bun.DB, opts SyncOptions, out io.Writer) error {
	issuer := auth.NewIssuer("bench-secret-0123456789abcdef")
	token, err := issuer.Issue("bench-host-system", auth.RoleService, time.Hour)
	if err != nil {
		return err
	}
	hcfg := *cfg
	hcfg.LogLevel = zerolog.Disabled
	hcfg.SyncWorkers = 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.Handler(bdb, &hcfg, issuer, zerolog.Nop(), nil), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency * 2, MaxConnsPerHost: opts.Concurrency * 2}}
	url := "http://" + ln.Addr().String() + "/graphql"

	var seq atomic.Int64
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	gql, err := measure(ctx, opts.Concurrency, opts.IntakeDuration, func(ctx context.Context) error {
		i := int(seq.Add(1))
		f := benchForm(fmt.Sprintf("bench-intake-%s-%d", run, i), i)
		return postGraphQL(ctx, client, url, token, intakeMutation, map[string]any{"in": map[string]any{
			"submissionId": f.SubmissionID, "email": f.Email, "name": *f.Name, "subject": f.Subject, "message": f.Message}})
	})
	if err != nil {
		return fmt.Errorf("submitContactForm over GraphQL: %w", err)
	}
	raw, err := measure(ctx, opts.Concurrency, opts.IntakeDuration, func(ctx context.Context) error {
		i := int(seq.Add(1))
		f := benchForm(fmt.Sprintf("bench-raw-%s-%d", run, i), i)
		_, err := bdb.ExecContext(ctx, `INSERT INTO sync_events
			(occurred_at, type, status, direction, source, source_ref, customer_email, details)
			VALUES (now(), 'TICKET_CREATED', 'PENDING', 'TO_HELPSCOUT', 'CONTACT_FORM', ?, ?, ?)`,
			f.SubmissionID, f.Email, map[string]any{"subject": f.Subject, "name": *f.Name})
		return err
	})
	if err != nil {
		return fmt.Errorf("raw INSERT: %w", err)
	}
	fmt.Fprintf(out, "Intake, %d in flight, %s each. GraphQL = submitContactForm over loopback HTTP (SERVICE token),\n"+
		"writing a job and a PENDING event in one transaction; SQL = one single-row INSERT INTO sync_events\n"+
		"through the same pool.\n\n", opts.Concurrency, opts.IntakeDuration)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\treq/s\tp50\tp99\t")
	fmt.Fprintf(tw, "submitContactForm (GraphQL)\t%.0f\t%s\t%s\t\n", gql.rps, ms(gql.p50), ms(gql.p99))
	fmt.Fprintf(tw, "INSERT INTO sync_events (SQL)\t%.0f\t%s\t%s\t\n", raw.rps, ms(raw.p50), ms(raw.p99))
	fmt.Fprintf(tw, "GraphQL / SQL\t%.0f%%\t%.2f×\t%.2f×\t\n", 100*gql.rps/raw.rps,
		float64(gql.p50)/float64(raw.p50), float64(gql.p99)/float64(raw.p99))
	return tw.Flush()
}
