package synclog_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/pagination"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func ptr[T any](v T) *T { return &v }

// fixedNow is the clock of these tests: a Friday morning, not on an hour.
var fixedNow = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// requireBadInput checks that err is a BAD_USER_INPUT naming argument.
func requireBadInput(t *testing.T, err error, argument string) {
	t.Helper()
	require.Error(t, err)
	ae, ok := apperr.As(err)
	require.True(t, ok, "not an application error: %v", err)
	require.Equal(t, apperr.BadUserInput, ae.Code, "error: %v", err)
	require.Equal(t, argument, ae.Argument, "error: %v", err)
	require.True(t, strings.HasPrefix(ae.Message, argument+": "), "message %q names the argument", ae.Message)
}

func TestRelativeRangeBounds(t *testing.T) {
	t.Parallel()
	midnight := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		r        synclog.RelativeRange
		from, to time.Time
	}{
		{synclog.LastHour, fixedNow.Add(-time.Hour), fixedNow},
		{synclog.Last24Hours, fixedNow.Add(-24 * time.Hour), fixedNow},
		{synclog.Last48Hours, fixedNow.Add(-48 * time.Hour), fixedNow},
		{synclog.Today, midnight, fixedNow},
		{synclog.Yesterday, midnight.Add(-24 * time.Hour), midnight},
		{synclog.Last7Days, fixedNow.Add(-7 * 24 * time.Hour), fixedNow},
		{synclog.Last30Days, fixedNow.Add(-30 * 24 * time.Hour), fixedNow},
	}
	require.Len(t, cases, len(synclog.RelativeRanges), "every range is covered")
	// The same instant seen from Auckland (already Saturday there) and Honolulu.
	zones := []*time.Location{time.UTC, time.FixedZone("NZDT", 13*3600), time.FixedZone("HST", -10*3600)}
	for _, tc := range cases {
		for _, z := range zones {
			t.Run(string(tc.r)+"/"+z.String(), func(t *testing.T) {
				t.Parallel()
				from, to, ok := tc.r.Bounds(fixedNow.In(z))
				require.True(t, ok)
				require.True(t, tc.from.Equal(from), "from %s", from)
				require.True(t, tc.to.Equal(to), "to %s", to)
				require.Equal(t, time.UTC, from.Location())
				require.Equal(t, time.UTC, to.Location())
			})
		}
	}
	_, _, ok := synclog.RelativeRange("LAST_DECADE").Bounds(fixedNow)
	require.False(t, ok)
}

