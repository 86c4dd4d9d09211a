package server_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

// TestQuickReferenceFilters runs the Quick Reference Card's tasks and the
// search box's variants through syncEvents and compares the ids, in order,
// and totalCount with the in-memory reference filter.
func TestQuickReferenceFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// An event id, a conversation id and a ticket number to search for.
	someEvent := f.sorted(true)[17]
	conv := f.convs[3]
	from24, to24 := f.within("LAST_24_HOURS")
	from48, to48 := f.within("LAST_48_HOURS")
	todayFrom, todayTo := f.within("TODAY")
	yFrom, yTo := f.within("YESTERDAY")
	hFrom, hTo := f.within("LAST_HOUR")
	wFrom, wTo := f.within("LAST_7_DAYS")
	exFrom := f.now.Add(-50*time.Hour - 7*time.Minute - 3*time.Second)
	exTo := f.now.Add(-6*time.Hour - 41*time.Minute)

	cases := []struct {
		name    string
		filter  map[string]any
		ref     ref
		order   string
		atLeast int // the case is only meaningful with this many matches
	}{
		{name: "ticket created: exact email", atLeast: 1,
			filter: map[string]any{"search": "alice@example.com", "types": []string{"TICKET_CREATED"}},
			ref:    ref{search: ptr("alice@example.com"), types: []db.EventType{db.EventTicketCreated}}},
		{name: "email, partial", atLeast: 2,
			filter: map[string]any{"search": "bob.jon"},
			ref:    ref{search: ptr("bob.jon")}},
		{name: "email, other case", atLeast: 2,
			filter: map[string]any{"search": "ALICE@Example.COM"},
			ref:    ref{search: ptr("alice@example.com")}},
		{name: "email, surrounding spaces", atLeast: 2,
			filter: map[string]any{"search": "  erin.MIXED@example.com  "},
			ref:    ref{search: ptr("erin.mixed@example.com")}},
		{name: "email, underscore is literal", atLeast: 1,
			filter: map[string]any{"search": "carol_x"},
			ref:    ref{search: ptr("carol_x")}},
		{name: "email, percent is literal",
			filter: map[string]any{"search": "%"},
			ref:    ref{search: ptr("%")}},
		{name: "email, plus sign", atLeast: 1,
			filter: map[string]any{"search": "dave+tag"},
			ref:    ref{search: ptr("dave+tag")}},
		{name: "customer sync status", atLeast: 1,
			filter: map[string]any{"search": "bob.jones@example.org", "types": []string{"CUSTOMER_SYNCED"}},
			ref:    ref{search: ptr("bob.jones@example.org"), types: []db.EventType{db.EventCustomerSynced}}},
		{name: "customer synced or updated", atLeast: 1,
			filter: map[string]any{"search": "alice@example.com", "types": []string{"CUSTOMER_SYNCED", "CUSTOMER_UPDATED"}},
			ref:    ref{search: ptr("alice@example.com"), types: []db.EventType{db.EventCustomerSynced, db.EventCustomerUpdated}}},
		{name: "sync errors: failed, last 24 hours", atLeast: 3,
			filter: map[string]any{"statuses": []string{"FAILED"}, "within": "LAST_24_HOURS"},
			ref:    ref{statuses: []db.EventStatus{db.StatusFailed}, from: &from24, to: &to24}},
		{name: "health: everything, last 48 hours", atLeast: 50,
			filter: map[string]any{"within": "LAST_48_HOURS"},
			ref:    ref{from: &from48, to: &to48}},
		{name: "daily failed tickets: today", atLeast: f.todayFailedTC,
			filter: map[string]any{"statuses": []string{"FAILED"}, "types": []string{"TICKET_CREATED"}, "within": "TODAY"},
			ref:    ref{statuses: []db.EventStatus{db.StatusFailed}, types: []db.EventType{db.EventTicketCreated}, from: &todayFrom, to: &todayTo}},
		{name: "yesterday",
			filter: map[string]any{"within": "YESTERDAY"},
			ref:    ref{from: &yFrom, to: &yTo}},
		{name: "daily failed tickets: today in Honolulu",
			filter: map[string]any{"statuses": []string{"FAILED"}, "types": []string{"TICKET_CREATED"}, "within": "TODAY", "timeZone": "Pacific/Honolulu"},
			ref: ref{statuses: []db.EventStatus{db.StatusFailed}, types: []db.EventType{db.EventTicketCreated},
				from: ptr(zoneMidnight(f.now, "Pacific/Honolulu", 0)), to: &f.now}},
		{name: "yesterday in Kolkata", atLeast: 20,
			filter: map[string]any{"within": "YESTERDAY", "timeZone": "Asia/Kolkata"},
			ref:    ref{from: ptr(zoneMidnight(f.now, "Asia/Kolkata", -1)), to: ptr(zoneMidnight(f.now, "Asia/Kolkata", 0))}},
		{name: "last hour",
			filter: map[string]any{"within": "LAST_HOUR"},
			ref:    ref{from: &hFrom, to: &hTo}},
		{name: "last 7 days, oldest first", atLeast: 200, order: "ASC",
			filter: map[string]any{"within": "LAST_7_DAYS"},
			ref:    ref{from: &wFrom, to: &wTo}},
		{name: "event id", atLeast: 1,
			filter: map[string]any{"search": idStr(someEvent.ID)},
			ref:    ref{search: ptr(idStr(someEvent.ID))}},
		{name: "conversation id", atLeast: 1,
			filter: map[string]any{"search": idStr(conv.ID)},
			ref:    ref{search: ptr(idStr(conv.ID))}},
		{name: "ticket number", atLeast: 1,
			filter: map[string]any{"search": idStr(conv.Number)},
			ref:    ref{search: ptr(idStr(conv.Number))}},
		{name: "ticket number with #", atLeast: 1,
			filter: map[string]any{"search": "#" + idStr(conv.Number)},
			ref:    ref{search: ptr("#" + idStr(conv.Number))}},
		{name: "number matching an email and an event id", atLeast: 2,
			filter: map[string]any{"search": "100"},
			ref:    ref{search: ptr("100")}},
		{name: "number with # matching neither the email nor the event id",
			filter: map[string]any{"search": "#100"},
			ref:    ref{search: ptr("#100")}},
		{name: "no match",
			filter: map[string]any{"search": "nobody@nowhere.test"},
			ref:    ref{search: ptr("nobody@nowhere.test")}},
		{name: "direction from HelpScout", atLeast: 5,
			filter: map[string]any{"directions": []string{"FROM_HELPSCOUT"}},
			ref:    ref{directions: []db.Direction{db.DirectionFromHelpScout}}},
		{name: "direction to HelpScout, oldest first", atLeast: 5, order: "ASC",
			filter: map[string]any{"directions": []string{"TO_HELPSCOUT"}},
			ref:    ref{directions: []db.Direction{db.DirectionToHelpScout}}},
		{name: "error codes", atLeast: 2,
			filter: map[string]any{"errorCodes": []string{"RATE_LIMITED", "TIMEOUT", "INVALID_EMAIL"}},
			ref:    ref{codes: []db.ErrorCode{db.CodeRateLimited, db.CodeTimeout, db.CodeInvalidEmail}}},
		{name: "by hand (the audit trail)", atLeast: 1,
			filter: map[string]any{"sources": []string{"MANUAL"}},
			ref:    ref{sources: []db.EventSource{db.SourceManual}}},
		{name: "sources with a status", atLeast: 2,
			filter: map[string]any{"sources": []string{"WEBHOOK", "BATCH"}, "statuses": []string{"FAILED"}},
			ref:    ref{sources: []db.EventSource{db.SourceWebhook, db.SourceBatch}, statuses: []db.EventStatus{db.StatusFailed}}},
		{name: "combination with an exact range", atLeast: 3,
			filter: map[string]any{"from": ts(exFrom), "to": ts(exTo),
				"statuses": []string{"FAILED", "PENDING"}, "directions": []string{"TO_HELPSCOUT"},
				"types": []string{"TICKET_CREATED", "CUSTOMER_UPDATED", "CUSTOMER_SYNCED"}},
			ref: ref{from: &exFrom, to: &exTo,
				statuses:   []db.EventStatus{db.StatusFailed, db.StatusPending},
				directions: []db.Direction{db.DirectionToHelpScout},
				types:      []db.EventType{db.EventTicketCreated, db.EventCustomerUpdated, db.EventCustomerSynced}}},
		{name: "combination with search and error codes",
			filter: map[string]any{"search": "example", "statuses": []string{"FAILED"}, "errorCodes": db.ErrorCodes[:6]},
			ref:    ref{search: ptr("example"), statuses: []db.EventStatus{db.StatusFailed}, codes: db.ErrorCodes[:6]}},
		{name: "exact range holding the tie", atLeast: 35,
			filter: map[string]any{"from": ts(f.tieTime), "to": ts(f.tieTime.Add(time.Microsecond))},
			ref:    ref{from: &f.tieTime, to: ptr(f.tieTime.Add(time.Microsecond))}},
		{name: "exact range ending at the tie",
			filter: map[string]any{"from": ts(f.tieTime.Add(-time.Hour)), "to": ts(f.tieTime)},
			ref:    ref{from: ptr(f.tieTime.Add(-time.Hour)), to: &f.tieTime}},
		{name: "from only", atLeast: 10,
			filter: map[string]any{"from": ts(f.now.Add(-5 * time.Hour))},
			ref:    ref{from: ptr(f.now.Add(-5 * time.Hour))}},
		{name: "dates: the whole of yesterday in UTC", atLeast: 10,
			filter: map[string]any{"from": yFrom.UTC().Format("2006-01-02"), "to": yTo.UTC().Format("2006-01-02")},
			ref:    ref{from: &yFrom, to: &yTo}},
		{name: "a date and a time", atLeast: 10,
			filter: map[string]any{"from": yFrom.UTC().Format("2006-01-02"), "to": ts(f.now.Add(-5 * time.Hour))},
			ref:    ref{from: &yFrom, to: ptr(f.now.Add(-5 * time.Hour))}},
		{name: "to only", atLeast: 10,
			filter: map[string]any{"to": ts(f.now.Add(-60 * time.Hour))},
			ref:    ref{to: ptr(f.now.Add(-60 * time.Hour))}},
		{name: "empty search is no condition", atLeast: 200,
			filter: map[string]any{"search": "   "},
			ref:    ref{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := f.expect(tc.ref, tc.order != "ASC")
			require.GreaterOrEqual(t, len(want), tc.atLeast, "fixture too thin for this case")
			got, total := f.listIDs(t, tc.filter, tc.order)
			require.Equal(t, want, got)
			require.Equal(t, len(want), total, "totalCount")
		})
	}
}

