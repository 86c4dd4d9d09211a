package server_test

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

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// fixture is a running service over a database holding a deterministic set
// of customers, conversations and sync events spread over the last three
// days (plus a few older ones) relative to now.
type fixture struct {
	*env
	// now is the instant the fixture was built around (whole seconds, UTC).
	now           time.Time
	events        []*db.SyncEvent
	byID          map[int64]*db.SyncEvent
	customers     []*db.Customer
	convs         []*db.Conversation
	tieTime       time.Time
	ties          []*db.SyncEvent
	retryable     *db.SyncEvent // FAILED and never retried
	retried       *db.SyncEvent // FAILED and retried twice over (attempt 2 failed, attempt 3 followed)
	notFailed     *db.SyncEvent // SUCCESS
	todayFailedTC int           // FAILED TICKET_CREATED events placed in TODAY on purpose
}

// Fixture customers. Some addresses start with characters a spreadsheet
// would run as a formula; carol_x and carolyx tell a literal underscore
// from a LIKE wildcard; frank's domain holds digits that a numeric search
// also matches.
var fixtureCustomers = []struct{ email, name string }{
	{"alice@example.com", "Alice Smith"},
	{"bob.jones@example.org", "Bob Jones"},
	{"carol_x@kiva.test", "Carol X"},
	{"carolyx@kiva.test", "Carol Y"},
	{"dave+tag@example.com", "Dave Tag"},
	{"erin.mixed@example.com", "Erin Mixed"},
	{"frank@100.example", "Frank Hundred"},
	{"=cmd@evil.test", "Formula Equals"},
	{"-minus@evil.test", "Formula Minus"},
	{"+plus@evil.test", "Formula Plus"},
	{"@at@evil.test", "Formula At"},
}

// Error messages of failed events; four of them start like a formula.
var fixtureMessages = []string{
	"Rate limit exceeded",
	"Invalid email address",
	"Mailbox not found",
	"Authentication failed",
	"=HYPERLINK(\"http://evil.test\",\"click\")",
	"-1 is not a valid mailbox id",
	"+rate limit budget exhausted",
	"@support is not a valid assignee",
}

// rangeBoundaries are the instants where a relative range starts or ends
// when it runs at now. Fixture events keep clear of them so that a request
// made a few seconds later sees the same events in each range.
func rangeBoundaries(now time.Time) []time.Time {
	midnight := now.UTC().Truncate(24 * time.Hour)
	out := []time.Time{
		now.Add(-time.Hour), now.Add(-24 * time.Hour), now.Add(-48 * time.Hour),
		midnight, midnight.Add(-24 * time.Hour), now.AddDate(0, 0, -7), now.AddDate(0, 0, -30),
	}
	for _, z := range fixtureZones {
		out = append(out, zoneMidnight(now, z, 0), zoneMidnight(now, z, -1))
	}
	return out
}

// fixtureZones are the time zones whose days the tests ask for.
var fixtureZones = []string{"Pacific/Honolulu", "Asia/Kolkata"}

// zoneMidnight is the start, in UTC, of the day in zone that lies days
// days after the day of now there.
func zoneMidnight(now time.Time, zone string, days int) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic(err)
	}
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, loc).UTC()
}

// boundaryMargin is how far fixture events stay from range boundaries.
const boundaryMargin = 2 * time.Minute

// awayFrom moves t by step until it is boundaryMargin away from every
// boundary.
func awayFrom(t time.Time, bounds []time.Time, step time.Duration) time.Time {
	for {
		ok := true
		for _, b := range bounds {
			d := t.Sub(b)
			if d < 0 {
				d = -d
			}
			if d <= boundaryMargin {
				ok = false
				break
			}
		}
		if ok {
			return t
		}
		t = t.Add(step)
	}
}