func TestFilterResolve(t *testing.T) {
	t.Parallel()
	plus5 := time.FixedZone("+05", 5*3600)
	a := time.Date(2026, 11, 20, 10, 0, 0, 0, plus5)
	cases := []struct {
		name     string
		in       *synclog.FilterInput
		argument string // expected BAD_USER_INPUT argument; empty: valid
		check    func(t *testing.T, f db.EventFilter)
	}{
		{name: "nil", in: nil, check: func(t *testing.T, f db.EventFilter) {
			require.Equal(t, db.EventFilter{}, f)
		}},
		{name: "today", in: &synclog.FilterInput{Within: ptr(synclog.Today)}, check: func(t *testing.T, f db.EventFilter) {
			require.Equal(t, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), *f.From)
			require.True(t, fixedNow.Equal(*f.To))
		}},
		{name: "times become UTC", in: &synclog.FilterInput{From: &a, To: ptr(a.Add(time.Hour))}, check: func(t *testing.T, f db.EventFilter) {
			require.Equal(t, time.UTC, f.From.Location())
			require.Equal(t, time.UTC, f.To.Location())
			require.True(t, a.Equal(*f.From))
		}},
		{name: "exactly 366 days", in: &synclog.FilterInput{From: &a, To: ptr(a.Add(synclog.MaxRange))}},
		{name: "lists", in: &synclog.FilterInput{Types: []db.EventType{db.EventError}, Statuses: db.EventStatuses,
			Directions: db.Directions, ErrorCodes: db.ErrorCodes, Sources: []db.EventSource{db.SourceManual}}, check: func(t *testing.T, f db.EventFilter) {
			require.Equal(t, []db.EventType{db.EventError}, f.Types)
			require.Equal(t, db.ErrorCodes, f.ErrorCodes)
			require.Equal(t, []db.EventSource{db.SourceManual}, f.Sources)
		}},
		{name: "search number", in: &synclog.FilterInput{Search: ptr("  #42 ")}, check: func(t *testing.T, f db.EventFilter) {
			require.NotNil(t, f.Search)
			require.Equal(t, int64(42), *f.Search.Number)
		}},
		{name: "blank search", in: &synclog.FilterInput{Search: ptr("   ")}, check: func(t *testing.T, f db.EventFilter) {
			require.Nil(t, f.Search)
		}},
		{name: "200 characters of search", in: &synclog.FilterInput{Search: ptr(strings.Repeat("ü", 200))}},
		{name: "from after to", in: &synclog.FilterInput{From: ptr(a.Add(time.Second)), To: &a}, argument: "filter.from"},
		{name: "from equal to", in: &synclog.FilterInput{From: &a, To: &a}, argument: "filter.from"},
		{name: "366 days and a microsecond", in: &synclog.FilterInput{From: &a, To: ptr(a.Add(synclog.MaxRange + time.Microsecond))}, argument: "filter.to"},
		{name: "within and to", in: &synclog.FilterInput{Within: ptr(synclog.Today), To: &a}, argument: "filter.within"},
		{name: "unknown within", in: &synclog.FilterInput{Within: ptr(synclog.RelativeRange("LAST_DECADE"))}, argument: "filter.within"},
		{name: "unknown type", in: &synclog.FilterInput{Types: []db.EventType{"TICKET_DELETED"}}, argument: "filter.types"},
		{name: "unknown status", in: &synclog.FilterInput{Statuses: []db.EventStatus{"MAYBE"}}, argument: "filter.statuses"},
		{name: "unknown direction", in: &synclog.FilterInput{Directions: []db.Direction{"UP"}}, argument: "filter.directions"},
		{name: "unknown error code", in: &synclog.FilterInput{ErrorCodes: []db.ErrorCode{"OOPS"}}, argument: "filter.errorCodes"},
		{name: "unknown source", in: &synclog.FilterInput{Sources: []db.EventSource{"FAX"}}, argument: "filter.sources"},
		{name: "201 characters of search", in: &synclog.FilterInput{Search: ptr(strings.Repeat("ü", 201))}, argument: "filter.search"},
		{name: "search not UTF-8", in: &synclog.FilterInput{Search: ptr("ab\xff")}, argument: "filter.search"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := tc.in.Resolve(fixedNow, "filter")
			if tc.argument != "" {
				requireBadInput(t, err, tc.argument)
				return
			}
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int64
	}{
		{"1", 1}, {" 42 ", 42}, {"9223372036854775807", 9223372036854775807},
		{"0", 0}, {"-1", 0}, {"abc", 0}, {"", 0}, {"1.5", 0}, {"9223372036854775808", 0},
	}
	for _, tc := range cases {
		n, err := synclog.ParseID("id", tc.in)
		if tc.want == 0 {
			requireBadInput(t, err, "id")
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, n)
	}
}

// clockFixture is a service with a fixed clock over events placed on the
// edges of the relative ranges.
type clockFixture struct {
	svc    *synclog.Service
	events map[string]*db.SyncEvent
}

func newClockFixture(t *testing.T) *clockFixture {
	t.Helper()
	bdb := dbtest.New(t)
	svc := synclog.New(bdb, "test")
	svc.Now = func() time.Time { return fixedNow }
	midnight := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	at := map[string]time.Time{
		"now":                 fixedNow,
		"just before now":     fixedNow.Add(-time.Microsecond),
		"an hour ago":         fixedNow.Add(-time.Hour),
		"just over an hour":   fixedNow.Add(-time.Hour - time.Microsecond),
		"midnight":            midnight,
		"just before midnite": midnight.Add(-time.Microsecond),
		"24 hours ago":        fixedNow.Add(-24 * time.Hour),
		"just over 24 hours":  fixedNow.Add(-24*time.Hour - time.Microsecond),
		"yesterday midnight":  midnight.Add(-24 * time.Hour),
		"before yesterday":    midnight.Add(-24*time.Hour - time.Microsecond),
		"48 hours ago":        fixedNow.Add(-48 * time.Hour),
		"a week ago":          fixedNow.AddDate(0, 0, -7),
		"over a week ago":     fixedNow.AddDate(0, 0, -7).Add(-time.Second),
		"in the future":       fixedNow.Add(time.Hour),
	}
	cf := &clockFixture{svc: svc, events: map[string]*db.SyncEvent{}}
	var all []*db.SyncEvent
	i := 0
	for name, t0 := range at {
		st := db.EventStatuses[i%3]
		e := &db.SyncEvent{OccurredAt: t0, Type: db.EventTypes[i%len(db.EventTypes)], Status: st,
			Direction: db.DirectionToHelpScout, Attempt: 1, Source: db.SourceBatch, SourceRef: ptr(name)}
		if st == db.StatusFailed {
			e.ErrorCode = ptr(db.CodeTimeout)
		}
		cf.events[name] = e
		all = append(all, e)
		i++
	}
	require.NoError(t, db.NewEventStore(bdb).Insert(context.Background(), bdb, all))
	return cf
}