// summaryFields is the summary selection the tests compare.
const summaryFields = `from to total succeeded failed pending successRate errorRate
  ticketsCreated customersSynced customersUpdated apiCalls health bucket
  byType { type total succeeded failed pending }
  byErrorCode { code count }
  timeline { start total succeeded failed pending }`

type summaryResult struct {
	From, To                                          time.Time
	Total, Succeeded, Failed, Pending                 int
	SuccessRate, ErrorRate                            *float64
	TicketsCreated, CustomersSynced, CustomersUpdated int
	APICalls                                          int `json:"apiCalls"`
	Health, Bucket                                    string
	ByType                                            []struct {
		Type                              string
		Total, Succeeded, Failed, Pending int
	}
	ByErrorCode []struct {
		Code  string
		Count int
	}
	Timeline []struct {
		Start                             time.Time
		Total, Succeeded, Failed, Pending int
	}
}

// expectSummary computes the summary of the events r matches in [from, to)
// with buckets of width step.
func (f *fixture) expectSummary(t *testing.T, r ref, from, to time.Time, step time.Duration) summaryResult {
	t.Helper()
	r.from, r.to = &from, &to
	var s summaryResult
	s.From, s.To = from, to
	byType := map[db.EventType]*[4]int{}
	byCode := map[string]int{}
	buckets := map[time.Time]*[4]int{}
	for _, e := range f.events {
		if !r.match(e) {
			continue
		}
		k := 1
		switch e.Status {
		case db.StatusFailed:
			k = 2
		case db.StatusPending:
			k = 3
		}
		s.Total++
		switch k {
		case 1:
			s.Succeeded++
			switch e.Type {
			case db.EventTicketCreated:
				s.TicketsCreated++
			case db.EventCustomerSynced:
				s.CustomersSynced++
			case db.EventCustomerUpdated:
				s.CustomersUpdated++
			}
		case 2:
			s.Failed++
		case 3:
			s.Pending++
		}
		if e.Direction == db.DirectionToHelpScout && e.Status != db.StatusPending {
			s.APICalls++
		}
		if byType[e.Type] == nil {
			byType[e.Type] = &[4]int{}
		}
		byType[e.Type][0]++
		byType[e.Type][k]++
		if e.ErrorCode != nil {
			byCode[string(*e.ErrorCode)]++
		}
		b := e.OccurredAt.UTC().Truncate(step)
		if buckets[b] == nil {
			buckets[b] = &[4]int{}
		}
		buckets[b][0]++
		buckets[b][k]++
	}
	if done := s.Succeeded + s.Failed; done > 0 {
		sr := float64(s.Succeeded) / float64(done)
		er := float64(s.Failed) / float64(done)
		s.SuccessRate, s.ErrorRate = &sr, &er
	}
	s.Health = healthOf(s.SuccessRate)
	for _, typ := range db.EventTypes {
		if c := byType[typ]; c != nil {
			s.ByType = append(s.ByType, struct {
				Type                              string
				Total, Succeeded, Failed, Pending int
			}{string(typ), c[0], c[1], c[2], c[3]})
		}
	}
	for code, n := range byCode {
		s.ByErrorCode = append(s.ByErrorCode, struct {
			Code  string
			Count int
		}{code, n})
	}
	sortCodes(s.ByErrorCode)
	for b := from.UTC().Truncate(step); b.Before(to); b = b.Add(step) {
		c := buckets[b]
		if c == nil {
			c = &[4]int{}
		}
		s.Timeline = append(s.Timeline, struct {
			Start                             time.Time
			Total, Succeeded, Failed, Pending int
		}{b, c[0], c[1], c[2], c[3]})
	}
	return s
}

