package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/graph"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/export"
	"github.com/kivalogic/helpscout-log/internal/live"
	"github.com/kivalogic/helpscout-log/internal/loaders"
	"github.com/kivalogic/helpscout-log/internal/metrics"
	"github.com/kivalogic/helpscout-log/internal/syncer"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// Deps are what the router needs.
type Deps struct {
	Log     zerolog.Logger
	Service *synclog.Service
	Issuer  *auth.Issuer
	Metrics *metrics.Metrics
	// GraphQL configures the GraphQL handler.
	GraphQL GraphQLOptions
	// AllowedOrigins are the browser origins CORS admits; "*" admits any.
	AllowedOrigins []string
	// Ready reports whether the service can serve: database reachable and
	// migrations current.
	Ready func(ctx context.Context) error
	// Playground serves the page at /; nil serves a plain pointer to /graphql.
	Playground http.Handler
	// Assets serves the playground's static files under /assets/.
	Assets http.Handler
	// Sync is the sync pipeline behind intake, retries and settings; nil
	// answers those fields with UNAVAILABLE.
	Sync *syncer.Service
	// Live delivers subscriptions; nil answers them with UNAVAILABLE.
	Live *live.Hub
	// Wall serves the wall-screen page at /wall; nil: not mounted.
	Wall http.Handler
	// Webhooks receives HelpScout's webhooks at POST /webhooks/helpscout;
	// they authenticate by signature, not by bearer token. Nil: not mounted.
	Webhooks http.Handler
	// StopExports ends when CSV exports in flight must finish, just
	// before the server closes its connections at shutdown; each then ends
	// its file with a row saying where it stopped. Nil: never.
	StopExports context.Context
}

// NewRouter returns the service's HTTP handler.
func NewRouter(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(requestIDHeader)
	r.Use(accessLog(d.Log, d.Metrics))
	r.Use(middleware.Recoverer)
	if len(d.AllowedOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: d.AllowedOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			// Besides the API's own headers, those that tracing and error
			// reporting libraries add to every request of an app: a
			// preflight that refused them would refuse the request.
			AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "X-Request-Id",
				"traceparent", "tracestate", "baggage", "sentry-trace"},
			ExposedHeaders:   []string{"X-Request-Id", "Content-Disposition"},
			AllowCredentials: false,
			MaxAge:           600,
		}))
	}

	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "NOT_FOUND",
			"message": "there is nothing at " + req.URL.Path + ": the GraphQL endpoint is /graphql, the playground /"}})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				w.Header().Add("Allow", m)
			}
		}
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "METHOD_NOT_ALLOWED",
			"message": req.Method + " is not supported on " + req.URL.Path}})
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		defer cancel()
		if err := d.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if d.Metrics != nil {
		r.Handle("/metrics", d.Metrics.Handler())
	}

	gqlOpts := d.GraphQL
	if gqlOpts.Issuer == nil {
		gqlOpts.Issuer = d.Issuer
	}
	if gqlOpts.AllowedOrigins == nil {
		gqlOpts.AllowedOrigins = d.AllowedOrigins
	}
	gql := NewGraphQL(&graph.Resolver{Log: d.Service, Sync: d.Sync, Live: d.Live}, d.Metrics, d.Log, gqlOpts)
	stores := loaders.Stores{Events: d.Service.Events, Customers: d.Service.Customers, Conversations: d.Service.Conversations}
	var h http.Handler = checkGraphQLRequest(loaders.Middleware(stores, gql))
	if d.Playground != nil {
		h = playgroundForBrowsers(h)
	}
	r.Handle("/graphql", d.Issuer.Middleware(h))
	if gqlOpts.Introspection {
		// The same schema introspection shows, as a file.
		r.Method(http.MethodGet, "/schema.graphql", schemaHandler(graph.NewExecutableSchema(graph.Config{}).Schema()))
	}
	// Download links carry their token in access_token; nothing else may.
	r.Handle("/export/sync-events.csv", d.Issuer.DownloadMiddleware(export.Handler(d.Service, d.Log, d.StopExports)))
	if d.Webhooks != nil {
		r.Method(http.MethodPost, "/webhooks/helpscout", d.Webhooks)
	}
	if d.Assets != nil {
		r.Handle("/assets/*", d.Assets)
	}
	if d.Wall != nil {
		r.Handle("/wall", d.Wall)
	}
	if d.Playground != nil {
		r.Handle("/", d.Playground)
	}
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func requestIDHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// opInfo carries the GraphQL operation name and outcome from the gqlgen
// handler back out to the access log.
type opInfo struct {
	name, outcome string
}

type opKey struct{}

func recordOperation(ctx context.Context, name, outcome string) {
	if oi, ok := ctx.Value(opKey{}).(*opInfo); ok {
		oi.name, oi.outcome = name, outcome
	}
}

// accessLog logs one line per request with its id, route, status,
// duration and, for GraphQL, the operation name and outcome.
func accessLog(log zerolog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			oi := &opInfo{}
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), opKey{}, oi)))
			d := time.Since(start)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			route := chi.RouteContext(r.Context()).RoutePattern()
			if route == "" {
				route = "unmatched"
			}
			if m != nil {
				m.ObserveHTTP(route, status, d)
			}
			lvl := zerolog.InfoLevel
			switch {
			case status >= 500:
				lvl = zerolog.ErrorLevel
			case route == "/healthz" || route == "/readyz" || route == "/metrics" || route == "/assets/*":
				lvl = zerolog.DebugLevel
			}
			ev := log.WithLevel(lvl).
				Str("request_id", middleware.GetReqID(r.Context())).
				Str("method", r.Method).
				Str("path", r.URL.Path).
				Int("status", status).
				Int("bytes", ww.BytesWritten()).
				Dur("duration_ms", d)
			if oi.outcome != "" {
				ev = ev.Str("operation", oi.name).Str("outcome", oi.outcome)
			}
			ev.Msg("request")
		})
	}
}
