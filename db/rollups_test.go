package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestMain lives in db_test.go.

func rptr[T any](v T) *T { return &v }

// rollBase is the start of the generated log; it spans rollDays days.
var rollBase = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

const rollDays = 5

var rollEmails = []string{
	"alice@example.com", "bob@example.org", "a_b@kiva.test", "axb@kiva.test",
	"pct%sign@kiva.test", "back\\slash@kiva.test", "frank@100.example", "zed@example.com",
}

// rollLog is a generated log and what was inserted.
type rollLog struct {
	bdb    *bun.DB
	events []*db.SyncEvent
	convs  []int64
}

// newRollLog fills a fresh database with n random events, inserted in several
// statements so that the insert trigger runs over batches.
func newRollLog(t *testing.T, n int, seed uint64) *rollLog {
	t.Helper()
	ctx := context.Background()
	bdb := dbtest.New(t)
	rng := rand.New(rand.NewPCG(seed, 99))
	var customers []*db.Customer
	for _, e := range rollEmails {
		customers = append(customers, &db.Customer{Email: e, LastEventAt: rollBase})
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, customers))
	l := &rollLog{bdb: bdb}
	for i := 0; i < 12; i++ {
		l.convs = append(l.convs, int64(5000+i))
	}
	span := int64(rollDays * 24 * time.Hour / time.Microsecond)
	for i := 0; i < n; i++ {
		e := rollRandomEvent(rng, l.convs)
		e.OccurredAt = rollBase.Add(time.Duration(rng.Int64N(span)) * time.Microsecond)
		if i%97 == 0 { // some events exactly on an hour
			e.OccurredAt = e.OccurredAt.Truncate(time.Hour)
		}
		l.events = append(l.events, e)
	}
	store := db.NewEventStore(bdb)
	for start := 0; start < len(l.events); start += 700 {
		require.NoError(t, store.Insert(ctx, bdb, l.events[start:min(start+700, len(l.events))]))
	}
	return l
}

func rollRandomEvent(rng *rand.Rand, convs []int64) *db.SyncEvent {
	e := &db.SyncEvent{
		Type:      db.EventTypes[rng.IntN(len(db.EventTypes))],
		Status:    db.EventStatuses[rng.IntN(len(db.EventStatuses))],
		Direction: db.Directions[rng.IntN(len(db.Directions))],
		Attempt:   1, Source: db.EventSources[rng.IntN(len(db.EventSources))],
	}
	if e.Type != db.EventError {
		e.CustomerEmail = rptr(rollEmails[rng.IntN(len(rollEmails))])
	}
	if rng.IntN(3) == 0 {
		e.ConversationID = rptr(convs[rng.IntN(len(convs))])
		e.TicketNumber = rptr(*e.ConversationID - 4000)
	}
	if e.Status == db.StatusFailed {
		e.ErrorCode = rptr(db.ErrorCodes[rng.IntN(len(db.ErrorCodes))])
	}
	return e
}

// rollRawCount counts with plain SQL written from the filter's description:
// half-open range, any-of lists, search as a case-insensitive substring of
// the email (position, no LIKE) or a number matching ids.
func rollRawCount(t *testing.T, bdb *bun.DB, f db.EventFilter) int64 {
	t.Helper()
	var conds []string
	var args []any
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	if f.From != nil {
		add("occurred_at >= ?", *f.From)
	}
	if f.To != nil {
		add("occurred_at < ?", *f.To)
	}
	if len(f.Types) > 0 {
		add("type IN (?)", bun.In(f.Types))
	}
	if len(f.Statuses) > 0 {
		add("status IN (?)", bun.In(f.Statuses))
	}
	if len(f.Directions) > 0 {
		add("direction IN (?)", bun.In(f.Directions))
	}
	if len(f.ErrorCodes) > 0 {
		add("error_code IN (?)", bun.In(f.ErrorCodes))
	}
	if f.CustomerEmail != nil {
		add("customer_email = lower(?)", *f.CustomerEmail)
	}
	if f.ConversationID != nil {
		add("conversation_id = ?", *f.ConversationID)
	}
	if len(f.Sources) > 0 {
		add("source IN (?)", bun.In(f.Sources))
	}
	if s := f.Search; s != nil {
		c := "coalesce(position(? in customer_email), 0) > 0"
		a := []any{s.Email}
		switch {
		case s.TicketOnly:
			c, a = "ticket_number = ?", []any{*s.Number}
		case s.Number != nil:
			c = "(" + c + " OR id = ? OR conversation_id = ? OR ticket_number = ?)"
			a = append(a, *s.Number, *s.Number, *s.Number)
		}
		add(c, a...)
	}
	q := "SELECT count(*) FROM sync_events"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	var n int64
	require.NoError(t, bdb.NewRaw(q, args...).Scan(context.Background(), &n))
	return n
}

