// Package graph is the GraphQL API: gqlgen's generated executor plus thin
// resolvers that read the caller from the context, call the synclog service
// or a loader, and return its result. No SQL lives here.
package graph

import (
	"context"

	"github.com/kivalogic/helpscout-log/internal/loaders"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// Resolver wires the resolvers to their dependencies.
type Resolver struct {
	// Log answers the read queries.
	Log *synclog.Service
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
