// Package live delivers sync-event changes to subscribers: one LISTEN
// connection per process, reads by cursor shared by every subscriber, and
// catch-up from a cursor without a gap or a duplicate.
//
// A notification on sync_events_changed (or a timer, since notifications
// can be lost) makes the hub read the settled changes after its position
// once, in batches, and match each against every subscriber's filter in
// memory: the database work per change does not depend on the number of
// subscribers. A subscriber that starts from a cursor first reads what it
// missed from the database on its own, then joins the shared stream at the
// hub's position. Each subscriber has a bounded buffer; one that falls
// behind by more than the buffer is dropped with SLOW_CONSUMER and a
// cursor to resume from.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/faillog"
)

// Channel is the notification channel that writers signal after they
// commit changes to sync events (see db.ChangeChannel).
const Channel = db.ChangeChannel

// CodeSlowConsumer ends a subscription whose client fell behind.
const CodeSlowConsumer apperr.Code = "SLOW_CONSUMER"

// replayPatience bounds how long a catch-up waits for committed changes to
// settle before joining the shared stream (which then delivers them live).
const replayPatience = 2 * time.Second

// Defaults of Options.
const (
	DefaultBuffer          = 256
	DefaultBatchSize       = 1000
	DefaultPollInterval    = 2 * time.Second
	DefaultSummaryInterval = time.Second
)

// Options configure a Hub.
type Options struct {
	// Log receives the hub's log lines.
	Log zerolog.Logger
	// Buffer is how many undelivered changes a subscriber may hold before
	// it is dropped; DefaultBuffer when zero.
	Buffer int
	// BatchSize is how many changes one read returns; DefaultBatchSize
	// when zero.
	BatchSize int
	// PollInterval is how often the hub reads without a notification, as a
	// safety net for lost ones; DefaultPollInterval when zero.
	PollInterval time.Duration
	// SummaryInterval is the shortest time between two summary pushes to a
	// subscriber; DefaultSummaryInterval when zero.
	SummaryInterval time.Duration
	// SummaryRefresh is how often a summary is recomputed although no event
	// changed, since its window slides; ten intervals when zero.
	SummaryRefresh time.Duration
}

func (o *Options) defaults() {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.SummaryInterval <= 0 {
		o.SummaryInterval = DefaultSummaryInterval
	}
	if o.SummaryRefresh <= 0 {
		o.SummaryRefresh = 10 * o.SummaryInterval
	}
}

// Stats are the hub's counters since it started.
type Stats struct {
	// Subscribers and SummarySubscribers are the open subscriptions,
	// counting every client of a shared execution (see AddShared).
	Subscribers, SummarySubscribers int
	// Streams and SummaryStreams are the subscriptions the hub itself
	// serves: a shared execution counts once however many clients it has.
	Streams, SummaryStreams int
	// Queries counts the statements the hub ran: feed reads, catch-up
	// reads and summary computations.
	Queries int64
	// FeedReads counts the shared reads of the change feed.
	FeedReads int64
	// Changes counts the changes the shared reads returned.
	Changes int64
	// Reconnects counts the times the listening connection was replaced.
	Reconnects int64
	// Position is the cursor of the latest change the hub read.
	Position string
	// HeldBack is how long committed changes have waited behind an older
	// write transaction that is still running; zero when none wait.
	HeldBack time.Duration
}

// Request asks for a subscription to the feed.
type Request struct {
	// Filter selects the events.
	Filter db.EventFilter
	// After, when set, is a cursor of the feed or of the event list to
	// resume after.
	After string
	// OnEnd, when set, is called with the reason before the channel closes
	// because the hub ended the subscription (the subscriber fell behind,
	// the hub stopped, or ctx ended with an *apperr.Error cause); it is not
	// called when ctx is simply cancelled.
	OnEnd func(error)
}

// Hub fans sync-event changes out to the subscribers of this process.
type Hub struct {
	db    *bun.DB
	store *db.ChangeStore
	opts  Options
	log   zerolog.Logger

	// kick asks the reader to read now.
	kick chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
	runCtx  context.Context
	cancel  context.CancelFunc
	ln      *pgdriver.Listener
	// pos is the position of the latest change read, guarded by mu.
	pos  db.ChangePos
	subs map[*subscriber]struct{}

	summaries summaries

	// version counts reads that returned changes; summaries recompute
	// when it moved.
	version    atomic.Uint64
	queries    atomic.Int64
	feedReads  atomic.Int64
	changes    atomic.Int64
	reconnects atomic.Int64
	// heldSince is when the reader first found committed changes held
	// back (Unix nanoseconds), zero when none are; heldWarned is set once
	// the wait has been logged.
	heldSince  atomic.Int64
	heldWarned bool
	// shared counts the clients served through a shared execution beyond
	// the execution's own subscription, by SharedKind.
	shared [sharedKinds]atomic.Int64
}

