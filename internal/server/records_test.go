package server_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/app"
)

var timestamp = regexp.MustCompile(`"(\d{4}-\d{2}-\d{2}T[0-9:.]+[^"]*)"`)

// TestTimesAreUTC: the schema's Time is "always returned in UTC", also
// when the process runs in another zone (TestMain sets one).
func TestTimesAreUTC(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	queries := []string{
		`{ syncEvents(first: 20) { nodes { occurredAt customer { firstSyncedAt lastSyncedAt lastEventAt } conversation { createdAt updatedAt } } } }`,
		`{ summary(range: {within: LAST_48_HOURS}) { from to timeline { start } } }`,
		`{ summary(range: {within: LAST_7_DAYS}) { from to timeline { start } } }`,
		`{ customers(first: 20) { nodes { lastEventAt firstSyncedAt lastSyncedAt } } }`,
		`{ diagnostics { oldestEventAt newestEventAt } }`,
		`{ viewer { expiresAt } }`,
	}
	var notUTC []string
	for _, q := range queries {
		resp := f.gql(t, callerKivaAdmin, q, nil)
		resp.requireOK(t)
		found := timestamp.FindAllStringSubmatch(string(resp.Data), -1)
		require.NotEmpty(t, found, "no times in %s", resp.Data)
		for _, m := range found {
			_, err := time.Parse(time.RFC3339Nano, m[1])
			require.NoError(t, err)
			if !strings.HasSuffix(m[1], "Z") {
				notUTC = append(notUTC, m[1]+" in "+q)
			}
		}
	}
	require.Empty(t, notUTC, "times not in UTC")
}

// TestDiagnostics is the KIVA_ADMIN view of the deployment.
func TestDiagnostics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp := f.gql(t, callerKivaAdmin, `{ diagnostics {
  postgresVersion databaseBytes version oldestEventAt newestEventAt retentionDays
  tables { name estimatedRows tableBytes indexBytes }
  indexes { name table bytes scans valid }
  migrations { current pending }
  pool { open inUse idle maxOpen waitCount }
} }`, nil)
	resp.requireOK(t)
	var out struct {
		Diagnostics struct {
			PostgresVersion              string
			DatabaseBytes                int64
			Version                      string
			OldestEventAt, NewestEventAt time.Time
			RetentionDays                *int
			Tables                       []struct {
				Name                                  string
				EstimatedRows, TableBytes, IndexBytes int64
			}
			Indexes []struct {
				Name, Table  string
				Bytes, Scans int64
				Valid        bool
			}
			Migrations struct {
				Current *string
				Pending []string
			}
			Pool struct{ Open, InUse, Idle, MaxOpen, WaitCount int }
		}
	}
	resp.decode(t, &out)
	d := out.Diagnostics
	require.NotEmpty(t, d.PostgresVersion)
	require.Positive(t, d.DatabaseBytes)
	require.Equal(t, app.Version, d.Version)
	require.Nil(t, d.RetentionDays, "every event is kept")
	sorted := f.sorted(false)
	require.True(t, sorted[0].OccurredAt.Equal(d.OldestEventAt), "oldest %s", d.OldestEventAt)
	require.True(t, sorted[len(sorted)-1].OccurredAt.Equal(d.NewestEventAt), "newest %s", d.NewestEventAt)
	var tables []string
	for _, tb := range d.Tables {
		tables = append(tables, tb.Name)
		require.GreaterOrEqual(t, tb.TableBytes, int64(0))
	}
	for _, want := range []string{"sync_events", "customers", "conversations", "sync_event_hourly"} {
		require.Contains(t, tables, want)
	}
	var indexes []string
	for _, ix := range d.Indexes {
		indexes = append(indexes, ix.Name)
		require.True(t, ix.Valid, "index %s", ix.Name)
	}
	require.Contains(t, indexes, "sync_events_time_idx")
	require.NotNil(t, d.Migrations.Current)
	require.Empty(t, d.Migrations.Pending)
	require.NotNil(t, d.Migrations.Pending, "pending is a list, never null")
	require.Equal(t, 16, d.Pool.MaxOpen)
	require.GreaterOrEqual(t, d.Pool.Open, d.Pool.InUse)
}