// healthOf grades a success rate as the schema describes it.
func healthOf(rate *float64) string {
	switch {
	case rate == nil:
		return "NO_DATA"
	case *rate >= 0.95:
		return "HEALTHY"
	case *rate >= 0.80:
		return "DEGRADED"
	}
	return "FAILING"
}

func sortCodes(s []struct {
	Code  string
	Count int
}) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].Count > s[j-1].Count || (s[j].Count == s[j-1].Count && s[j].Code < s[j-1].Code)); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// requireSummary compares a summary with the expected one.
func requireSummary(t *testing.T, want, got summaryResult) {
	t.Helper()
	require.True(t, want.From.Equal(got.From), "from: want %s, got %s", want.From, got.From)
	require.True(t, want.To.Equal(got.To), "to: want %s, got %s", want.To, got.To)
	got.From, got.To = want.From, want.To
	for i := range got.Timeline {
		got.Timeline[i].Start = got.Timeline[i].Start.UTC()
	}
	for _, r := range []struct{ w, g *float64 }{{want.SuccessRate, got.SuccessRate}, {want.ErrorRate, got.ErrorRate}} {
		if r.w == nil {
			require.Nil(t, r.g)
			continue
		}
		require.NotNil(t, r.g)
		require.InDelta(t, *r.w, *r.g, 1e-9)
	}
	got.SuccessRate, got.ErrorRate = want.SuccessRate, want.ErrorRate
	want.Bucket = got.Bucket
	if len(got.ByType) == 0 && len(want.ByType) == 0 {
		got.ByType, want.ByType = nil, nil
	}
	if len(got.ByErrorCode) == 0 && len(want.ByErrorCode) == 0 {
		got.ByErrorCode, want.ByErrorCode = nil, nil
	}
	require.Equal(t, want, got)
}

