package live

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// summaries holds the summary subscriptions, grouped by key: the
// subscribers of one key share one computation per tick.
type summaries struct {
	mu     sync.Mutex
	groups map[string]*summaryGroup
}

// summaryGroup is the subscribers of one summary key.
type summaryGroup struct {
	key     string
	compute func(context.Context) (*db.Summary, error)
	subs    map[*summarySub]struct{}
	// last is the latest value, computed at version at computedAt.
	last       *db.Summary
	version    uint64
	computedAt time.Time
}

// summarySub is one summary subscription. Its channel holds the latest
// value only: a newer value replaces one not yet taken.
type summarySub struct {
	ch     chan *db.Summary
	onEnd  func(error)
	stop   func() bool
	sentAt time.Time
	// pending is a change held back to keep pushes a SummaryInterval apart.
	pending *db.Summary
	closed  bool
}

func (s *summarySub) push(v *db.Summary, now time.Time) {
	select {
	case s.ch <- v:
	default:
		select {
		case <-s.ch:
		default:
		}
		select {
		case s.ch <- v:
		default:
		}
	}
	s.sentAt, s.pending = now, nil
}

func (s *summarySub) end(err error) {
	if s.closed {
		return
	}
	s.closed = true
	if err != nil && s.onEnd != nil {
		s.onEnd(err)
	}
	close(s.ch)
	if s.stop != nil {
		s.stop()
	}
}

func (ss *summaries) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for _, g := range ss.groups {
		n += len(g.subs)
	}
	return n
}

func (ss *summaries) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, g := range ss.groups {
		for s := range g.subs {
			s.end(apperr.New(apperr.Unavailable, "the server is shutting down; subscribe again"))
		}
		delete(ss.groups, k)
	}
}

// SubscribeSummary pushes the summary computed by compute whenever it
// changes, at most once a second.
func (h *Hub) SubscribeSummary(ctx context.Context, key string, compute func(context.Context) (*db.Summary, error)) (<-chan *db.Summary, error) {
	return h.WatchSummary(ctx, key, compute, nil)
}

// WatchSummary is SubscribeSummary with a callback that learns why the hub
// ended the subscription (see Request.OnEnd). The first value is sent at
// once: the group's latest, or one computed now for the first subscriber
// of a key.
func (h *Hub) WatchSummary(ctx context.Context, key string, compute func(context.Context) (*db.Summary, error), onEnd func(error)) (<-chan *db.Summary, error) {
	h.mu.Lock()
	ok := h.started && !h.stopped
	h.mu.Unlock()
	if !ok {
		return nil, apperr.New(apperr.Unavailable, "live events are not available in this process")
	}
	ss := &h.summaries
	ss.mu.Lock()
	g := ss.groups[key]
	var first *db.Summary
	if g != nil {
		first = g.last
	}
	ss.mu.Unlock()
	version := h.version.Load()
	if first == nil {
		h.queries.Add(1)
		v, err := compute(ctx)
		if err != nil {
			return nil, err
		}
		first = v
	}

	s := &summarySub{ch: make(chan *db.Summary, 1), onEnd: onEnd}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if g = ss.groups[key]; g == nil {
		g = &summaryGroup{key: key, compute: compute, subs: map[*summarySub]struct{}{}, last: first, version: version, computedAt: time.Now()}
		ss.groups[key] = g
	}
	g.subs[s] = struct{}{}
	s.push(first, time.Now())
	s.stop = context.AfterFunc(ctx, func() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		delete(g.subs, s)
		if len(g.subs) == 0 && ss.groups[key] == g {
			delete(ss.groups, key)
		}
		if ae, ok := apperr.As(context.Cause(ctx)); ok {
			s.end(ae)
			return
		}
		s.end(nil)
	})
	return s.ch, nil
}

// runSummaries recomputes each summary key once per interval when events
// changed (or when its window has slid for a while) and pushes the values
// that differ from the last.
func (h *Hub) runSummaries(ctx context.Context) {
	t := time.NewTicker(h.opts.SummaryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.tickSummaries(ctx)
	}
}

func (h *Hub) tickSummaries(ctx context.Context) {
	ss := &h.summaries
	version := h.version.Load()
	now := time.Now()
	ss.mu.Lock()
	var due []*summaryGroup
	for _, g := range ss.groups {
		if g.version != version || now.Sub(g.computedAt) >= h.opts.SummaryRefresh {
			due = append(due, g)
		}
	}
	ss.mu.Unlock()

	values := make([]*db.Summary, len(due))
	for i, g := range due {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		h.queries.Add(1)
		v, err := g.compute(cctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn().Err(err).Str("key", g.key).Msg("error computing a live summary")
			}
			continue
		}
		values[i] = v
	}

	ss.mu.Lock()
	defer ss.mu.Unlock()
	for i, g := range due {
		v := values[i]
		if v == nil {
			continue
		}
		changed := !sameSummary(g.last, v)
		g.last, g.version, g.computedAt = v, version, now
		if changed {
			for s := range g.subs {
				s.pending = v
			}
		}
	}
	for _, g := range ss.groups {
		for s := range g.subs {
			if s.pending != nil && now.Sub(s.sentAt) >= h.opts.SummaryInterval-h.opts.SummaryInterval/10 {
				s.push(s.pending, now)
			}
		}
	}
}

// sameSummary compares two summaries apart from their period bounds,
// which move with the clock.
func sameSummary(a, b *db.Summary) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.From, x.To, y.From, y.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}
