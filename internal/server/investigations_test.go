package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// investigation is a running service over a database holding the events
// of the investigation tests, each known by a name.
type investigation struct {
	*env
	// base anchors the duplicate fixtures; at is the claimed submission
	// time of the missing-ticket fixtures.
	base, at time.Time
	names    map[string]string // event id -> name
}

// invEvent is one fixture event.
type invEvent struct {
	name    string
	at      time.Time
	email   string
	typ     db.EventType
	status  db.EventStatus
	ref     string
	subject string
	convID  int64
	number  int64
	code    db.ErrorCode
	message string
	retryOf string // the name of the event this attempt retried
}

func newInvestigation(t *testing.T) *investigation {
	t.Helper()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	inv := &investigation{env: e, base: now.Add(-72 * time.Hour), at: now.Add(-24 * time.Hour), names: map[string]string{}}
	b, at := inv.base, inv.at
	m := time.Minute
	tc, ok := db.EventTicketCreated, db.StatusSuccess
	events := []invEvent{
		// SAME_SUBMISSION: one submission, two tickets; its failed attempt does not count.
		{name: "s1a", at: b, email: "dup1@example.com", typ: tc, status: ok, ref: "sub-1", subject: "Help"},
		{name: "s1b", at: b.Add(30 * time.Second), email: "dup1@example.com", typ: tc, status: ok, ref: "sub-1", subject: "Help"},
		{name: "s1x", at: b.Add(45 * time.Second), email: "dup1@example.com", typ: tc, status: db.StatusFailed, ref: "sub-1", subject: "Help", code: db.CodeTimeout},
		// SAME_EMAIL_AND_SUBJECT: a chain of three submissions 5 and 7 minutes apart,
		// a fourth 28 minutes later, and one with another subject in between.
		{name: "r2a", at: b.Add(60 * m), email: "dup2@example.com", typ: tc, status: ok, ref: "sub-2a", subject: "Refund"},
		{name: "o2", at: b.Add(62 * m), email: "dup2@example.com", typ: tc, status: ok, ref: "other-1", subject: "Other"},
		{name: "r2b", at: b.Add(65 * m), email: "dup2@example.com", typ: tc, status: ok, ref: "sub-2b", subject: "Refund"},
		{name: "r2c", at: b.Add(72 * m), email: "dup2@example.com", typ: tc, status: ok, ref: "sub-2c", subject: "Refund"},
		{name: "r2d", at: b.Add(100 * m), email: "dup2@example.com", typ: tc, status: ok, ref: "sub-2d", subject: "Refund"},
		// Same email and subject 30 minutes apart: outside the default window.
		{name: "fa", at: b.Add(180 * m), email: "far@example.com", typ: tc, status: ok, ref: "far-a", subject: "Late"},
		{name: "fb", at: b.Add(210 * m), email: "far@example.com", typ: tc, status: ok, ref: "far-b", subject: "Late"},
		// One submission twice and nothing else: SAME_SUBMISSION only.
		{name: "c1a", at: b.Add(300 * m), email: "combo@example.com", typ: tc, status: ok, ref: "combo-1", subject: "Twice"},
		{name: "c1b", at: b.Add(301 * m), email: "combo@example.com", typ: tc, status: ok, ref: "combo-1", subject: "Twice"},
		// One submission twice and another one soon after: the repeat is
		// counted under SAME_SUBMISSION only.
		{name: "c2a", at: b.Add(360 * m), email: "combo2@example.com", typ: tc, status: ok, ref: "c2-1", subject: "Again"},
		{name: "c2b", at: b.Add(361 * m), email: "combo2@example.com", typ: tc, status: ok, ref: "c2-1", subject: "Again"},
		{name: "c2c", at: b.Add(364 * m), email: "combo2@example.com", typ: tc, status: ok, ref: "c2-2", subject: "Again"},

		// Missing-ticket investigation around at.
		{name: "tcCustomer", at: at.Add(-2 * m), email: "tc@example.com", typ: db.EventCustomerSynced, status: ok},
		{name: "tcTicket", at: at.Add(5 * m), email: "tc@example.com", typ: tc, status: ok, ref: "f-tc", subject: "Where", convID: 555001, number: 4321},
		{name: "pdCustomer", at: at.Add(-1 * m), email: "pending@example.com", typ: db.EventCustomerSynced, status: ok},
		{name: "pdTicket", at: at.Add(1 * m), email: "pending@example.com", typ: tc, status: db.StatusPending, ref: "f-pd", subject: "Wait"},
		{name: "flTicket1", at: at.Add(1 * m), email: "failed@example.com", typ: tc, status: db.StatusFailed, ref: "f-fl", subject: "Broken",
			code: db.CodeRateLimited, message: "Rate limit exceeded"},
		{name: "flTicket2", at: at.Add(3 * m), email: "failed@example.com", typ: tc, status: db.StatusFailed, ref: "f-fl", subject: "Broken",
			code: db.CodeMailboxNotFound, message: "Mailbox 42 not found"},
		{name: "nlOld", at: at.Add(-5 * time.Hour), email: "nolog@example.com", typ: db.EventCustomerUpdated, status: ok},
		// A failed ticket whose retry succeeded after the window.
		{name: "rtFail", at: at.Add(1 * m), email: "retried@example.com", typ: tc, status: db.StatusFailed, ref: "f-rt", subject: "Later",
			code: db.CodeRateLimited, message: "Rate limit exceeded"},
		{name: "rtOK", at: at.Add(3 * time.Hour), email: "retried@example.com", typ: tc, status: ok, ref: "f-rt", subject: "Later",
			convID: 555002, number: 4322, retryOf: "rtFail"},
		// Two forms in the window: one became a ticket, the later one failed.
		{name: "mfTicket", at: at.Add(-10 * m), email: "multi@example.com", typ: tc, status: ok, ref: "f-m1", subject: "First",
			convID: 555003, number: 4323},
		{name: "mfFail", at: at.Add(10 * m), email: "multi@example.com", typ: tc, status: db.StatusFailed, ref: "f-m2", subject: "Second",
			code: db.CodeInvalidEmail, message: "Invalid email address"},
		// A ticket whose conversation HelpScout deleted since.
		{name: "dlTicket", at: at.Add(2 * m), email: "deleted@example.com", typ: tc, status: ok, ref: "f-dl", subject: "Gone",
			convID: 555004, number: 4324},
		// Tickets whose conversations HelpScout reported on: one answered,
		// one still unassigned.
		{name: "rpTicket", at: at.Add(2 * m), email: "answered@example.com", typ: tc, status: ok, ref: "f-rp", subject: "Thanks",
			convID: 555005, number: 4325},
		{name: "unTicket", at: at.Add(2 * m), email: "waiting@example.com", typ: tc, status: ok, ref: "f-un", subject: "Hello?",
			convID: 555006, number: 4326},
		{name: "clTicket", at: at.Add(2 * m), email: "closed@example.com", typ: tc, status: ok, ref: "f-cl", subject: "Bye",
			convID: 555007, number: 4327},
		// A failed customer update that a retry fixed, and no ticket.
		{name: "cuFail", at: at.Add(-30 * m), email: "updated@example.com", typ: db.EventCustomerUpdated, status: db.StatusFailed,
			code: db.CodeValidationFailed, message: "phones[0].type is invalid"},
		{name: "cuOK", at: at.Add(-20 * m), email: "updated@example.com", typ: db.EventCustomerUpdated, status: ok, retryOf: "cuFail"},
	}
	// Busy customers, more events in the window than a report lists: a
	// failure after 205 successes, and one before them.
	for i := range 205 {
		events = append(events,
			invEvent{name: fmt.Sprintf("bsOK%d", i), at: at.Add(-100*m + time.Duration(i)*10*time.Second), email: "busy@example.com",
				typ: db.EventCustomerUpdated, status: ok},
			invEvent{name: fmt.Sprintf("b2OK%d", i), at: at.Add(-100*m + time.Duration(i)*10*time.Second), email: "busy2@example.com",
				typ: db.EventCustomerUpdated, status: ok})
	}
	events = append(events,
		invEvent{name: "bsFail", at: at.Add(60 * m), email: "busy@example.com", typ: db.EventCustomerUpdated, status: db.StatusFailed,
			code: db.CodeValidationFailed, message: "busy: phones[0].type is invalid"},
		invEvent{name: "b2Fail", at: at.Add(-110 * m), email: "busy2@example.com", typ: db.EventCustomerUpdated, status: db.StatusFailed,
			code: db.CodeValidationFailed, message: "busy2: phones[0].type is invalid"})

	ctx := context.Background()
	emails := map[string]bool{}
	var customers []*db.Customer
	var rows []*db.SyncEvent
	byName := map[string]*db.SyncEvent{}
	for _, ev := range events {
		email := ev.email
		if !emails[email] {
			emails[email] = true
			customers = append(customers, &db.Customer{Email: email, LastEventAt: ev.at})
		}
		e := &db.SyncEvent{OccurredAt: ev.at, Type: ev.typ, Status: ev.status, Direction: db.DirectionToHelpScout,
			CustomerEmail: &email, Attempt: 1, Source: db.SourceContactForm}
		if ev.ref != "" {
			e.SourceRef = ptr(ev.ref)
		}
		if ev.subject != "" {
			e.Details = map[string]any{"subject": ev.subject}
		}
		if ev.convID != 0 {
			e.ConversationID, e.TicketNumber = ptr(ev.convID), ptr(ev.number)
		}
		if ev.code != "" {
			e.ErrorCode = ptr(ev.code)
		}
		if ev.message != "" {
			e.ErrorMessage = ptr(ev.message)
		}
		byName[ev.name] = e
		rows = append(rows, e)
	}
	require.NoError(t, db.NewCustomerStore(e.bdb).Insert(ctx, e.bdb, customers))
	// Attempts go in after the events they retried, whose ids they need.
	var first, retries []*db.SyncEvent
	for i, r := range rows {
		if events[i].retryOf == "" {
			first = append(first, r)
			continue
		}
		retries = append(retries, r)
	}
	store := db.NewEventStore(e.bdb)
	require.NoError(t, store.Insert(ctx, e.bdb, first))
	for i, r := range rows {
		if name := events[i].retryOf; name != "" {
			r.RetryOfID = ptr(byName[name].ID)
			r.Attempt = 2
		}
	}
	require.NoError(t, store.Insert(ctx, e.bdb, retries))
	require.NoError(t, db.NewConversationStore(e.bdb).Insert(ctx, e.bdb, []*db.Conversation{
		{ID: 555004, Number: 4324, Subject: "Gone", Status: db.ConversationClosed, MailboxID: 1, CustomerEmail: ptr("deleted@example.com"),
			CreatedAt: at.Add(2 * m), UpdatedAt: at.Add(time.Hour), DeletedAt: ptr(at.Add(time.Hour))},
		{ID: 555005, Number: 4325, Subject: "Thanks", Status: db.ConversationPending, MailboxID: 1, CustomerEmail: ptr("answered@example.com"),
			Assignee: ptr("Sam Agent"), CreatedAt: at.Add(2 * m), UpdatedAt: at.Add(time.Hour), FirstReplyAt: ptr(at.Add(40 * m))},
		{ID: 555006, Number: 4326, Subject: "Hello?", Status: db.ConversationActive, MailboxID: 1, CustomerEmail: ptr("waiting@example.com"),
			CreatedAt: at.Add(2 * m), UpdatedAt: at.Add(2 * m)},
		{ID: 555007, Number: 4327, Subject: "Bye", Status: db.ConversationClosed, MailboxID: 1, CustomerEmail: ptr("closed@example.com"),
			Assignee: ptr("Sam Agent"), CreatedAt: at.Add(2 * m), UpdatedAt: at.Add(time.Hour)},
	}))
	for i, r := range rows {
		inv.names[fmt.Sprint(r.ID)] = events[i].name
	}
	return inv
}