// rollRandomTime picks an instant of interest in or around the log.
func rollRandomTime(rng *rand.Rand, l *rollLog) time.Time {
	switch rng.IntN(5) {
	case 0: // on an hour
		return rollBase.Add(time.Duration(rng.IntN(rollDays*24+4)-2) * time.Hour)
	case 1: // an event's own time
		return l.events[rng.IntN(len(l.events))].OccurredAt
	case 2: // a microsecond around an hour
		h := rollBase.Add(time.Duration(rng.IntN(rollDays*24)) * time.Hour)
		return h.Add(time.Duration(rng.IntN(3)-1) * time.Microsecond)
	case 3: // a minute around midnight
		d := rollBase.Add(time.Duration(rng.IntN(rollDays+1)) * 24 * time.Hour)
		return d.Add(time.Duration(rng.IntN(121)-60) * time.Minute)
	default: // anywhere
		return rollBase.Add(time.Duration(rng.Int64N(int64(rollDays*24*time.Hour/time.Microsecond))) * time.Microsecond)
	}
}

func rollSubset[T any](rng *rand.Rand, all []T) []T {
	n := 1 + rng.IntN(min(4, len(all)))
	var out []T
	for _, i := range rng.Perm(len(all))[:n] {
		out = append(out, all[i])
	}
	return out
}

// rollRandomFilter builds a filter; closed forces both ends of the range.
func rollRandomFilter(rng *rand.Rand, l *rollLog, closed bool) db.EventFilter {
	var f db.EventFilter
	if closed || rng.IntN(4) > 0 {
		f.From = rptr(rollRandomTime(rng, l))
	}
	if closed || rng.IntN(4) > 0 {
		f.To = rptr(rollRandomTime(rng, l))
	}
	if f.From != nil && f.To != nil {
		if f.To.Before(*f.From) {
			f.From, f.To = f.To, f.From
		}
		if f.From.Equal(*f.To) {
			f.To = rptr(f.To.Add(time.Hour))
		}
	}
	if rng.IntN(10) < 4 {
		f.Types = rollSubset(rng, db.EventTypes)
	}
	if rng.IntN(10) < 4 {
		f.Statuses = rollSubset(rng, db.EventStatuses)
	}
	if rng.IntN(10) < 3 {
		f.Directions = rollSubset(rng, db.Directions)
	}
	if rng.IntN(10) < 3 {
		f.ErrorCodes = rollSubset(rng, db.ErrorCodes)
	}
	if rng.IntN(10) < 2 {
		f.Sources = rollSubset(rng, db.EventSources)
	}
	switch rng.IntN(12) {
	case 0:
		f.Search = db.ParseSearch(strings.ToUpper(rollEmails[rng.IntN(len(rollEmails))][:4]))
	case 1:
		f.Search = db.ParseSearch("#" + strconv.FormatInt(l.convs[rng.IntN(len(l.convs))]-4000, 10))
	case 2:
		f.Search = db.ParseSearch(strconv.FormatInt(l.events[rng.IntN(len(l.events))].ID, 10))
	case 3:
		f.Search = db.ParseSearch([]string{"_", "%", "\\", "example", "100"}[rng.IntN(5)])
	case 4:
		f.CustomerEmail = rptr(rollEmails[rng.IntN(len(rollEmails))])
	case 5:
		f.ConversationID = rptr(l.convs[rng.IntN(len(l.convs))])
	}
	if f.Search != nil && rng.IntN(2) == 0 {
		// Either way of matching emails finds the same events.
		f.Search.Direct = true
	}
	return f
}

