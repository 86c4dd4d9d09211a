package server

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/kivalogic/helpscout-log/graph"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/metrics"
	"github.com/kivalogic/helpscout-log/internal/pagination"
	"github.com/kivalogic/helpscout-log/internal/syncer"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// GraphQLOptions configure the GraphQL handler.
type GraphQLOptions struct {
	// Introspection enables __schema and __type.
	Introspection bool
	// ComplexityLimit caps a query's complexity; zero disables the cap.
	ComplexityLimit int
	// TokenLimit caps the tokens of a document, so that a huge document is
	// refused before it is parsed whole and validated (validation grows
	// with the square of a selection's size); zero disables the cap.
	TokenLimit int
	// Issuer verifies the token a WebSocket client sends in
	// connection_init; nil accepts no token there.
	Issuer *auth.Issuer
	// AllowedOrigins are the browser origins, besides the server's own,
	// that may open a WebSocket: "https://wall.example.com", a host
	// pattern such as "*.example.com", or "*" for any. Empty allows
	// same-origin pages only. The configuration normalises them (see
	// config.Config.AllowedOrigins).
	AllowedOrigins []string
	// KeepAlive is the interval of keep-alive messages on WebSockets
	// (graphql-ws "ka", graphql-transport-ws ping); 15 s when zero.
	KeepAlive time.Duration
	// WriteInterval spaces the writes of one WebSocket while the process
	// sends more than BusyRate frames a second: results queued within it
	// of the previous write leave together with the next, which saves a
	// system call per result for a busy instance. Zero writes each result
	// as soon as the previous write returns.
	WriteInterval time.Duration
	// BusyRate is the rate of WebSocket frames a second from which
	// WriteInterval applies; DefaultBusyRate when zero.
	BusyRate int
	// InitTimeout is how long a WebSocket may stay open without its
	// connection_init before it closes with 4408; 10 s when zero.
	InitTimeout time.Duration
	// Draining ends when the server begins to shut down: every WebSocket
	// then closes with 1001 (going away) once its operations have sent
	// their last messages. Nil: WebSockets stay open until the process
	// ends.
	Draining context.Context
	// FieldByField turns off the one-pass writing of records, leaving
	// every field to gqlgen's executor; the tests compare the two.
	FieldByField bool
	// Open, when set, counts the open WebSockets until each has closed,
	// so that a shutdown can wait for their close handshakes.
	Open *sync.WaitGroup
}

// NewGraphQL returns the gqlgen handler: GET and POST transports (with
// application/graphql-response+json), introspection when enabled, a
// complexity limit, automatic persisted queries, and the error presenter.
func NewGraphQL(res *graph.Resolver, m *metrics.Metrics, log zerolog.Logger, opts GraphQLOptions) *handler.Server {
	cfg := graph.Config{Resolvers: res}
	cfg.Directives.HasRole = auth.HasRole
	cfg.Complexity = complexity()
	es := graph.NewExecutableSchema(cfg)
	srv := handler.New(es)
	// Identical live subscriptions share one execution (see wsgroup.go).
	ws, load := websocketTransport(opts, log)
	srv.AddTransport(sharedWebsocket{Websocket: ws, shared: newSharedSubscriptions(res.Live, log)})
	if m != nil {
		m.CounterFunc("helpscout_log_websocket_frames_total", "Result and protocol messages queued on WebSockets.",
			func() float64 { f, _ := load.Totals(); return float64(f) })
		m.CounterFunc("helpscout_log_websocket_writes_total", "Writes to WebSocket sockets; frames per write above one show coalescing.",
			func() float64 { _, w := load.Totals(); return float64(w) })
		m.GaugeFunc("helpscout_log_websocket_spacing", "1 while WebSockets space their writes (over LIVE_BUSY_RATE frames a second), else 0.",
			func() float64 {
				if opts.WriteInterval > 0 && load.busy(time.Now()) {
					return 1
				}
				return 0
			})
	}
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.TokenLimit > 0 {
		srv.SetParserTokenLimit(opts.TokenLimit)
	}
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	// The root fields first: their refusal says more than the complexity.
	srv.Use(rootFieldLimit{})
	if opts.ComplexityLimit > 0 {
		srv.Use(extension.FixedComplexityLimit(opts.ComplexityLimit))
	}
	srv.Use(inputGuard{schema: es.Schema()})
	if !opts.FieldByField {
		// Records whose selected fields are all plain are written in one
		// pass rather than field by field (see internal/leafobj).
		srv.Use(graph.LeafObjects())
	}
	srv.AroundOperations(refuseExpiredTokens)
	srv.SetErrorPresenter(errorPresenter(log))
	srv.SetRecoverFunc(recoverFunc(log))
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if !graphql.HasOperationContext(ctx) {
			return resp
		}
		oc := graphql.GetOperationContext(ctx)
		name := operationName(oc, opts.TokenLimit)
		outcome := "ok"
		if resp != nil && len(resp.Errors) > 0 {
			outcome = "error"
			if len(resp.Data) > 0 && string(resp.Data) != "null" {
				outcome = "partial"
			}
		}
		if !overWebSocket(ctx) {
			// The access log records one operation per HTTP request; the
			// operations of a WebSocket run concurrently on its request.
			recordOperation(ctx, name, outcome)
		}
		if m != nil {
			_, err := auth.CallerFrom(ctx)
			m.ObserveOperation(name, outcome, err == nil, time.Since(oc.Stats.OperationStart))
		}
		return resp
	})
	return srv
}