// newFixture builds the fixture in a fresh database and starts the service.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	// The service's clock stands at the fixture's now, so that relative
	// ranges are the same however long a test waits for its turn.
	now := time.Now().UTC().Truncate(time.Second)
	f := buildFixture(t, now)
	f.env = newEnvClock(t, dbtest.New(t), func() time.Time { return now })
	f.insert(t)
	return f
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// buildFixture generates the fixture records around now, without ids.
func buildFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	f := &fixture{now: now}
	rng := rand.New(rand.NewPCG(20261127, 42))
	bounds := rangeBoundaries(now)
	us := func(d time.Duration) time.Duration { return d.Truncate(time.Microsecond) }

	for i, c := range fixtureCustomers {
		f.customers = append(f.customers, &db.Customer{
			Email: c.email, Name: ptr(c.name), HelpScoutID: ptr(int64(412300000 + i)),
		})
	}
	statuses := []db.ConversationStatus{db.ConversationActive, db.ConversationPending, db.ConversationClosed, db.ConversationSpam}
	for i := 0; i < 12; i++ {
		created := now.Add(-70*time.Hour + time.Duration(i)*5*time.Hour)
		cv := &db.Conversation{
			ID: int64(3100001 + i), Number: int64(1001 + i),
			Subject:   fmt.Sprintf("Contact form #%d", i+1),
			Status:    statuses[i%len(statuses)],
			MailboxID: 77, MailboxName: ptr("Support"),
			CustomerEmail: ptr(f.customers[i%7].Email),
			CreatedAt:     created, UpdatedAt: created.Add(time.Hour),
		}
		if i%3 == 0 {
			cv.Assignee = ptr("agent@kivalogic.test")
		}
		if i == 4 {
			// Deleted in HelpScout: the row and its history stay.
			cv.Status, cv.DeletedAt = db.ConversationClosed, ptr(created.Add(time.Hour))
			cv.FirstReplyAt = ptr(created.Add(30 * time.Minute))
		}
		f.convs = append(f.convs, cv)
	}

	codes := db.ErrorCodes
	newEvent := func(at time.Time, typ db.EventType, st db.EventStatus, seq int) *db.SyncEvent {
		e := &db.SyncEvent{OccurredAt: at, Type: typ, Status: st, Direction: db.DirectionToHelpScout, Attempt: 1,
			Details: map[string]any{"seq": seq}}
		switch typ {
		case db.EventError:
			e.Source = db.SourceBatch
		case db.EventTicketCreated:
			cv := pick(rng, f.convs)
			e.CustomerEmail = ptr(*cv.CustomerEmail)
			if st == db.StatusSuccess {
				e.ConversationID, e.TicketNumber = ptr(cv.ID), ptr(cv.Number)
			}
			e.Source, e.SourceRef = db.SourceContactForm, ptr(strconv.Itoa(70000+seq))
		case db.EventConversationSynced, db.EventConversationUpdated:
			cv := pick(rng, f.convs)
			e.CustomerEmail = ptr(*cv.CustomerEmail)
			e.ConversationID, e.TicketNumber = ptr(cv.ID), ptr(cv.Number)
			e.Source = db.SourceWebhook
			if typ == db.EventConversationUpdated || rng.IntN(2) == 0 {
				e.Direction = db.DirectionFromHelpScout
			}
		default:
			e.CustomerEmail = ptr(pick(rng, f.customers).Email)
			e.Source, e.SourceRef = db.SourceCustomerUpdate, ptr(strconv.Itoa(9000+seq))
		}
		if st == db.StatusFailed {
			e.ErrorCode = ptr(pick(rng, codes))
			e.ErrorMessage = ptr(pick(rng, fixtureMessages))
			e.HTTPStatus = ptr(400 + rng.IntN(4)*10)
		}
		if st != db.StatusPending {
			e.DurationMs = ptr(20 + rng.IntN(900))
		}
		return e
	}
	types := []db.EventType{
		db.EventTicketCreated, db.EventTicketCreated, db.EventTicketCreated,
		db.EventCustomerSynced, db.EventCustomerSynced,
		db.EventCustomerUpdated, db.EventCustomerUpdated,
		db.EventConversationSynced, db.EventConversationSynced,
		db.EventConversationUpdated, db.EventConversationUpdated,
		db.EventError,
	}
	status := func(typ db.EventType) db.EventStatus {
		if typ == db.EventError {
			return db.StatusFailed
		}
		switch r := rng.IntN(100); {
		case r < 70:
			return db.StatusSuccess
		case r < 88:
			return db.StatusFailed
		default:
			return db.StatusPending
		}
	}

	seq := 0
	// Random events over the last 72 hours.
	for i := 0; i < 170; i++ {
		span := int64(71*time.Hour + 50*time.Minute - 3*time.Minute)
		off := 3*time.Minute + us(time.Duration(rng.Int64N(span)))
		at := awayFrom(now.Add(-off), bounds, -5*time.Minute)
		typ := pick(rng, types)
		f.events = append(f.events, newEvent(at, typ, status(typ), seq))
		seq++
	}
	// Older events, within the last week.
	for i := 0; i < 12; i++ {
		off := 4*24*time.Hour + us(time.Duration(rng.Int64N(int64(2*24*time.Hour))))
		at := awayFrom(now.Add(-off), bounds, -5*time.Minute)
		typ := pick(rng, types)
		f.events = append(f.events, newEvent(at, typ, status(typ), seq))
		seq++
	}
	// 35 events at one instant: pagination must break the tie by id.
	f.tieTime = awayFrom(now.Add(-30*time.Hour-17*time.Minute).Add(123456*time.Microsecond), bounds, -5*time.Minute)
	tieStatuses := []db.EventStatus{db.StatusSuccess, db.StatusSuccess, db.StatusFailed, db.StatusPending}
	for i := 0; i < 35; i++ {
		typ := db.EventTypes[i%len(db.EventTypes)]
		st := tieStatuses[i%len(tieStatuses)]
		if typ == db.EventError {
			st = db.StatusFailed
		}
		e := newEvent(f.tieTime, typ, st, seq)
		f.ties = append(f.ties, e)
		f.events = append(f.events, e)
		seq++
	}
	// Events of today, including failed tickets for the daily check.
	midnight := now.Truncate(24 * time.Hour)
	if sinceMidnight := now.Sub(midnight); sinceMidnight > 20*time.Minute {
		plan := []struct {
			typ db.EventType
			st  db.EventStatus
		}{
			{db.EventTicketCreated, db.StatusFailed}, {db.EventTicketCreated, db.StatusSuccess},
			{db.EventTicketCreated, db.StatusFailed}, {db.EventCustomerSynced, db.StatusFailed},
			{db.EventTicketCreated, db.StatusPending}, {db.EventCustomerUpdated, db.StatusSuccess},
		}
		for k, p := range plan {
			at := midnight.Add(us(sinceMidnight * time.Duration(k+1) / time.Duration(len(plan)+1)))
			at = awayFrom(at, bounds, -3*time.Minute)
			if at.Before(midnight.Add(boundaryMargin)) {
				continue
			}
			e := newEvent(at, p.typ, p.st, seq)
			if p.typ == db.EventTicketCreated && p.st == db.StatusFailed {
				f.todayFailedTC++
			}
			f.events = append(f.events, e)
			seq++
		}
	}
	return f
}

