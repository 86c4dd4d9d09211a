package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// LiveOptions configure a run of the subscription benchmark.
type LiveOptions struct {
	// Sizes are the subscriber counts to measure, in order.
	Sizes []int
	// Rate is how many events a second the writer commits.
	Rate float64
	// Duration is how long the writer writes at each size.
	Duration time.Duration
	// Protocol is the WebSocket subprotocol of the clients.
	Protocol string
	// KeepDatabase keeps the benchmark database afterwards.
	KeepDatabase bool
	// Database, when set, runs against this existing database.
	Database string
	// CPUProfile, when set, is the file that receives a CPU profile of the
	// server while it delivers at the largest size.
	CPUProfile string
	// ClientCommand returns the command that runs the clients of one size
	// in a child process with the given bench-live flags (so that the
	// server's file limit and memory count the server only). Nil runs
	// this executable's bench-live subcommand.
	ClientCommand func(args []string) *exec.Cmd
}

// Live parses the bench-live flags and runs the subscription benchmark:
// N subscribers over real WebSockets to an in-process server while events
// are committed at a fixed rate, reporting delivery latency (commit to
// frame received), messages per second, memory per subscriber and
// database statements per event, at a small size and at N. The
// configuration is read from getenv once the flags are accepted (the
// client process started with -client-url does not read it).
func Live(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench-live", flag.ContinueOnError)
	subs := fs.Int("subscribers", 10000, "how many subscribers to open")
	baseline := fs.Int("baseline", 100, "also measure this many subscribers first, to compare database work (0 skips)")
	rate := fs.Float64("rate", 10, "events committed per second")
	dur := fs.Duration("duration", 30*time.Second, "how long to write events at each size")
	proto := fs.String("protocol", "graphql-transport-ws", "WebSocket subprotocol: graphql-transport-ws or graphql-ws")
	keep := fs.Bool("keep", false, "keep the benchmark database afterwards")
	existing := fs.String("database", "", "use this existing database (name on the same server) instead of a fresh one")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server while it delivers at the largest size to this file (and of the client process to this file plus .clients)")
	clientURL := fs.String("client-url", "", "internal: run the clients of one size against this endpoint (the child process)")
	clientToken := fs.String("client-token", "", "internal: the clients' token")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log bench-live [-subscribers N] [-rate R] [-duration D] [-protocol P]\n\n"+
			"Starts the service in process on a loopback port with its live hub, opens N\n"+
			"syncEvents subscriptions over real WebSockets, commits events at a fixed rate,\n"+
			"and reports delivery latency (commit to frame received), messages per second,\n"+
			"memory per subscriber and database statements per event.\n\n")
		fs.PrintDefaults()
	}
	if err := app.ParseFlags(fs, args, out); err != nil {
		return err
	}
	if *proto != "graphql-transport-ws" && *proto != "graphql-ws" {
		return fmt.Errorf("-protocol: %q is not graphql-transport-ws or graphql-ws", *proto)
	}
	if *subs <= 0 || *rate <= 0 {
		return errors.New("-subscribers and -rate must be positive")
	}
	if *clientURL != "" {
		if *cpuProfile != "" {
			stop, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
		}
		return runClients(ctx, *clientURL, *clientToken, *proto, *subs, os.Stdin, out)
	}
	opts := LiveOptions{Rate: *rate, Duration: *dur, Protocol: *proto, KeepDatabase: *keep, Database: *existing, CPUProfile: *cpuProfile}
	if *baseline > 0 && *baseline < *subs {
		opts.Sizes = append(opts.Sizes, *baseline)
	}
	opts.Sizes = append(opts.Sizes, *subs)
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	return RunLive(ctx, cfg, opts, out)
}

// countingHook counts the statements run through a bun.DB.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	h.n.Add(1)
	return ctx
}

func (h *countingHook) AfterQuery(context.Context, *bun.QueryEvent) {}

// liveRow is one line of the result table.
type liveRow struct {
	subscribers       int
	events            int
	delivered, wanted int64
	p50, p99, max     time.Duration
	msgsPerSec        float64
	heapPerSub        float64
	goroutinesPerSub  float64
	stmtsPerEvent     float64
	feedReadsPerEvent float64
	dropped           int64
}