const duplicatesQuery = `query($range: TimeRangeInput, $windowMinutes: Int, $first: Int) {
  duplicateTickets(range: $range, windowMinutes: $windowMinutes, first: $first) {
    reason sourceRef customerEmail subject firstAt lastAt count
    events { id sourceRef occurredAt customer { email } }
  }
}`

// duplicateGroup is a group as the API returns it.
type duplicateGroup struct {
	Reason        string    `json:"reason"`
	SourceRef     *string   `json:"sourceRef"`
	CustomerEmail *string   `json:"customerEmail"`
	Subject       *string   `json:"subject"`
	FirstAt       time.Time `json:"firstAt"`
	LastAt        time.Time `json:"lastAt"`
	Count         int       `json:"count"`
	Events        []struct {
		ID         string    `json:"id"`
		OccurredAt time.Time `json:"occurredAt"`
		Customer   *struct {
			Email string `json:"email"`
		} `json:"customer"`
	} `json:"events"`
}

// describe turns a group into "REASON email subject: names", checking its
// own consistency on the way.
func (inv *investigation) describe(t *testing.T, g duplicateGroup) string {
	t.Helper()
	require.Len(t, g.Events, g.Count)
	require.True(t, g.FirstAt.Equal(g.Events[0].OccurredAt))
	require.True(t, g.LastAt.Equal(g.Events[len(g.Events)-1].OccurredAt))
	names := make([]string, len(g.Events))
	for i, e := range g.Events {
		names[i] = inv.names[e.ID]
		require.NotNil(t, e.Customer, "the SyncEvent field resolvers keep working")
		if i > 0 {
			require.False(t, e.OccurredAt.Before(g.Events[i-1].OccurredAt), "oldest first")
		}
	}
	ref := "-"
	if g.SourceRef != nil {
		ref = *g.SourceRef
	}
	return fmt.Sprintf("%s %s %s %s: %s", g.Reason, ref, *g.CustomerEmail, *g.Subject, strings.Join(names, " "))
}

