// Package graph is the GraphQL API: gqlgen's generated executor plus thin
// resolvers that read the caller from the context, call the synclog service
// or a loader, and return its result. No SQL lives here.
package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/live"
	"github.com/kivalogic/helpscout-log/internal/loaders"
	"github.com/kivalogic/helpscout-log/internal/syncer"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// Resolver wires the resolvers to their dependencies.
type Resolver struct {
	// Log answers the read queries.
	Log *synclog.Service
	// Sync is the sync pipeline (intake, retries, settings); nil when the
	// process runs without it.
	Sync *syncer.Service
	// Live delivers subscriptions; nil when the process runs without it.
	Live *live.Hub
}

// pipeline returns the sync pipeline, or UNAVAILABLE when this process
// runs without one.
func (r *Resolver) pipeline() (*syncer.Service, error) {
	if r.Sync == nil {
		return nil, apperr.New(apperr.Unavailable, "the sync pipeline is not running in this process")
	}
	return r.Sync, nil
}

// eachError reports every error that err joins as an error of its own (a
// form with several bad fields gets one error naming each), and returns
// the last, which ends the field.
func eachError(ctx context.Context, err error) error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return err
	}
	errs := joined.Unwrap()
	for _, e := range errs[:len(errs)-1] {
		graphql.AddError(ctx, e)
	}
	return errs[len(errs)-1]
}

// hub returns the live hub, or UNAVAILABLE when this process runs without
// one.
func (r *Resolver) hub() (*live.Hub, error) {
	if r.Live == nil {
		return nil, apperr.New(apperr.Unavailable, "live events are not available in this process")
	}
	return r.Live, nil
}

// subject is the caller's token subject, recorded as the actor of changes.
func subject(ctx context.Context) string {
	c, err := auth.CallerFrom(ctx)
	if err != nil {
		return ""
	}
	return c.Subject
}

// loaders returns the request's loaders, or fresh ones for contexts that
// did not pass through the HTTP middleware.
func (r *Resolver) loaders(ctx context.Context) *loaders.Loaders {
	if l := loaders.For(ctx); l != nil {
		return l
	}
	return loaders.New(r.Stores())
}

// Stores returns the stores the loaders read.
func (r *Resolver) Stores() loaders.Stores {
	return loaders.Stores{Events: r.Log.Events, Customers: r.Log.Customers, Conversations: r.Log.Conversations}
}