func rollDescribe(f db.EventFilter) string {
	s := fmt.Sprintf("from=%v to=%v types=%v statuses=%v directions=%v codes=%v sources=%v", f.From, f.To, f.Types, f.Statuses, f.Directions, f.ErrorCodes, f.Sources)
	if f.Search != nil {
		s += fmt.Sprintf(" search=%+v", *f.Search)
		if f.Search.Number != nil {
			s += fmt.Sprintf("(#%d)", *f.Search.Number)
		}
	}
	if f.CustomerEmail != nil {
		s += " email=" + *f.CustomerEmail
	}
	if f.ConversationID != nil {
		s += fmt.Sprintf(" conversation=%d", *f.ConversationID)
	}
	return s
}

// TestRollupCountMatchesRawCount compares RollupStore.Count, which adds
// whole hours from the rollups to the partial hours from the events, with
// a plain count(*) for random filters.
func TestRollupCountMatchesRawCount(t *testing.T) {
	t.Parallel()
	l := newRollLog(t, 3000, 1)
	store := db.NewRollupStore(l.bdb)
	rng := rand.New(rand.NewPCG(2026, 11))
	nonZero := 0
	for i := 0; i < 400; i++ {
		f := rollRandomFilter(rng, l, false)
		want := rollRawCount(t, l.bdb, f)
		got, err := store.Count(context.Background(), f)
		require.NoError(t, err)
		require.Equal(t, want, got, "filter %d: %s", i, rollDescribe(f))
		if want > 0 {
			nonZero++
		}
	}
	require.Greater(t, nonZero, 200, "most random filters should match something")
}

// rollExpectSummary computes a summary in Go from the events, with daily
// buckets that begin at midnight in loc (which must not skip a midnight
// in the range).
func rollExpectSummary(events []*db.SyncEvent, f db.EventFilter, bucket db.TimeBucket, loc *time.Location, total func(*db.SyncEvent) bool) *db.Summary {
	s := &db.Summary{From: *f.From, To: *f.To, Bucket: bucket, Location: loc}
	start := func(t time.Time) time.Time {
		if bucket == db.BucketHour {
			return t.UTC().Truncate(time.Hour)
		}
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
	}
	next := func(t time.Time) time.Time {
		if bucket == db.BucketHour {
			return t.Add(time.Hour)
		}
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()
	}
	byType := map[db.EventType]*db.TypeCount{}
	byCode := map[db.ErrorCode]int64{}
	buckets := map[time.Time]*db.TimelineBucket{}
	for _, e := range events {
		if !total(e) {
			continue
		}
		tc := byType[e.Type]
		if tc == nil {
			tc = &db.TypeCount{Type: e.Type}
			byType[e.Type] = tc
		}
		b := start(e.OccurredAt)
		tb := buckets[b]
		if tb == nil {
			tb = &db.TimelineBucket{Start: b}
			buckets[b] = tb
		}
		s.Total++
		tc.Total++
		tb.Total++
		switch e.Status {
		case db.StatusSuccess:
			s.Succeeded++
			tc.Succeeded++
			tb.Succeeded++
			switch e.Type {
			case db.EventTicketCreated:
				s.TicketsCreated++
			case db.EventCustomerSynced:
				s.CustomersSynced++
			case db.EventCustomerUpdated:
				s.CustomersUpdated++
			}
		case db.StatusFailed:
			s.Failed++
			tc.Failed++
			tb.Failed++
		case db.StatusPending:
			s.Pending++
			tc.Pending++
			tb.Pending++
		}
		if e.Direction == db.DirectionToHelpScout && e.Status != db.StatusPending {
			s.APICalls++
		}
		if e.ErrorCode != nil {
			byCode[*e.ErrorCode]++
		}
	}
	for _, typ := range db.EventTypes {
		if tc := byType[typ]; tc != nil {
			s.ByType = append(s.ByType, *tc)
		}
	}
	for c, n := range byCode {
		s.ByErrorCode = append(s.ByErrorCode, db.ErrorCodeCount{Code: c, Count: n})
	}
	slices.SortFunc(s.ByErrorCode, func(a, b db.ErrorCodeCount) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(string(a.Code), string(b.Code))
	})
	for b := start(*f.From); b.Before(*f.To); b = next(b) {
		if tb := buckets[b]; tb != nil {
			s.Timeline = append(s.Timeline, *tb)
		} else {
			s.Timeline = append(s.Timeline, db.TimelineBucket{Start: b})
		}
	}
	return s
}

