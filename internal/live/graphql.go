package live

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/auth"
)

// UntilTokenExpires returns ctx ending when the caller's token expires,
// with an UNAUTHENTICATED cause that Watch and WatchSummary report to the
// client. Without a caller it returns ctx.
func UntilTokenExpires(ctx context.Context) context.Context {
	c, err := auth.CallerFrom(ctx)
	if err != nil || c.ExpiresAt.IsZero() {
		return ctx
	}
	cause := apperr.New(apperr.Unauthenticated, "your token expired at %s; reconnect with a new token", c.ExpiresAt.UTC().Format(time.RFC3339))
	dctx, cancel := context.WithDeadlineCause(ctx, c.ExpiresAt, cause)
	// The deadline's timer is released when the operation's context ends.
	_ = cancel
	return dctx
}

// ReportEnd returns an OnEnd callback that hands the reason a subscription
// ended to gqlgen's WebSocket transport, which sends it as the operation's
// error message (with extensions.code) instead of a plain complete, or to
// the function given to WithEndReport. ctx is the subscription resolver's
// context.
func ReportEnd(ctx context.Context) func(error) {
	if report, ok := ctx.Value(endReportKey{}).(func(error)); ok {
		return report
	}
	path := graphql.GetPath(ctx)
	return func(err error) {
		if ctx.Err() != nil {
			// The operation is over (the client stopped it or went away):
			// nobody reads the error, and the transport may be reading
			// its list of errors already.
			return
		}
		gqlErr := &gqlerror.Error{Message: "the subscription ended", Path: path, Extensions: map[string]any{"code": string(apperr.Internal)}}
		if ae, ok := apperr.As(err); ok {
			gqlErr.Message = ae.Message
			gqlErr.Extensions["code"] = string(ae.Code)
		}
		addSubscriptionError(ctx, gqlErr)
	}
}

// endReportKey marks a context whose subscriptions report their end
// errors to a function (WithEndReport).
type endReportKey struct{}

// WithEndReport returns ctx under which ReportEnd hands the error that
// ends a subscription to report instead of gqlgen's WebSocket transport:
// for an execution that serves several clients and passes the error on to
// each of them.
func WithEndReport(ctx context.Context, report func(error)) context.Context {
	return context.WithValue(ctx, endReportKey{}, report)
}

// addSubscriptionError records err for the WebSocket transport. Only that
// transport prepares the context for it; elsewhere gqlgen's helper would
// dereference nil, so the error is dropped and the channel's close ends
// the operation.
func addSubscriptionError(ctx context.Context, err *gqlerror.Error) {
	defer func() { _ = recover() }()
	transport.AddSubscriptionError(ctx, err)
}