// operationName names the operation of a response for logs and metrics:
// the operation that ran, or for a document refused before running (say,
// one that does not validate), the name the request asked for or the name
// of its only operation. tokenLimit is the handler's parser token limit.
func operationName(oc *graphql.OperationContext, tokenLimit int) string {
	if oc.Operation != nil && oc.Operation.Name != "" {
		return oc.Operation.Name
	}
	if oc.OperationName != "" {
		return oc.OperationName
	}
	doc := oc.Doc
	if doc == nil && oc.RawQuery != "" {
		// Refused before it ran: parse again (without validating) only to
		// read the name; a document that does not parse has none.
		doc, _ = parser.ParseQueryWithTokenLimit(&ast.Source{Input: oc.RawQuery}, tokenLimit)
	}
	if doc != nil && len(doc.Operations) == 1 {
		return doc.Operations[0].Name
	}
	return ""
}

// pageCost is the complexity of a list field: its children times the page
// size (the default page when none is given). A page size over the cap
// costs only the field, which refuses it, naming the argument, before any
// child runs.
func pageCost(child int, first, last *int) int {
	n := 50
	if first != nil && *first > 0 {
		n = *first
	} else if last != nil && *last > 0 {
		n = *last
	}
	if n > pagination.MaxPageSize {
		return 1
	}
	return 1 + child*n
}

// listCost is the complexity of a list of at most max items, or of def
// items when arg is not given; like pageCost, over max costs only the
// field.
func listCost(child int, arg *int, def, max int) int {
	n := def
	if arg != nil && *arg > 0 {
		n = *arg
	}
	if n > max {
		return 1
	}
	return 1 + child*n
}

// duplicateGroupSize is what the complexity counts for the tickets of one
// duplicate group: most groups hold two or three.
const duplicateGroupSize = 10

// complexity charges list fields by their page size, so that deep nested
// pages are refused before they run.
func complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	c.Query.SyncEvents = func(child int, _ *synclog.FilterInput, first *int, _ *string, last *int, _ *string, _ *synclog.EventOrder) int {
		return pageCost(child, first, last)
	}
	c.Query.Customers = func(child int, _ *synclog.CustomerFilterInput, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	c.Customer.Events = func(child int, _ *synclog.FilterInput, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	c.Customer.Conversations = func(child int, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	c.Conversation.Events = func(child int, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	c.Query.DuplicateTickets = func(child int, _ *synclog.TimeRangeInput, _ *int, first *int) int {
		return listCost(child, first, synclog.DefaultDuplicateGroups, synclog.MaxDuplicateGroups)
	}
	c.DuplicateTicketGroup.Events = func(child int) int { return 1 + child*duplicateGroupSize }
	c.MissingTicketReport.Events = func(child int) int { return 1 + child*synclog.MaxInvestigationEvents }
	c.MissingTicketReport.Tickets = func(child int) int { return 1 + child*synclog.MaxInvestigationEvents }
	c.Mutation.RetryFailedSyncs = func(child int, _ *synclog.FilterInput, limit *int) int {
		return listCost(child, limit, syncer.DefaultBulkRetry, syncer.MaxBulkRetry)
	}
	c.SyncEvent.Retries = func(child int) int { return 1 + 3*child }
	return c
}