// TestSummaryLast48Hours is the "monitor integration health" task: all
// events of the last 48 hours, their success rate and health.
func TestSummaryLast48Hours(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	from, to := f.within("LAST_48_HOURS")
	want := f.expectSummary(t, ref{}, from, to, time.Hour)
	require.Greater(t, want.Failed, 0)
	require.Greater(t, want.Succeeded, 0)

	cases := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"range", `query($r: TimeRangeInput) { summary(range: $r) { ` + summaryFields + ` } }`,
			map[string]any{"r": map[string]any{"within": "LAST_48_HOURS"}}},
		{"filter range", `query($f: SyncEventFilter) { summary(filter: $f) { ` + summaryFields + ` } }`,
			map[string]any{"f": map[string]any{"within": "LAST_48_HOURS"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerManager, tc.query, tc.vars)
			resp.requireOK(t)
			var out struct{ Summary summaryResult }
			resp.decode(t, &out)
			require.Equal(t, "HOUR", out.Summary.Bucket)
			requireSummary(t, want, out.Summary)
			require.Equal(t, healthOf(out.Summary.SuccessRate), out.Summary.Health)
		})
	}
}

// TestSummaryHealthThresholds grades periods whose success rates sit on
// and around the 95% and 80% thresholds.
func TestSummaryHealthThresholds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	windows := []struct {
		name                       string
		succeeded, failed, pending int
		health                     string
		rate                       *float64
	}{
		{"exactly 95%", 19, 1, 2, "HEALTHY", ptr(0.95)},
		{"all succeeded", 20, 0, 5, "HEALTHY", ptr(1.0)},
		{"just under 95%", 94, 6, 0, "DEGRADED", ptr(0.94)},
		{"exactly 80%", 16, 4, 0, "DEGRADED", ptr(0.80)},
		{"just under 80%", 79, 21, 0, "FAILING", ptr(0.79)},
		{"all failed", 0, 3, 0, "FAILING", ptr(0.0)},
		{"only pending", 0, 0, 4, "NO_DATA", nil},
		{"empty", 0, 0, 0, "NO_DATA", nil},
	}
	var events []*db.SyncEvent
	for i, w := range windows {
		start := base.Add(time.Duration(i) * 24 * time.Hour)
		n := 0
		add := func(st db.EventStatus, count int) {
			for k := 0; k < count; k++ {
				ev := &db.SyncEvent{OccurredAt: start.Add(time.Duration(n)*time.Minute + 90*time.Second),
					Type: db.EventTicketCreated, Status: st, Direction: db.DirectionToHelpScout,
					Attempt: 1, Source: db.SourceContactForm}
				if st == db.StatusFailed {
					ev.ErrorCode = ptr(db.CodeTimeout)
				}
				events = append(events, ev)
				n++
			}
		}
		add(db.StatusSuccess, w.succeeded)
		add(db.StatusFailed, w.failed)
		add(db.StatusPending, w.pending)
	}
	require.NoError(t, db.NewEventStore(e.bdb).Insert(ctx, e.bdb, events))

	for i, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			start := base.Add(time.Duration(i) * 24 * time.Hour)
			resp := e.gql(t, callerManager, `query($r: TimeRangeInput) { summary(range: $r) { total succeeded failed pending successRate errorRate health } }`,
				map[string]any{"r": map[string]any{"from": ts(start), "to": ts(start.Add(24 * time.Hour))}})
			resp.requireOK(t)
			var out struct {
				Summary struct {
					Total, Succeeded, Failed, Pending int
					SuccessRate, ErrorRate            *float64
					Health                            string
				}
			}
			resp.decode(t, &out)
			s := out.Summary
			require.Equal(t, w.succeeded+w.failed+w.pending, s.Total)
			require.Equal(t, w.succeeded, s.Succeeded)
			require.Equal(t, w.failed, s.Failed)
			require.Equal(t, w.pending, s.Pending)
			require.Equal(t, w.health, s.Health)
			if w.rate == nil {
				require.Nil(t, s.SuccessRate)
				require.Nil(t, s.ErrorRate)
				return
			}
			require.NotNil(t, s.SuccessRate)
			require.InDelta(t, *w.rate, *s.SuccessRate, 1e-12)
			require.InDelta(t, 1-*w.rate, *s.ErrorRate, 1e-12)
			require.False(t, math.IsNaN(*s.SuccessRate))
		})
	}
}

