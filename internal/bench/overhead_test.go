package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// BenchmarkSyncErrorsPage measures one page of 50 failed events (the
// "sync errors, last 24 hours" query) through the whole handler in process,
// beside the store calls its resolvers make, to show the cost of the
// GraphQL layer itself in time and allocations:
//
//	go test -run '^$' -bench SyncErrorsPage -benchmem ./internal/bench/
func BenchmarkSyncErrorsPage(b *testing.B) {
	ctx := context.Background()
	_, bdb := dbtest.NewDSN(b)
	if _, err := seed.Run(ctx, bdb, seed.Options{Events: 50000, Days: 2, Now: time.Now(), Seed: 3}); err != nil {
		b.Fatal(err)
	}
	if _, err := bdb.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	app.TuneRuntime()
	iss := auth.NewIssuer("bench-secret-0123456789abcdef")
	tok, _ := iss.Issue("b", auth.RoleManager, time.Hour)
	h := app.Handler(bdb, &config.Config{LogLevel: zerolog.Disabled, ComplexityLimit: 50000}, iss, zerolog.Nop(), nil)
	q := `query SyncErrors { syncEvents(filter: {statuses: [FAILED], within: LAST_24_HOURS}, first: 50) { totalCount pageInfo { hasNextPage endCursor } nodes { ` + eventFields + ` } } }`
	body, _ := json.Marshal(map[string]any{"query": q})
	b.Run("graphql-in-process", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatal(w.Body.String())
			}
		}
	})
	svc := synclog.New(bdb, "")
	st := synclog.Last24Hours
	in := &synclog.FilterInput{Statuses: []db.EventStatus{db.StatusFailed}, Within: &st}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			f, _ := in.Resolve(time.Now(), "filter")
			if _, _, err := svc.Events.List(ctx, f, db.Page{Limit: 50, Desc: true, OmitDetails: true}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Rollups.Count(ctx, f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