// RunLive runs the subscription benchmark.
func RunLive(ctx context.Context, cfg *config.Config, opts LiveOptions, out io.Writer) error {
	if err := raiseFileLimit(slices.Max(opts.Sizes) + 1000); err != nil {
		fmt.Fprintf(out, "warning: %v\n", err)
	}
	dsn, cleanup, err := benchDatabase(ctx, cfg, opts.Database, opts.KeepDatabase, out)
	if err != nil {
		return err
	}
	defer cleanup()

	// The server's pool, counted, and the writer's own pool.
	serverDB, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: max(cfg.DBMaxConns, 10)})
	if err != nil {
		return err
	}
	defer serverDB.Close()
	// The hook goes in before any statement: bun's hooks may not be added
	// while queries run (the migrations' commits start change hints).
	hook := &countingHook{}
	serverDB.AddQueryHook(hook)
	if _, err := db.Migrate(ctx, serverDB); err != nil {
		return err
	}
	writerDB, err := db.Open(ctx, dsn, db.Options{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	defer writerDB.Close()

	app.TuneRuntime()
	issuer := auth.NewIssuer("bench-live-secret-0123456789abcdef")
	token, err := issuer.Issue("bench-live", auth.RoleManager, 24*time.Hour)
	if err != nil {
		return err
	}
	hcfg := *cfg
	hcfg.LogLevel = zerolog.Disabled
	hcfg.SyncWorkers = 0
	stack := app.NewStack(serverDB, &hcfg, issuer, zerolog.Nop(), nil)
	if err := stack.Live.Start(ctx); err != nil {
		return err
	}
	defer stack.Live.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: stack.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/graphql"

	fmt.Fprintf(out, "\n%s, %.0f events/s for %s at each size; server, database, writer and client process on this machine (%d CPUs).\n",
		opts.Protocol, opts.Rate, opts.Duration, runtime.NumCPU())
	var rows []liveRow
	for _, n := range opts.Sizes {
		fmt.Fprintf(out, "%d subscribers: connecting ...\n", n)
		row, err := runLiveSize(ctx, stack, hook, writerDB, url, token, n, opts)
		if err != nil {
			return fmt.Errorf("%d subscribers: %w", n, err)
		}
		rows = append(rows, row)
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "subscribers\tevents\tdelivered\tp50\tp99\tmax\tmsgs/s\theap/sub\tgoroutines/sub\tDB stmts/event\tfeed reads/event\tdropped\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%d/%d\t%s\t%s\t%s\t%.0f\t%.1f KiB\t%.2f\t%.2f\t%.2f\t%d\t\n", r.subscribers, r.events,
			r.delivered, r.wanted, ms(r.p50), ms(r.p99), ms(r.max), r.msgsPerSec, r.heapPerSub/1024, r.goroutinesPerSub,
			r.stmtsPerEvent, r.feedReadsPerEvent, r.dropped)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nLatency: from the writer's commit returning to the frame read by the client. heap/sub and goroutines/sub: server")
	fmt.Fprintln(out, "process with N subscribers minus with none, divided by N, after GC (the clients run in a child process).")
	fmt.Fprintln(out, "DB stmts/event: every statement the server ran through its pool while writing, divided by events written.")
	return nil
}

// liveClient is one benchmark subscriber.
type liveClient struct {
	conn *websocket.Conn
	// ids and times are the event ids received and when.
	ids   []int64
	times []time.Time
	// errors counts error frames (for example SLOW_CONSUMER).
	errors int
	count  atomic.Int64
}

// clientLine prefixes the lines the client process writes for its parent.
const clientLine = "bench-live-client"

func defaultClientCommand(args []string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, append([]string{"bench-live"}, args...)...)
}

