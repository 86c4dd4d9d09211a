package db_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

// BenchmarkSearchPage reads the first page of 50 events of a search whose
// text is in the emails of many customers, over 30 days of a seeded log,
// the way a page of a broad search is read ("scan") and, as the baseline,
// through the emails of every matching customer ("email-index"):
//
//	go test -run '^$' -bench SearchPage -benchtime 50x ./db/
//
// The texts are in the emails of every customer ("example"), of about 3%
// of them ("garcia") and of about 0.2% ("garcia11"), where the scan finds
// too few matches and the page falls back to the email index.
func BenchmarkSearchPage(b *testing.B) {
	ctx := context.Background()
	bdb, from := seededMonth(b)
	for _, text := range []string{"example", "garcia", "garcia11"} {
		for _, way := range []struct {
			name string
			rows int64
		}{{"scan", 5000}, {"email-index", 0}} {
			store := db.NewEventStore(bdb)
			store.SetBroadScanRows(way.rows)
			f := db.EventFilter{From: &from, Search: db.ParseSearch(text)}
			b.Run(text+"/"+way.name, func(b *testing.B) {
				for b.Loop() {
					rows, _, err := store.List(ctx, f, db.Page{Limit: 50, Desc: true, OmitDetails: true})
					if err != nil {
						b.Fatal(err)
					}
					if len(rows) == 0 {
						b.Fatal("no events found")
					}
				}
			})
		}
	}
}

// BenchmarkSearchEach streams every event of a search over 30 days of a
// seeded log in batches of 2,000, as the CSV export does, through windows
// where they pay ("windows") and, as the baseline, through the email index
// alone ("email-index"):
//
//	go test -run '^$' -bench SearchEach -benchtime 1x ./db/
func BenchmarkSearchEach(b *testing.B) {
	ctx := context.Background()
	bdb, from := seededMonth(b)
	for _, text := range []string{"example", "example.org", "garcia"} {
		for _, way := range []struct {
			name string
			rows int64
		}{{"windows", 5000}, {"email-index", 0}} {
			store := db.NewEventStore(bdb)
			store.SetBroadScanRows(way.rows)
			f := db.EventFilter{From: &from, Search: db.ParseSearch(text)}
			b.Run(text+"/"+way.name, func(b *testing.B) {
				var n int
				for b.Loop() {
					n = 0
					if err := store.Each(ctx, f, true, 2000, func(*db.SyncEvent) error { n++; return nil }); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n), "events")
			})
		}
	}
}

// seededMonth is a fresh database holding 30 days of a seeded log of
// 300,000 events (or as many as BENCH_EVENTS says), vacuumed and analysed,
// and the start of those 30 days.
func seededMonth(b *testing.B) (*bun.DB, time.Time) {
	ctx := context.Background()
	events := 300000
	if v := os.Getenv("BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_EVENTS=%q: want a positive number of events", v)
		}
		events = n
	}
	bdb := dbtest.New(b)
	now := time.Now()
	if _, err := seed.Run(ctx, bdb, seed.Options{Events: events, Days: 30, Now: now, Seed: 11}); err != nil {
		b.Fatal(err)
	}
	if _, err := bdb.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return bdb, now.Add(-30 * 24 * time.Hour)
}