// insert writes the fixture, adds retries of some failed events, and
// derives the customers' sync state from their events.
func (f *fixture) insert(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	events := db.NewEventStore(f.bdb)
	require.NoError(t, events.Insert(ctx, f.bdb, f.events))

	// Retries: the first eight failed record events older than two hours.
	bounds := rangeBoundaries(f.now)
	var originals []*db.SyncEvent
	for _, e := range f.events {
		if e.Status == db.StatusFailed && e.Type != db.EventError && e.OccurredAt.Before(f.now.Add(-2*time.Hour)) &&
			!e.OccurredAt.Equal(f.tieTime) && len(originals) < 8 {
			originals = append(originals, e)
		}
	}
	require.Len(t, originals, 8, "the fixture needs eight retryable events")
	retry := func(orig *db.SyncEvent, attempt int, st db.EventStatus) *db.SyncEvent {
		r := *orig
		r.ID = 0
		r.OccurredAt = awayFrom(orig.OccurredAt.Add(7*time.Minute), bounds, 4*time.Minute)
		r.Attempt = attempt
		r.RetryOfID = ptr(orig.ID)
		r.Status = st
		r.Source, r.Actor = db.SourceManual, ptr("admin@kivalogic.test")
		r.Details = map[string]any{"retry": attempt}
		if st != db.StatusFailed {
			r.ErrorCode, r.ErrorMessage, r.HTTPStatus = nil, nil, nil
		}
		return &r
	}
	var second []*db.SyncEvent
	for i, o := range originals {
		st := db.StatusSuccess
		if i%2 == 0 {
			st = db.StatusFailed
		}
		second = append(second, retry(o, 2, st))
	}
	require.NoError(t, events.Insert(ctx, f.bdb, second))
	third := []*db.SyncEvent{retry(second[0], 3, db.StatusSuccess)}
	require.NoError(t, events.Insert(ctx, f.bdb, third))
	f.events = append(f.events, second...)
	f.events = append(f.events, third...)
	f.retried = originals[0]

	f.byID = map[int64]*db.SyncEvent{}
	retriedIDs := map[int64]bool{}
	for _, e := range f.events {
		f.byID[e.ID] = e
		if e.RetryOfID != nil {
			retriedIDs[*e.RetryOfID] = true
		}
	}
	for _, e := range f.sorted(true) {
		if f.retryable == nil && e.Status == db.StatusFailed && !retriedIDs[e.ID] && e.Type != db.EventError {
			f.retryable = e
		}
		if f.notFailed == nil && e.Status == db.StatusSuccess {
			f.notFailed = e
		}
	}
	require.NotNil(t, f.retryable)
	require.NotNil(t, f.notFailed)

	// Customers' state follows their events.
	for _, c := range f.customers {
		c.LastEventAt = f.now.Add(-80 * time.Hour)
		for _, e := range f.sorted(false) {
			if e.CustomerEmail == nil || *e.CustomerEmail != c.Email {
				continue
			}
			c.LastEventAt = e.OccurredAt
			if e.Type == db.EventCustomerSynced || e.Type == db.EventCustomerUpdated {
				c.LastSyncStatus = ptr(e.Status)
				c.LastSyncErrorCode, c.LastSyncError = e.ErrorCode, e.ErrorMessage
				if e.Status == db.StatusSuccess {
					at := e.OccurredAt
					c.LastSyncedAt = &at
					if c.FirstSyncedAt == nil {
						c.FirstSyncedAt = &at
					}
				}
			}
		}
	}
	require.NoError(t, db.NewCustomerStore(f.bdb).Insert(ctx, f.bdb, f.customers))
	require.NoError(t, db.NewConversationStore(f.bdb).Insert(ctx, f.bdb, f.convs))
}