// TestConversationLookup is "find conversation in HelpScout": by id, by
// number with and without '#', and the link that opens it.
func TestConversationLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cv := f.convs[4]
	query := `query($id: ID, $number: String) {
  conversation(id: $id, number: $number) {
    id number subject status mailboxId mailboxName assignee customerEmail helpScoutUrl createdAt deletedAt firstReplyAt
    customer { email name }
    events(first: 500) { totalCount nodes { id conversationId ticketNumber helpScoutUrl } }
  }
}`
	cases := []struct {
		name  string
		vars  map[string]any
		found bool
	}{
		{"by id", map[string]any{"id": idStr(cv.ID)}, true},
		{"by number", map[string]any{"number": idStr(cv.Number)}, true},
		{"by number with #", map[string]any{"number": "#" + idStr(cv.Number)}, true},
		{"by number with # and spaces", map[string]any{"number": " #" + idStr(cv.Number) + " "}, true},
		{"unknown id", map[string]any{"id": "999999999"}, false},
		{"unknown number", map[string]any{"number": "#99999"}, false},
	}
	wantURL := "https://secure.helpscout.net/conversation/" + idStr(cv.ID) + "/" + idStr(cv.Number)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerManager, query, tc.vars)
			resp.requireOK(t)
			var out struct {
				Conversation *struct {
					ID                    string
					Number                int64
					Subject, Status       string
					MailboxID             string `json:"mailboxId"`
					MailboxName, Assignee *string
					CustomerEmail         *string
					HelpScoutURL          string `json:"helpScoutUrl"`
					CreatedAt             time.Time
					DeletedAt             *time.Time
					FirstReplyAt          *time.Time
					Customer              *struct{ Email, Name string }
					Events                struct {
						TotalCount int
						Nodes      []struct {
							ID             string
							ConversationID *string `json:"conversationId"`
							TicketNumber   *int64
							HelpScoutURL   *string `json:"helpScoutUrl"`
						}
					}
				}
			}
			resp.decode(t, &out)
			if !tc.found {
				require.Nil(t, out.Conversation)
				return
			}
			c := out.Conversation
			require.NotNil(t, c)
			require.Equal(t, idStr(cv.ID), c.ID)
			require.Equal(t, cv.Number, c.Number)
			require.Equal(t, cv.Subject, c.Subject)
			require.Equal(t, string(cv.Status), c.Status)
			require.Equal(t, "77", c.MailboxID)
			require.Equal(t, wantURL, c.HelpScoutURL)
			require.True(t, cv.CreatedAt.Equal(c.CreatedAt))
			require.NotNil(t, c.DeletedAt, "the fixture's deleted conversation")
			require.True(t, cv.DeletedAt.Equal(*c.DeletedAt))
			require.NotNil(t, c.FirstReplyAt)
			require.True(t, cv.FirstReplyAt.Equal(*c.FirstReplyAt))
			require.Equal(t, cv.CustomerEmail, c.CustomerEmail)
			require.NotNil(t, c.Customer)
			require.Equal(t, *cv.CustomerEmail, c.Customer.Email)

			want := f.expect(ref{conv: &cv.ID}, true)
			require.NotEmpty(t, want)
			require.Equal(t, len(want), c.Events.TotalCount)
			var got []int64
			for _, n := range c.Events.Nodes {
				got = append(got, mustID(t, n.ID))
				require.NotNil(t, n.ConversationID)
				require.Equal(t, idStr(cv.ID), *n.ConversationID)
				require.NotNil(t, n.HelpScoutURL)
				require.Equal(t, wantURL, *n.HelpScoutURL)
			}
			require.Equal(t, want, got)
		})
	}
}

