package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/kivalogic/helpscout-log/internal/loaders"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// eventNodeFields calls fn with each field the query selects on the events
// of the connection being resolved, under nodes and under edges.node.
func eventNodeFields(ctx context.Context, fn func(graphql.CollectedField)) {
	oc := graphql.GetOperationContext(ctx)
	each := func(sel ast.SelectionSet) {
		for _, f := range graphql.CollectFields(oc, sel, []string{"SyncEvent"}) {
			fn(f)
		}
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"SyncEventConnection"}) {
		switch f.Name {
		case "nodes":
			each(f.Selections)
		case "edges":
			for _, ef := range graphql.CollectFields(oc, f.Selections, []string{"SyncEventEdge"}) {
				if ef.Name == "node" {
					each(ef.Selections)
				}
			}
		}
	}
}

// eventRead is what the list of the connection being resolved must read
// of each event: the details only when the query selects them.
func eventRead(ctx context.Context) synclog.EventRead {
	if !graphql.HasOperationContext(ctx) {
		return synclog.EventRead{Details: true}
	}
	var read synclog.EventRead
	eventNodeFields(ctx, func(f graphql.CollectedField) {
		if f.Name == "details" {
			read.Details = true
		}
	})
	return read
}

// withRelations preloads the related records that the query selects on the
// events of conn (the field being resolved), so that resolving them costs
// one query per kind whatever the page size, and begins the total count
// when the query selects it (see startTotalCount).
func (r *Resolver) withRelations(ctx context.Context, conn *synclog.EventConnection) (*synclog.EventConnection, error) {
	if !graphql.HasOperationContext(ctx) {
		return conn, nil
	}
	startTotalCount(ctx, "SyncEventConnection", conn)
	var rel loaders.Relations
	eventNodeFields(ctx, func(f graphql.CollectedField) {
		switch f.Name {
		case "customer":
			rel.Customer = true
		case "conversation":
			rel.Conversation = true
		case "retryOf":
			rel.RetryOf = true
		case "retries":
			rel.Retries = true
		}
	})
	if rel == (loaders.Relations{}) {
		return conn, nil
	}
	if err := r.loaders(ctx).Preload(ctx, conn.Nodes(), rel); err != nil {
		return nil, err
	}
	return conn, nil
}

// startTotalCount begins the total count of conn, the connection of type
// typeName being resolved, when the query selects totalCount on it. The
// count then runs while the page's nodes are resolved and written, instead
// of after them.
func startTotalCount(ctx context.Context, typeName string, conn interface{ StartTotalCount(context.Context) }) {
	if !graphql.HasOperationContext(ctx) {
		return
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{typeName}) {
		if f.Name == "totalCount" {
			conn.StartTotalCount(ctx)
			return
		}
	}
}