// New returns a Hub over the database; Start begins listening.
func New(bdb *bun.DB, opts Options) *Hub {
	opts.defaults()
	h := &Hub{
		db:    bdb,
		store: db.NewChangeStore(bdb),
		opts:  opts,
		log:   opts.Log.With().Str("component", "live").Logger(),
		kick:  make(chan struct{}, 1),
		subs:  map[*subscriber]struct{}{},
	}
	h.summaries.groups = map[string]*summaryGroup{}
	return h
}

// Start listens for changes until ctx ends or Stop is called. It fails
// when the listening connection or the first read fails.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return errors.New("live hub already started")
	}
	ln, err := h.openListener(ctx)
	if err != nil {
		return err
	}
	h.queries.Add(1)
	pos, err := h.store.Head(ctx)
	if err != nil {
		_ = ln.Close()
		return err
	}
	h.pos, h.ln, h.started = pos, ln, true
	h.runCtx, h.cancel = context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, h.Stop)
	h.wg.Add(3)
	go func() {
		defer h.wg.Done()
		h.listen(h.runCtx)
	}()
	go func() {
		defer h.wg.Done()
		h.read(h.runCtx)
	}()
	go func() {
		defer h.wg.Done()
		defer stop()
		h.runSummaries(h.runCtx)
	}()
	return nil
}

// Stop ends every subscription and closes the listening connection.
// Stopping twice, or a hub never started, is safe.
func (h *Hub) Stop() {
	h.mu.Lock()
	if !h.started || h.stopped {
		h.stopped = true
		h.mu.Unlock()
		return
	}
	h.stopped = true
	h.cancel()
	ln := h.ln
	h.mu.Unlock()
	// Closing the connection ends a Receive in progress at once.
	_ = ln.Close()
	h.wg.Wait()

	h.mu.Lock()
	for s := range h.subs {
		delete(h.subs, s)
		s.end(apperr.New(apperr.Unavailable, "the server is shutting down; resubscribe with after: %q", s.last))
	}
	h.mu.Unlock()
	h.summaries.closeAll()
}

// Cursor returns the cursor of the newest settled change of the feed: a
// subscription after it receives every change made from now on. It works
// whether or not the hub runs.
func (h *Hub) Cursor(ctx context.Context) (string, error) {
	pos, err := h.store.Head(ctx)
	if err != nil {
		return "", err
	}
	return EncodeCursor(pos), nil
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n, pos := len(h.subs), h.pos
	h.mu.Unlock()
	sn := h.summaries.count()
	return Stats{
		Subscribers:        n + int(h.shared[SharedFeed].Load()),
		SummarySubscribers: sn + int(h.shared[SharedSummary].Load()),
		Streams:            n,
		SummaryStreams:     sn,
		Queries:            h.queries.Load(),
		FeedReads:          h.feedReads.Load(),
		Changes:            h.changes.Load(),
		Reconnects:         h.reconnects.Load(),
		Position:           EncodeCursor(pos),
		HeldBack:           h.heldBack(time.Now()),
	}
}

// heldBack is how long committed changes have been held back at now.
func (h *Hub) heldBack(now time.Time) time.Duration {
	if since := h.heldSince.Load(); since != 0 {
		return now.Sub(time.Unix(0, since))
	}
	return 0
}

// heldBackWarning is how long changes wait behind an older transaction
// before the wait is logged.
const heldBackWarning = 10 * time.Second

// noteWaiting records whether the last read found committed changes held
// back by the running transaction waiting (zero: none), and logs a wait
// that lasts: transaction ids are shared by every database of the server,
// so a long write transaction anywhere on it holds live events back.
// Only the reader calls it.
func (h *Hub) noteWaiting(ctx context.Context, waiting uint64) {
	if waiting == 0 {
		h.heldSince.Store(0)
		h.heldWarned = false
		return
	}
	now := time.Now()
	h.heldSince.CompareAndSwap(0, now.UnixNano())
	if held := h.heldBack(now); !h.heldWarned && held >= heldBackWarning {
		h.heldWarned = true
		xmin, _ := h.store.Xmin(ctx)
		h.log.Warn().Dur("held", held).Uint64("oldest_xid", xmin).
			Msgf("live events are held back by a write transaction that began before them and is still running, "+
				"on this PostgreSQL server (any database); they follow once it ends. "+
				"It is: SELECT pid, datname, xact_start, state, query FROM pg_stat_activity WHERE backend_xid = '%d'", xmin)
	}
}

