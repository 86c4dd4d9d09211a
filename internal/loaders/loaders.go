// Package loaders batches the look-ups of related records that a GraphQL
// list resolves (an event's customer, conversation, retried event and
// retries) into one query per kind and request. Loaders live for one
// request: Middleware builds them and For finds them.
package loaders

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/kivalogic/helpscout-log/db"
)

// wait is how long a loader collects keys before it queries. gqlgen starts
// the resolvers of a list's items together, so a short wait catches them all.
const wait = time.Millisecond

// Stores are the stores the loaders read.
type Stores struct {
	Events        *db.EventStore
	Customers     *db.CustomerStore
	Conversations *db.ConversationStore
}

// Loaders holds one request's loaders.
type Loaders struct {
	// CustomerByEmail loads customers by lower-cased email; nil when missing.
	CustomerByEmail *dataloadgen.Loader[string, *db.Customer]
	// ConversationByID loads conversations by HelpScout id; nil when missing.
	ConversationByID *dataloadgen.Loader[int64, *db.Conversation]
	// EventByID loads events by id; nil when missing.
	EventByID *dataloadgen.Loader[int64, *db.SyncEvent]
	// RetriesOf loads the events that retried an event, oldest first.
	RetriesOf *dataloadgen.Loader[int64, []*db.SyncEvent]

	fetchCustomers     func(context.Context, []string) ([]*db.Customer, []error)
	fetchConversations func(context.Context, []int64) ([]*db.Conversation, []error)
	fetchEvents        func(context.Context, []int64) ([]*db.SyncEvent, []error)
	fetchRetries       func(context.Context, []int64) ([][]*db.SyncEvent, []error)
}

// New returns fresh loaders over s.
func New(s Stores) *Loaders {
	l := &Loaders{
		fetchCustomers: func(ctx context.Context, keys []string) ([]*db.Customer, []error) {
			rows, err := s.Customers.GetManyByEmail(ctx, keys)
			return align(keys, rows, err, func(c *db.Customer) string { return c.Email })
		},
		fetchConversations: func(ctx context.Context, keys []int64) ([]*db.Conversation, []error) {
			rows, err := s.Conversations.GetMany(ctx, keys)
			return align(keys, rows, err, func(c *db.Conversation) int64 { return c.ID })
		},
		fetchEvents: func(ctx context.Context, keys []int64) ([]*db.SyncEvent, []error) {
			rows, err := s.Events.GetMany(ctx, keys)
			return align(keys, rows, err, func(e *db.SyncEvent) int64 { return e.ID })
		},
		fetchRetries: func(ctx context.Context, keys []int64) ([][]*db.SyncEvent, []error) {
			rows, err := s.Events.RetriesOf(ctx, keys)
			out := make([][]*db.SyncEvent, len(keys))
			if err != nil {
				return out, fill(len(keys), err)
			}
			idx := make(map[int64]int, len(keys))
			for i, k := range keys {
				idx[k] = i
			}
			for _, e := range rows {
				if i, ok := idx[*e.RetryOfID]; ok {
					out[i] = append(out[i], e)
				}
			}
			for i := range out {
				if out[i] == nil {
					out[i] = []*db.SyncEvent{}
				}
			}
			return out, nil
		},
	}
	opt := dataloadgen.WithWait(wait)
	l.CustomerByEmail = dataloadgen.NewLoader(l.fetchCustomers, opt)
	l.ConversationByID = dataloadgen.NewLoader(l.fetchConversations, opt)
	l.EventByID = dataloadgen.NewLoader(l.fetchEvents, opt)
	l.RetriesOf = dataloadgen.NewLoader(l.fetchRetries, opt)
	return l
}

// Relations says which related records a page of events will resolve.
type Relations struct {
	Customer, Conversation, RetryOf, Retries bool
}

// Preload fetches, with one query per kind, the related records of a page
// of events that rel asks for, and primes the loaders with them; the
// resolvers then find them without waiting for a batch to fill, so a page
// costs the same number of queries at any size.
func (l *Loaders) Preload(ctx context.Context, events []*db.SyncEvent, rel Relations) error {
	if len(events) == 0 {
		return nil
	}
	if rel.Customer {
		if err := preload(ctx, l.CustomerByEmail, l.fetchCustomers, events, func(e *db.SyncEvent) *string { return e.CustomerEmail }); err != nil {
			return err
		}
	}
	if rel.Conversation {
		if err := preload(ctx, l.ConversationByID, l.fetchConversations, events, func(e *db.SyncEvent) *int64 { return e.ConversationID }); err != nil {
			return err
		}
	}
	if rel.RetryOf {
		if err := preload(ctx, l.EventByID, l.fetchEvents, events, func(e *db.SyncEvent) *int64 { return e.RetryOfID }); err != nil {
			return err
		}
	}
	if rel.Retries {
		if err := preload(ctx, l.RetriesOf, l.fetchRetries, events, func(e *db.SyncEvent) *int64 { return &e.ID }); err != nil {
			return err
		}
	}
	return nil
}

// preload fetches the distinct non-nil keys of events and primes loader.
func preload[K comparable, V any](ctx context.Context, loader *dataloadgen.Loader[K, V],
	fetch func(context.Context, []K) ([]V, []error), events []*db.SyncEvent, key func(*db.SyncEvent) *K) error {
	seen := make(map[K]struct{}, len(events))
	var keys []K
	for _, e := range events {
		if k := key(e); k != nil {
			if _, ok := seen[*k]; !ok {
				seen[*k] = struct{}{}
				keys = append(keys, *k)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	vals, errs := fetch(ctx, keys)
	for i, k := range keys {
		if errs != nil && errs[i] != nil {
			return errs[i]
		}
		loader.Prime(k, vals[i])
	}
	return nil
}

// align orders rows by keys; a missing key yields a nil value.
func align[K comparable, V any](keys []K, rows []*V, err error, key func(*V) K) ([]*V, []error) {
	out := make([]*V, len(keys))
	if err != nil {
		return out, fill(len(keys), err)
	}
	byKey := make(map[K]*V, len(rows))
	for _, r := range rows {
		byKey[key(r)] = r
	}
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out, nil
}

func fill(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

type ctxKey struct{}

// lazy builds a request's loaders on first use, so that requests that
// resolve no related records do not pay for them.
type lazy struct {
	once    sync.Once
	stores  Stores
	loaders *Loaders
}

func (z *lazy) get() *Loaders {
	z.once.Do(func() { z.loaders = New(z.stores) })
	return z.loaders
}

// Middleware gives every request its own loaders.
func Middleware(s Stores, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &lazy{stores: s})))
	})
}

// For returns the request's loaders, or nil outside a request that passed
// through Middleware.
func For(ctx context.Context) *Loaders {
	if z, ok := ctx.Value(ctxKey{}).(*lazy); ok {
		return z.get()
	}
	return nil
}
