package syncer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

// TestBatchCoalescing sends three updates of one customer and one of
// another: the batch run makes one call per customer, the latest value of
// each field wins, and the coalesced events name the event that carried
// them.
func TestBatchCoalescing(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	for _, email := range []string{"batch@example.com", "other@example.com"} {
		res, err := svc.SyncCustomer(ctx, CustomerRecord{Email: email, FirstName: strp("Bat"), LastName: strp("Ch")}, "service")
		require.NoError(t, err)
		require.Equal(t, db.StatusSuccess, b.waitFinished(t, res.Event.ID, 10*time.Second).Status)
	}
	updates := []CustomerRecord{
		{Email: "batch@example.com", JobTitle: strp("Clerk"), Location: strp("Paris")},
		{Email: "batch@example.com", Organization: strp("ACME")},
		{Email: "Batch@Example.com", JobTitle: strp("Manager")},
		{Email: "other@example.com", Location: strp("Oslo")},
	}
	var ids []int64
	for _, u := range updates {
		res, err := svc.SyncCustomer(ctx, u, "service")
		require.NoError(t, err)
		require.Equal(t, db.EventCustomerUpdated, res.Event.Type)
		ids = append(ids, res.Event.ID)
	}
	require.Equal(t, 4, b.count(t, "SELECT count(*) FROM sync_jobs WHERE state = 'QUEUED' AND run_at > now() + interval '1 year'"),
		"updates wait for the batch")

	n, err := svc.runBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "one call per customer")
	carrier := b.waitFinished(t, ids[2], 10*time.Second)
	require.Equal(t, db.StatusSuccess, carrier.Status, "error: %v", carrier.ErrorMessage)
	require.Equal(t, db.SourceBatch, carrier.Source)
	require.NotEmpty(t, carrier.Details["batchId"])
	require.ElementsMatch(t, []any{float64(ids[0]), float64(ids[1])}, carrier.Details["coalesced"])
	for _, id := range ids[:2] {
		e := b.event(t, id)
		require.Equal(t, db.StatusSuccess, e.Status)
		require.EqualValues(t, ids[2], e.Details["coalescedInto"])
	}
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, ids[3], 10*time.Second).Status)

	hc, ok := b.sim.CustomerByEmail("batch@example.com")
	require.True(t, ok)
	require.Equal(t, "Manager", hc.JobTitle, "the latest value wins")
	require.Equal(t, "Paris", hc.Location)
	require.Equal(t, "ACME", hc.Organization)
	hc, ok = b.sim.CustomerByEmail("other@example.com")
	require.True(t, ok)
	require.Equal(t, "Oslo", hc.Location)
	require.Equal(t, 2, b.sim.State().Count("PATCH /v2/customers/{id}"), "one PATCH per customer: %v", b.sim.State().Requests)

	n, err = svc.runBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n, "nothing waits any more")
}

// TestBatchLoop runs the batch on its interval.
func TestBatchLoop(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{opts: func(o *Options) { o.BatchInterval = 200 * time.Millisecond }})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "loop@example.com", FirstName: strp("Lo")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, res.Event.ID, 10*time.Second).Status)
	res, err = svc.SyncCustomer(ctx, CustomerRecord{Email: "loop@example.com", Background: strp("Runs")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, res.Event.ID, 10*time.Second).Status)
	hc, _ := b.sim.CustomerByEmail("loop@example.com")
	require.Equal(t, "Runs", hc.Background)
}

// TestUpdateOfDeletedCustomer: the customer we know was deleted in
// HelpScout; the update fails with NOT_FOUND and waits for someone.
func TestUpdateOfDeletedCustomer(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	require.NoError(t, upsertCustomer(ctx, b.bdb, "gone@example.com", strp("Gone"), time.Now()))
	_, err := b.bdb.NewRaw("UPDATE customers SET helpscout_id = 12345 WHERE email = 'gone@example.com'").Exec(ctx)
	require.NoError(t, err)
	res, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "gone@example.com", JobTitle: strp("Ghost")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.EventCustomerUpdated, res.Event.Type)
	_, err = svc.runBatch(ctx)
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusFailed, e.Status)
	require.Equal(t, db.CodeNotFound, *e.ErrorCode)
	require.Equal(t, 404, *e.HTTPStatus)
	waitFor(t, 5*time.Second, "the job to stop", func() bool { return b.jobOf(t, e).State == db.JobFailed })
	cust, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, "gone@example.com")
	require.NoError(t, err)
	require.Equal(t, db.StatusFailed, *cust.LastSyncStatus)
	require.Equal(t, db.CodeNotFound, *cust.LastSyncErrorCode)
}

// TestBatchCarrierFails: when the update that carries coalesced changes
// fails for good, the coalesced events fail with it instead of claiming a
// success, and name the event whose retry sends their changes.
func TestBatchCarrierFails(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "jack@example.com", FirstName: strp("Jack")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, res.Event.ID, 10*time.Second).Status)

	bad, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "jack@example.com", JobTitle: strp(strings.Repeat("t", 61))}, "service")
	require.NoError(t, err)
	good, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "jack@example.com", Location: strp("Berlin")}, "service")
	require.NoError(t, err)
	n, err := svc.runBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, db.StatusPending, b.event(t, bad.Event.ID).Status, "waits for the update that carries it")

	carrier := b.waitFinished(t, good.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusFailed, carrier.Status)
	require.Equal(t, db.CodeValidationFailed, *carrier.ErrorCode)
	coalesced := b.event(t, bad.Event.ID)
	require.Equal(t, db.StatusFailed, coalesced.Status)
	require.Equal(t, db.CodeValidationFailed, *coalesced.ErrorCode)
	require.Contains(t, coalesced.Details["note"], fmt.Sprintf("retrying event %d", carrier.ID))
}
