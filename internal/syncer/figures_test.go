package syncer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/webhooks"
)

// TestFiguresAfterPipelineWrites runs every kind of write the pipeline does
// at once (intake on several goroutines, two replicas with faults,
// automatic retries, the customer batch, webhooks and their redeliveries,
// retrySync, retryFailedSyncs) and checks the figures people read: the
// rollups equal the events, counts and summaries equal direct counts, each
// customer's sync state agrees with its latest attempt, and API usage
// equals what HelpScout saw.
func TestFiguresAfterPipelineWrites(t *testing.T) {
	t.Parallel()
	const hookSecret = "figures-hook-secret"
	b := newPipe(t, pipeSetup{sim: helpscoutsim.Options{WebhookSecret: hookSecret}, opts: func(o *Options) {
		o.Workers = 3
		o.MaxAttempts = 3
		o.RetryBase = 20 * time.Millisecond
	}})
	ctx := context.Background()
	hooks := httptest.NewServer(webhooks.New(webhooks.Options{Secret: hookSecret, Store: db.NewWebhookStore(b.bdb), Log: zerolog.Nop()}))
	t.Cleanup(hooks.Close)

	b.sim.SetFaults(helpscoutsim.Faults{FailureRate: 0.3, Seed: 11})
	start := time.Now().UTC()
	svcs := []*Service{b.start(t), b.start(t)}

	emails := []string{"ann@example.com", "bob@example.org", "cy@example.net", "dee@example.com", "eve@example.org", "not-an-address"}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			svc := svcs[g%2]
			for i := 0; i < 12; i++ {
				email := emails[rng.IntN(len(emails))]
				var err error
				if i == 6 && g == 0 {
					// Every token expires: the next calls get a 401 and
					// fetch a new one.
					b.sim.SetFaults(helpscoutsim.Faults{FailureRate: 0.3, Seed: 12, ExpireTokens: true})
				}
				switch rng.IntN(4) {
				case 3:
					// A form HelpScout would refuse is never sent.
					f := form(fmt.Sprintf("nul-%d-%d", g, i), email)
					f.Subject = "Broken\x00subject"
					_, err = svc.SubmitContactForm(ctx, f, "service")
				case 0, 1:
					// Some submissions are sent twice.
					id := fmt.Sprintf("f-%d-%d", g, i-rng.IntN(2))
					_, err = svc.SubmitContactForm(ctx, form(id, email), "service")
				default:
					first := fmt.Sprintf("N%d", i)
					_, err = svc.SyncCustomer(ctx, CustomerRecord{Email: email, FirstName: &first}, "service")
				}
				if err != nil {
					t.Errorf("intake: %v", err)
				}
			}
		}(g)
	}
	wg.Wait()

	// Every job has an outcome, except the updates waiting for the batch.
	settle := func(what string) {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() bool {
			return b.count(t, `SELECT count(*) FROM sync_jobs WHERE state = 'RUNNING' OR (state = 'QUEUED' AND run_at < ?)`, db.BatchRunAt) == 0
		})
	}
	settle("the first attempts")
	_, err := svcs[0].runBatch(ctx)
	require.NoError(t, err)
	svcs[0].notify()
	settle("the batch")
	dbtest.RequireRollupsMatchEvents(t, b.bdb, "intake and workers")

	// Webhooks about every conversation, each delivered twice and all at
	// once.
	for round := 0; round < 2; round++ {
		var hw sync.WaitGroup
		for _, c := range b.sim.Conversations() {
			body, ok := b.sim.ConversationJSON(c.ID)
			require.True(t, ok)
			hw.Add(1)
			go func() {
				defer hw.Done()
				status, err := b.sim.SendWebhook(ctx, hooks.URL, "convo.status", body)
				if err != nil || status != http.StatusOK {
					t.Errorf("webhook: %d %v", status, err)
				}
			}()
		}
		hw.Wait()
	}
	dbtest.RequireRollupsMatchEvents(t, b.bdb, "webhooks")

	// People retry what failed once HelpScout is back.
	b.sim.SetFaults(helpscoutsim.Faults{})
	var failed []int64
	require.NoError(t, b.bdb.NewRaw(`SELECT e.id FROM sync_events AS e JOIN sync_jobs AS j ON j.event_id = e.id
		WHERE j.state = 'FAILED' AND e.error_code <> 'INVALID_ENCODING' ORDER BY e.id LIMIT 3`).Scan(ctx, &failed))
	for _, id := range failed {
		_, err := svcs[1].Retry(ctx, id, nil, "admin")
		require.NoError(t, err)
	}
	_, err = svcs[0].RetryFailed(ctx, db.EventFilter{}, MaxBulkRetry, "admin")
	require.NoError(t, err)
	settle("the retries")
	dbtest.RequireRollupsMatchEvents(t, b.bdb, "retries")
	end := time.Now().UTC().Add(time.Second)

	// Counts and summaries equal direct counts, for ranges that cut
	// through the period.
	rs := db.NewRollupStore(b.bdb)
	rng := rand.New(rand.NewPCG(5, 8))
	for i := 0; i < 40; i++ {
		f := db.EventFilter{}
		lo := start.Add(-time.Minute + time.Duration(rng.Int64N(int64(end.Sub(start)))))
		hi := lo.Add(time.Duration(rng.Int64N(int64(end.Sub(lo)) + 1)))
		if !hi.After(lo) {
			hi = lo.Add(time.Microsecond)
		}
		f.From, f.To = &lo, &hi
		if rng.IntN(2) == 0 {
			f.Statuses = []db.EventStatus{db.EventStatuses[rng.IntN(len(db.EventStatuses))]}
		}
		if rng.IntN(2) == 0 {
			f.Types = []db.EventType{db.EventTypes[rng.IntN(len(db.EventTypes))]}
		}
		if rng.IntN(3) == 0 {
			f.Search = db.ParseSearch(emails[rng.IntN(len(emails))][:3])
		}
		want := b.count(t, `SELECT count(*) FROM sync_events WHERE occurred_at >= ? AND occurred_at < ?
			AND (? OR status IN (?)) AND (? OR type IN (?))
			AND (? OR strpos(customer_email, ?) > 0)`,
			lo, hi, len(f.Statuses) == 0, bun.In(append(f.Statuses, "")), len(f.Types) == 0, bun.In(append(f.Types, "")),
			f.Search == nil, func() string {
				if f.Search == nil {
					return ""
				}
				return f.Search.Email
			}())
		got, err := rs.Count(ctx, f)
		require.NoError(t, err)
		require.EqualValues(t, want, got, "count %d", i)
		sum, err := rs.Summarize(ctx, f, db.BucketHour, nil)
		require.NoError(t, err)
		require.EqualValues(t, want, sum.Total, "summary %d", i)
	}

	// Each customer's sync state is that of one of its attempts, and
	// lastSyncedAt is set once one succeeded.
	type custRow struct {
		Email          string          `bun:"email"`
		FirstSyncedAt  *time.Time      `bun:"first_synced_at"`
		LastSyncedAt   *time.Time      `bun:"last_synced_at"`
		LastSyncStatus *db.EventStatus `bun:"last_sync_status"`
		LastSyncCode   *string         `bun:"last_sync_error_code"`
		LastEventAt    time.Time       `bun:"last_event_at"`
		Finished       int             `bun:"finished"`
		Successes      int             `bun:"successes"`
		NewestEvent    time.Time       `bun:"newest_event"`
	}
	readCustomers := func() []custRow {
		var rows []custRow
		require.NoError(t, b.bdb.NewRaw(`SELECT c.email, c.first_synced_at, c.last_synced_at,
				c.last_sync_status, c.last_sync_error_code, c.last_event_at,
				(SELECT count(*) FROM sync_events e WHERE e.customer_email = c.email AND e.direction = 'TO_HELPSCOUT'
					AND e.type IN ('TICKET_CREATED', 'CUSTOMER_SYNCED', 'CUSTOMER_UPDATED') AND e.status <> 'PENDING') AS finished,
				(SELECT count(*) FROM sync_events e WHERE e.customer_email = c.email AND e.direction = 'TO_HELPSCOUT'
					AND e.type IN ('TICKET_CREATED', 'CUSTOMER_SYNCED', 'CUSTOMER_UPDATED') AND e.status = 'SUCCESS') AS successes,
				(SELECT max(occurred_at) FROM sync_events e WHERE e.customer_email = c.email) AS newest_event
			FROM customers AS c ORDER BY c.email`).Scan(ctx, &rows))
		require.Len(t, rows, len(emails))
		return rows
	}
	for _, c := range readCustomers() {
		require.Equal(t, c.Finished > 0, c.LastSyncStatus != nil, "%s: lastSyncStatus once an attempt finished", c.Email)
		if c.LastSyncStatus != nil {
			require.Equal(t, *c.LastSyncStatus == db.StatusFailed, c.LastSyncCode != nil, "%s: an error code exactly when the status is FAILED", c.Email)
		}
		require.Equal(t, c.Successes > 0, c.LastSyncedAt != nil, "%s: lastSyncedAt once an attempt succeeded", c.Email)
		if c.LastSyncedAt != nil && c.FirstSyncedAt != nil {
			require.False(t, c.FirstSyncedAt.After(*c.LastSyncedAt), "%s: first sync after last", c.Email)
		}
		require.False(t, c.LastEventAt.Before(c.NewestEvent), "%s: lastEventAt is its newest event", c.Email)
	}
	// One more form from each customer, one at a time: its outcome is the
	// customer's last sync state.
	latest := map[string]*db.SyncEvent{}
	for i, email := range emails {
		f := form(fmt.Sprintf("last-%d", i), email)
		if i%3 == 2 {
			f.Subject = "Broken\x00subject"
		}
		res, err := svcs[i%2].SubmitContactForm(ctx, f, "service")
		require.NoError(t, err)
		latest[email] = b.waitFinished(t, res.Event.ID, 30*time.Second)
	}
	settle("the last forms")
	for _, c := range readCustomers() {
		e := latest[c.Email]
		require.Equal(t, &e.Status, c.LastSyncStatus, "%s: lastSyncStatus is its latest attempt's", c.Email)
		require.Equal(t, (*string)(e.ErrorCode), c.LastSyncCode, "%s: lastSyncErrorCode is its latest attempt's", c.Email)
	}
	dbtest.RequireRollupsMatchEvents(t, b.bdb, "the last forms")

	// API usage equals the requests HelpScout answered.
	st := b.sim.State()
	var calls, rateLimited, units int
	for endpoint, byStatus := range st.Requests {
		if strings.Contains(endpoint, "oauth2/token") {
			continue
		}
		for status, n := range byStatus {
			calls += n
			if status == http.StatusTooManyRequests {
				rateLimited += n
				continue
			}
			if status == http.StatusUnauthorized {
				continue
			}
			units += n * helpscout.Call{Method: strings.Fields(endpoint)[0]}.Cost()
		}
	}
	u, err := svcs[0].APIUsage(ctx, start.Add(-time.Minute), time.Now().Add(time.Minute), UsageHour, nil)
	require.NoError(t, err)
	require.Equal(t, calls, u.Calls, "calls: %v", st.Requests)
	require.Equal(t, rateLimited, u.RateLimited)
	require.Equal(t, units, u.Units, "units: %v", st.Requests)
}

