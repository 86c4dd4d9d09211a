// Package bench measures the GraphQL API end to end against the same SQL
// run directly through the same connection pool. It seeds a fresh
// database, starts the real HTTP handler on a loopback port, and for each
// Quick Reference query and the 30-day summary prints p50 and p99 latency
// and requests per second at several concurrencies, beside the raw store
// calls the resolvers make, with the ratio of the two.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// Options configure a benchmark run.
type Options struct {
	Events       int
	Days         int
	Concurrency  []int
	Duration     time.Duration
	KeepDatabase bool
	// Database, when set, benchmarks this existing database instead of
	// seeding a fresh one.
	Database string
	// Only, when set, keeps the queries whose name contains it.
	Only string
	// CPUProfile, when set, is where the CPU profile of the first GraphQL run goes.
	CPUProfile string
}

// Main parses the bench flags and runs the benchmark.
func Main(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	events := fs.Int("events", 1000000, "how many events to seed into the fresh database")
	days := fs.Int("days", 30, "spread the events over this many days")
	conc := fs.String("concurrency", "1,16", "comma-separated concurrencies")
	dur := fs.Duration("duration", 3*time.Second, "how long to run each query at each concurrency")
	keep := fs.Bool("keep", false, "keep the benchmark database afterwards")
	existing := fs.String("database", "", "benchmark this existing database (name on the same server) instead of seeding")
	only := fs.String("only", "", "run only the queries whose name contains this text (e.g. summary)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the first GraphQL run to this file")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: helpscout-log bench [-events N] [-days D] [-concurrency 1,16] [-duration 3s]\n\n"+
			"Creates a fresh database on the server of DATABASE_URL (or 127.0.0.1:5432, or the\n"+
			"embedded server), seeds it, and prints latency and throughput of each Quick\n"+
			"Reference query through the whole HTTP GraphQL stack beside the same store\n"+
			"calls run directly through the same pool.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := Options{Events: *events, Days: *days, Duration: *dur, KeepDatabase: *keep, Database: *existing, Only: *only, CPUProfile: *cpuProfile}
	for _, c := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return fmt.Errorf("-concurrency: %q is not a positive integer", c)
		}
		opts.Concurrency = append(opts.Concurrency, n)
	}
	return Run(ctx, cfg, opts, out)
}