// TestRelativeRangesAtTheirEdges lists each relative range at a fixed
// clock: the start is included, the end excluded.
func TestRelativeRangesAtTheirEdges(t *testing.T) {
	t.Parallel()
	cf := newClockFixture(t)
	cases := []struct {
		r    synclog.RelativeRange
		want []string
	}{
		{synclog.LastHour, []string{"just before now", "an hour ago"}},
		{synclog.Today, []string{"just before now", "an hour ago", "just over an hour", "midnight"}},
		{synclog.Yesterday, []string{"just before midnite", "24 hours ago", "just over 24 hours", "yesterday midnight"}},
		{synclog.Last24Hours, []string{"just before now", "an hour ago", "just over an hour", "midnight", "just before midnite", "24 hours ago"}},
		{synclog.Last48Hours, []string{"just before now", "an hour ago", "just over an hour", "midnight", "just before midnite",
			"24 hours ago", "just over 24 hours", "yesterday midnight", "before yesterday", "48 hours ago"}},
		{synclog.Last7Days, []string{"just before now", "an hour ago", "just over an hour", "midnight", "just before midnite",
			"24 hours ago", "just over 24 hours", "yesterday midnight", "before yesterday", "48 hours ago", "a week ago"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.r), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn, err := cf.svc.ListEvents(ctx, &synclog.FilterInput{Within: ptr(tc.r)}, db.EventFilter{}, pagination.Args{}, nil, synclog.EventRead{})
			require.NoError(t, err)
			var got []string
			for _, e := range conn.Nodes() {
				got = append(got, *e.SourceRef)
			}
			require.Equal(t, tc.want, got, "newest first")
			n, err := conn.TotalCount(ctx)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), n)

			s, err := cf.svc.Summary(ctx, &synclog.TimeRangeInput{Within: ptr(tc.r)}, nil, nil)
			require.NoError(t, err)
			require.EqualValues(t, len(tc.want), s.Total)
			var inTimeline int64
			for _, b := range s.Timeline {
				inTimeline += b.Total
			}
			require.Equal(t, s.Total, inTimeline)
		})
	}
}

