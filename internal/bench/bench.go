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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// CPUProfile, when set, is where the CPU profile of a GraphQL-only run
	// of every selected query goes, taken before the measurements.
	CPUProfile string
	// Slice is the longest stretch one side runs before the other takes
	// over; zero runs each side in one stretch of Duration.
	Slice time.Duration
	// Procs, when set, runs every cell once at each of these GOMAXPROCS
	// values; otherwise at the runtime's setting.
	Procs []int
	// Plain also measures each query's store calls behind a bare net/http
	// handler, without GraphQL, beside the same calls run directly.
	Plain bool
}

// Main parses the bench flags and runs the benchmark with the
// configuration read from getenv once the flags are accepted.
func Main(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	events := fs.Int("events", 1000000, "how many events to seed into the fresh database")
	days := fs.Int("days", 30, "spread the events over this many days")
	conc := fs.String("concurrency", "1,16", "comma-separated concurrencies")
	dur := fs.Duration("duration", 3*time.Second, "how long to run each query at each concurrency")
	keep := fs.Bool("keep", false, "keep the benchmark database afterwards")
	existing := fs.String("database", "", "benchmark this existing database (name on the same server) instead of seeding")
	only := fs.String("only", "", "run only the queries whose name contains this text (e.g. summary)")
	cpuProfile := fs.String("cpuprofile", "", "before measuring, profile every selected query over GraphQL alone, for -duration at each concurrency, and write the CPU profile to this file")
	slice := fs.Duration("slice", 250*time.Millisecond, "alternate GraphQL and SQL in slices of this length (0: one stretch each)")
	plain := fs.Bool("plain", false, "also run each query's store calls behind a bare net/http handler, with no GraphQL, beside the same calls run directly")
	procs := fs.String("procs", "", fmt.Sprintf("comma-separated GOMAXPROCS values to run every cell at (default: the runtime's, %d here)", runtime.GOMAXPROCS(0)))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log bench [-events N] [-days D] [-concurrency 1,16] [-duration 3s]\n\n"+
			"Creates a fresh database on the server of DATABASE_URL (or 127.0.0.1:5432, or the\n"+
			"embedded server), seeds it, and prints latency and throughput of each Quick\n"+
			"Reference query through the whole HTTP GraphQL stack beside the same store\n"+
			"calls run directly through the same pool.\n\n")
		fs.PrintDefaults()
	}
	if err := app.ParseFlags(fs, args, out); err != nil {
		return err
	}
	opts := Options{Events: *events, Days: *days, Duration: *dur, KeepDatabase: *keep, Database: *existing, Only: *only, CPUProfile: *cpuProfile, Slice: *slice, Plain: *plain}
	var err error
	if opts.Concurrency, err = positiveInts("concurrency", *conc); err != nil {
		return err
	}
	if *procs != "" {
		if opts.Procs, err = positiveInts("procs", *procs); err != nil {
			return err
		}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	return Run(ctx, cfg, opts, out)
}