// TestSyncTimesOutOfOrder records successes of one customer whose clocks
// disagree with the order they commit in, as outcomes from two replicas
// or two concurrent jobs do: firstSyncedAt keeps the earliest creation and
// lastSyncedAt the latest success.
func TestSyncTimesOutOfOrder(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.service(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	email := "order@example.com"
	require.NoError(t, upsertCustomer(ctx, b.bdb, email, nil, t0))
	cases := []struct {
		name        string
		at          time.Time
		created     bool
		first, last time.Time
	}{
		{"customer created", t0.Add(time.Minute), true, t0.Add(time.Minute), t0.Add(time.Minute)},
		{"later ticket", t0.Add(5 * time.Minute), false, t0.Add(time.Minute), t0.Add(5 * time.Minute)},
		{"earlier ticket committed later", t0.Add(3 * time.Minute), false, t0.Add(time.Minute), t0.Add(5 * time.Minute)},
		{"earlier creation committed later", t0.Add(30 * time.Second), true, t0.Add(30 * time.Second), t0.Add(5 * time.Minute)},
	}
	for _, tc := range cases {
		e := &db.SyncEvent{CustomerEmail: &email}
		out := outcome{}
		if tc.created {
			out.customerID = 4242
		}
		require.NoError(t, svc.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			return svc.recordSuccess(ctx, tx, e, out, tc.at)
		}), tc.name)
		c, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, email)
		require.NoError(t, err)
		require.NotNil(t, c.FirstSyncedAt, tc.name)
		require.NotNil(t, c.LastSyncedAt, tc.name)
		require.Equal(t, tc.first, c.FirstSyncedAt.UTC(), "%s: firstSyncedAt", tc.name)
		require.Equal(t, tc.last, c.LastSyncedAt.UTC(), "%s: lastSyncedAt", tc.name)
	}
}
