package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// BenchmarkGraphQLOverhead measures two Quick Reference queries through the
// whole handler in process, beside the store calls their resolvers make,
// to show the cost of the GraphQL layer itself in time and allocations: a
// page of 50 failed events ("sync errors, last 24 hours"), where the cost
// grows with the fields of every event, and one conversation found by
// number, where the fixed cost of a request shows. Each query also runs
// through a handler where gqlgen executes every field of every record
// (config.Config.FieldByField), the baseline of the one-pass writing of
// records (internal/leafobj):
//
//	go test -run '^$' -bench GraphQLOverhead -benchmem ./internal/bench/
func BenchmarkGraphQLOverhead(b *testing.B) {
	ctx := context.Background()
	_, bdb := dbtest.NewDSN(b)
	if _, err := seed.Run(ctx, bdb, seed.Options{Events: 50000, Days: 2, Now: time.Now(), Seed: 3}); err != nil {
		b.Fatal(err)
	}
	if _, err := bdb.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var number int64
	if err := bdb.NewRaw(`SELECT number FROM conversations ORDER BY created_at DESC LIMIT 1 OFFSET 100`).Scan(ctx, &number); err != nil {
		b.Fatal(err)
	}
	app.TuneRuntime()
	iss := auth.NewIssuer("bench-secret-0123456789abcdef")
	tok, _ := iss.Issue("b", auth.RoleManager, time.Hour)
	h := app.Handler(bdb, &config.Config{LogLevel: zerolog.Disabled, ComplexityLimit: 50000}, iss, zerolog.Nop(), nil)
	slow := app.Handler(bdb, &config.Config{LogLevel: zerolog.Disabled, ComplexityLimit: 50000, FieldByField: true}, iss, zerolog.Nop(), nil)
	svc := synclog.New(bdb, "")
	st := synclog.Last24Hours
	failed := &synclog.FilterInput{Statuses: []db.EventStatus{db.StatusFailed}, Within: &st}

	queries := []struct {
		name      string
		query     string
		variables map[string]any
		store     func() error
	}{
		{
			name:  "sync-errors-page",
			query: `query SyncErrors { syncEvents(filter: {statuses: [FAILED], within: LAST_24_HOURS}, first: 50) { totalCount pageInfo { hasNextPage endCursor } nodes { ` + eventFields + ` } } }`,
			store: func() error {
				f, err := failed.Resolve(time.Now(), "filter")
				if err != nil {
					return err
				}
				if _, _, err := svc.Events.List(ctx, f, db.Page{Limit: 50, Desc: true, OmitDetails: true}); err != nil {
					return err
				}
				_, err = svc.Rollups.Count(ctx, f)
				return err
			},
		},
		{
			name: "find-conversation",
			query: `query FindConversation($number: String!) { conversation(number: $number) {
				id number subject status mailboxId mailboxName assignee customerEmail createdAt helpScoutUrl } }`,
			variables: map[string]any{"number": fmt.Sprint(number)},
			store: func() error {
				_, err := svc.Conversations.GetByNumber(ctx, number)
				return err
			},
		},
	}
	for _, q := range queries {
		body, err := json.Marshal(map[string]any{"query": q.query, "variables": q.variables})
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []struct {
			name string
			h    http.Handler
		}{{"graphql-in-process", h}, {"graphql-field-by-field", slow}} {
			b.Run(q.name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
					w := httptest.NewRecorder()
					v.h.ServeHTTP(w, req)
					if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
						b.Fatal(w.Body.String())
					}
				}
			})
		}
		b.Run(q.name+"/store", func(b *testing.B) {
			for b.Loop() {
				if err := q.store(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