// TestSummaryPeriodAndBuckets checks where a summary's period comes from
// and which bucket width it gets.
func TestSummaryPeriodAndBuckets(t *testing.T) {
	t.Parallel()
	cf := newClockFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	cases := []struct {
		name     string
		rng      *synclog.TimeRangeInput
		in       *synclog.FilterInput
		bucket   *db.TimeBucket
		from, to time.Time
		width    db.TimeBucket
		buckets  int
		argument string
		// start is the first bucket's start when it is not from's UTC
		// hour or day; zone is the summary's time zone when not UTC.
		start time.Time
		zone  string
	}{
		{name: "today in Chicago", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today), TimeZone: ptr("America/Chicago")},
			from: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), to: fixedNow, width: db.BucketHour, buckets: 4, zone: "America/Chicago"},
		{name: "yesterday in Kolkata from the filter", in: &synclog.FilterInput{Within: ptr(synclog.Yesterday), TimeZone: ptr("Asia/Kolkata")},
			from: time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC), to: time.Date(2026, 11, 26, 18, 30, 0, 0, time.UTC),
			width: db.BucketHour, buckets: 25, zone: "Asia/Kolkata"},
		{name: "range today in the filter's zone", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today)}, in: &synclog.FilterInput{TimeZone: ptr("Asia/Tokyo")},
			from: time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC), to: fixedNow, width: db.BucketHour, buckets: 19, zone: "Asia/Tokyo"},
		{name: "days in Kolkata", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Last7Days), TimeZone: ptr("Asia/Kolkata")},
			from: fixedNow.Add(-7 * day), to: fixedNow, width: db.BucketDay, buckets: 8,
			start: time.Date(2026, 11, 19, 18, 30, 0, 0, time.UTC), zone: "Asia/Kolkata"},
		{name: "unknown zone", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today), TimeZone: ptr("Mars/Olympus_Mons")}, argument: "range.timeZone"},
		{name: "zone in lower case", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today), TimeZone: ptr("europe/berlin")}, argument: "range.timeZone"},
		{name: "the server's zone", in: &synclog.FilterInput{Within: ptr(synclog.Today), TimeZone: ptr("Local")}, argument: "filter.timeZone"},
		{name: "a leap-second zone", in: &synclog.FilterInput{Within: ptr(synclog.Today), TimeZone: ptr("right/Europe/Berlin")}, argument: "filter.timeZone"},
		{name: "two zones", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today), TimeZone: ptr("Europe/Berlin")},
			in: &synclog.FilterInput{TimeZone: ptr("Europe/Paris")}, argument: "range.timeZone"},
		{name: "default: last 24 hours", from: fixedNow.Add(-day), to: fixedNow, width: db.BucketHour, buckets: 25},
		{name: "range within", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Last48Hours)},
			from: fixedNow.Add(-2 * day), to: fixedNow, width: db.BucketHour, buckets: 49},
		{name: "filter within", in: &synclog.FilterInput{Within: ptr(synclog.Last7Days)},
			from: fixedNow.Add(-7 * day), to: fixedNow, width: db.BucketDay, buckets: 8},
		{name: "range from only ends now", rng: &synclog.TimeRangeInput{From: ptr(fixedNow.Add(-3 * time.Hour))},
			from: fixedNow.Add(-3 * time.Hour), to: fixedNow, width: db.BucketHour, buckets: 4},
		{name: "filter from only ends now", in: &synclog.FilterInput{From: ptr(fixedNow.Add(-72 * time.Hour))},
			from: fixedNow.Add(-72 * time.Hour), to: fixedNow, width: db.BucketHour, buckets: 73},
		{name: "just over 72 hours is daily", in: &synclog.FilterInput{From: ptr(fixedNow.Add(-72*time.Hour - time.Second))},
			from: fixedNow.Add(-72*time.Hour - time.Second), to: fixedNow, width: db.BucketDay, buckets: 4},
		{name: "hourly asked for 31 days", rng: &synclog.TimeRangeInput{From: ptr(fixedNow.Add(-31 * day)), To: &fixedNow},
			bucket: ptr(db.BucketHour), from: fixedNow.Add(-31 * day), to: fixedNow, width: db.BucketHour, buckets: 31*24 + 1},
		{name: "daily asked for 2 hours", rng: &synclog.TimeRangeInput{From: ptr(fixedNow.Add(-2 * time.Hour)), To: &fixedNow},
			bucket: ptr(db.BucketDay), from: fixedNow.Add(-2 * time.Hour), to: fixedNow, width: db.BucketDay, buckets: 1},
		{name: "hourly over 31 days", rng: &synclog.TimeRangeInput{From: ptr(fixedNow.Add(-31*day - time.Second)), To: &fixedNow},
			bucket: ptr(db.BucketHour), argument: "bucket"},
		{name: "range and filter range", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today)},
			in: &synclog.FilterInput{To: &fixedNow}, argument: "range"},
		{name: "range without from", rng: &synclog.TimeRangeInput{To: &fixedNow}, argument: "range.from"},
		{name: "filter to only", in: &synclog.FilterInput{To: &fixedNow}, argument: "filter.from"},
		{name: "filter from in the future", in: &synclog.FilterInput{From: ptr(fixedNow.Add(time.Minute))}, argument: "filter.from"},
		{name: "open range over 366 days", rng: &synclog.TimeRangeInput{From: ptr(fixedNow.Add(-367 * day))}, argument: "range"},
		{name: "closed range over 366 days", rng: &synclog.TimeRangeInput{From: ptr(fixedNow.Add(-367 * day)), To: &fixedNow}, argument: "range.to"},
		{name: "bad filter", rng: &synclog.TimeRangeInput{Within: ptr(synclog.Today)},
			in: &synclog.FilterInput{Types: []db.EventType{"NOPE"}}, argument: "filter.types"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := cf.svc.Summary(ctx, tc.rng, tc.in, tc.bucket)
			if tc.argument != "" {
				requireBadInput(t, err, tc.argument)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.from.Equal(s.From), "from %s", s.From)
			require.True(t, tc.to.Equal(s.To), "to %s", s.To)
			require.Equal(t, tc.width, s.Bucket)
			require.Len(t, s.Timeline, tc.buckets)
			step := tc.width.Duration()
			if tc.start.IsZero() {
				tc.start = tc.from.Truncate(step)
			}
			require.True(t, s.Timeline[0].Start.Equal(tc.start), "first bucket %s", s.Timeline[0].Start)
			if tc.zone == "" {
				tc.zone = "UTC"
			}
			require.Equal(t, tc.zone, s.TimeZone())
			for i := 1; i < len(s.Timeline); i++ {
				require.Equal(t, step, s.Timeline[i].Start.Sub(s.Timeline[i-1].Start))
			}
			var want int64
			for _, e := range cf.events {
				if !e.OccurredAt.Before(tc.from) && e.OccurredAt.Before(tc.to) {
					want++
				}
			}
			require.Equal(t, want, s.Total)
		})
	}
}