func TestDuplicateTickets(t *testing.T) {
	t.Parallel()
	inv := newInvestigation(t)
	rng := map[string]any{"from": inv.base.Add(-time.Hour), "to": inv.base.Add(24 * time.Hour)}
	tests := []struct {
		name string
		vars map[string]any
		want []string
	}{
		{"default window", map[string]any{"range": rng}, []string{
			"SAME_EMAIL_AND_SUBJECT - combo2@example.com Again: c2a c2c",
			"SAME_SUBMISSION c2-1 combo2@example.com Again: c2a c2b",
			"SAME_SUBMISSION combo-1 combo@example.com Twice: c1a c1b",
			"SAME_EMAIL_AND_SUBJECT - dup2@example.com Refund: r2a r2b r2c",
			"SAME_SUBMISSION sub-1 dup1@example.com Help: s1a s1b",
		}},
		{"first", map[string]any{"range": rng, "first": 2}, []string{
			"SAME_EMAIL_AND_SUBJECT - combo2@example.com Again: c2a c2c",
			"SAME_SUBMISSION c2-1 combo2@example.com Again: c2a c2b",
		}},
		{"wide window", map[string]any{"range": rng, "windowMinutes": 30}, []string{
			"SAME_EMAIL_AND_SUBJECT - combo2@example.com Again: c2a c2c",
			"SAME_SUBMISSION c2-1 combo2@example.com Again: c2a c2b",
			"SAME_SUBMISSION combo-1 combo@example.com Twice: c1a c1b",
			"SAME_EMAIL_AND_SUBJECT - far@example.com Late: fa fb",
			"SAME_EMAIL_AND_SUBJECT - dup2@example.com Refund: r2a r2b r2c r2d",
			"SAME_SUBMISSION sub-1 dup1@example.com Help: s1a s1b",
		}},
		{"narrow window", map[string]any{"range": rng, "windowMinutes": 5}, []string{
			"SAME_EMAIL_AND_SUBJECT - combo2@example.com Again: c2a c2c",
			"SAME_SUBMISSION c2-1 combo2@example.com Again: c2a c2b",
			"SAME_SUBMISSION combo-1 combo@example.com Twice: c1a c1b",
			"SAME_EMAIL_AND_SUBJECT - dup2@example.com Refund: r2a r2b",
			"SAME_SUBMISSION sub-1 dup1@example.com Help: s1a s1b",
		}},
		{"range cuts a group", map[string]any{"range": map[string]any{"from": inv.base.Add(64 * time.Minute), "to": inv.base.Add(4 * time.Hour)}}, []string{
			"SAME_EMAIL_AND_SUBJECT - dup2@example.com Refund: r2b r2c",
		}},
		{"default range: last 7 days", map[string]any{"first": 1}, []string{
			"SAME_EMAIL_AND_SUBJECT - combo2@example.com Again: c2a c2c",
		}},
		{"nothing", map[string]any{"range": map[string]any{"within": "LAST_HOUR"}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := inv.gql(t, callerManager, duplicatesQuery, tt.vars)
			resp.requireOK(t)
			require.NotEqual(t, "null", string(resp.dataMap(t)["duplicateTickets"]), "no groups is an empty list")
			var data struct {
				DuplicateTickets []duplicateGroup `json:"duplicateTickets"`
			}
			resp.decode(t, &data)
			got := []string{}
			for _, g := range data.DuplicateTickets {
				got = append(got, inv.describe(t, g))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

const investigationQuery = `query($email: String!, $at: Time!, $windowMinutes: Int) {
  missingTicketInvestigation(email: $email, at: $at, windowMinutes: $windowMinutes) {
    email from to verdict explanation
    customer { email }
    tickets { id }
    events { id }
  }
}`

func TestMissingTicketInvestigation(t *testing.T) {
	t.Parallel()
	inv := newInvestigation(t)
	tests := []struct {
		name        string
		email       string
		window      *int
		verdict     string
		customer    bool
		tickets     []string
		events      []string
		explanation []string
	}{
		{"ticket created", "tc@example.com", nil, "TICKET_CREATED", true, []string{"tcTicket"}, []string{"tcCustomer", "tcTicket"},
			[]string{"555001", "#4321", "https://secure.helpscout.net/conversation/555001/4321"}},
		{"pending", "Pending@Example.com", nil, "SYNC_PENDING", true, []string{"pdTicket"}, []string{"pdCustomer", "pdTicket"},
			[]string{"pending"}},
		{"failed", " failed@example.com ", nil, "SYNC_FAILED", true, []string{"flTicket1", "flTicket2"}, []string{"flTicket1", "flTicket2"},
			[]string{"MAILBOX_NOT_FOUND", "Mailbox 42 not found", "Administrator", "retry it (retrySync)", "createTicket"}},
		{"no log entry", "nolog@example.com", nil, "NO_LOG_ENTRY", true, []string{}, []string{},
			[]string{"form submission logs"}},
		{"no log entry, wider window finds the old event", "nolog@example.com", ptr(6 * 60), "NO_LOG_ENTRY", true, []string{}, []string{"nlOld"},
			[]string{"form submission logs"}},
		{"ticket created, conversation deleted since", "deleted@example.com", nil, "TICKET_CREATED", true, []string{"dlTicket"}, []string{"dlTicket"},
			[]string{"555004", "#4324", "deleted at " + inv.at.Add(time.Hour).Format(time.RFC3339), "trash", "createTicket"}},
		{"ticket created and answered", "answered@example.com", nil, "TICKET_CREATED", true, []string{"rpTicket"}, []string{"rpTicket"},
			[]string{"555005", "An agent first replied at " + inv.at.Add(40*time.Minute).Format(time.RFC3339), "pending in HelpScout"}},
		{"ticket created, unassigned and unanswered", "waiting@example.com", nil, "TICKET_CREATED", true, []string{"unTicket"}, []string{"unTicket"},
			[]string{"555006", "active and unassigned", "no agent reply reported yet", "assign it and answer"}},
		{"ticket created, closed without a reply", "closed@example.com", nil, "TICKET_CREATED", true, []string{"clTicket"}, []string{"clTicket"},
			[]string{"555007", "closed in HelpScout with no agent reply reported", "closed by mistake"}},
		{"failed attempt retried successfully after the window", "retried@example.com", nil, "TICKET_CREATED", true, []string{"rtFail"}, []string{"rtFail"},
			[]string{"555002", "#4322", "retry"}},
		{"two forms: one ticket, one failure", "multi@example.com", nil, "SYNC_FAILED", true, []string{"mfTicket", "mfFail"}, []string{"mfTicket", "mfFail"},
			[]string{"INVALID_EMAIL", "Invalid email address", "555003", "retrySync with corrections"}},
		{"failed customer update fixed by its retry", "updated@example.com", nil, "NO_LOG_ENTRY", true, []string{}, []string{"cuFail", "cuOK"},
			[]string{"form submission logs"}},
		{"unknown email", "Nobody@Example.com", nil, "UNKNOWN_EMAIL", false, []string{}, []string{},
			[]string{"nobody@example.com", "another address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]any{"email": tt.email, "at": inv.at}
			if tt.window != nil {
				vars["windowMinutes"] = *tt.window
			}
			resp := inv.gql(t, callerManager, investigationQuery, vars)
			resp.requireOK(t)
			var data struct {
				R struct {
					Email       string    `json:"email"`
					From        time.Time `json:"from"`
					To          time.Time `json:"to"`
					Verdict     string    `json:"verdict"`
					Explanation string    `json:"explanation"`
					Customer    *struct {
						Email string `json:"email"`
					} `json:"customer"`
					Tickets []struct{ ID string } `json:"tickets"`
					Events  []struct{ ID string } `json:"events"`
				} `json:"missingTicketInvestigation"`
			}
			resp.decode(t, &data)
			r := data.R
			email := strings.ToLower(strings.TrimSpace(tt.email))
			require.Equal(t, email, r.Email)
			half := 120 * time.Minute
			if tt.window != nil {
				half = time.Duration(*tt.window) * time.Minute
			}
			require.True(t, r.From.Equal(inv.at.Add(-half)), "from %s", r.From)
			require.True(t, r.To.Equal(inv.at.Add(half)), "to %s", r.To)
			require.Equal(t, tt.verdict, r.Verdict, r.Explanation)
			require.Equal(t, tt.customer, r.Customer != nil)
			if tt.customer {
				require.Equal(t, email, r.Customer.Email)
			}
			names := func(list []struct{ ID string }) []string {
				out := []string{}
				for _, e := range list {
					out = append(out, inv.names[e.ID])
				}
				return out
			}
			require.Equal(t, tt.tickets, names(r.Tickets))
			require.Equal(t, tt.events, names(r.Events))
			for _, s := range tt.explanation {
				require.Contains(t, r.Explanation, s)
			}
		})
	}
}

// TestMissingTicketInvestigationBusyCustomer: a customer with more events
// in the window than the report lists. The report lists the latest of
// them, oldest first, and the verdict still sees a failure among the
// events left out.
func TestMissingTicketInvestigationBusyCustomer(t *testing.T) {
	t.Parallel()
	inv := newInvestigation(t)
	tests := []struct {
		email, first, last, failure string
	}{
		{"busy@example.com", "bsOK6", "bsFail", "busy: phones[0].type is invalid"},
		{"busy2@example.com", "b2OK5", "b2OK204", "busy2: phones[0].type is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			resp := inv.gql(t, callerManager, investigationQuery, map[string]any{"email": tt.email, "at": inv.at})
			resp.requireOK(t)
			var data struct {
				R struct {
					Verdict     string                `json:"verdict"`
					Explanation string                `json:"explanation"`
					Events      []struct{ ID string } `json:"events"`
				} `json:"missingTicketInvestigation"`
			}
			resp.decode(t, &data)
			r := data.R
			require.Equal(t, "SYNC_FAILED", r.Verdict, r.Explanation)
			require.Contains(t, r.Explanation, tt.failure)
			require.Len(t, r.Events, synclog.MaxInvestigationEvents)
			require.Equal(t, tt.first, inv.names[r.Events[0].ID])
			require.Equal(t, tt.last, inv.names[r.Events[len(r.Events)-1].ID])
		})
	}
}

func TestInvestigationBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		argument string
	}{
		{"window too small", duplicatesQuery, map[string]any{"windowMinutes": 0}, "windowMinutes"},
		{"window too large", duplicatesQuery, map[string]any{"windowMinutes": 1441}, "windowMinutes"},
		{"first too small", duplicatesQuery, map[string]any{"first": 0}, "first"},
		{"first too large", duplicatesQuery, map[string]any{"first": 201}, "first"},
		{"range over 31 days", duplicatesQuery, map[string]any{"range": map[string]any{"from": now.AddDate(0, 0, -32), "to": now}}, "range"},
		{"LAST_30_DAYS is allowed", duplicatesQuery, map[string]any{"range": map[string]any{"within": "LAST_30_DAYS"}}, ""},
		{"open range over 31 days", duplicatesQuery, map[string]any{"range": map[string]any{"from": now.AddDate(0, 0, -40)}}, "range"},
		{"from after to", duplicatesQuery, map[string]any{"range": map[string]any{"from": now, "to": now.Add(-time.Hour)}}, "range.from"},
		{"within and from", duplicatesQuery, map[string]any{"range": map[string]any{"within": "LAST_HOUR", "from": now.Add(-time.Hour)}}, "range.within"},
		{"to alone", duplicatesQuery, map[string]any{"range": map[string]any{"to": now}}, "range.from"},
		{"from in the future", duplicatesQuery, map[string]any{"range": map[string]any{"from": now.Add(time.Hour)}}, "range.from"},
		{"blank email", investigationQuery, map[string]any{"email": "   ", "at": now}, "email"},
		{"long email", investigationQuery, map[string]any{"email": strings.Repeat("a", 250) + "@x.io", "at": now}, "email"},
		{"investigation window too small", investigationQuery, map[string]any{"email": "a@b.c", "at": now, "windowMinutes": 0}, "windowMinutes"},
		{"investigation window too large", investigationQuery, map[string]any{"email": "a@b.c", "at": now, "windowMinutes": 10081}, "windowMinutes"},
		{"window wholly in the future", investigationQuery, map[string]any{"email": "a@b.c", "at": now.Add(3 * time.Hour), "windowMinutes": 120}, "at"},
		{"window beginning before now", investigationQuery, map[string]any{"email": "a@b.c", "at": now.Add(time.Hour), "windowMinutes": 120}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.gql(t, callerManager, tt.query, tt.vars)
			if tt.argument == "" {
				resp.requireOK(t)
				return
			}
			g := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", g.code(), g.Message)
			require.Equal(t, tt.argument, g.argument(), g.Message)
		})
	}
}

func TestInvestigationRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	queries := map[string]struct {
		query string
		vars  map[string]any
	}{
		"duplicateTickets":           {duplicatesQuery, nil},
		"missingTicketInvestigation": {investigationQuery, map[string]any{"email": "a@b.c", "at": time.Now().UTC()}},
	}
	tests := []struct {
		caller, code string
	}{
		{callerService, "FORBIDDEN"},
		{callerNone, "UNAUTHENTICATED"},
		{callerManager, ""},
		{callerAdmin, ""},
	}
	for field, q := range queries {
		for _, tt := range tests {
			t.Run(field+"/"+tt.caller, func(t *testing.T) {
				t.Parallel()
				resp := e.gql(t, tt.caller, q.query, q.vars)
				if tt.code == "" {
					resp.requireOK(t)
					return
				}
				g := resp.singleError(t)
				require.Equal(t, tt.code, g.code(), g.Message)
				require.JSONEq(t, "null", string(resp.dataMap(t)[field]))
			})
		}
	}
}
