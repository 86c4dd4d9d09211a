package db

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// ChangeChannel is the notification channel that tells listeners that
// sync events were written or changed. A notification is only a hint: the
// listener reads the change feed by cursor to learn what changed.
const ChangeChannel = "sync_events_changed"

type quietKey struct{}

// Quiet marks ctx so that committing a transaction begun with it sends no
// change hint. The change feed reads in such transactions, which would
// otherwise wake every listener again after each read.
func Quiet(ctx context.Context) context.Context {
	return context.WithValue(ctx, quietKey{}, true)
}

// writesEvents matches statements that insert or update sync events,
// alone or inside a common table expression.
var writesEvents = regexp.MustCompile(`(?i)\b(INSERT\s+INTO|UPDATE)\s+"?sync_events"?[\s(]`)

// changeHinter is a query hook that sends a NOTIFY on ChangeChannel after
// this process writes sync events: after a statement that writes them (the
// write may be its own transaction) and after every commit.
//
// The hint is sent in a transaction of its own, after the write committed,
// rather than by a trigger inside the writing transaction: PostgreSQL
// serialises the commits of all transactions that notify, so a trigger
// would make every insert wait for the WAL flush of the previous one and
// cap the write rate of the whole server. Hints are coalesced: while one
// is being sent, further ones merge into a single next one.
type changeHinter struct {
	db *bun.DB

	mu      sync.Mutex
	sending bool // a goroutine is sending hints
	again   bool // another hint is due after the one being sent
}

func newChangeHinter(bdb *bun.DB) *changeHinter { return &changeHinter{db: bdb} }

// BeforeQuery implements bun.QueryHook.
func (h *changeHinter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

// AfterQuery implements bun.QueryHook.
func (h *changeHinter) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	if e.Err != nil {
		return
	}
	switch {
	case e.Query == "COMMIT":
		if ctx.Value(quietKey{}) == nil {
			h.hint()
		}
	case strings.HasPrefix(e.Query, "SELECT"):
		// Reads, the bulk of the traffic, never write events.
	case strings.Contains(e.Query, "sync_events") && writesEvents.MatchString(e.Query):
		h.hint()
	}
}

func (h *changeHinter) hint() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sending {
		h.again = true
		return
	}
	h.sending = true
	go h.send()
}

// send sends hints until no more are due.
func (h *changeHinter) send() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = h.db.ExecContext(ctx, "SELECT pg_notify(?, '')", ChangeChannel)
		cancel()
		h.mu.Lock()
		if !h.again {
			h.sending = false
			h.mu.Unlock()
			return
		}
		h.again = false
		h.mu.Unlock()
	}
}
