package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/seed"
	"github.com/kivalogic/helpscout-log/internal/web"
)

// Demo data as the embedded demo loads it: 200,000 events over 30 days on
// first start, and after idle time a top-up in proportion to it.
const (
	demoEvents = 200_000
	demoDays   = 30
)

// TestExamplesOnDemoData runs every example operation of the playground,
// with the variables of the page as the service serves it, through the
// GraphQL endpoint of the real service over demo data: a fresh demo, and a
// demo loaded five days ago and topped up for the idle time since. Every
// example must answer with data, not with an empty list, a null or a
// verdict of UNKNOWN_EMAIL.
func TestExamplesOnDemoData(t *testing.T) {
	require.True(t, web.AssetsAvailable(), "the GraphiQL files are not built in: run scripts/fetch-web-assets.sh")
	require.Equal(t, seed.ShowcaseEmail, web.ExampleEmail, "the examples must look up the showcase customer of the demo data")
	cases := []struct {
		name string
		load func(t *testing.T, bdb *bun.DB, now time.Time)
	}{
		{"fresh demo", func(t *testing.T, bdb *bun.DB, now time.Time) {
			load(t, bdb, seed.Options{Events: demoEvents, Days: demoDays, Now: now, Seed: 11})
		}},
		{"small demo", func(t *testing.T, bdb *bun.DB, now time.Time) {
			load(t, bdb, seed.Options{Events: 2000, Days: demoDays, Now: now, Seed: 14})
		}},
		{"demo topped up five days later", func(t *testing.T, bdb *bun.DB, now time.Time) {
			idle := 5*24*time.Hour + 2*time.Hour
			load(t, bdb, seed.Options{Events: demoEvents, Days: demoDays, Now: now.Add(-idle), Seed: 12})
			load(t, bdb, seed.Options{
				Events: max(seed.MinShowcaseEvents, int(float64(demoEvents)*idle.Hours()/(demoDays*24))),
				Days:   int(idle.Hours()/24) + 1, Now: now, Seed: 13,
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := startService(t, nil)
			loaded := time.Now()
			tc.load(t, svc.db, loaded)
			token := svc.token(t, auth.RoleKivaAdmin)

			examples := servedExamples(t, svc)
			require.Len(t, examples, len(web.DefaultExamples()))
			for _, e := range examples {
				t.Run(e.Name, func(t *testing.T) {
					m := regexp.MustCompile(`(?m)^query (\w+)`).FindStringSubmatch(e.Query)
					require.NotNil(t, m, "no named query")
					check, ok := exampleChecks[m[1]]
					require.True(t, ok, "no check for operation %s: add one to exampleChecks", m[1])
					vars := map[string]any{}
					if e.Variables != "" {
						require.NoError(t, json.Unmarshal([]byte(e.Variables), &vars))
					}
					var data map[string]any
					svc.graphQL(t, token, e.Query, vars, &data)
					if m[1] == "DailyFailedTickets" && dayUTC(time.Now()) != dayUTC(loaded) {
						t.Skip("midnight (UTC) passed since the data was loaded")
					}
					check(t, data)
				})
			}
		})
	}
}

func dayUTC(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// load seeds demo data.
func load(t *testing.T, bdb *bun.DB, opts seed.Options) {
	t.Helper()
	_, err := seed.Run(t.Context(), bdb, opts)
	require.NoError(t, err)
}

// servedExample is an example as the playground page holds it.
type servedExample struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Variables string `json:"variables"`
}

// servedExamples reads the examples from the playground page the service
// serves now.
func servedExamples(t *testing.T, svc *service) []servedExample {
	t.Helper()
	resp, err := svc.srv.Client().Get(svc.srv.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*const examples = (.*);$`).FindSubmatch(page)
	require.NotNil(t, m, "the playground page has no examples")
	var out []servedExample
	require.NoError(t, json.Unmarshal(m[1], &out))
	return out
}

// exampleChecks say, for each example operation, what a meaningful answer
// on demo data holds.
var exampleChecks = map[string]func(t *testing.T, data map[string]any){
	"CheckTicketCreated": func(t *testing.T, data map[string]any) {
		requirePositive(t, data, "syncEvents.totalCount")
		created := false
		for _, n := range list(t, data, "syncEvents.nodes") {
			require.Equal(t, web.ExampleEmail, at(t, n, "customerEmail"))
			if at(t, n, "status") == "SUCCESS" && at(t, n, "helpScoutUrl") != nil && at(t, n, "ticketNumber") != nil {
				created = true
			}
		}
		require.True(t, created, "no ticket created with a link")
	},
	"ViewSyncErrors": func(t *testing.T, data map[string]any) {
		requirePositive(t, data, "syncEvents.totalCount")
		for _, n := range list(t, data, "syncEvents.nodes") {
			require.NotNil(t, at(t, n, "errorCode"))
			require.NotNil(t, at(t, n, "errorMessage"))
		}
	},
	"MonitorIntegrationHealth": func(t *testing.T, data map[string]any) {
		requirePositive(t, data, "summary.total")
		requirePositive(t, data, "summary.ticketsCreated")
		requirePositive(t, data, "summary.customersUpdated")
		requirePositive(t, data, "summary.apiCalls")
		require.Contains(t, []any{"HEALTHY", "DEGRADED"}, at(t, data, "summary.health"))
		require.NotEmpty(t, list(t, data, "summary.byErrorCode"))
		require.GreaterOrEqual(t, len(list(t, data, "summary.timeline")), 24)
	},
	"FindConversation": func(t *testing.T, data map[string]any) {
		require.NotNil(t, at(t, data, "conversation"), "no such conversation")
		require.NotNil(t, at(t, data, "conversation.helpScoutUrl"))
		requirePositive(t, data, "conversation.events.totalCount")
	},
	"DailyFailedTickets": func(t *testing.T, data map[string]any) {
		requirePositive(t, data, "syncEvents.totalCount")
		for _, n := range list(t, data, "syncEvents.nodes") {
			require.NotNil(t, at(t, n, "errorCode"))
		}
	},
	"CustomerSyncStatus": func(t *testing.T, data map[string]any) {
		require.NotNil(t, at(t, data, "customer"), "no such customer")
		require.Equal(t, web.ExampleEmail, at(t, data, "customer.email"))
		require.NotNil(t, at(t, data, "customer.helpScoutId"))
		require.NotNil(t, at(t, data, "customer.lastSyncStatus"))
		types, statuses := map[any]bool{}, map[any]bool{}
		for _, n := range list(t, data, "customer.events.nodes") {
			types[at(t, n, "type")] = true
			statuses[at(t, n, "status")] = true
		}
		require.True(t, types["CUSTOMER_SYNCED"] && types["CUSTOMER_UPDATED"], "event types %v", types)
		require.True(t, statuses["SUCCESS"] && statuses["FAILED"], "event statuses %v", statuses)
		requirePositive(t, data, "customer.conversations.totalCount")
	},
	"InvestigateMissingTicket": func(t *testing.T, data map[string]any) {
		require.Equal(t, "TICKET_CREATED", at(t, data, "missingTicketInvestigation.verdict"),
			"explanation: %v", at(t, data, "missingTicketInvestigation.explanation"))
		require.NotNil(t, at(t, data, "missingTicketInvestigation.customer"))
		require.NotEmpty(t, list(t, data, "missingTicketInvestigation.tickets"))
	},
	"DuplicateTickets": func(t *testing.T, data map[string]any) {
		groups := list(t, data, "duplicateTickets")
		require.NotEmpty(t, groups)
		for _, g := range groups {
			require.GreaterOrEqual(t, at(t, g, "count"), float64(2))
		}
	},
	"AuditManualActions": func(t *testing.T, data map[string]any) {
		nodes := list(t, data, "syncEvents.nodes")
		require.NotEmpty(t, nodes, "the demo data holds retries by hand")
		for _, n := range nodes {
			require.NotEmpty(t, at(t, n, "actor"), "every action by hand names who")
		}
	},
	"WhoAmI": func(t *testing.T, data map[string]any) {
		require.Equal(t, "KIVA_ADMIN", at(t, data, "viewer.role"))
		require.Equal(t, true, at(t, data, "viewer.canDiagnose"))
	},
	"PageThroughSyncEvents": func(t *testing.T, data map[string]any) {
		require.Len(t, list(t, data, "syncEvents.edges"), 50)
		require.Equal(t, true, at(t, data, "syncEvents.pageInfo.hasNextPage"))
		require.NotNil(t, at(t, data, "syncEvents.pageInfo.endCursor"))
	},
}

// at returns the value at a dotted path of decoded JSON objects.
func at(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s: %v is not an object", path, v)
		v, ok = m[k]
		require.True(t, ok, "%s: no field %s", path, k)
	}
	return v
}

// list returns the list at path.
func list(t *testing.T, v any, path string) []any {
	t.Helper()
	l, ok := at(t, v, path).([]any)
	require.True(t, ok, "%s is not a list", path)
	return l
}

// requirePositive fails unless the number at path is above zero.
func requirePositive(t *testing.T, v any, path string) {
	t.Helper()
	n, ok := at(t, v, path).(float64)
	require.True(t, ok && n > 0, "%s = %v, want more than 0", path, fmt.Sprint(at(t, v, path)))
}
