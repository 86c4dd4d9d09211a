package seed_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// newTestDB creates an empty, migrated database that is dropped when the
// test ends.
func newTestDB(t *testing.T) *bun.DB {
	t.Helper()
	return dbtest.New(t)
}

func queryInt(t *testing.T, bdb *bun.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := bdb.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// expectZero fails when query, which counts violations, finds any.
func expectZero(t *testing.T, bdb *bun.DB, what, query string, args ...any) {
	t.Helper()
	if n := queryInt(t, bdb, query, args...); n != 0 {
		t.Errorf("%s: %d rows", what, n)
	}
}

func TestRun(t *testing.T) {
	// Several COPY statements, so that retries and duplicates cross them.
	defer seed.SetChunkRows(16_000)()
	bdb := newTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 15, 30, 0, 123_456_789, time.UTC) // sub-microsecond on purpose
	indexes := indexDefs(t, bdb)
	var calls []int
	opts := seed.Options{
		Events: 60_000, Days: 7, Now: now, Seed: 42,
		Progress: func(done, total int) {
			if total != 60_000 {
				t.Errorf("progress total %d", total)
			}
			calls = append(calls, done)
		},
	}
	st, err := seed.Run(ctx, bdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if want := []int{50_000, 60_000}; !equalInts(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
	checkStats(t, bdb, st, opts.Events)
	checkData(t, bdb, now, opts.Days)

	// A second run appends: new ids, ticket numbers and email addresses.
	opts.Progress = nil
	st2, err := seed.Run(ctx, bdb, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	t.Logf("second run %+v", st2)
	if st2.Events != st.Events {
		t.Errorf("second run created %d events, first %d", st2.Events, st.Events)
	}
	if n := queryInt(t, bdb, "SELECT count(*) FROM sync_events"); n != 2*int64(opts.Events) {
		t.Errorf("%d events after two runs, want %d", n, 2*opts.Events)
	}
	if n := queryInt(t, bdb, "SELECT count(*) FROM customers"); n != int64(st.Customers+st2.Customers) {
		t.Errorf("%d customers after two runs, want %d", n, st.Customers+st2.Customers)
	}
	if n := queryInt(t, bdb, "SELECT count(*) FROM conversations"); n != int64(st.Conversations+st2.Conversations) {
		t.Errorf("%d conversations after two runs, want %d", n, st.Conversations+st2.Conversations)
	}
	expectZero(t, bdb, "repeated ticket numbers", "SELECT count(*) - count(DISTINCT number) FROM conversations")
	checkData(t, bdb, now, opts.Days)

	// A small run next to many rows maintains the indexes as it goes.
	opts.Events = 5000
	st3, err := seed.Run(ctx, bdb, opts)
	if err != nil {
		t.Fatalf("third run: %v", err)
	}
	t.Logf("third run %+v", st3)
	if n := queryInt(t, bdb, "SELECT count(*) FROM sync_events"); n != int64(2*st.Events+st3.Events) {
		t.Errorf("%d events after three runs, want %d", n, 2*st.Events+st3.Events)
	}
	checkData(t, bdb, now, opts.Days)
	if got := indexDefs(t, bdb); got != indexes {
		t.Errorf("indexes changed:\n%s\nwant\n%s", got, indexes)
	}
	// The identity continues after the explicit ids.
	if next, max := queryInt(t, bdb, "SELECT nextval(pg_get_serial_sequence('sync_events', 'id'))"),
		queryInt(t, bdb, "SELECT max(id) FROM sync_events"); next <= max {
		t.Errorf("next event id %d, max id %d", next, max)
	}
}

// indexDefs lists the valid indexes of the tables a run writes.
func indexDefs(t *testing.T, bdb *bun.DB) string {
	t.Helper()
	var s string
	err := bdb.QueryRowContext(context.Background(), `SELECT string_agg(pg_get_indexdef(i.indexrelid), E'\n' ORDER BY c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid IN ('sync_events'::regclass, 'customers'::regclass, 'conversations'::regclass, 'sync_event_hourly'::regclass)
		  AND i.indisvalid AND i.indisready`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkStats compares a first run's stats with the database.
func checkStats(t *testing.T, bdb *bun.DB, st seed.Stats, events int) {
	t.Helper()
	counts := []struct {
		what  string
		got   int64
		stats int
	}{
		{"events", queryInt(t, bdb, "SELECT count(*) FROM sync_events"), st.Events},
		{"customers", queryInt(t, bdb, "SELECT count(*) FROM customers"), st.Customers},
		{"conversations", queryInt(t, bdb, "SELECT count(*) FROM conversations"), st.Conversations},
		{"failed", queryInt(t, bdb, "SELECT count(*) FROM sync_events WHERE status = 'FAILED'"), st.Failed},
		{"pending", queryInt(t, bdb, "SELECT count(*) FROM sync_events WHERE status = 'PENDING'"), st.Pending},
		{"retries", queryInt(t, bdb, "SELECT count(*) FROM sync_events WHERE retry_of IS NOT NULL"), st.Retries},
	}
	for _, c := range counts {
		if c.got != int64(c.stats) {
			t.Errorf("%s: %d in the database, %d in stats", c.what, c.got, c.stats)
		}
	}
	if st.Events != events {
		t.Errorf("created %d events, want %d", st.Events, events)
	}
	if share := float64(st.Failed) / float64(st.Events); share < 0.03 || share > 0.05 {
		t.Errorf("failure share %.4f, want 3%%..5%%", share)
	}
	if st.Pending == 0 || float64(st.Pending)/float64(st.Events) > 0.01 {
		t.Errorf("%d pending events, want some but under 1%%", st.Pending)
	}
	if st.Retries == 0 || st.Duplicates == 0 {
		t.Errorf("%d retries and %d duplicates, want some of each", st.Retries, st.Duplicates)
	}
	if c := float64(st.Customers) / float64(st.Events); c < 0.08 || c > 0.16 {
		t.Errorf("%d customers for %d events", st.Customers, st.Events)
	}
	// Within a run, ids increase with time.
	expectZero(t, bdb, "ids not increasing with time", `SELECT count(*) FROM (
		SELECT occurred_at < lag(occurred_at) OVER (ORDER BY id) AS back FROM sync_events) AS s WHERE back`)
	// Every successful ticket created one conversation.
	if n := queryInt(t, bdb, "SELECT count(*) FROM sync_events WHERE type = 'TICKET_CREATED' AND status = 'SUCCESS'"); n != int64(st.Conversations) {
		t.Errorf("%d successful tickets, %d conversations", n, st.Conversations)
	}
	// Duplicates: the same form submission created more than one ticket.
	if n := queryInt(t, bdb, `SELECT count(*) FROM (SELECT source_ref FROM sync_events
		WHERE type = 'TICKET_CREATED' AND status = 'SUCCESS' GROUP BY source_ref
		HAVING count(*) > 1 AND count(DISTINCT conversation_id) = count(*)) AS d`); n != int64(st.Duplicates) {
		t.Errorf("%d duplicated submissions in the database, %d in stats", n, st.Duplicates)
	}
	// The type mix is roughly as documented.
	for typ, share := range map[string][2]float64{
		"TICKET_CREATED":       {0.27, 0.36},
		"CUSTOMER_SYNCED":      {0.07, 0.14},
		"CUSTOMER_UPDATED":     {0.25, 0.34},
		"CONVERSATION_SYNCED":  {0.08, 0.13},
		"CONVERSATION_UPDATED": {0.13, 0.19},
		"ERROR":                {0.005, 0.02},
	} {
		n := queryInt(t, bdb, "SELECT count(*) FROM sync_events WHERE type = ?", typ)
		if s := float64(n) / float64(events); s < share[0] || s > share[1] {
			t.Errorf("%s is %.3f of the events, want %.3f..%.3f", typ, s, share[0], share[1])
		}
	}
	// Most customers have few events, a few have many.
	var median, top int64
	if err := bdb.QueryRowContext(context.Background(), `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n), max(n)
		FROM (SELECT count(*) AS n FROM sync_events WHERE customer_email IS NOT NULL GROUP BY customer_email) AS c`).
		Scan(&median, &top); err != nil {
		t.Fatal(err)
	}
	if median > 3 || top < 50 {
		t.Errorf("events per customer: median %d, max %d", median, top)
	}
}

// checkData checks invariants that hold after any number of runs.
func checkData(t *testing.T, bdb *bun.DB, now time.Time, days int) {
	t.Helper()
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	expectZero(t, bdb, "events outside the period",
		"SELECT count(*) FROM sync_events WHERE occurred_at < ? OR occurred_at >= ?", from, now)
	expectZero(t, bdb, "rollups differ from the events",
		"SELECT (SELECT count(*) FROM sync_events) - (SELECT coalesce(sum(n), 0) FROM sync_event_hourly)")
	expectZero(t, bdb, "rollup buckets differ", `SELECT count(*) FROM (
		SELECT date_trunc('hour', occurred_at, 'UTC') AS bucket, type, status, direction, coalesce(error_code, '') AS error_code, count(*) AS n
		FROM sync_events GROUP BY 1, 2, 3, 4, 5) AS e
		FULL JOIN sync_event_hourly h USING (bucket, type, status, direction, error_code)
		WHERE e.n IS DISTINCT FROM h.n`)
	// ticket_repeats, noted once at the end of the load, is what the
	// definition gives over all the tickets.
	expectZero(t, bdb, "ticket_repeats differs from its definition", `WITH t AS (
			SELECT id, occurred_at, source, source_ref, customer_email, ticket_subject_key(details->>'subject') AS subject
			FROM sync_events WHERE type = 'TICKET_CREATED' AND status = 'SUCCESS'
		), want AS (
			SELECT id, bool_or(same) AS same_submission, min(gap) AS gap FROM (
				SELECT id, copies > 1 AS same, NULL::interval AS gap
				FROM (SELECT id, count(*) OVER (PARTITION BY source, source_ref) AS copies FROM t WHERE source_ref IS NOT NULL) AS s
				UNION ALL
				SELECT id, false, least(occurred_at - lag(occurred_at) OVER w, lead(occurred_at) OVER w - occurred_at)
				FROM t WHERE customer_email IS NOT NULL AND subject IS NOT NULL
				WINDOW w AS (PARTITION BY customer_email, subject ORDER BY occurred_at, id)
			) AS u
			GROUP BY id
			HAVING bool_or(same) OR min(gap) <= interval '1 day'
		)
		SELECT count(*) FROM want AS w FULL JOIN ticket_repeats AS r ON r.event_id = w.id
		WHERE w.id IS NULL OR r.event_id IS NULL OR w.same_submission <> r.same_submission
		   OR CASE WHEN w.gap <= interval '1 day' THEN w.gap END IS DISTINCT FROM r.nearest_gap`)
	expectZero(t, bdb, "ticket repeat triggers left off",
		"SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ticket_repeats_%' AND tgenabled = 'D'")
	if n := queryInt(t, bdb, "SELECT count(*) FROM ticket_repeats WHERE same_submission"); n == 0 {
		t.Error("no ticket noted as a repeat of its submission")
	}
	expectZero(t, bdb, "event emails without a customer",
		"SELECT count(*) FROM sync_events e WHERE customer_email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.email = e.customer_email)")
	expectZero(t, bdb, "retries not of an earlier failed attempt of the same operation", `SELECT count(*)
		FROM sync_events r JOIN sync_events f ON f.id = r.retry_of
		WHERE f.status <> 'FAILED' OR r.attempt <> f.attempt + 1 OR r.type <> f.type
		   OR r.customer_email IS DISTINCT FROM f.customer_email OR r.source_ref IS DISTINCT FROM f.source_ref
		   OR r.occurred_at <= f.occurred_at OR r.id <= f.id`)
	expectZero(t, bdb, "manual retries without actor", `SELECT count(*) FROM sync_events
		WHERE retry_of IS NOT NULL AND (source = 'MANUAL') <> (actor IS NOT NULL)`)
	expectZero(t, bdb, "failures without code or message",
		"SELECT count(*) FROM sync_events WHERE (status = 'FAILED') <> (error_code IS NOT NULL AND error_message IS NOT NULL)")
	expectZero(t, bdb, "details not an object", "SELECT count(*) FROM sync_events WHERE jsonb_typeof(details) IS DISTINCT FROM 'object'")
	expectZero(t, bdb, "ERROR events with a customer", "SELECT count(*) FROM sync_events WHERE type = 'ERROR' AND customer_email IS NOT NULL")
	expectZero(t, bdb, "webhooks not from HelpScout",
		"SELECT count(*) FROM sync_events WHERE (source = 'WEBHOOK') AND (direction <> 'FROM_HELPSCOUT' OR type <> 'CONVERSATION_UPDATED')")
	expectZero(t, bdb, "bad timeouts",
		"SELECT count(*) FROM sync_events WHERE error_code = 'TIMEOUT' AND (duration_ms < 30000 OR http_status IS NOT NULL)")
	expectZero(t, bdb, "durations out of range",
		"SELECT count(*) FROM sync_events WHERE (status = 'PENDING') = (duration_ms IS NOT NULL) OR duration_ms < 80 OR (duration_ms > 900 AND error_code IS DISTINCT FROM 'TIMEOUT')")
	expectZero(t, bdb, "events of unknown conversations", `SELECT count(*) FROM sync_events e
		WHERE conversation_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = e.conversation_id AND c.number = e.ticket_number)`)
	expectZero(t, bdb, "conversation events without conversation",
		"SELECT count(*) FROM sync_events WHERE type IN ('CONVERSATION_SYNCED', 'CONVERSATION_UPDATED') AND conversation_id IS NULL")
	expectZero(t, bdb, "first replies other than the earliest agent-reply webhook", `SELECT count(*) FROM conversations c
		LEFT JOIN (SELECT conversation_id, min(occurred_at) AS first FROM sync_events
			WHERE details->>'event' = 'convo.agent.reply.created' AND status = 'SUCCESS' GROUP BY 1) r ON r.conversation_id = c.id
		WHERE c.first_reply_at IS DISTINCT FROM r.first`)
	expectZero(t, bdb, "conversations not created by their ticket", `SELECT count(*) FROM conversations c
		WHERE NOT EXISTS (SELECT 1 FROM sync_events e WHERE e.conversation_id = c.id AND e.type = 'TICKET_CREATED'
			AND e.status = 'SUCCESS' AND e.occurred_at = c.created_at AND e.customer_email = c.customer_email)
		   OR c.updated_at < c.created_at OR c.id < 861100000 OR c.number < 1000`)
	expectZero(t, bdb, "customers with a wrong last_event_at", `SELECT count(*) FROM customers c
		WHERE last_event_at IS DISTINCT FROM (SELECT max(occurred_at) FROM sync_events e WHERE e.customer_email = c.email)`)
	// A customer's status is that of its latest finished attempt: none
	// while its only attempts are pending, never PENDING.
	expectZero(t, bdb, "customers with an inconsistent sync state", `SELECT count(*) FROM customers c
		WHERE (helpscout_id IS NULL) <> (first_synced_at IS NULL) OR first_synced_at > last_synced_at
		   OR last_synced_at > last_event_at OR last_sync_status = 'PENDING'
		   OR (last_sync_status IS NULL) <> NOT EXISTS (SELECT 1 FROM sync_events e WHERE e.customer_email = c.email
		       AND e.type IN ('TICKET_CREATED', 'CUSTOMER_SYNCED', 'CUSTOMER_UPDATED') AND e.status <> 'PENDING')
		   OR (last_sync_status = 'FAILED') <> (last_sync_error_code IS NOT NULL)`)
	expectZero(t, bdb, "malformed addresses that did not fail", `SELECT count(*) FROM sync_events
		WHERE customer_email !~ '^[a-z]+\.[a-z]+[0-9]*@[a-z]+(\.[a-z]+)+$'
		  AND type IN ('TICKET_CREATED', 'CUSTOMER_SYNCED', 'CUSTOMER_UPDATED')
		  AND status <> 'PENDING' AND error_code IS DISTINCT FROM 'INVALID_EMAIL'`)
	expectZero(t, bdb, "customers with a broken name in HelpScout",
		"SELECT count(*) FROM customers WHERE name ~ '(Ã|\ufffd)' AND (helpscout_id IS NOT NULL OR last_sync_status = 'SUCCESS')")
	if n := queryInt(t, bdb, "SELECT count(*) FROM customers WHERE email !~ '^[a-z]+\\.[a-z]+[0-9]*@[a-z]+(\\.[a-z]+)+$'"); n == 0 {
		t.Error("no customers with a malformed email address")
	}
}

// TestRunIsDeterministic loads the same options into two databases.
func TestRunIsDeterministic(t *testing.T) {
	ctx := context.Background()
	opts := seed.Options{Events: 5000, Days: 3, Now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Seed: 7}
	var sums [2][3]string
	for i := range sums {
		bdb := newTestDB(t)
		if _, err := seed.Run(ctx, bdb, opts); err != nil {
			t.Fatal(err)
		}
		for j, q := range []string{
			// The change-feed stamps depend on the server, not on the seed.
			"SELECT md5(string_agg((to_jsonb(e) - 'change_xid' - 'change_seq' - 'insert_xid')::text, '|' ORDER BY id)) FROM sync_events e",
			"SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM conversations c",
			"SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers c",
		} {
			if err := bdb.QueryRowContext(ctx, q).Scan(&sums[i][j]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("same seed, different data: %v", sums)
	}
}

// TestRunIsAtomic cancels a run half-way and finds nothing loaded.
func TestRunIsAtomic(t *testing.T) {
	defer seed.SetChunkRows(20_000)()
	bdb := newTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := seed.Run(ctx, bdb, seed.Options{
		Events: 100_000, Days: 10, Seed: 1,
		Progress: func(done, _ int) {
			if done == 50_000 { // in the third COPY
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	for _, table := range []string{"sync_events", "customers", "conversations", "sync_event_hourly"} {
		expectZero(t, bdb, table+" after a cancelled run", "SELECT count(*) FROM "+table)
	}
	// The pool still works.
	if _, err := seed.Run(context.Background(), bdb, seed.Options{Events: 1000, Days: 1, Seed: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, opts := range []seed.Options{{Events: -1, Days: 1}, {Events: 10, Days: 0}} {
		if _, err := seed.Run(context.Background(), nil, opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
}

// TestLoadTime measures a large load; it runs only when SEED_EVENTS is set,
// for example SEED_EVENTS=1000000 go test -run TestLoadTime -v ./internal/seed.
func TestLoadTime(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SEED_EVENTS"))
	if n <= 0 {
		t.Skip("set SEED_EVENTS to measure a load")
	}
	bdb := newTestDB(t)
	st, err := seed.Run(context.Background(), bdb, seed.Options{Events: n, Days: 30, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d customers, %d conversations, %d failed, %d pending, %d retries, %d duplicates in %v (%.0f events/s)",
		st.Events, st.Customers, st.Conversations, st.Failed, st.Pending, st.Retries, st.Duplicates,
		st.Elapsed.Round(time.Millisecond), float64(st.Events)/st.Elapsed.Seconds())
}

// TestShowcase checks the showcase customers' stories: complete in a first
// run, continued by a run days later that covers only the last days (as
// the demo tops up after being idle), and within the UTC day even when a
// run ends just after midnight.
func TestShowcase(t *testing.T) {
	bdb := newTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC)
	st, err := seed.Run(ctx, bdb, seed.Options{Events: 30_000, Days: 30, Now: now, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, bdb, st, 30_000)
	checkData(t, bdb, now, 30)
	checkShowcase(t, bdb, now)
	alice := seed.ShowcaseEmail
	for what, n := range map[string]int64{
		"CUSTOMER_SYNCED successes": queryInt(t, bdb, `SELECT count(*) FROM sync_events
			WHERE customer_email = ? AND type = 'CUSTOMER_SYNCED' AND status = 'SUCCESS'`, alice),
		"tickets created 9 days before": queryInt(t, bdb, `SELECT count(*) FROM sync_events
			WHERE customer_email = ? AND type = 'TICKET_CREATED' AND status = 'SUCCESS' AND occurred_at < ?`, alice, now.Add(-8*24*time.Hour)),
	} {
		if n != 1 {
			t.Errorf("%s: %d, want 1", what, n)
		}
	}

	// Five days later, a run over the last six days only.
	later := now.Add(5*24*time.Hour + 3*time.Hour)
	st2, err := seed.Run(ctx, bdb, seed.Options{Events: 2000, Days: 6, Now: later, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, bdb, "SELECT count(*) FROM customers"); n != int64(st.Customers+st2.Customers) {
		t.Errorf("%d customers after two runs, want %d", n, st.Customers+st2.Customers)
	}
	checkData(t, bdb, later, 36)
	checkShowcase(t, bdb, later)
	var status string
	var synced time.Time
	if err := bdb.QueryRowContext(ctx, "SELECT last_sync_status, last_synced_at FROM customers WHERE email = ?", alice).
		Scan(&status, &synced); err != nil {
		t.Fatal(err)
	}
	if status != "SUCCESS" || later.Sub(synced) > 3*time.Hour {
		t.Errorf("Alice after the second run: last sync %s at %s, want a success in the last hours", status, synced)
	}
	expectZero(t, bdb, "repeated showcase customers",
		"SELECT count(*) - count(DISTINCT email) FROM customers WHERE email IN (?)", bun.In(seed.ShowcaseEmails()))

	// A small run ending 30 seconds after midnight.
	bdb = newTestDB(t)
	midnight := time.Date(2026, 11, 30, 0, 0, 30, 0, time.UTC)
	if _, err := seed.Run(ctx, bdb, seed.Options{Events: seed.MinShowcaseEvents, Days: 1, Now: midnight, Seed: 8}); err != nil {
		t.Fatal(err)
	}
	expectZero(t, bdb, "events outside the period",
		"SELECT count(*) FROM sync_events WHERE occurred_at < ? OR occurred_at >= ?", midnight.Add(-24*time.Hour), midnight)
	checkShowcase(t, bdb, midnight)
	expectZero(t, bdb, "ids not increasing with time", `SELECT count(*) FROM (
		SELECT occurred_at < lag(occurred_at) OVER (ORDER BY id) AS back FROM sync_events) AS s WHERE back`)

	// Below MinShowcaseEvents, no showcase.
	bdb = newTestDB(t)
	if _, err := seed.Run(ctx, bdb, seed.Options{Events: seed.MinShowcaseEvents - 1, Days: 1, Now: now, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	expectZero(t, bdb, "showcase customers in a small run", "SELECT count(*) FROM customers WHERE email IN (?)", bun.In(seed.ShowcaseEmails()))
}

// checkShowcase checks what the last day before now holds for the
// showcase customers.
func checkShowcase(t *testing.T, bdb *bun.DB, now time.Time) {
	t.Helper()
	alice, bob := seed.ShowcaseEmail, seed.ShowcaseFailedEmail
	day := now.Add(-24 * time.Hour)
	midnight := now.Truncate(24 * time.Hour)
	for _, c := range []struct {
		what  string
		query string
		args  []any
	}{
		{"Alice's customer record in HelpScout", "SELECT count(*) FROM customers WHERE email = ? AND helpscout_id IS NOT NULL", []any{alice}},
		{"Alice's failed customer update, retried by hand", `SELECT count(*) FROM sync_events f JOIN sync_events r ON r.retry_of = f.id
			WHERE f.customer_email = ? AND f.type IN ('CUSTOMER_SYNCED', 'CUSTOMER_UPDATED') AND f.status = 'FAILED'
			  AND r.status = 'SUCCESS' AND r.source = 'MANUAL' AND f.occurred_at >= ?`, []any{alice, day}},
		{"Alice's ticket created on its retry two hours ago", `SELECT count(*) FROM sync_events f JOIN sync_events r ON r.retry_of = f.id
			WHERE f.customer_email = ? AND f.type = 'TICKET_CREATED' AND f.status = 'FAILED' AND f.error_code = 'RATE_LIMITED'
			  AND r.status = 'SUCCESS' AND r.conversation_id IS NOT NULL AND r.occurred_at BETWEEN ? AND ?`,
			[]any{alice, now.Add(-150 * time.Minute), now.Add(-90 * time.Minute)}},
		{"Bob's duplicated ticket", `SELECT count(*) FROM (SELECT source_ref FROM sync_events
			WHERE customer_email = ? AND type = 'TICKET_CREATED' AND status = 'SUCCESS' AND occurred_at >= ?
			GROUP BY source_ref HAVING count(DISTINCT conversation_id) = 2) AS d`, []any{bob, day}},
		{"Bob's failed ticket today", `SELECT count(*) FROM sync_events WHERE customer_email = ? AND type = 'TICKET_CREATED'
			AND status = 'FAILED' AND error_code = 'MISSING_REQUIRED_FIELD' AND occurred_at >= ?`, []any{bob, midnight}},
	} {
		if n := queryInt(t, bdb, c.query, c.args...); n < 1 {
			t.Errorf("%s: none", c.what)
		}
	}
}