// rollMatches is the filter's meaning in Go.
func rollMatches(f db.EventFilter, e *db.SyncEvent) bool {
	if f.From != nil && e.OccurredAt.Before(*f.From) || f.To != nil && !e.OccurredAt.Before(*f.To) {
		return false
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) ||
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, e.Status) ||
		len(f.Directions) > 0 && !slices.Contains(f.Directions, e.Direction) {
		return false
	}
	if len(f.ErrorCodes) > 0 && (e.ErrorCode == nil || !slices.Contains(f.ErrorCodes, *e.ErrorCode)) {
		return false
	}
	if f.CustomerEmail != nil && (e.CustomerEmail == nil || *e.CustomerEmail != *f.CustomerEmail) {
		return false
	}
	if f.ConversationID != nil && (e.ConversationID == nil || *e.ConversationID != *f.ConversationID) {
		return false
	}
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, e.Source) {
		return false
	}
	if s := f.Search; s != nil {
		ok := e.CustomerEmail != nil && strings.Contains(*e.CustomerEmail, s.Email)
		switch n := s.Number; {
		case s.TicketOnly:
			ok = e.TicketNumber != nil && *e.TicketNumber == *n
		case n != nil:
			ok = ok || e.ID == *n || (e.ConversationID != nil && *e.ConversationID == *n) || (e.TicketNumber != nil && *e.TicketNumber == *n)
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestSummarizeMatchesEvents compares RollupStore.Summarize, breakdowns and
// timeline included, with the same figures computed from the events.
func TestSummarizeMatchesEvents(t *testing.T) {
	t.Parallel()
	l := newRollLog(t, 2500, 3)
	store := db.NewRollupStore(l.bdb)
	rng := rand.New(rand.NewPCG(7, 7))
	// Zones a whole number of hours from UTC, and a half and three
	// quarters of an hour off, where days begin inside an hour.
	var zones []*time.Location
	for _, name := range []string{"UTC", "America/Chicago", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		zones = append(zones, loc)
	}
	for i := 0; i < 200; i++ {
		f := rollRandomFilter(rng, l, true)
		bucket := db.BucketHour
		loc := time.UTC
		if rng.IntN(2) == 0 {
			bucket = db.BucketDay
			loc = zones[rng.IntN(len(zones))]
		}
		got, err := store.Summarize(context.Background(), f, bucket, loc)
		require.NoError(t, err)
		want := rollExpectSummary(l.events, f, bucket, loc, func(e *db.SyncEvent) bool { return rollMatches(f, e) })
		require.Equal(t, want.Total, rollRawCount(t, l.bdb, f), "the Go reference agrees with SQL: %s", rollDescribe(f))
		for j := range got.Timeline {
			got.Timeline[j].Start = got.Timeline[j].Start.UTC()
		}
		got.From, got.To = got.From.UTC(), got.To.UTC()
		want.From, want.To = want.From.UTC(), want.To.UTC()
		require.Equal(t, want, got, "filter %d: %s bucket %s in %s", i, rollDescribe(f), bucket, loc)
		if got.Health() != db.HealthNoData {
			r := *got.SuccessRate()
			require.InDelta(t, float64(want.Succeeded)/float64(want.Succeeded+want.Failed), r, 1e-12)
		}
	}
	_, err := store.Summarize(context.Background(), db.EventFilter{From: rptr(rollBase)}, db.BucketHour, nil)
	require.Error(t, err, "a summary needs a closed range")
}

// TestRollupTriggers changes the log with every kind of statement and
// checks after each that the rollups equal a fresh grouping of the events.
func TestRollupTriggers(t *testing.T) {
	t.Parallel()
	l := newRollLog(t, 1500, 5)
	ctx := context.Background()
	bdb := l.bdb
	dbtest.RequireRollupsMatchEvents(t, bdb, "insert")

	steps := []struct {
		name string
		sql  string
	}{
		{"pending to success", `UPDATE sync_events SET status = 'SUCCESS' WHERE status = 'PENDING' AND id % 3 = 0`},
		{"failed reclassified", `UPDATE sync_events SET error_code = 'UNKNOWN' WHERE status = 'FAILED' AND id % 4 = 1`},
		{"error code added", `UPDATE sync_events SET status = 'FAILED', error_code = 'TIMEOUT' WHERE status = 'SUCCESS' AND id % 11 = 0`},
		{"moved across hours", `UPDATE sync_events SET occurred_at = occurred_at + interval '59 minutes 59.999999 seconds' WHERE id % 5 = 2`},
		{"moved back across rollDays", `UPDATE sync_events SET occurred_at = occurred_at - interval '1 day 3 hours' WHERE id % 7 = 3`},
		{"type and direction swapped", `UPDATE sync_events SET type = 'CONVERSATION_UPDATED', direction = 'FROM_HELPSCOUT' WHERE id % 13 = 5`},
		{"no-op update", `UPDATE sync_events SET status = status WHERE id % 2 = 0`},
		{"update of nothing", `UPDATE sync_events SET status = 'SUCCESS' WHERE id < 0`},
		{"delete some", `DELETE FROM sync_events WHERE id % 17 = 0`},
		{"delete a whole hour", `DELETE FROM sync_events WHERE occurred_at >= '2026-11-21T05:00:00Z' AND occurred_at < '2026-11-21T06:00:00Z'`},
		{"insert select", `INSERT INTO sync_events (occurred_at, type, status, direction, error_code, source)
			SELECT occurred_at + interval '17 minutes', type, status, direction, error_code, 'BATCH' FROM sync_events WHERE id % 19 = 0`},
		{"delete everything of one type", `DELETE FROM sync_events WHERE type = 'ERROR'`},
	}
	for _, s := range steps {
		_, err := bdb.ExecContext(ctx, s.sql)
		require.NoError(t, err, s.name)
		dbtest.RequireRollupsMatchEvents(t, bdb, s.name)
	}

	// A rolled-back change leaves the rollups as they were.
	tx, err := bdb.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `UPDATE sync_events SET status = 'FAILED', error_code = 'RATE_LIMITED'`)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `DELETE FROM sync_events WHERE id % 2 = 1`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	dbtest.RequireRollupsMatchEvents(t, bdb, "rollback")

	// And the counts still agree.
	store := db.NewRollupStore(bdb)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 60; i++ {
		f := rollRandomFilter(rng, l, false)
		got, err := store.Count(ctx, f)
		require.NoError(t, err)
		require.Equal(t, rollRawCount(t, bdb, f), got, "after the changes: %s", rollDescribe(f))
	}
}

// TestParseSearch pins down how the search box text is read.
func TestParseSearch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in         string
		nilOut     bool
		email      string
		number     int64 // 0: none
		ticketOnly bool
	}{
		{in: "", nilOut: true},
		{in: "   ", nilOut: true},
		{in: "Alice@Example.COM", email: "alice@example.com"},
		{in: "  bob  ", email: "bob"},
		{in: "1234", email: "1234", number: 1234},
		{in: "#1234", number: 1234, ticketOnly: true},
		{in: " #77 ", number: 77, ticketOnly: true},
		{in: "#0", email: "#0"},
		{in: "#", email: "#"},
		{in: "#abc", email: "#abc"},
		{in: "0", email: "0"},
		{in: "-5", email: "-5"},
		{in: "12abc", email: "12abc"},
		{in: "99999999999999999999", email: "99999999999999999999"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			s := db.ParseSearch(tc.in)
			if tc.nilOut {
				require.Nil(t, s)
				return
			}
			require.NotNil(t, s)
			require.Equal(t, tc.email, s.Email)
			require.Equal(t, tc.ticketOnly, s.TicketOnly)
			if tc.number == 0 {
				require.Nil(t, s.Number)
			} else {
				require.NotNil(t, s.Number)
				require.Equal(t, tc.number, *s.Number)
			}
		})
	}
}