// Run seeds (unless told otherwise), serves and measures.
func Run(ctx context.Context, cfg *config.Config, opts Options, out io.Writer) error {
	log := zerolog.Nop()
	adminCfg := *cfg
	if adminCfg.DatabaseURL == "" {
		adminCfg.DatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err == nil {
			c.Close()
		} else {
			adminCfg.DatabaseURL = ""
		}
	}
	var (
		dsn    string
		closer func() error
	)
	name := opts.Database
	if adminCfg.DatabaseURL == "" {
		d, err := app.OpenDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		_ = d.DB.Close()
		adminCfg.DatabaseURL = d.Embedded.DSN("postgres")
		closer = d.Embedded.Stop
	}
	admin, err := db.Open(ctx, adminCfg.DatabaseURL, db.Options{MaxOpenConns: 1})
	if err != nil {
		return err
	}
	defer admin.Close()
	if closer != nil {
		defer closer()
	}
	if name == "" {
		buf := make([]byte, 4)
		_, _ = rand.Read(buf)
		name = "hslog_bench_" + hex.EncodeToString(buf)
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(name)); err != nil {
			return fmt.Errorf("error creating the benchmark database: %w", err)
		}
		if !opts.KeepDatabase {
			defer func() {
				_, _ = admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name))
			}()
		}
	}
	dsn = replaceDatabase(adminCfg.DatabaseURL, name)
	bdb, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: cfg.DBMaxConns})
	if err != nil {
		return err
	}
	defer bdb.Close()
	if _, err := db.Migrate(ctx, bdb); err != nil {
		return err
	}
	if opts.Database == "" {
		fmt.Fprintf(out, "seeding %d events over %d days into %s ...\n", opts.Events, opts.Days, name)
		st, err := seed.Run(ctx, bdb, seed.Options{Events: opts.Events, Days: opts.Days, Now: time.Now(), Seed: 42,
			Progress: func(done, total int) { fmt.Fprintf(out, "\r  %d / %d", done, total) }})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\rseeded %d events, %d customers, %d conversations in %s (%.0f events/s)\n",
			st.Events, st.Customers, st.Conversations, st.Elapsed.Round(time.Millisecond), float64(st.Events)/st.Elapsed.Seconds())
		if _, err := bdb.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return fmt.Errorf("error analysing: %w", err)
		}
	}

	// The service's runtime settings, as serve uses them.
	app.TuneRuntime()
	secret := "bench-secret-0123456789abcdef"
	issuer := auth.NewIssuer(secret)
	token, err := issuer.Issue("bench", auth.RoleManager, time.Hour)
	if err != nil {
		return err
	}
	hcfg := *cfg
	hcfg.LogLevel = zerolog.Disabled
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.Handler(bdb, &hcfg, issuer, log, nil)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	cases, err := buildCases(ctx, newService(bdb))
	if err != nil {
		return err
	}
	maxConc := slices.Max(opts.Concurrency)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxConc * 2, MaxConnsPerHost: maxConc * 2}}
	url := "http://" + ln.Addr().String() + "/graphql"

	fmt.Fprintf(out, "\nEach cell runs %s. GraphQL = POST /graphql over loopback HTTP through the whole stack;\nSQL = the same store calls run directly through the same pool.\n\n", opts.Duration)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tconc\tGraphQL p50\tGraphQL p99\tGraphQL req/s\tSQL p50\tSQL p99\tSQL req/s\tp99 ratio\treq/s ratio\t")
	var stopProfile func()
	if opts.CPUProfile != "" {
		if stopProfile, err = startCPUProfile(opts.CPUProfile); err != nil {
			return err
		}
		defer func() {
			if stopProfile != nil {
				stopProfile()
			}
		}()
	}
	for _, c := range cases {
		if opts.Only != "" && !strings.Contains(c.name, opts.Only) {
			continue
		}
		for _, n := range opts.Concurrency {
			gql, err := measure(ctx, n, opts.Duration, func(ctx context.Context) error {
				return postGraphQL(ctx, client, url, token, c.query, c.variables)
			})
			if err != nil {
				return fmt.Errorf("%s over GraphQL: %w", c.name, err)
			}
			if stopProfile != nil {
				// The profile covers the first GraphQL run only.
				stopProfile()
				stopProfile = nil
			}
			raw, err := measure(ctx, n, opts.Duration, c.raw)
			if err != nil {
				return fmt.Errorf("%s over SQL: %w", c.name, err)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%s\t%s\t%.0f\t%.2f×\t%.0f%%\t\n", c.name, n,
				ms(gql.p50), ms(gql.p99), gql.rps, ms(raw.p50), ms(raw.p99), raw.rps,
				float64(gql.p99)/float64(raw.p99), 100*gql.rps/raw.rps)
		}
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func replaceDatabase(dsn, name string) string {
	i := strings.Index(dsn, "://")
	rest := dsn[i+3:]
	j := strings.Index(rest, "/")
	if j < 0 {
		return dsn + "/" + name
	}
	tail := rest[j+1:]
	q := ""
	if k := strings.Index(tail, "?"); k >= 0 {
		q = tail[k:]
	}
	return dsn[:i+3] + rest[:j] + "/" + name + q
}

type result struct {
	p50, p99 time.Duration
	rps      float64
}

// measure runs fn from n workers for d and returns latency percentiles and
// throughput. A warm-up of a few calls per worker is not counted.
func measure(ctx context.Context, n int, d time.Duration, fn func(context.Context) error) (result, error) {
	for i := 0; i < 5*n; i++ {
		if err := fn(ctx); err != nil {
			return result{}, err
		}
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		ferr error
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := fn(ctx); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ferr != nil {
		return result{}, ferr
	}
	if len(lats) == 0 {
		return result{}, errors.New("no request completed")
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[min(len(lats)-1, int(float64(len(lats))*p))] }
	return result{p50: pct(0.50), p99: pct(0.99), rps: float64(len(lats)) / elapsed.Seconds()}, nil
}

type gqlResponse struct {
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func postGraphQL(ctx context.Context, client *http.Client, url, token, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	// The load generator only looks for errors, so that its own decoding
	// does not weigh on the figures; a response with errors is decoded.
	if !bytes.Contains(b, []byte(`"errors"`)) {
		return nil
	}
	var r gqlResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql error: %s", r.Errors[0].Message)
	}
	return nil
}

// newService is the read service the raw measurements call.
func newService(bdb *bun.DB) *synclog.Service { return synclog.New(bdb, app.Version) }
