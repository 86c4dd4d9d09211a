package live

import (
	"context"
	"fmt"

	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// SharedKind says which kind of subscription a shared execution serves.
type SharedKind int

// The kinds of shared subscriptions.
const (
	// SharedFeed is a subscription to the change feed (Watch).
	SharedFeed SharedKind = iota
	// SharedSummary is a summary subscription (WatchSummary).
	SharedSummary

	sharedKinds = iota
)

// AddShared adjusts by delta the number of clients that a shared execution
// serves beyond its own subscription to the hub: an execution that serves
// k clients from one subscription accounts for k-1. Stats counts them in
// Subscribers or SummarySubscribers, so that those report the clients'
// subscriptions however the server executes them; Streams and
// SummaryStreams count the hub's own.
func (h *Hub) AddShared(kind SharedKind, delta int) {
	if kind < 0 || kind >= sharedKinds || delta == 0 {
		return
	}
	h.shared[kind].Add(int64(delta))
}

// SlowConsumer is the error that ends a feed subscription whose client
// fell more than buffer changes behind; last is the cursor of the latest
// change it was given, to resume from.
func SlowConsumer(buffer int, last string) *apperr.Error {
	return &apperr.Error{Code: CodeSlowConsumer, Message: fmt.Sprintf(
		"you fell behind by more than %d events; resubscribe with after: %q (the last cursor you received)", buffer, last)}
}

// EndCause is the error that ends a feed subscription whose context ended:
// the context's cause when that is an application error (an expired token,
// see UntilTokenExpires), with last as the cursor to resume from; nil when
// the client simply went away.
func EndCause(ctx context.Context, last string) error {
	return endCause(ctx, last)
}
