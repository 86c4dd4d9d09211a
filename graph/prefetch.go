package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/kivalogic/helpscout-log/internal/loaders"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// eventSelection is what a query selects on the event connection being
// resolved, read once before the page is: what each event must carry, and
// what to start or preload once the page is read.
type eventSelection struct {
	read       synclog.EventRead
	totalCount bool
	liveCursor bool
	rel        loaders.Relations
}

// selectEvents reads the selection of the event connection being resolved:
// totalCount, and the fields under nodes and under edges.node. Without an
// operation (a call from Go) everything is read and nothing started.
func selectEvents(ctx context.Context) eventSelection {
	if !graphql.HasOperationContext(ctx) {
		return eventSelection{read: synclog.EventRead{Details: true}}
	}
	oc := graphql.GetOperationContext(ctx)
	var sel eventSelection
	mark := func(set ast.SelectionSet) {
		for _, f := range graphql.CollectFields(oc, set, []string{"SyncEvent"}) {
			switch f.Name {
			case "details":
				sel.read.Details = true
			case "customer":
				sel.rel.Customer = true
			case "conversation":
				sel.rel.Conversation = true
			case "retryOf":
				sel.rel.RetryOf = true
			case "retries":
				sel.rel.Retries = true
			}
		}
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"SyncEventConnection"}) {
		switch f.Name {
		case "totalCount":
			sel.totalCount = true
		case "liveCursor":
			sel.liveCursor = true
		case "nodes":
			mark(f.Selections)
		case "edges":
			for _, ef := range graphql.CollectFields(oc, f.Selections, []string{"SyncEventEdge"}) {
				if ef.Name == "node" {
					mark(ef.Selections)
				}
			}
		}
	}
	return sel
}

// withRelations begins the total count of conn when the query selects it
// (see startTotalCount), and preloads the related records the query selects
// on its events, so that resolving them costs one query per kind whatever
// the page size.
func (r *Resolver) withRelations(ctx context.Context, conn *synclog.EventConnection, sel eventSelection) (*synclog.EventConnection, error) {
	if sel.totalCount {
		conn.StartTotalCount(ctx)
	}
	if sel.rel == (loaders.Relations{}) {
		return conn, nil
	}
	if err := r.loaders(ctx).Preload(ctx, conn.Nodes(), sel.rel); err != nil {
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