// poke asks the reader to read now; a read already pending suffices.
func (h *Hub) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// listen receives notifications on the one listening connection and pokes
// the reader. When the connection breaks it reconnects with backoff, then
// pokes the reader to catch up from its position.
func (h *Hub) listen(ctx context.Context) {
	h.mu.Lock()
	ln := h.ln
	h.mu.Unlock()
	backoff := newBackoff(100*time.Millisecond, 10*time.Second)
	for {
		_, _, err := ln.ReceiveTimeout(ctx, h.opts.PollInterval)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			h.poke()
			backoff.reset()
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		h.log.Warn().Err(err).Msg("the listening connection broke; reconnecting")
		_ = ln.Close()
		var attempts faillog.Run
		for {
			if !sleep(ctx, backoff.next()) {
				return
			}
			next, err := h.openListener(ctx)
			if err != nil {
				attempts.Failed(&h.log, zerolog.WarnLevel).Err(err).Msg("error listening again; retrying")
				continue
			}
			h.mu.Lock()
			if h.stopped {
				h.mu.Unlock()
				_ = next.Close()
				return
			}
			h.ln, ln = next, next
			h.mu.Unlock()
			break
		}
		h.reconnects.Add(1)
		h.log.Info().Int("failures", attempts.Failures()).Msg("listening again; catching up")
		h.poke()
	}
}

// openListener opens a listening connection and waits until it receives
// a notification of its own: pgdriver sends LISTEN without waiting for the
// answer, so a change notified right after Listen returns could be lost.
// Notifications of other writers received meanwhile poke the reader.
func (h *Hub) openListener(ctx context.Context) (*pgdriver.Listener, error) {
	ln := pgdriver.NewListener(h.db)
	if err := ln.Listen(ctx, Channel); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("error listening on %s: %w", Channel, err)
	}
	buf := make([]byte, 8)
	_, _ = rand.Read(buf)
	hello := "hello " + hex.EncodeToString(buf)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The server may not have run LISTEN yet when a first notification
		// commits: notify again until one arrives.
		h.queries.Add(1)
		if err := pgdriver.Notify(ctx, h.db, Channel, hello); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("error notifying %s: %w", Channel, err)
		}
		for {
			_, payload, err := ln.ReceiveTimeout(ctx, 100*time.Millisecond)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Now().Before(deadline) {
				break
			}
			if err != nil {
				_ = ln.Close()
				return nil, fmt.Errorf("error waiting for the listening connection to hear its own notification: %w", err)
			}
			if payload == hello {
				return ln, nil
			}
			h.poke()
		}
	}
}

// read reads the feed when poked, on a timer as a safety net, and as soon
// as committed changes waiting behind an older transaction settle.
func (h *Hub) read(ctx context.Context) {
	t := time.NewTicker(h.opts.PollInterval)
	defer t.Stop()
	var (
		waiting uint64
		reads   faillog.Run
	)
	for {
		if waiting != 0 {
			if !h.awaitSettled(ctx, waiting) {
				return
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-h.kick:
			case <-t.C:
			}
		}
		var err error
		waiting, err = h.catchUp(ctx)
		if err != nil && ctx.Err() == nil {
			reads.Failed(&h.log, zerolog.WarnLevel).Err(err).Msg("error reading the change feed; retrying on the next signal")
		}
		if err == nil {
			reads.Succeeded(&h.log).Msg("reading the change feed works again")
			h.noteWaiting(ctx, waiting)
		}
	}
}

// awaitSettled watches the snapshot xmin until it passes xid (or a
// notification or the timer asks for a read anyway). It reports false when
// ctx ended.
func (h *Hub) awaitSettled(ctx context.Context, xid uint64) bool {
	delay := time.Millisecond
	deadline := time.Now().Add(h.opts.PollInterval)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return false
		case <-h.kick:
			return true
		case <-time.After(delay):
		}
		h.queries.Add(1)
		xmin, err := h.store.Xmin(ctx)
		if err != nil || xmin > xid {
			return ctx.Err() == nil
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
	return true
}