// sorted returns the fixture events in the log's order: by occurredAt, then id.
func (f *fixture) sorted(desc bool) []*db.SyncEvent {
	out := slices.Clone(f.events)
	slices.SortFunc(out, func(a, b *db.SyncEvent) int {
		c := a.OccurredAt.Compare(b.OccurredAt)
		if c == 0 {
			c = cmpInt(a.ID, b.ID)
		}
		if desc {
			return -c
		}
		return c
	})
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ref is an in-memory reference of the sync-event filter, written from the
// schema's description rather than from the SQL.
type ref struct {
	from, to   *time.Time
	types      []db.EventType
	statuses   []db.EventStatus
	directions []db.Direction
	codes      []db.ErrorCode
	sources    []db.EventSource
	search     *string
	email      *string
	conv       *int64
}

func (r ref) match(e *db.SyncEvent) bool {
	if r.from != nil && e.OccurredAt.Before(*r.from) {
		return false
	}
	if r.to != nil && !e.OccurredAt.Before(*r.to) {
		return false
	}
	if len(r.types) > 0 && !slices.Contains(r.types, e.Type) {
		return false
	}
	if len(r.statuses) > 0 && !slices.Contains(r.statuses, e.Status) {
		return false
	}
	if len(r.directions) > 0 && !slices.Contains(r.directions, e.Direction) {
		return false
	}
	if len(r.codes) > 0 && (e.ErrorCode == nil || !slices.Contains(r.codes, *e.ErrorCode)) {
		return false
	}
	if len(r.sources) > 0 && !slices.Contains(r.sources, e.Source) {
		return false
	}
	if r.email != nil && (e.CustomerEmail == nil || *e.CustomerEmail != strings.ToLower(*r.email)) {
		return false
	}
	if r.conv != nil && (e.ConversationID == nil || *e.ConversationID != *r.conv) {
		return false
	}
	if r.search != nil {
		text := strings.ToLower(strings.TrimSpace(*r.search))
		if text != "" && !searchMatches(e, text) {
			return false
		}
	}
	return true
}

// searchMatches: a customer email containing the text, or, for a number,
// the event id, conversation id or ticket number; for a number written
// with '#', the ticket number alone.
func searchMatches(e *db.SyncEvent, text string) bool {
	if digits, ok := strings.CutPrefix(text, "#"); ok {
		if n, err := strconv.ParseInt(digits, 10, 64); err == nil && n > 0 {
			return e.TicketNumber != nil && *e.TicketNumber == n
		}
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil && n > 0 {
		if e.ID == n || (e.ConversationID != nil && *e.ConversationID == n) || (e.TicketNumber != nil && *e.TicketNumber == n) {
			return true
		}
	}
	return e.CustomerEmail != nil && strings.Contains(*e.CustomerEmail, text)
}

// expect returns the ids of the fixture events matching r, in list order.
func (f *fixture) expect(r ref, desc bool) []int64 {
	ids := []int64{}
	for _, e := range f.sorted(desc) {
		if r.match(e) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// within returns the bounds of a relative range at the fixture's now.
func (f *fixture) within(name string) (time.Time, time.Time) {
	now := f.now
	midnight := now.Truncate(24 * time.Hour)
	switch name {
	case "LAST_HOUR":
		return now.Add(-time.Hour), now
	case "LAST_24_HOURS":
		return now.Add(-24 * time.Hour), now
	case "LAST_48_HOURS":
		return now.Add(-48 * time.Hour), now
	case "TODAY":
		return midnight, now
	case "YESTERDAY":
		return midnight.Add(-24 * time.Hour), midnight
	case "LAST_7_DAYS":
		return now.AddDate(0, 0, -7), now
	case "LAST_30_DAYS":
		return now.AddDate(0, 0, -30), now
	}
	panic("unknown range " + name)
}

// ts formats a time for a GraphQL variable.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

const listQuery = `query List($filter: SyncEventFilter, $order: SyncEventOrder) {
  syncEvents(filter: $filter, first: 500, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage }
    nodes { id }
  }
}`

// listIDs asks the API for every event matching filter (one page of up to
// 500) and returns their ids in list order and the total count.
func (f *fixture) listIDs(t *testing.T, filter map[string]any, order string) ([]int64, int) {
	t.Helper()
	vars := map[string]any{"filter": filter}
	if order != "" {
		vars["order"] = map[string]any{"direction": order}
	}
	resp := f.gql(t, callerManager, listQuery, vars)
	resp.requireOK(t)
	var out struct {
		SyncEvents struct {
			TotalCount int
			PageInfo   struct{ HasNextPage, HasPreviousPage bool }
			Nodes      []struct{ ID string }
		}
	}
	resp.decode(t, &out)
	require.False(t, out.SyncEvents.PageInfo.HasNextPage, "the fixture fits one page")
	require.False(t, out.SyncEvents.PageInfo.HasPreviousPage)
	ids := []int64{}
	for _, n := range out.SyncEvents.Nodes {
		ids = append(ids, mustID(t, n.ID))
	}
	return ids, out.SyncEvents.TotalCount
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}

func idStr(n int64) string { return strconv.FormatInt(n, 10) }