func runLiveSize(ctx context.Context, stack *app.Stack, hook *countingHook, writerDB *bun.DB, url, token string, n int, opts LiveOptions) (liveRow, error) {
	heap0, g0 := heapNow()
	subsBefore := stack.Live.Stats().Subscribers

	command := opts.ClientCommand
	if command == nil {
		command = defaultClientCommand
	}
	args := []string{"-client-url", url, "-client-token", token, "-subscribers", strconv.Itoa(n), "-protocol", opts.Protocol}
	if opts.CPUProfile != "" && n == slices.Max(opts.Sizes) {
		// The client process profiles itself into a file of its own.
		args = append(args, "-cpuprofile", opts.CPUProfile+".clients")
	}
	cmd := command(args)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return liveRow{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return liveRow{}, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return liveRow{}, fmt.Errorf("error starting the client process: %w", err)
	}
	defer func() {
		// The client process ends on its own once its input closes (and
		// writes its profile); it is killed if it does not.
		_ = stdin.Close()
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	lines := bufio.NewScanner(stdout)
	expect := func(word string) ([]string, error) {
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) < 2 || f[0] != clientLine {
				continue
			}
			if f[1] == "error" {
				return nil, errors.New(strings.Join(f[2:], " "))
			}
			if f[1] == word {
				return f[2:], nil
			}
		}
		return nil, fmt.Errorf("the client process ended before %q: %v", word, lines.Err())
	}
	if _, err := expect("ready"); err != nil {
		return liveRow{}, err
	}
	deadline := time.Now().Add(time.Minute)
	for stack.Live.Stats().Subscribers < subsBefore+n {
		if time.Now().After(deadline) {
			return liveRow{}, fmt.Errorf("only %d of %d subscriptions registered", stack.Live.Stats().Subscribers-subsBefore, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	heap1, g1 := heapNow()

	// Write at a fixed rate and tell the clients when each commit returned.
	stmts0, st0 := hook.n.Load(), stack.Live.Stats()
	if opts.CPUProfile != "" && n == slices.Max(opts.Sizes) {
		stop, err := startCPUProfile(opts.CPUProfile)
		if err != nil {
			return liveRow{}, err
		}
		defer stop()
	}
	store := db.NewEventStore(writerDB)
	interval := time.Duration(float64(time.Second) / opts.Rate)
	total := int(opts.Duration / interval)
	start := time.Now()
	ref := "bench-live"
	w := bufio.NewWriter(stdin)
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		e := &db.SyncEvent{OccurredAt: time.Now().UTC(), Type: db.EventTicketCreated, Status: db.StatusPending,
			Direction: db.DirectionToHelpScout, Source: db.SourceContactForm, SourceRef: &ref}
		if err := store.Insert(ctx, writerDB, []*db.SyncEvent{e}); err != nil {
			return liveRow{}, err
		}
		fmt.Fprintf(w, "commit %d %d\n", e.ID, time.Now().UnixNano())
	}
	fmt.Fprintf(w, "done %d\n", total)
	if err := w.Flush(); err != nil {
		return liveRow{}, fmt.Errorf("error writing to the client process: %w", err)
	}
	res, err := expect("result")
	if err != nil {
		return liveRow{}, err
	}
	stmts, st1 := hook.n.Load()-stmts0, stack.Live.Stats()
	var v [7]int64
	if len(res) != len(v) {
		return liveRow{}, fmt.Errorf("malformed client result %q", res)
	}
	for i := range v {
		if v[i], err = strconv.ParseInt(res[i], 10, 64); err != nil {
			return liveRow{}, fmt.Errorf("malformed client result %q", res)
		}
	}
	row := liveRow{subscribers: n, events: total, delivered: v[0], wanted: v[1],
		p50: time.Duration(v[2]), p99: time.Duration(v[3]), max: time.Duration(v[4]), dropped: v[5],
		msgsPerSec:        float64(v[0]) / time.Duration(v[6]).Seconds(),
		heapPerSub:        float64(int64(heap1)-int64(heap0)) / float64(n),
		goroutinesPerSub:  float64(g1-g0) / float64(n),
		stmtsPerEvent:     float64(stmts) / float64(total),
		feedReadsPerEvent: float64(st1.FeedReads-st0.FeedReads) / float64(total),
	}
	_ = stdin.Close()
	// Wait for the hub to let go of the closed subscriptions.
	deadline = time.Now().Add(time.Minute)
	for stack.Live.Stats().Subscribers > subsBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return row, nil
}

// runClients is the client process: it opens n subscriptions, says ready,
// reads the commit times its parent sends, and when told the writing is
// done waits for the last deliveries and prints the latency figures.
func runClients(ctx context.Context, url, token, proto string, n int, in io.Reader, out io.Writer) error {
	fail := func(err error) error {
		fmt.Fprintf(out, "%s error %v\n", clientLine, err)
		return err
	}
	if err := raiseFileLimit(n + 100); err != nil {
		return fail(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clients := make([]*liveClient, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var next atomic.Int64
	var dialErr atomic.Value
	var dialers sync.WaitGroup
	for range 32 {
		dialers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || dialErr.Load() != nil {
					return
				}
				c, err := dialLive(cctx, url, token, proto)
				if err != nil {
					dialErr.Store(fmt.Errorf("error opening subscriber %d: %w", i, err))
					return
				}
				clients[i] = c
				wg.Go(func() { _ = c.read(cctx) })
			}
		})
	}
	dialers.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "%s ready\n", clientLine)

	commits := map[int64]int64{}
	var first int64
	total := -1
	sc := bufio.NewScanner(in)
	for total < 0 && sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "commit":
			id, _ := strconv.ParseInt(f[1], 10, 64)
			at, _ := strconv.ParseInt(f[2], 10, 64)
			commits[id] = at
			if first == 0 {
				first = at
			}
		case len(f) == 2 && f[0] == "done":
			total, _ = strconv.Atoi(f[1])
		}
	}
	if total < 0 {
		return fail(fmt.Errorf("the parent stopped before done: %v", sc.Err()))
	}
	wanted := int64(n) * int64(total)
	drain := time.Now().Add(10 * time.Second)
	for time.Now().Before(drain) && receivedTotal(clients) < wanted {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	for _, c := range clients {
		_ = c.conn.CloseNow()
	}
	wg.Wait()

	var lat []time.Duration
	var delivered, errs, last int64
	for _, c := range clients {
		errs += int64(c.errors)
		for j, id := range c.ids {
			at, ok := commits[id]
			if !ok {
				continue
			}
			ns := c.times[j].UnixNano()
			lat = append(lat, time.Duration(ns-at))
			last = max(last, ns)
			delivered++
		}
	}
	slices.Sort(lat)
	var p50, p99, mx time.Duration
	if len(lat) > 0 {
		p50, p99, mx = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	fmt.Fprintf(out, "%s result %d %d %d %d %d %d %d\n", clientLine, delivered, wanted, p50, p99, mx, errs, max(last-first, 1))
	return nil
}

func receivedTotal(clients []*liveClient) int64 {
	var n int64
	for _, c := range clients {
		n += int64(c.count.Load())
	}
	return n
}

func heapNow() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, runtime.NumGoroutine()
}

