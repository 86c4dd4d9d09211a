package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/leafobj"
)

// TestOnePassMatchesFieldByField runs the same operations against two
// handlers over one database and one clock: the service as it runs, which
// writes records whose selected fields are all plain in one pass, and one
// where gqlgen executes every field. The answers must be the same bytes,
// for every plain field of every record type, null values, aliases,
// __typename, fragments, @skip and @include, selections that mix in
// fields with resolvers (left to gqlgen), and refusals.
//
// Not parallel: the count of values written in one pass, which shows that
// the first handler took that path, is the process's.
func TestOnePassMatchesFieldByField(t *testing.T) {
	f := newFixture(t)
	fieldByField := newEnvClock(t, f.bdb, func() time.Time { return f.now }, func(c *config.Config) { c.FieldByField = true })

	const allEventFields = `id occurredAt type status direction customerEmail conversationId ticketNumber helpScoutUrl
		details errorCode errorMessage httpStatus durationMs attempt source sourceRef actor`
	const allCustomerFields = `email name helpScoutId firstSyncedAt lastSyncedAt lastSyncStatus lastSyncErrorCode lastSyncError lastEventAt`
	const allConversationFields = `id number subject status mailboxId mailboxName assignee customerEmail createdAt updatedAt
		helpScoutUrl firstReplyAt deletedAt`
	conv := f.convs[4] // deleted, with a first reply
	vars := map[string]any{
		"email":  f.customers[0].Email,
		"number": fmt.Sprint(conv.Number),
		"id":     idStr(f.retried.ID),
		"yes":    true,
		"no":     false,
	}
	cases := []struct {
		name   string
		caller string
		query  string
		// onePass says whether the one-pass writer takes part.
		onePass bool
	}{
		{"every event field", callerManager,
			`{ syncEvents(first: 120) { totalCount nodes { ` + allEventFields + ` } } }`, true},
		{"edges and nodes, ascending", callerManager,
			`{ syncEvents(first: 40, orderBy: {direction: ASC}) { edges { cursor node { id type status occurredAt } } nodes { id } pageInfo { hasNextPage endCursor } } }`, true},
		{"edges of customers and conversations", callerManager,
			`{ customers(first: 20) { edges { __typename cursor node { ` + allCustomerFields + ` } } } conversations: customer(email: "` + f.customers[1].Email + `") { conversations(first: 10) { edges { cursor n: node { ` + allConversationFields + ` } } } } }`, true},
		{"edges whose node has a field with a resolver", callerManager,
			`{ syncEvents(first: 20) { edges { cursor node { id customer { email } retries { id } } } } }`, true},
		{"aliases and __typename", callerManager,
			`{ syncEvents(filter: {statuses: [FAILED]}, first: 30) { nodes { __typename key: id id when: occurredAt code: errorCode msg: errorMessage } } }`, true},
		{"fragments and conditions", callerManager,
			`query($email: String, $yes: Boolean!, $no: Boolean!) { syncEvents(filter: {search: $email}, first: 30) { nodes { ...ev ... on SyncEvent { status } attempt @include(if: $yes) actor @skip(if: $yes) sourceRef @include(if: $no) } } }
			fragment ev on SyncEvent { id type customerEmail ticketNumber }`, true},
		{"a field with a resolver left to gqlgen", callerManager,
			`{ syncEvents(first: 30) { nodes { id customer { email name } conversation { number helpScoutUrl } retryOf { id } retries { id attempt } } } }`, true},
		{"one event", callerManager,
			`query($id: ID!) { syncEvent(id: $id) { ` + allEventFields + ` retries { ` + allEventFields + ` } retryOf { id status } } }`, true},
		{"customer with its events", callerManager,
			`query($email: String!) { customer(email: $email) { ` + allCustomerFields + ` events(first: 50) { totalCount nodes { ` + allEventFields + ` } } conversations(first: 20) { nodes { ` + allConversationFields + ` } } } }`, true},
		{"customers", callerManager,
			`{ customers(first: 50) { totalCount nodes { ` + allCustomerFields + ` } } }`, true},
		{"conversation by number", callerManager,
			`query($number: String!) { conversation(number: $number) { ` + allConversationFields + ` } }`, true},
		{"conversation with customer and events", callerManager,
			`query($number: String!) { conversation(number: $number) { ` + allConversationFields + ` customer { ` + allCustomerFields + ` } events(first: 10) { nodes { id type } } } }`, true},
		{"summary with breakdowns and timeline", callerManager,
			`{ summary(range: {within: LAST_48_HOURS}) { total successRate health byType { __typename type total succeeded failed pending } byErrorCode { code count } timeline { start total succeeded failed pending } } }`, true},
		{"daily summary in a zone", callerManager,
			`{ summary(range: {within: LAST_7_DAYS}, filter: {timeZone: "America/Chicago"}, bucket: DAY) { timeline { start total } byType { type failed } } }`, true},
		{"refused: no token", callerNone,
			`{ syncEvents(first: 5) { nodes { id } } }`, false},
		{"refused: role too low beside an allowed field", callerManager,
			`{ integrationSettings { apiUrl } syncEvents(first: 5) { nodes { id status } } }`, true},
		{"not found", callerManager,
			`{ conversation(number: "999999") { id subject } syncEvent(id: "999999999") { id } }`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := leafobj.Written()
			fast := f.gql(t, tc.caller, tc.query, vars)
			written := leafobj.Written() - before
			slow := fieldByField.gql(t, tc.caller, tc.query, vars)
			require.Equal(t, slow.Status, fast.Status)
			require.Equal(t, string(slow.Body), string(fast.Body))
			if tc.onePass {
				require.Positive(t, written, "the one-pass writer did not take part")
				require.Greater(t, len(fast.Data), 200, "a near-empty answer proves little: %s", fast.Body)
			} else {
				require.Zero(t, written)
			}
			if tc.caller == callerManager && !strings.Contains(tc.name, "refused") && !strings.Contains(tc.name, "not found") {
				require.Empty(t, fast.Errors)
			}
		})
	}
}