// catchUp reads every settled change after the hub's position, a batch at
// a time, and publishes each batch. It returns the transaction the next
// committed change waits for, if any.
func (h *Hub) catchUp(ctx context.Context) (waiting uint64, err error) {
	for {
		h.mu.Lock()
		pos := h.pos
		h.mu.Unlock()
		h.queries.Add(1)
		h.feedReads.Add(1)
		rows, waiting, err := h.store.Read(ctx, pos, h.opts.BatchSize)
		if err != nil {
			return 0, err
		}
		if len(rows) > 0 {
			h.publish(rows)
		}
		if len(rows) < h.opts.BatchSize {
			return waiting, nil
		}
	}
}

// publish offers each change to every subscriber whose filter it matches
// and that has not seen it yet, then advances the hub's position.
func (h *Hub) publish(rows []db.EventChange) {
	h.mu.Lock()
	for _, r := range rows {
		c := &Change{Cursor: EncodeCursor(r.Pos), Kind: kindOf(r), Event: r.Event}
		var replayed *Change
		for s := range h.subs {
			if !r.Pos.After(s.pos) || !s.wants(r) {
				continue
			}
			if !r.Pos.After(s.replayTo) {
				if replayed == nil {
					replayed = &Change{Cursor: c.Cursor, Kind: c.Kind, Replay: true, Event: c.Event}
				}
				h.offer(s, replayed)
				continue
			}
			h.offer(s, c)
		}
	}
	h.pos = rows[len(rows)-1].Pos
	h.mu.Unlock()
	h.changes.Add(int64(len(rows)))
	h.version.Add(1)
}

// offer puts c into the subscriber's buffer, or drops the subscriber when
// the buffer is full. h.mu is held.
func (h *Hub) offer(s *subscriber, c *Change) {
	select {
	case s.buf <- c:
		s.last = c.Cursor
	default:
		delete(h.subs, s)
		s.end(SlowConsumer(cap(s.buf), s.last))
	}
}

func kindOf(r db.EventChange) ChangeKind {
	if r.Created {
		return ChangeCreated
	}
	return ChangeUpdated
}

// subscriber is one subscription to the feed.
type subscriber struct {
	filter db.EventFilter
	buf    chan *Change
	onEnd  func(error)
	// stop unregisters the context callback.
	stop func() bool

	// The fields below are guarded by Hub.mu once joined; before, only the
	// catch-up goroutine touches them.

	// pos is where the subscriber joined the shared stream: it receives
	// only changes after it.
	pos db.ChangePos
	// last is the cursor of the latest change put into buf (or the
	// starting cursor), to resume from.
	last   string
	joined bool
	closed bool
	// replayTo is the latest change committed when the subscriber joined
	// before the changes up to it had settled: the shared stream marks
	// those as replay. Zero when the catch-up delivered everything.
	replayTo db.ChangePos
	// skip holds changes the client already saw in the event list it
	// resumed from, by event id; each is skipped once.
	skip map[int64]db.ChangePos
}

// wants reports whether the subscriber receives change r.
func (s *subscriber) wants(r db.EventChange) bool {
	if p, ok := s.skip[r.Event.ID]; ok {
		delete(s.skip, r.Event.ID)
		if p == r.Pos {
			return false
		}
	}
	return s.filter.Matches(r.Event)
}

// end closes the subscription, reporting err first when there is one.
func (s *subscriber) end(err error) {
	if s.closed {
		return
	}
	s.closed = true
	if err != nil && s.onEnd != nil {
		s.onEnd(err)
	}
	close(s.buf)
	if s.stop != nil {
		s.stop()
	}
}

// Subscribe delivers the changes matching f, after the cursor when one is
// given. The channel closes when ctx ends or the subscriber is dropped.
func (h *Hub) Subscribe(ctx context.Context, f db.EventFilter, after string) (<-chan *Change, error) {
	return h.Watch(ctx, Request{Filter: f, After: after})
}

// Watch is Subscribe with a callback that learns why the hub ended the
// subscription.
func (h *Hub) Watch(ctx context.Context, req Request) (<-chan *Change, error) {
	var st start
	if req.After != "" {
		var err error
		if st, err = parseAfter(req.After); err != nil {
			return nil, err
		}
	}
	s := &subscriber{filter: req.Filter, buf: make(chan *Change, h.opts.Buffer), onEnd: req.OnEnd, last: req.After}

	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.stopped {
		return nil, apperr.New(apperr.Unavailable, "live events are not available in this process")
	}
	s.stop = context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if s.joined {
			delete(h.subs, s)
			s.end(endCause(ctx, s.last))
		}
	})
	if req.After == "" {
		s.pos, s.last, s.joined = h.pos, EncodeCursor(h.pos), true
		h.subs[s] = struct{}{}
		return s.buf, nil
	}
	cctx, cancel := context.WithCancel(ctx)
	stopRun := context.AfterFunc(h.runCtx, cancel)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer stopRun()
		defer cancel()
		h.replay(cctx, ctx, s, st)
	}()
	return s.buf, nil
}