// TestCustomerLookup is "customer sync status" and "check if ticket
// created" from the customer's side: customer(email) with its sync events
// filtered to CUSTOMER_SYNCED/CUSTOMER_UPDATED and its conversations.
func TestCustomerLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	query := `query($email: String!, $filter: SyncEventFilter) {
  customer(email: $email) {
    email name helpScoutId lastSyncStatus lastEventAt
    events(filter: $filter, first: 500) { totalCount nodes { id type customerEmail } }
    conversations(first: 100) { totalCount nodes { id number helpScoutUrl customerEmail } }
  }
}`
	syncTypes := []db.EventType{db.EventCustomerSynced, db.EventCustomerUpdated}
	cases := []struct {
		name, email string
		filter      map[string]any
		ref         ref
		found       bool
	}{
		{"sync events", "alice@example.com",
			map[string]any{"types": []string{"CUSTOMER_SYNCED", "CUSTOMER_UPDATED"}},
			ref{types: syncTypes}, true},
		{"other case and spaces", "  Bob.Jones@EXAMPLE.org ",
			map[string]any{"types": []string{"CUSTOMER_SYNCED", "CUSTOMER_UPDATED"}},
			ref{types: syncTypes}, true},
		{"failed only", "alice@example.com",
			map[string]any{"statuses": []string{"FAILED"}},
			ref{statuses: []db.EventStatus{db.StatusFailed}}, true},
		{"search cannot escape the customer", "carol_x@kiva.test",
			map[string]any{"search": "carolyx"},
			ref{search: ptr("carolyx")}, true},
		{"all events", "frank@100.example", nil, ref{}, true},
		{"unknown", "nobody@nowhere.test", nil, ref{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerManager, query, map[string]any{"email": tc.email, "filter": tc.filter})
			resp.requireOK(t)
			var out struct {
				Customer *struct {
					Email       string
					Name        *string
					HelpScoutID *string `json:"helpScoutId"`
					LastEventAt time.Time
					Events      struct {
						TotalCount int
						Nodes      []struct{ ID, Type, CustomerEmail string }
					}
					Conversations struct {
						TotalCount int
						Nodes      []struct {
							ID            string
							Number        int64
							HelpScoutURL  string `json:"helpScoutUrl"`
							CustomerEmail string
						}
					}
				}
			}
			resp.decode(t, &out)
			if !tc.found {
				require.Nil(t, out.Customer)
				return
			}
			c := out.Customer
			require.NotNil(t, c)
			email := strings.ToLower(strings.TrimSpace(tc.email))
			require.Equal(t, email, c.Email)

			r := tc.ref
			r.email = &email
			want := f.expect(r, true)
			var got []int64
			for _, n := range c.Events.Nodes {
				got = append(got, mustID(t, n.ID))
				require.Equal(t, email, n.CustomerEmail)
			}
			require.Equal(t, want, nilIfEmpty(got, want))
			require.Equal(t, len(want), c.Events.TotalCount)

			var wantConvs []string
			for i := len(f.convs) - 1; i >= 0; i-- { // newest first
				if cv := f.convs[i]; *cv.CustomerEmail == email {
					wantConvs = append(wantConvs, idStr(cv.ID))
				}
			}
			var gotConvs []string
			for _, n := range c.Conversations.Nodes {
				gotConvs = append(gotConvs, n.ID)
				require.Equal(t, email, n.CustomerEmail)
				require.Equal(t, "https://secure.helpscout.net/conversation/"+n.ID+"/"+idStr(n.Number), n.HelpScoutURL)
			}
			require.Equal(t, wantConvs, gotConvs)
			require.Equal(t, len(wantConvs), c.Conversations.TotalCount)
		})
	}
}

// nilIfEmpty makes an empty result comparable with an empty expectation.
func nilIfEmpty(got, want []int64) []int64 {
	if len(got) == 0 && len(want) == 0 {
		return want
	}
	return got
}