// TestLookupArguments checks the single-record look-ups' validation.
func TestLookupArguments(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	svc := synclog.New(bdb, "test")
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, []*db.Customer{{Email: "Alice@Example.com", LastEventAt: fixedNow}}))
	require.NoError(t, db.NewConversationStore(bdb).Insert(ctx, bdb, []*db.Conversation{{ID: 861100001, Number: 1001,
		Subject: "Hi", Status: db.ConversationActive, MailboxID: 1, CreatedAt: fixedNow, UpdatedAt: fixedNow}}))

	c, err := svc.Customer(ctx, "  ALICE@example.COM ")
	require.NoError(t, err)
	require.NotNil(t, c)
	require.Equal(t, "alice@example.com", c.Email)
	c, err = svc.Customer(ctx, "nobody@example.com")
	require.NoError(t, err)
	require.Nil(t, c)
	_, err = svc.Customer(ctx, "   ")
	requireBadInput(t, err, "email")
	_, err = svc.Customer(ctx, strings.Repeat("a", 250)+"@b.com")
	requireBadInput(t, err, "email")

	for _, n := range []string{"1001", "#1001", " #1001 "} {
		cv, err := svc.Conversation(ctx, nil, ptr(n))
		require.NoError(t, err)
		require.NotNil(t, cv, n)
		require.Equal(t, int64(861100001), cv.ID)
	}
	cv, err := svc.Conversation(ctx, ptr("861100001"), nil)
	require.NoError(t, err)
	require.Equal(t, "https://secure.helpscout.net/conversation/861100001/1001", cv.HelpScoutURL())
	cv, err = svc.Conversation(ctx, ptr("5"), nil)
	require.NoError(t, err)
	require.Nil(t, cv)

	bad := []struct {
		id, number *string
		argument   string
	}{
		{nil, nil, "id"},
		{ptr("1"), ptr("1"), "id"},
		{ptr("x"), nil, "id"},
		{nil, ptr("#0"), "number"},
		{nil, ptr("##5"), "number"},
		{nil, ptr("abc"), "number"},
	}
	for _, b := range bad {
		_, err := svc.Conversation(ctx, b.id, b.number)
		requireBadInput(t, err, b.argument)
	}

	_, err = svc.ListCustomers(ctx, &synclog.CustomerFilterInput{Search: ptr(strings.Repeat("x", 201))}, pagination.Args{})
	requireBadInput(t, err, "filter.search")
	conn, err := svc.ListCustomers(ctx, &synclog.CustomerFilterInput{Search: ptr("ALICE")}, pagination.Args{})
	require.NoError(t, err)
	require.Len(t, conn.Nodes(), 1)
}

