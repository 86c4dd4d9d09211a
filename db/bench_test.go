package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/kivalogic/helpscout-log/db"
)

// BenchmarkZonedSummary summarizes the last 30 days of a seeded log in
// daily buckets, in UTC (the baseline, whose days have daily rollups), in a
// zone a whole number of hours from UTC, and in zones half and three
// quarters of an hour off, whose days begin inside an hour, all read from
// the rollups; and in each again with the tallies of finished days kept
// from one summary to the next, as the service reads them:
//
//	go test -run '^$' -bench ZonedSummary -benchtime 50x ./db/
func BenchmarkZonedSummary(b *testing.B) {
	ctx := context.Background()
	bdb, _ := seededMonth(b)
	kept := db.NewRollupStore(bdb)
	uncached := kept.Uncached()
	cases := []struct {
		name  string
		zone  string
		store *db.RollupStore
	}{
		{"UTC", "UTC", uncached},
		{"Europe/Berlin", "Europe/Berlin", uncached},
		{"Asia/Kolkata", "Asia/Kolkata", uncached},
		{"Asia/Kathmandu", "Asia/Kathmandu", uncached},
		{"UTC-kept-days", "UTC", kept},
		{"Europe/Berlin-kept-days", "Europe/Berlin", kept},
		{"Asia/Kolkata-kept-days", "Asia/Kolkata", kept},
		{"Asia/Kathmandu-kept-days", "Asia/Kathmandu", kept},
	}
	for _, c := range cases {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				to := time.Now()
				from := to.Add(-30 * 24 * time.Hour)
				sum, err := c.store.Summarize(ctx, db.EventFilter{From: &from, To: &to}, db.BucketDay, loc)
				if err != nil {
					b.Fatal(err)
				}
				if sum.Total == 0 || len(sum.Timeline) < 30 {
					b.Fatalf("%d events in %d days", sum.Total, len(sum.Timeline))
				}
			}
		})
	}
}

// BenchmarkDuplicateTickets searches the last 30 days of a seeded log for
// duplicate tickets with the default window of 10 minutes, with 4 hours
// and with the widest, a day, which groups most of the tickets
// ticket_repeats lists:
//
//	go test -run '^$' -bench DuplicateTickets -benchtime 10x ./db/
func BenchmarkDuplicateTickets(b *testing.B) {
	ctx := context.Background()
	bdb, from := seededMonth(b)
	store := db.NewEventStore(bdb)
	for _, window := range []time.Duration{10 * time.Minute, 4 * time.Hour, 24 * time.Hour} {
		b.Run(window.String(), func(b *testing.B) {
			for b.Loop() {
				groups, err := store.DuplicateTickets(ctx, from, time.Now(), window, 50)
				if err != nil {
					b.Fatal(err)
				}
				if len(groups) == 0 {
					b.Fatal("no duplicate tickets found")
				}
			}
		})
	}
}
