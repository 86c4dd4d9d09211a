package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/graph"
	"github.com/kivalogic/helpscout-log/internal/auth"
)

// requiredRoles is the role every root field needs. A new root field must
// be added here, so that its guard is a decision rather than an accident.
var requiredRoles = map[string]map[string]auth.Role{
	"Query": {
		"viewer":                     auth.RoleManager,
		"syncEvents":                 auth.RoleManager,
		"syncEvent":                  auth.RoleManager,
		"customer":                   auth.RoleManager,
		"customers":                  auth.RoleManager,
		"conversation":               auth.RoleManager,
		"summary":                    auth.RoleManager,
		"duplicateTickets":           auth.RoleManager,
		"missingTicketInvestigation": auth.RoleManager,
		"diagnostics":                auth.RoleKivaAdmin,
		"apiUsage":                   auth.RoleManager,
		"rateLimitBudget":            auth.RoleManager,
		"integrationSettings":        auth.RoleAdministrator,
	},
	"Mutation": {
		"retrySync":                 auth.RoleAdministrator,
		"retryFailedSyncs":          auth.RoleAdministrator,
		"updateIntegrationSettings": auth.RoleAdministrator,
		"testHelpScoutConnection":   auth.RoleAdministrator,
		"createTicket":              auth.RoleAdministrator,
		"submitContactForm":         auth.RoleService,
		"syncCustomer":              auth.RoleService,
	},
	"Subscription": {
		"syncEvents": auth.RoleManager,
		"summary":    auth.RoleManager,
	},
}

// TestRootFieldRoles asks every root field as every kind of caller and
// checks that only the guarded field fails, with the right code, while the
// rest of the response stays intact.
func TestRootFieldRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	fields := []struct {
		field, op, query string
		// allowedCode is the error an allowed caller gets; empty means data.
		allowedCode string
	}{
		{field: "viewer", op: "Query", query: `{ __typename viewer { subject role canRetry canDiagnose } }`},
		{field: "syncEvents", op: "Query", query: `{ __typename syncEvents(first: 1) { totalCount nodes { id } } }`},
		{field: "syncEvent", op: "Query", query: `{ __typename syncEvent(id: "` + idStr(f.notFailed.ID) + `") { id status } }`},
		{field: "customer", op: "Query", query: `{ __typename customer(email: "alice@example.com") { email } }`},
		{field: "customers", op: "Query", query: `{ __typename customers(first: 2) { totalCount } }`},
		{field: "conversation", op: "Query", query: `{ __typename conversation(id: "3100001") { id number } }`},
		{field: "summary", op: "Query", query: `{ __typename summary { total health } }`},
		{field: "duplicateTickets", op: "Query", query: `{ __typename duplicateTickets { reason count } }`},
		{field: "missingTicketInvestigation", op: "Query", query: `{ __typename missingTicketInvestigation(email: "alice@example.com", at: "2026-01-01T00:00:00Z") { verdict } }`},
		{field: "diagnostics", op: "Query", query: `{ __typename diagnostics { postgresVersion migrations { current pending } tables { name } } }`},
		// Both allowed roles retry the same event, so it is a succeeded one:
		// CONFLICT comes from the pipeline, past the role check; what a
		// failed event gives is TestRetrySyncOutcomes' business.
		{field: "retrySync", op: "Mutation", query: `mutation { __typename retrySync(id: "` + idStr(f.notFailed.ID) + `") { id } }`, allowedCode: "CONFLICT"},
		{field: "apiUsage", op: "Query", query: `{ __typename apiUsage { calls units } }`},
		{field: "rateLimitBudget", op: "Query", query: `{ __typename rateLimitBudget { limit used } }`},
		{field: "integrationSettings", op: "Query", query: `{ __typename integrationSettings { apiUrl clientSecretSet } }`},
		{field: "retryFailedSyncs", op: "Mutation", query: `mutation { __typename retryFailedSyncs(filter: {types: [ERROR]}, limit: 1) { queued } }`},
		{field: "updateIntegrationSettings", op: "Mutation", query: `mutation { __typename updateIntegrationSettings(input: {paused: false}) { paused } }`},
		{field: "testHelpScoutConnection", op: "Mutation", query: `mutation { __typename testHelpScoutConnection { ok } }`},
		{field: "submitContactForm", op: "Mutation", query: `mutation { __typename submitContactForm(input: {submissionId: "roles-1", email: "r@example.com", subject: "s", message: "m"}) { duplicate } }`},
		{field: "syncCustomer", op: "Mutation", query: `mutation { __typename syncCustomer(input: {email: "r@example.com"}) { duplicate } }`},
		{field: "createTicket", op: "Mutation", query: `mutation { __typename createTicket(input: {submissionId: "roles-manual-1", email: "r@example.com", subject: "s", message: "m"}) { duplicate } }`},
	}
	callers := []struct {
		name string
		role auth.Role // empty: not authenticated
	}{
		{callerNone, ""}, {callerInvalid, ""}, {callerExpired, ""}, {callerWrongSecret, ""},
		{callerUnknownRole, ""}, {callerNoExpiry, ""}, {callerNoSubject, ""}, {callerHS512, ""},
		{callerAlgNone, ""}, {callerBasic, ""}, {callerLowerBearer, auth.RoleManager},
		{callerManager, auth.RoleManager}, {callerAdmin, auth.RoleAdministrator},
		{callerKivaAdmin, auth.RoleKivaAdmin}, {callerService, auth.RoleService},
	}
	// Every root field of the schema is covered.
	covered := map[string]bool{}
	for _, fl := range fields {
		covered[fl.op+"."+fl.field] = true
	}
	for op, fs := range requiredRoles {
		if op == "Subscription" {
			continue // subscribing is checked over WebSockets
		}
		for name := range fs {
			require.True(t, covered[op+"."+name], "%s.%s has no role test", op, name)
		}
	}

	for _, fl := range fields {
		for _, c := range callers {
			t.Run(fl.field+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				need := requiredRoles[fl.op][fl.field]
				resp := f.gql(t, c.name, fl.query, nil)
				require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
				data := resp.dataMap(t)
				require.JSONEq(t, `"`+fl.op+`"`, string(data["__typename"]), "the unguarded field must still resolve")

				wantCode := ""
				switch {
				case c.role == "":
					wantCode = "UNAUTHENTICATED"
				case !c.role.Satisfies(need):
					wantCode = "FORBIDDEN"
				default:
					wantCode = fl.allowedCode
				}
				if wantCode == "" {
					resp.requireOK(t)
					require.NotEqual(t, "null", string(data[fl.field]), "body: %s", resp.Body)
					if fl.field == "viewer" {
						var v struct {
							Subject, Role         string
							CanRetry, CanDiagnose bool
						}
						require.NoError(t, json.Unmarshal(data["viewer"], &v))
						require.Equal(t, string(c.role), v.Role)
						require.Equal(t, "test-"+strings.ToLower(string(c.role)), v.Subject)
						require.Equal(t, c.role.Satisfies(auth.RoleAdministrator), v.CanRetry)
						require.Equal(t, c.role == auth.RoleKivaAdmin, v.CanDiagnose)
					}
					return
				}
				require.Equal(t, "null", string(data[fl.field]), "a refused field resolves to null; body: %s", resp.Body)
				e := resp.singleError(t)
				require.Equal(t, wantCode, e.code(), "body: %s", resp.Body)
				require.Equal(t, []any{fl.field}, e.Path)
				if c.name == callerExpired {
					require.Contains(t, e.Message, "expired")
				}
				if wantCode == "FORBIDDEN" {
					require.Contains(t, e.Message, string(need))
				}
			})
		}
	}
}