// TestTotalCountStartedEarly checks that a count begun before the field is
// resolved gives the same total as one counted on demand, and that a count
// that failed in the background reports its error.
func TestTotalCountStartedEarly(t *testing.T) {
	t.Parallel()
	cf := newClockFixture(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		within  synclog.RelativeRange
		startIn context.Context // nil: counted on demand
		want    int
		wantErr error
	}{
		{name: "on demand", within: synclog.Today, want: 4},
		{name: "started early", within: synclog.Today, startIn: context.Background(), want: 4},
		{name: "started early, last 48 hours", within: synclog.Last48Hours, startIn: context.Background(), want: 10},
		{name: "started in a cancelled request", within: synclog.Today, startIn: cancelled, wantErr: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn, err := cf.svc.ListEvents(ctx, &synclog.FilterInput{Within: ptr(tc.within)}, db.EventFilter{}, pagination.Args{}, nil, synclog.EventRead{})
			require.NoError(t, err)
			if tc.startIn != nil {
				conn.StartTotalCount(tc.startIn)
				conn.StartTotalCount(tc.startIn) // a second call changes nothing
			}
			n, err := conn.TotalCount(ctx)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
			require.Len(t, conn.Nodes(), n, "the fixture fits on one page")
		})
	}
}

// TestInvestigationWithinRetention: with a retention, an investigation
// whose window begins before the oldest day the log keeps is refused with
// the reason, since deleted events would read as a form that never synced;
// a window within it gets its verdict.
func TestInvestigationWithinRetention(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	svc := synclog.New(bdb, "test")
	svc.Now = func() time.Time { return fixedNow }
	svc.RetentionDays = 31
	horizon := fixedNow.AddDate(0, 0, -31)

	cases := []struct {
		name    string
		at      time.Time
		refused bool
	}{
		{"a week ago", fixedNow.AddDate(0, 0, -7), false},
		{"window begins at the horizon", horizon.Add(2 * time.Hour), false},
		{"window begins a minute before it", horizon.Add(2*time.Hour - time.Minute), true},
		{"two months ago", fixedNow.AddDate(0, -2, 0), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := svc.InvestigateMissingTicket(ctx, "ann@example.com", c.at, nil)
			if !c.refused {
				require.NoError(t, err)
				require.Equal(t, synclog.VerdictUnknownEmail, rep.Verdict)
				return
			}
			requireBadInput(t, err, "at")
			require.ErrorContains(t, err, "the log keeps the last 31 days (RETENTION_DAYS)")
		})
	}

	// Without a retention the same old window gets its verdict.
	svc.RetentionDays = 0
	rep, err := svc.InvestigateMissingTicket(ctx, "ann@example.com", fixedNow.AddDate(0, -2, 0), nil)
	require.NoError(t, err)
	require.Equal(t, synclog.VerdictUnknownEmail, rep.Verdict)
}

// TestResolveSearchChoosesDirect: a text in few emails is resolved into
// them; one in more than 100 is sampled, and matched on each event's own
// email when it is in a fifth or more of the newest events, as a domain
// in every email is, but not when those emails have few events.
func TestResolveSearchChoosesDirect(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	svc := synclog.New(bdb, "test")
	svc.Now = func() time.Time { return fixedNow }
	var customers []*db.Customer
	var events []*db.SyncEvent
	event := func(email string, at time.Time) *db.SyncEvent {
		return &db.SyncEvent{OccurredAt: at, Type: db.EventCustomerSynced, Status: db.StatusSuccess,
			Direction: db.DirectionToHelpScout, CustomerEmail: ptr(email), Attempt: 1, Source: db.SourceBatch}
	}
	for i := range 150 {
		email := fmt.Sprintf("rare%d@elsewhere.example", i)
		customers = append(customers, &db.Customer{Email: email, LastEventAt: fixedNow})
		events = append(events, event(email, fixedNow.Add(-48*time.Hour-time.Duration(i)*time.Minute)))
	}
	customers = append(customers, &db.Customer{Email: "busy@acme.example", LastEventAt: fixedNow})
	for i := range 2500 {
		events = append(events, event("busy@acme.example", fixedNow.Add(-time.Duration(i+1)*time.Second)))
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, customers))
	require.NoError(t, db.NewEventStore(bdb).Insert(ctx, bdb, events))

	within := synclog.Last7Days
	for _, c := range []struct {
		text             string
		resolved, direct bool
	}{
		{"busy", true, false},
		{"example", false, true},
		{"rare", false, false},
	} {
		t.Run(c.text, func(t *testing.T) {
			f, err := (&synclog.FilterInput{Search: ptr(c.text), Within: &within}).Resolve(fixedNow, "filter")
			require.NoError(t, err)
			require.NoError(t, svc.ResolveSearch(ctx, &f))
			require.Equal(t, c.resolved, f.Search.Resolved)
			require.Equal(t, c.direct, f.Search.Direct)
		})
	}
}