// TestCustomersFilter lists customers by search (email or name) and by the
// status of their latest sync.
func TestCustomersFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	byRecency := slices.Clone(f.customers)
	slices.SortFunc(byRecency, func(a, b *db.Customer) int {
		if c := b.LastEventAt.Compare(a.LastEventAt); c != 0 {
			return c
		}
		return cmpInt(b.ID, a.ID)
	})
	cases := []struct {
		name   string
		filter map[string]any
		match  func(c *db.Customer) bool
	}{
		{"no filter", nil, func(*db.Customer) bool { return true }},
		{"email part", map[string]any{"search": "EXAMPLE.COM"}, func(c *db.Customer) bool { return strings.Contains(c.Email, "example.com") }},
		{"name part", map[string]any{"search": "formula"}, func(c *db.Customer) bool { return strings.Contains(strings.ToLower(*c.Name), "formula") }},
		{"underscore is literal", map[string]any{"search": "l_x"}, func(c *db.Customer) bool { return strings.Contains(c.Email, "l_x") }},
		{"failed last sync", map[string]any{"lastSyncStatus": "FAILED"}, func(c *db.Customer) bool {
			return c.LastSyncStatus != nil && *c.LastSyncStatus == db.StatusFailed
		}},
		{"succeeded last sync", map[string]any{"lastSyncStatus": "SUCCESS", "search": "e"}, func(c *db.Customer) bool {
			return c.LastSyncStatus != nil && *c.LastSyncStatus == db.StatusSuccess && strings.Contains(c.Email+strings.ToLower(*c.Name), "e")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []string
			for _, c := range byRecency {
				if tc.match(c) {
					want = append(want, c.Email)
				}
			}
			resp := f.gql(t, callerManager, `query($f: CustomerFilter) { customers(filter: $f, first: 100) { totalCount nodes { email lastSyncStatus } } }`,
				map[string]any{"f": tc.filter})
			resp.requireOK(t)
			var out struct {
				Customers struct {
					TotalCount int
					Nodes      []struct {
						Email          string
						LastSyncStatus *string
					}
				}
			}
			resp.decode(t, &out)
			var got []string
			for _, n := range out.Customers.Nodes {
				got = append(got, n.Email)
			}
			require.Equal(t, want, got)
			require.Equal(t, len(want), out.Customers.TotalCount)
		})
	}
}

// TestEventDetailsWhenSelected: an event list reads the details column
// only when the query selects details, wherever the selection sits (nodes,
// edges, a fragment, a customer's or a conversation's events); where it is
// selected, every event carries its own details.
func TestEventDetailsWhenSelected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var email string
	for _, e := range f.events {
		if e.CustomerEmail != nil {
			email = *e.CustomerEmail
			break
		}
	}
	conv := strconv.FormatInt(f.convs[0].ID, 10)
	tests := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"nodes", `{ syncEvents(first: 500) { nodes { id details } } }`, nil},
		{"edges", `{ syncEvents(first: 500) { edges { node { id details } } } }`, nil},
		{"fragment", `query { syncEvents(first: 500) { nodes { ...E } } } fragment E on SyncEvent { id details }`, nil},
		{"inline fragment with an alias", `{ syncEvents(first: 500) { nodes { id ... on SyncEvent { d: details } } } }`, nil},
		{"customer events", `query($email: String!) { customer(email: $email) { events(first: 500) { nodes { id details } } } }`, map[string]any{"email": email}},
		{"conversation events", `query($id: ID!) { conversation(id: $id) { events(first: 100) { edges { node { id details } } } } }`, map[string]any{"id": conv}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.gql(t, callerManager, tt.query, tt.vars)
			resp.requireOK(t)
			// Every object with an id is an event: its details must be the
			// fixture's, under whichever name the query gave them.
			found := 0
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case map[string]any:
					if id, ok := v["id"].(string); ok {
						n, err := strconv.ParseInt(id, 10, 64)
						require.NoError(t, err)
						want := f.byID[n]
						require.NotNil(t, want, "event %d", n)
						got, ok := v["details"]
						if !ok {
							got = v["d"]
						}
						wantJSON, err := json.Marshal(want.Details)
						require.NoError(t, err)
						gotJSON, err := json.Marshal(got)
						require.NoError(t, err)
						require.JSONEq(t, string(wantJSON), string(gotJSON), "details of event %d", n)
						found++
						return
					}
					for _, c := range v {
						walk(c)
					}
				case []any:
					for _, c := range v {
						walk(c)
					}
				}
			}
			var data any
			require.NoError(t, json.Unmarshal(resp.Data, &data))
			walk(data)
			require.NotZero(t, found, "no events in %s", resp.Data)
		})
	}

	t.Run("not selected", func(t *testing.T) {
		resp := f.gql(t, callerManager, `{ syncEvents(first: 500) { totalCount nodes { id type } } }`, nil)
		resp.requireOK(t)
		var out struct {
			SyncEvents struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
		}
		require.NoError(t, json.Unmarshal(resp.Data, &out))
		require.Len(t, out.SyncEvents.Nodes, min(500, len(f.events)))
	})
}