// TestRetrySyncOutcomes checks what an administrator gets for each kind of
// event: a failed, never retried event that holds what is needed to send
// it again gets a new PENDING attempt linked to it; the others a refusal.
func TestRetrySyncOutcomes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// A failed customer update with no job behind it (history): the
	// pipeline rebuilds it from the event and the customer record.
	code := db.CodeTimeout
	history := &db.SyncEvent{OccurredAt: f.now.Add(-time.Hour), Type: db.EventCustomerUpdated, Status: db.StatusFailed,
		Direction: db.DirectionToHelpScout, CustomerEmail: ptr("alice@example.com"), ErrorCode: &code,
		Details: map[string]any{"jobTitle": "Buyer"}, Attempt: 1, Source: db.SourceCustomerUpdate}
	// A failed contact form whose message the log does not hold.
	formOnly := &db.SyncEvent{OccurredAt: f.now.Add(-time.Hour), Type: db.EventTicketCreated, Status: db.StatusFailed,
		Direction: db.DirectionToHelpScout, CustomerEmail: ptr("alice@example.com"), ErrorCode: &code,
		Details: map[string]any{"subject": "Hello"}, Attempt: 1, Source: db.SourceContactForm, SourceRef: ptr("f-1")}
	require.NoError(t, db.NewEventStore(f.bdb).Insert(ctx, f.bdb, []*db.SyncEvent{history, formOnly}))

	cases := []struct {
		name, id, code, argument string
	}{
		{"failed and never retried", idStr(history.ID), "", ""},
		{"failed without what is needed to send it again", idStr(formOnly.ID), "CONFLICT", ""},
		{"failed but already retried", idStr(f.retried.ID), "CONFLICT", ""},
		{"succeeded", idStr(f.notFailed.ID), "CONFLICT", ""},
		{"missing", "987654321", "NOT_FOUND", ""},
		{"not a number", "abc", "BAD_USER_INPUT", "id"},
		{"zero", "0", "BAD_USER_INPUT", "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := f.gql(t, callerAdmin, `mutation($id: ID!) { retrySync(id: $id) { id status attempt source actor retryOf { id } } }`, map[string]any{"id": tc.id})
			require.Equal(t, 200, resp.Status)
			if tc.code == "" {
				resp.requireOK(t)
				var got struct {
					ID      string `json:"id"`
					Status  string `json:"status"`
					Attempt int    `json:"attempt"`
					Source  string `json:"source"`
					Actor   string `json:"actor"`
					RetryOf struct {
						ID string `json:"id"`
					} `json:"retryOf"`
				}
				require.NoError(t, json.Unmarshal(resp.dataMap(t)["retrySync"], &got))
				require.Equal(t, "PENDING", got.Status)
				require.Equal(t, 2, got.Attempt)
				require.Equal(t, "MANUAL", got.Source)
				require.NotEmpty(t, got.Actor)
				require.Equal(t, tc.id, got.RetryOf.ID)
				// The same event cannot be retried twice.
				again := f.gql(t, callerAdmin, `mutation($id: ID!) { retrySync(id: $id) { id } }`, map[string]any{"id": tc.id})
				require.Equal(t, "CONFLICT", again.singleError(t).code(), "body: %s", again.Body)
				return
			}
			e := resp.singleError(t)
			require.Equal(t, tc.code, e.code(), "body: %s", resp.Body)
			require.Equal(t, tc.argument, e.argument())
		})
	}
}