const liveSubscription = `subscription { syncEvents { cursor kind event { id status occurredAt } } }`

// dialLive opens a WebSocket, authenticates and subscribes.
func dialLive(ctx context.Context, url, token, proto string) (*liveClient, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		return nil, err
	}
	send := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return conn.Write(dctx, websocket.MessageText, b)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	_, data, err := conn.Read(dctx)
	if err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	if !bytes.Contains(data, []byte(`"connection_ack"`)) {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("connection refused: %s", data)
	}
	typ := "subscribe"
	if proto == "graphql-ws" {
		typ = "start"
	}
	if err := send(map[string]any{"type": typ, "id": "1", "payload": map[string]any{"query": liveSubscription}}); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	return &liveClient{conn: conn}, nil
}

var (
	eventKey = []byte(`"event":{"id":"`)
	nextType = [][]byte{[]byte(`"type":"next"`), []byte(`"type":"data"`)}
)

// read records every event frame until the connection closes. It reads
// the event id without decoding the whole frame, to keep the clients'
// share of the machine small.
func (c *liveClient) read(ctx context.Context) error {
	for {
		// No deadline per read (it costs a timer each); the process
		// closes the connections when it is done.
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case bytes.Contains(data, nextType[0]) || bytes.Contains(data, nextType[1]):
			i := bytes.Index(data, eventKey)
			if i < 0 {
				c.errors++
				continue
			}
			rest := data[i+len(eventKey):]
			k := bytes.IndexByte(rest, '"')
			id, err := strconv.ParseInt(string(rest[:max(k, 0)]), 10, 64)
			if err != nil {
				continue
			}
			c.ids = append(c.ids, id)
			c.times = append(c.times, now)
			c.count.Add(1)
		case bytes.Contains(data, []byte(`"type":"ping"`)):
			_ = c.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case bytes.Contains(data, []byte(`"type":"error"`)):
			c.errors++
		}
	}
}

// startCPUProfile starts a CPU profile into path and returns its stop,
// which may be called more than once.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return sync.OnceFunc(func() {
		pprof.StopCPUProfile()
		f.Close()
	}), nil
}

// raiseFileLimit raises the open-file limit to at least n.
func raiseFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("error reading the open-file limit: %w", err)
	}
	if lim.Cur >= uint64(n) {
		return nil
	}
	want := syscall.Rlimit{Cur: uint64(n), Max: max(lim.Max, uint64(n))}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
		return fmt.Errorf("open-file limit is %d, below the %d this run needs: %w", lim.Max, n, err)
	}
	return nil
}
