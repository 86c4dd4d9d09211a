package bench

import (
	"context"
	"fmt"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// benchCase is one query measured both ways.
type benchCase struct {
	name      string
	query     string
	variables map[string]any
	// raw runs the same store calls the resolvers make for query.
	raw func(ctx context.Context) error
}

const eventFields = `id occurredAt type status direction customerEmail conversationId ticketNumber helpScoutUrl errorCode errorMessage httpStatus attempt sourceRef`

func ptr[T any](v T) *T { return &v }

// buildCases picks realistic arguments from the seeded data: the busiest
// customer and a recent conversation.
func buildCases(ctx context.Context, svc *synclog.Service) ([]benchCase, error) {
	var email string
	err := svc.DB.NewRaw(`SELECT customer_email FROM sync_events
		WHERE type = 'TICKET_CREATED' AND customer_email IS NOT NULL
		AND occurred_at > now() - interval '3 days'
		GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(ctx, &email)
	if err != nil {
		return nil, fmt.Errorf("error picking a customer: %w", err)
	}
	var number int64
	if err := svc.DB.NewRaw(`SELECT number FROM conversations ORDER BY created_at DESC LIMIT 1 OFFSET 100`).Scan(ctx, &number); err != nil {
		return nil, fmt.Errorf("error picking a conversation: %w", err)
	}
	now := svc.Now
	list := func(in *synclog.FilterInput, first int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			f, err := in.Resolve(now(), "filter")
			if err != nil {
				return err
			}
			if err := svc.ResolveSearch(ctx, &f); err != nil {
				return err
			}
			if _, _, err := svc.Events.List(ctx, f, db.Page{Limit: first, Desc: true, OmitDetails: true}); err != nil {
				return err
			}
			_, err = svc.Rollups.Count(ctx, f)
			return err
		}
	}
	summary := func(within synclog.RelativeRange) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := svc.Summary(ctx, &synclog.TimeRangeInput{Within: &within}, nil, nil)
			return err
		}
	}
	const summaryFields = `from to total succeeded failed pending successRate errorRate ticketsCreated customersSynced customersUpdated apiCalls health bucket
		byType { type total succeeded failed pending } byErrorCode { code count } timeline { start total succeeded failed pending }`
	cases := []benchCase{
		{
			name: "ticket created? (email + TICKET_CREATED)",
			query: `query TicketCreated($email: String!) { syncEvents(filter: {search: $email, types: [TICKET_CREATED]}, first: 20) {
				totalCount pageInfo { hasNextPage endCursor } nodes { ` + eventFields + ` } } }`,
			variables: map[string]any{"email": email},
			raw:       list(&synclog.FilterInput{Search: &email, Types: []db.EventType{db.EventTicketCreated}}, 20),
		},
		{
			name: "sync errors, last 24 h",
			query: `query SyncErrors { syncEvents(filter: {statuses: [FAILED], within: LAST_24_HOURS}, first: 50) {
				totalCount pageInfo { hasNextPage endCursor } nodes { ` + eventFields + ` } } }`,
			raw: list(&synclog.FilterInput{Statuses: []db.EventStatus{db.StatusFailed}, Within: ptr(synclog.Last24Hours)}, 50),
		},
		{
			name:  "health, last 48 h (summary)",
			query: `query Health { summary(range: {within: LAST_48_HOURS}) { ` + summaryFields + ` } }`,
			raw:   summary(synclog.Last48Hours),
		},
		{
			name: "find conversation by number",
			query: `query FindConversation($number: String!) { conversation(number: $number) {
				id number subject status mailboxId mailboxName assignee customerEmail createdAt helpScoutUrl } }`,
			variables: map[string]any{"number": fmt.Sprint(number)},
			raw: func(ctx context.Context) error {
				_, err := svc.Conversations.GetByNumber(ctx, number)
				return err
			},
		},
		{
			name: "failed tickets today",
			query: `query FailedTicketsToday { syncEvents(filter: {statuses: [FAILED], types: [TICKET_CREATED], within: TODAY}, first: 50) {
				totalCount pageInfo { hasNextPage endCursor } nodes { ` + eventFields + ` } } }`,
			raw: list(&synclog.FilterInput{Statuses: []db.EventStatus{db.StatusFailed}, Types: []db.EventType{db.EventTicketCreated}, Within: ptr(synclog.Today)}, 50),
		},
		{
			name: "customer sync status",
			query: `query CustomerSync($email: String!) { customer(email: $email) {
				email name helpScoutId firstSyncedAt lastSyncedAt lastSyncStatus lastSyncErrorCode lastSyncError
				events(filter: {types: [CUSTOMER_SYNCED, CUSTOMER_UPDATED]}, first: 20) { totalCount nodes { ` + eventFields + ` } } } }`,
			variables: map[string]any{"email": email},
			raw: func(ctx context.Context) error {
				c, err := svc.Customers.GetByEmail(ctx, email)
				if err != nil {
					return err
				}
				f := db.EventFilter{CustomerEmail: &c.Email, Types: []db.EventType{db.EventCustomerSynced, db.EventCustomerUpdated}}
				if _, _, err := svc.Events.List(ctx, f, db.Page{Limit: 20, Desc: true, OmitDetails: true}); err != nil {
					return err
				}
				_, err = svc.Rollups.Count(ctx, f)
				return err
			},
		},
		{
			name:  summaryCase,
			query: `query Summary30 { summary(range: {within: LAST_30_DAYS}) { ` + summaryFields + ` } }`,
			raw:   summary(synclog.Last30Days),
		},
	}
	return cases, nil
}