// TestEveryRootFieldHasRole walks the schema, both as the server builds it
// and as the .graphqls files declare it, and fails for any Query or
// Mutation field without @hasRole or with another role than decided.
func TestEveryRootFieldHasRole(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../schema/*.graphqls")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var sources []*ast.Source
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		sources = append(sources, &ast.Source{Name: p, Input: string(b)})
	}
	fromFiles, gerr := gqlparser.LoadSchema(sources...)
	require.NoError(t, gerr)

	schemas := []struct {
		name   string
		schema *ast.Schema
	}{
		{"executable schema", graph.NewExecutableSchema(graph.Config{}).Schema()},
		{"schema files", fromFiles},
	}
	for _, s := range schemas {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			for _, root := range []*ast.Definition{s.schema.Query, s.schema.Mutation, s.schema.Subscription} {
				require.NotNil(t, root)
				var seen []string
				for _, fd := range root.Fields {
					if strings.HasPrefix(fd.Name, "__") {
						continue
					}
					seen = append(seen, fd.Name)
					d := fd.Directives.ForName("hasRole")
					require.NotNil(t, d, "%s.%s has no @hasRole", root.Name, fd.Name)
					arg := d.Arguments.ForName("role")
					require.NotNil(t, arg)
					want, known := requiredRoles[root.Name][fd.Name]
					require.True(t, known, "%s.%s is new: decide its role in requiredRoles", root.Name, fd.Name)
					require.Equal(t, string(want), arg.Value.Raw, "%s.%s", root.Name, fd.Name)
				}
				var want []string
				for name := range requiredRoles[root.Name] {
					want = append(want, name)
				}
				sort.Strings(seen)
				sort.Strings(want)
				require.Equal(t, want, seen, "%s fields", root.Name)
			}
		})
	}
}

// TestIntakeResultStaysWithinItsEvent checks that the SERVICE role, which
// cannot read the log, cannot reach it through the event an intake call
// returns either: the event's own fields resolve, while its customer and
// conversation (which lead to their whole history) are FORBIDDEN. A
// manager still follows both links.
func TestIntakeResultStaysWithinItsEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp := f.gql(t, callerService, `mutation { submitContactForm(input: {submissionId: "intake-links-1", email: "alice@example.com", subject: "s", message: "m"}) {
  duplicate event { id status customerEmail customer { email events(first: 5) { totalCount nodes { id } } } conversation { id events { totalCount } } } } }`, nil)
	require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
	var got struct {
		SubmitContactForm struct {
			Event struct {
				ID            string           `json:"id"`
				Status        string           `json:"status"`
				CustomerEmail string           `json:"customerEmail"`
				Customer      *json.RawMessage `json:"customer"`
				Conversation  *json.RawMessage `json:"conversation"`
			} `json:"event"`
		} `json:"submitContactForm"`
	}
	resp.decode(t, &got)
	ev := got.SubmitContactForm.Event
	require.NotEmpty(t, ev.ID, "body: %s", resp.Body)
	require.Equal(t, "PENDING", ev.Status)
	require.Equal(t, "alice@example.com", ev.CustomerEmail)
	require.Nil(t, ev.Customer, "body: %s", resp.Body)
	require.Nil(t, ev.Conversation, "body: %s", resp.Body)
	paths := map[string]string{}
	for _, e := range resp.Errors {
		paths[fmt.Sprint(e.Path...)] = e.code()
	}
	require.Equal(t, map[string]string{
		"submitContactFormeventcustomer":     "FORBIDDEN",
		"submitContactFormeventconversation": "FORBIDDEN",
	}, paths, "body: %s", resp.Body)

	read := f.gql(t, callerManager, `query($id: ID!) { syncEvent(id: $id) { customer { email events(first: 1) { totalCount } } conversation { id } } }`,
		map[string]any{"id": ev.ID})
	read.requireOK(t)
	require.Contains(t, string(read.Data), `"email":"alice@example.com"`)
}