// positiveInts parses the comma-separated value of flag name.
func positiveInts(name, value string) ([]int, error) {
	var ns []int
	for _, c := range strings.Split(value, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-%s: %q is not a positive integer", name, c)
		}
		ns = append(ns, n)
	}
	return ns, nil
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
	cases, err := buildCases(ctx, newService(bdb))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withPlainRoutes(app.Handler(bdb, &hcfg, issuer, log, nil), cases)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	maxConc := slices.Max(opts.Concurrency)
	addr := ln.Addr().String()

	if opts.Only != "" {
		cases = slices.DeleteFunc(cases, func(c benchCase) bool { return !strings.Contains(c.name, opts.Only) })
		if len(cases) == 0 {
			return fmt.Errorf("-only: no query name contains %q", opts.Only)
		}
	}
	// The request is encoded once and sent by a lean client (see
	// loadClient), so that the load generator, which shares the process and
	// the machine, spends as little as it can per request.
	gqlClient := func(c benchCase) *loadClient {
		return newLoadClient(addr, http.MethodPost, "/graphql", token, requestBody(c.query, c.variables), maxConc)
	}
	if opts.CPUProfile != "" {
		if err := profileGraphQL(ctx, opts, cases, gqlClient, out); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "\nEach cell runs %s. GraphQL = POST /graphql over loopback HTTP through the whole stack;\n"+
		"SQL = the same store calls run directly through the same pool. The two take turns\n"+
		"in slices of %s, so that both meet the same load on the machine. \"p50 added\" is\n"+
		"the GraphQL p50 less the SQL p50: what the HTTP GraphQL stack adds to a typical request.\n"+
		"procs = GOMAXPROCS, the threads that run Go code at once (%d CPUs here).\n\n", opts.Duration, sliceText(opts), runtime.NumCPU())
	procs := opts.Procs
	if len(procs) == 0 {
		procs = []int{runtime.GOMAXPROCS(0)}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	nameWidth := 0
	for _, c := range cases {
		nameWidth = max(nameWidth, utf8.RuneCountInString(c.name))
	}
	// Each row is printed as soon as it is measured: a full run takes
	// minutes.
	const msWidth, rpsWidth = len("000.00 ms"), len("00000")
	tbl := newTable(out, []column{{"query", nameWidth}, {"conc", 0}, {"procs", 0},
		{"GraphQL p50", msWidth}, {"GraphQL p99", msWidth}, {"GraphQL req/s", rpsWidth},
		{"SQL p50", msWidth}, {"SQL p99", msWidth}, {"SQL req/s", rpsWidth},
		{"p50 added", msWidth}, {"p99 ratio", 0}, {"req/s ratio", 0}})
	if err := tbl.header(); err != nil {
		return err
	}
	var cells []cell
	for _, c := range cases {
		for _, n := range opts.Concurrency {
			for _, p := range procs {
				runtime.GOMAXPROCS(p)
				lc := gqlClient(c)
				gql, raw, err := measurePair(ctx, n, opts.Duration, opts.Slice, lc.send, c.raw)
				lc.close()
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				err = tbl.row(c.name, strconv.Itoa(n), strconv.Itoa(p),
					ms(gql.p50), ms(gql.p99), fmt.Sprintf("%.0f", gql.rps), ms(raw.p50), ms(raw.p99), fmt.Sprintf("%.0f", raw.rps),
					ms(gql.p50-raw.p50), fmt.Sprintf("%.2f×", float64(gql.p99)/float64(raw.p99)), fmt.Sprintf("%.0f%%", 100*gql.rps/raw.rps))
				if err != nil {
					return err
				}
				cells = append(cells, cell{name: c.name, conc: n, procs: p, gql: gql, raw: raw})
			}
		}
	}
	if opts.Plain {
		if err := measurePlain(ctx, opts, procs, cases, addr, maxConc, out); err != nil {
			return err
		}
	}
	if err := measureFloor(ctx, opts, procs, addr, maxConc, out); err != nil {
		return err
	}
	writeTargets(out, cells)
	return nil
}

// plainPath is where the bench's own server runs the store calls of case i
// behind a bare handler; the service has no such route.
func plainPath(i int) string { return "/bench/plain/" + strconv.Itoa(i) }