// TestEventListKeyset pages through the store directly, forward and
// backward, with ties, and compares with the events sorted in Go.
func TestEventListKeyset(t *testing.T) {
	t.Parallel()
	l := newRollLog(t, 400, 9)
	ctx := context.Background()
	// 40 more events at one instant.
	tie := rollBase.Add(36*time.Hour + 123*time.Microsecond)
	var ties []*db.SyncEvent
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 40; i++ {
		e := rollRandomEvent(rng, l.convs)
		e.OccurredAt = tie
		ties = append(ties, e)
	}
	require.NoError(t, db.NewEventStore(l.bdb).Insert(ctx, l.bdb, ties))
	l.events = append(l.events, ties...)
	store := db.NewEventStore(l.bdb)

	for _, desc := range []bool{true, false} {
		want := slices.Clone(l.events)
		slices.SortFunc(want, inOrder(desc))
		var wantIDs, got []int64
		for _, e := range want {
			wantIDs = append(wantIDs, e.ID)
		}
		p := db.Page{Limit: 9, Desc: desc}
		for {
			rows, more, err := store.List(ctx, db.EventFilter{}, p)
			require.NoError(t, err)
			for _, e := range rows {
				got = append(got, e.ID)
			}
			if !more {
				break
			}
			k := db.KeysetOf(rows[len(rows)-1])
			p.After = &k
		}
		require.Equal(t, wantIDs, got, "desc=%v", desc)

		// Each streams the same order.
		got = got[:0]
		require.NoError(t, store.Each(ctx, db.EventFilter{}, desc, 13, func(e *db.SyncEvent) error {
			got = append(got, e.ID)
			return nil
		}))
		require.Equal(t, wantIDs, got, "Each desc=%v", desc)
	}
}