// TestEventDetailsNeverNull: details is declared JSON!, so an event whose
// row holds no details (a NULL column, as rows written before every writer
// recorded details may) answers an empty object wherever it is read: by
// id, in a list, and as another event's retry or retried event. An event
// with details keeps them.
func TestEventDetailsNeverNull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	code := db.CodeTimeout
	bare := &db.SyncEvent{OccurredAt: now.Add(-2 * time.Minute), Type: db.EventCustomerUpdated, Status: db.StatusFailed,
		Direction: db.DirectionToHelpScout, CustomerEmail: ptr("nulldetails@example.com"), ErrorCode: &code,
		Attempt: 1, Source: db.SourceCustomerUpdate}
	require.NoError(t, db.NewEventStore(e.bdb).Insert(ctx, e.bdb, []*db.SyncEvent{bare}))
	retry := &db.SyncEvent{OccurredAt: now.Add(-time.Minute), Type: db.EventCustomerUpdated, Status: db.StatusPending,
		Direction: db.DirectionToHelpScout, CustomerEmail: ptr("nulldetails@example.com"), RetryOfID: &bare.ID,
		Details: map[string]any{"jobTitle": "Buyer"}, Attempt: 2, Source: db.SourceCustomerUpdate}
	require.NoError(t, db.NewEventStore(e.bdb).Insert(ctx, e.bdb, []*db.SyncEvent{retry}))
	var stored int
	require.NoError(t, e.bdb.NewRaw(`SELECT count(*) FROM sync_events WHERE id = ? AND details IS NULL`, bare.ID).Scan(ctx, &stored))
	require.Equal(t, 1, stored, "the event must be stored without details")

	type event struct {
		ID      string          `json:"id"`
		Details json.RawMessage `json:"details"`
		RetryOf *struct {
			ID      string          `json:"id"`
			Details json.RawMessage `json:"details"`
		} `json:"retryOf"`
		Retries []struct {
			ID      string          `json:"id"`
			Details json.RawMessage `json:"details"`
		} `json:"retries"`
	}
	wantDetails := map[string]string{idStr(bare.ID): `{}`, idStr(retry.ID): `{"jobTitle":"Buyer"}`}

	t.Run("by id", func(t *testing.T) {
		resp := e.gql(t, callerManager, `query($id: ID!) { syncEvent(id: $id) { id details retries { id details } } }`,
			map[string]any{"id": idStr(bare.ID)})
		resp.requireOK(t)
		var out struct{ SyncEvent event }
		resp.decode(t, &out)
		require.JSONEq(t, `{}`, string(out.SyncEvent.Details))
		require.Len(t, out.SyncEvent.Retries, 1)
		require.JSONEq(t, wantDetails[idStr(retry.ID)], string(out.SyncEvent.Retries[0].Details))
	})
	t.Run("list", func(t *testing.T) {
		resp := e.gql(t, callerManager, `{ syncEvents(first: 10) { nodes { id details retryOf { id details } } edges { node { id details } } } }`, nil)
		resp.requireOK(t)
		var out struct {
			SyncEvents struct {
				Nodes []event
				Edges []struct{ Node event }
			}
		}
		resp.decode(t, &out)
		require.Len(t, out.SyncEvents.Nodes, 2)
		for _, n := range out.SyncEvents.Nodes {
			require.JSONEq(t, wantDetails[n.ID], string(n.Details), "details of event %s", n.ID)
			if n.RetryOf != nil {
				require.Equal(t, idStr(bare.ID), n.RetryOf.ID)
				require.JSONEq(t, `{}`, string(n.RetryOf.Details))
			}
		}
		require.Len(t, out.SyncEvents.Edges, 2)
		for _, ed := range out.SyncEvents.Edges {
			require.JSONEq(t, wantDetails[ed.Node.ID], string(ed.Node.Details), "details of event %s", ed.Node.ID)
		}
	})
	t.Run("declared non-null", func(t *testing.T) {
		resp := e.gql(t, callerNone, `{ __type(name: "SyncEvent") { fields { name type { kind ofType { name } } } } }`, nil)
		resp.requireOK(t)
		type field struct {
			Name string
			Type struct {
				Kind   string
				OfType *struct{ Name string }
			}
		}
		var out struct {
			Type struct{ Fields []field } `json:"__type"`
		}
		resp.decode(t, &out)
		i := slices.IndexFunc(out.Type.Fields, func(f field) bool { return f.Name == "details" })
		require.GreaterOrEqual(t, i, 0)
		require.Equal(t, "NON_NULL", out.Type.Fields[i].Type.Kind)
		require.Equal(t, "JSON", out.Type.Fields[i].Type.OfType.Name)
	})
}