// withPlainRoutes adds to the service's handler, for each case, a bare
// net/http handler that runs the case's store calls and answers a fixed
// JSON body: what an endpoint with no GraphQL costs over the same SQL.
func withPlainRoutes(h http.Handler, cases []benchCase) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	for i, c := range cases {
		mux.HandleFunc("POST "+plainPath(i), func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if err := c.raw(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"data":{}}`)
		})
	}
	return mux
}

// measurePlain measures each case's store calls behind its bare handler
// beside the same calls run directly, taking turns as the main table does.
func measurePlain(ctx context.Context, opts Options, procs []int, cases []benchCase, addr string, maxConc int, out io.Writer) error {
	fmt.Fprintf(out, "\nPlain HTTP: the same store calls behind a bare net/http handler on the same server,\n"+
		"answering a fixed body (no GraphQL, token or encoding of the results), beside the\n"+
		"calls run directly: the least any HTTP endpoint over this SQL adds.\n\n")
	nameWidth := 0
	for _, c := range cases {
		nameWidth = max(nameWidth, utf8.RuneCountInString(c.name))
	}
	const msWidth, rpsWidth = len("000.00 ms"), len("00000")
	tbl := newTable(out, []column{{"query", nameWidth}, {"conc", 0}, {"procs", 0},
		{"plain p50", msWidth}, {"plain p99", msWidth}, {"plain req/s", rpsWidth},
		{"SQL p50", msWidth}, {"SQL p99", msWidth}, {"SQL req/s", rpsWidth}, {"p99 ratio", 0}})
	if err := tbl.header(); err != nil {
		return err
	}
	for i, c := range cases {
		for _, n := range opts.Concurrency {
			for _, p := range procs {
				runtime.GOMAXPROCS(p)
				lc := newLoadClient(addr, http.MethodPost, plainPath(i), "", []byte(`{}`), maxConc)
				plain, raw, err := measurePair(ctx, n, opts.Duration, opts.Slice, lc.send, c.raw)
				lc.close()
				if err != nil {
					return fmt.Errorf("%s behind a plain handler: %w", c.name, err)
				}
				err = tbl.row(c.name, strconv.Itoa(n), strconv.Itoa(p), ms(plain.p50), ms(plain.p99), fmt.Sprintf("%.0f", plain.rps),
					ms(raw.p50), ms(raw.p99), fmt.Sprintf("%.0f", raw.rps), fmt.Sprintf("%.2f×", float64(plain.p99)/float64(raw.p99)))
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// measureFloor measures GET /healthz through the same server, router,
// middleware and client as the queries, without GraphQL, authentication or
// the database: the cost of the HTTP round trip itself, which every
// GraphQL request pays on top of its SQL.
func measureFloor(ctx context.Context, opts Options, procs []int, addr string, maxConc int, out io.Writer) error {
	fmt.Fprintf(out, "\nHTTP alone: GET /healthz through the same server, middleware and client, with no\n"+
		"GraphQL, token or database: the floor under every GraphQL request above.\n\n")
	const msWidth, rpsWidth = len("000.00 ms"), len("00000")
	tbl := newTable(out, []column{{"conc", 0}, {"procs", 0}, {"p50", msWidth}, {"p99", msWidth}, {"req/s", rpsWidth}})
	if err := tbl.header(); err != nil {
		return err
	}
	for _, n := range opts.Concurrency {
		for _, p := range procs {
			runtime.GOMAXPROCS(p)
			hc := newLoadClient(addr, http.MethodGet, "/healthz", "", nil, maxConc)
			r, err := measure(ctx, n, opts.Duration, hc.send)
			hc.close()
			if err != nil {
				return fmt.Errorf("GET /healthz: %w", err)
			}
			if err := tbl.row(strconv.Itoa(n), strconv.Itoa(p), ms(r.p50), ms(r.p99), fmt.Sprintf("%.0f", r.rps)); err != nil {
				return err
			}
		}
	}
	return nil
}

// column is a table column: its header and the width its cells usually
// need, when wider than the header.
type column struct {
	header string
	width  int
}

// table writes right-aligned rows one at a time, in columns sized before
// the first row, so that each row can be printed as soon as it is known.
type table struct {
	out     io.Writer
	headers []string
	widths  []int
}

func newTable(out io.Writer, cols []column) *table {
	t := &table{out: out}
	for _, c := range cols {
		t.headers = append(t.headers, c.header)
		t.widths = append(t.widths, max(utf8.RuneCountInString(c.header), c.width))
	}
	return t
}

func (t *table) header() error { return t.row(t.headers...) }

func (t *table) row(cells ...string) error {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString("  ")
		if i < len(t.widths) {
			b.WriteString(strings.Repeat(" ", max(0, t.widths[i]-utf8.RuneCountInString(c))))
		}
		b.WriteString(c)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(t.out, b.String())
	return err
}

// profileGraphQL writes one CPU profile of every selected query over
// GraphQL alone, each at every concurrency for the run's duration: a
// profile of the service's read path, to read with go tool pprof or to
// build with as default.pgo.
func profileGraphQL(ctx context.Context, opts Options, cases []benchCase, client func(benchCase) *loadClient, out io.Writer) error {
	stop, err := startCPUProfile(opts.CPUProfile)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "\nprofiling over GraphQL, %s per query and concurrency:", opts.Duration)
	for _, c := range cases {
		for _, n := range opts.Concurrency {
			lc := client(c)
			_, err := measure(ctx, n, opts.Duration, lc.send)
			lc.close()
			if err != nil {
				return fmt.Errorf("%s over GraphQL: %w", c.name, err)
			}
		}
		fmt.Fprintf(out, " %s;", c.name)
	}
	stop()
	fmt.Fprintf(out, "\nwrote the CPU profile to %s\n", opts.CPUProfile)
	return nil
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

// samples collects the latencies of one side and the time it ran.
type samples struct {
	lats    []time.Duration
	elapsed time.Duration
}

func (s *samples) result() (result, error) {
	if len(s.lats) == 0 {
		return result{}, errors.New("no request completed")
	}
	lats := slices.Clone(s.lats)
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[min(len(lats)-1, int(float64(len(lats))*p))] }
	return result{p50: pct(0.50), p99: pct(0.99), rps: float64(len(lats)) / s.elapsed.Seconds()}, nil
}

// warmUp makes a few calls per worker that are not counted.
func warmUp(ctx context.Context, n int, fn func(context.Context) error) error {
	for i := 0; i < 5*n; i++ {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	return nil
}

// run calls fn from n workers for d and adds the latencies and the
// elapsed time to s.
func run(ctx context.Context, n int, d time.Duration, fn func(context.Context) error, s *samples) error {
	var (
		mu   sync.Mutex
		ferr error
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
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
			s.lats = append(s.lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.elapsed += time.Since(start)
	return ferr
}

// measure runs fn from n workers for d and returns latency percentiles and
// throughput, after a warm-up that is not counted.
func measure(ctx context.Context, n int, d time.Duration, fn func(context.Context) error) (result, error) {
	if err := warmUp(ctx, n, fn); err != nil {
		return result{}, err
	}
	var s samples
	if err := run(ctx, n, d, fn, &s); err != nil {
		return result{}, err
	}
	return s.result()
}

// measurePair measures a and b for d each at concurrency n, taking turns
// in slices of at most slice (ABBA: a first, then b first, and so on), so
// that a slow spell of a shared machine falls on both sides alike instead of
// on whichever happened to run then. slice <= 0 runs a, then b, in one
// stretch each.
func measurePair(ctx context.Context, n int, d, slice time.Duration, a, b func(context.Context) error) (ra, rb result, err error) {
	if err := warmUp(ctx, n, a); err != nil {
		return ra, rb, fmt.Errorf("over GraphQL: %w", err)
	}
	if err := warmUp(ctx, n, b); err != nil {
		return ra, rb, fmt.Errorf("over SQL: %w", err)
	}
	if slice <= 0 || slice > d {
		slice = d
	}
	var sa, sb samples
	side := func(first bool, step time.Duration) error {
		if first {
			if err := run(ctx, n, step, a, &sa); err != nil {
				return fmt.Errorf("over GraphQL: %w", err)
			}
			return nil
		}
		if err := run(ctx, n, step, b, &sb); err != nil {
			return fmt.Errorf("over SQL: %w", err)
		}
		return nil
	}
	aFirst := true
	for done := time.Duration(0); done < d; done += slice {
		step := min(slice, d-done)
		if err := side(aFirst, step); err != nil {
			return ra, rb, err
		}
		if err := side(!aFirst, step); err != nil {
			return ra, rb, err
		}
		aFirst = !aFirst
	}
	if ra, err = sa.result(); err != nil {
		return ra, rb, fmt.Errorf("over GraphQL: %w", err)
	}
	if rb, err = sb.result(); err != nil {
		return ra, rb, fmt.Errorf("over SQL: %w", err)
	}
	return ra, rb, nil
}

// sliceText describes how the sides alternate.
func sliceText(opts Options) string {
	if opts.Slice <= 0 || opts.Slice >= opts.Duration {
		return opts.Duration.String() + " (one stretch each)"
	}
	return opts.Slice.String()
}

type gqlResponse struct {
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// requestBody is the JSON body of a GraphQL request.
func requestBody(query string, vars map[string]any) []byte {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return body
}

func postGraphQL(ctx context.Context, client *http.Client, url, token, query string, vars map[string]any) error {
	return postBody(ctx, client, url, token, requestBody(query, vars))
}

// postBody posts a GraphQL request body and fails on any error in the
// response.
func postBody(ctx context.Context, client *http.Client, url, token string, body []byte) error {
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
	return checkResponse(resp.StatusCode, b)
}

// newService is the read service the raw measurements call.
func newService(bdb *bun.DB) *synclog.Service { return synclog.New(bdb, app.Version) }