// TestSummarizeDaysAcrossClockChanges counts events into the days of zones
// whose clocks change inside the range: a 25-hour day in Berlin and a day
// in Santiago whose midnight is skipped.
func TestSummarizeDaysAcrossClockChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	rng := rand.New(rand.NewPCG(3, 3))
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		zone     string
		from, to string
		events   []string
		want     []int64 // events per day
	}{{
		zone: "Europe/Berlin",
		from: "2026-10-24T22:00:00Z", to: "2026-10-26T23:00:00Z",
		// The 25th lasts from 22:00 UTC on the 24th to 23:00 UTC on the 25th.
		events: []string{"2026-10-24T22:00:00Z", "2026-10-25T00:59:59Z", "2026-10-25T01:30:00Z", "2026-10-25T22:59:59Z", "2026-10-25T23:00:00Z", "2026-10-26T22:59:59Z"},
		want:   []int64{4, 2},
	}, {
		zone: "America/Santiago",
		from: "2026-09-05T04:00:00Z", to: "2026-09-07T03:00:00Z",
		// The 6th begins at 04:00 UTC (01:00 on the new clock).
		events: []string{"2026-09-05T04:00:00Z", "2026-09-06T03:59:59Z", "2026-09-06T04:00:00Z", "2026-09-07T02:59:59Z"},
		want:   []int64{2, 2},
	}}
	events := db.NewEventStore(bdb)
	store := db.NewRollupStore(bdb)
	for _, c := range cases {
		var batch []*db.SyncEvent
		for _, s := range c.events {
			e := rollRandomEvent(rng, []int64{9000})
			e.OccurredAt = at(s)
			batch = append(batch, e)
		}
		require.NoError(t, events.Insert(ctx, bdb, batch))
		loc, err := time.LoadLocation(c.zone)
		require.NoError(t, err)
		sum, err := store.Summarize(ctx, db.EventFilter{From: rptr(at(c.from)), To: rptr(at(c.to))}, db.BucketDay, loc)
		require.NoError(t, err)
		var got []int64
		for _, b := range sum.Timeline {
			got = append(got, b.Total)
		}
		require.Equal(t, c.want, got, "%s: days %v", c.zone, sum.Timeline)
		require.Equal(t, int64(len(c.events)), sum.Total, c.zone)
	}
}