// endCause is the error that ends a subscription whose ctx ended: its
// cause when that is an application error (an expired token), with the
// cursor to resume from; nil when the client simply went away.
func endCause(ctx context.Context, last string) error {
	ae, ok := apperr.As(context.Cause(ctx))
	if !ok {
		return nil
	}
	return &apperr.Error{Code: ae.Code, Message: fmt.Sprintf("%s; resubscribe with after: %q", ae.Message, last), Err: ae.Err}
}

// replay catches a subscriber up from its start on its own reads, then
// joins it to the shared stream. ctx is the subscription's context merged
// with the hub's; sub is the subscription's own, for the end cause.
func (h *Hub) replay(ctx, sub context.Context, s *subscriber, st start) {
	send := func(c *Change) bool {
		select {
		case s.buf <- c:
			s.last = c.Cursor
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch {
		case sub.Err() != nil:
			s.end(endCause(sub, s.last))
		case h.stopped:
			s.end(apperr.New(apperr.Unavailable, "the server is shutting down; resubscribe with after: %q", s.last))
		default:
			h.log.Warn().Err(err).Msg("error replaying changes to a subscriber")
			s.end(apperr.New(apperr.Unavailable, "live events are unavailable for a moment; resubscribe with after: %q", s.last))
		}
	}
	if st.list != nil {
		// The replay by keyset covers the events after the list position
		// up to a settled feed position; the feed after it covers the
		// rest, less the changes the client saw in the list.
		h.queries.Add(2)
		pos, seen, err := h.store.Handover(ctx, *st.list)
		if err != nil {
			fail(err)
			return
		}
		st.pos, s.skip = pos, seen
		from := *st.list
		for {
			h.queries.Add(1)
			rows, err := h.store.ListUpTo(ctx, s.filter, from, st.pos, h.opts.BatchSize)
			if err != nil {
				fail(err)
				return
			}
			for _, r := range rows {
				if !send(&Change{Cursor: listCursor(r.Event), Kind: kindOf(r), Replay: true, Event: r.Event}) {
					fail(ctx.Err())
					return
				}
			}
			if len(rows) < h.opts.BatchSize {
				break
			}
			from = db.KeysetOf(rows[len(rows)-1].Event)
		}
	}
	pos := st.pos
	var wait time.Duration
	for {
		h.queries.Add(1)
		rows, waiting, err := h.store.Read(ctx, pos, h.opts.BatchSize)
		if err != nil {
			fail(err)
			return
		}
		for _, r := range rows {
			pos = r.Pos
			if !s.wants(r) {
				continue
			}
			if !send(&Change{Cursor: EncodeCursor(r.Pos), Kind: kindOf(r), Replay: true, Event: r.Event}) {
				fail(ctx.Err())
				return
			}
		}
		if len(rows) == h.opts.BatchSize {
			continue
		}
		if waiting != 0 && wait < replayPatience {
			// Committed changes wait behind an older transaction: give it a
			// moment, so that they arrive as replay, before joining anyway.
			wait = min(max(2*wait, 5*time.Millisecond), replayPatience)
			if !sleep(ctx, wait) {
				fail(ctx.Err())
				return
			}
			continue
		}
		var replayTo db.ChangePos
		if waiting != 0 {
			// Joining while committed changes still wait to settle: the
			// shared stream delivers them, marked as replay.
			h.queries.Add(1)
			if replayTo, err = h.store.Tail(ctx); err != nil {
				fail(err)
				return
			}
		}
		h.mu.Lock()
		if ctx.Err() != nil || h.stopped {
			h.mu.Unlock()
			fail(ctx.Err())
			return
		}
		if !h.pos.After(pos) {
			s.pos, s.joined, s.replayTo = pos, true, replayTo
			if len(rows) > 0 || st.list != nil {
				// A resume cursor for the feed, whatever the start was.
				s.last = EncodeCursor(pos)
			}
			h.subs[s] = struct{}{}
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
	}
}

// backoff doubles a delay up to a maximum.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, cur: min} }

func (b *backoff) next() time.Duration {
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return d
}

func (b *backoff) reset() { b.cur = b.min }

// sleep waits for d or until ctx ends, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
