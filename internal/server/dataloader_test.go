package server_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

const relatedQuery = `query Related($filter: SyncEventFilter, $first: Int, $order: SyncEventOrder) {
  syncEvents(filter: $filter, first: $first, orderBy: $order) {
    nodes {
      id customerEmail conversationId ticketNumber attempt
      customer { email name helpScoutId lastEventAt }
      conversation { id number subject customerEmail helpScoutUrl }
      retryOf { id status attempt }
      retries { id attempt status actor }
    }
  }
}`

type relatedNode struct {
	ID             string
	CustomerEmail  *string
	ConversationID *string `json:"conversationId"`
	TicketNumber   *int64
	Attempt        int
	Customer       *struct {
		Email       string
		Name        *string
		HelpScoutID *string `json:"helpScoutId"`
		LastEventAt time.Time
	}
	Conversation *struct {
		ID, Subject   string
		Number        int64
		CustomerEmail *string
		HelpScoutURL  string `json:"helpScoutUrl"`
	}
	RetryOf *struct {
		ID, Status string
		Attempt    int
	}
	Retries []struct {
		ID, Status string
		Attempt    int
		Actor      *string
	}
}

// TestRelatedRecords resolves each event's customer, conversation, retried
// event and retries for whole pages, compares them with the fixture, and
// counts the SQL statements each request ran: the loaders batch them, so
// the count stays small and does not grow with the page. It does not run in
// parallel with the package's other tests: the loaders collect keys for a
// millisecond, and a busy machine can split a batch.
func TestRelatedRecords(t *testing.T) {
	f := newFixture(t)
	customers := map[string]*db.Customer{}
	for _, c := range f.customers {
		customers[c.Email] = c
	}
	convs := map[int64]*db.Conversation{}
	for _, c := range f.convs {
		convs[c.ID] = c
	}
	retries := map[int64][]*db.SyncEvent{} // oldest first
	for _, e := range f.sorted(false) {
		if e.RetryOfID != nil {
			retries[*e.RetryOfID] = append(retries[*e.RetryOfID], e)
		}
	}

	cases := []struct {
		name   string
		filter map[string]any
		first  int
		order  string
	}{
		{"newest 50", nil, 50, "DESC"},
		{"oldest 50", nil, 50, "ASC"},
		{"failed, 50", map[string]any{"statuses": []string{"FAILED"}}, 50, "ASC"},
		{"a small page", map[string]any{"from": ts(f.now.Add(-80 * time.Hour))}, 10, "ASC"},
		{"a big page", nil, 100, "DESC"},
	}
	var sawCustomer, sawConv, sawRetryOf, sawRetries bool
	type caseCount struct {
		name            string
		events, queries int
	}
	var counts []caseCount
	for _, tc := range cases {
		resp := f.gql(t, callerManager, relatedQuery, map[string]any{
			"filter": tc.filter, "first": tc.first, "order": map[string]any{"direction": tc.order}})
		resp.requireOK(t)
		var out struct{ SyncEvents struct{ Nodes []relatedNode } }
		resp.decode(t, &out)
		nodes := out.SyncEvents.Nodes
		require.LessOrEqual(t, len(nodes), tc.first, tc.name)

		for _, n := range nodes {
			e := f.byID[mustID(t, n.ID)]
			require.NotNil(t, e, "unknown event %s", n.ID)
			require.Equal(t, e.CustomerEmail, n.CustomerEmail)
			require.Equal(t, e.Attempt, n.Attempt)
			if e.CustomerEmail == nil {
				require.Nil(t, n.Customer)
			} else {
				c := customers[*e.CustomerEmail]
				require.NotNil(t, n.Customer, "event %d", e.ID)
				require.Equal(t, c.Email, n.Customer.Email)
				require.Equal(t, c.Name, n.Customer.Name)
				require.Equal(t, idStr(*c.HelpScoutID), *n.Customer.HelpScoutID)
				require.True(t, c.LastEventAt.Equal(n.Customer.LastEventAt))
				sawCustomer = true
			}
			if e.ConversationID == nil {
				require.Nil(t, n.Conversation)
				require.Nil(t, n.ConversationID)
			} else {
				cv := convs[*e.ConversationID]
				require.NotNil(t, n.Conversation, "event %d", e.ID)
				require.Equal(t, idStr(cv.ID), n.Conversation.ID)
				require.Equal(t, cv.Number, n.Conversation.Number)
				require.Equal(t, cv.Subject, n.Conversation.Subject)
				require.Equal(t, cv.CustomerEmail, n.Conversation.CustomerEmail)
				require.Equal(t, db.ConversationURL(cv.ID, cv.Number), n.Conversation.HelpScoutURL)
				require.Equal(t, *e.TicketNumber, *n.TicketNumber)
				sawConv = true
			}
			if e.RetryOfID == nil {
				require.Nil(t, n.RetryOf)
			} else {
				orig := f.byID[*e.RetryOfID]
				require.NotNil(t, n.RetryOf)
				require.Equal(t, idStr(orig.ID), n.RetryOf.ID)
				require.Equal(t, string(orig.Status), n.RetryOf.Status)
				require.Equal(t, orig.Attempt, n.RetryOf.Attempt)
				sawRetryOf = true
			}
			want := retries[e.ID]
			require.Len(t, n.Retries, len(want), "retries of %d", e.ID)
			for i, r := range want {
				require.Equal(t, idStr(r.ID), n.Retries[i].ID)
				require.Equal(t, r.Attempt, n.Retries[i].Attempt)
				require.Equal(t, string(r.Status), n.Retries[i].Status)
				require.Equal(t, r.Actor, n.Retries[i].Actor)
				sawRetries = true
			}
		}

		reqID := resp.Header.Get("X-Request-Id")
		require.NotEmpty(t, reqID)
		counts = append(counts, caseCount{tc.name, len(nodes), f.queries.count(reqID)})
	}
	require.True(t, sawCustomer && sawConv && sawRetryOf && sawRetries, "the pages covered every kind of related record")

	// One statement for the page and one per kind of related record
	// (customer, conversation, retried event, retries): five, whatever the
	// page size; six leaves room for one split batch.
	for _, c := range counts {
		require.GreaterOrEqual(t, c.queries, 1)
		require.LessOrEqual(t, c.queries, 6, "%s (%d events): %d SQL statements; all pages: %+v", c.name, c.events, c.queries, counts)
	}
}
