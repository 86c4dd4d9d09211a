package syncer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// requireCode checks err is an API error with code.
func requireCode(t *testing.T, err error, code apperr.Code) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	ae, ok := apperr.As(err)
	require.True(t, ok, "error: %v", err)
	require.Equal(t, code, ae.Code, "message: %s", ae.Message)
	return ae
}

// TestRetry retries a permanently failed submission after the cause was
// fixed, and checks every refusal.
func TestRetry(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	b.sim.SetFaults(helpscoutsim.Faults{RevokeCredentials: true})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SubmitContactForm(ctx, form("r-1", "retry@example.com"), "service")
	require.NoError(t, err)
	failed := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.CodeAuthenticationFailed, *failed.ErrorCode)
	waitFor(t, 5*time.Second, "the job to stop as FAILED", func() bool { return b.jobOf(t, failed).State == db.JobFailed })

	b.sim.SetFaults(helpscoutsim.Faults{})
	next, err := svc.Retry(ctx, failed.ID, nil, "admin@kivalogic.test")
	require.NoError(t, err)
	require.Equal(t, db.StatusPending, next.Status)
	require.Equal(t, failed.ID, *next.RetryOfID)
	require.Equal(t, 2, next.Attempt)
	require.Equal(t, "admin@kivalogic.test", *next.Actor)
	require.Equal(t, db.SourceManual, next.Source)
	require.Equal(t, failed.JobID, next.JobID)
	require.NotEmpty(t, next.Details["retriedAt"])
	done := b.waitFinished(t, next.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, done.Status, "error: %v", done.ErrorMessage)
	require.Equal(t, 1, b.sim.CountConversations("retry@example.com", ""))

	cases := []struct {
		name string
		id   int64
		code apperr.Code
		want string
	}{
		{"already retried", failed.ID, apperr.Conflict, "already retried"},
		{"succeeded", done.ID, apperr.Conflict, "only failed events"},
		{"missing", 987654321, apperr.NotFound, "does not exist"},
	}
	pending, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "pending@example.com", JobTitle: strp("x")}, "service")
	require.NoError(t, err)
	cases = append(cases, struct {
		name string
		id   int64
		code apperr.Code
		want string
	}{"pending", pending.Event.ID, apperr.Conflict, "only failed events"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Retry(ctx, tc.id, nil, "admin@kivalogic.test")
			ae := requireCode(t, err, tc.code)
			require.Contains(t, ae.Message, tc.want)
		})
	}
}

// TestRetryWithoutJob retries events loaded from elsewhere (no job): a
// customer event is rebuilt from the event and the customer record, a
// contact form without its message cannot be, and a webhook event is not
// an operation to send.
func TestRetryWithoutJob(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Hour)
	code := db.CodeTimeout
	email := "history@example.com"
	require.NoError(t, upsertCustomer(ctx, b.bdb, email, strp("Old Timer"), at))
	mk := func(typ db.EventType, dir db.Direction, src db.EventSource, details map[string]any) *db.SyncEvent {
		return &db.SyncEvent{OccurredAt: at, Type: typ, Status: db.StatusFailed, Direction: dir, CustomerEmail: &email,
			ErrorCode: &code, Details: details, Attempt: 1, Source: src, SourceRef: strp("form-77")}
	}
	customer := mk(db.EventCustomerSynced, db.DirectionToHelpScout, db.SourceCustomerUpdate, map[string]any{"fields": []string{"firstName"}})
	ticket := mk(db.EventTicketCreated, db.DirectionToHelpScout, db.SourceContactForm, map[string]any{"subject": "Where is it?"})
	hook := mk(db.EventConversationUpdated, db.DirectionFromHelpScout, db.SourceWebhook, map[string]any{"event": "convo.status"})
	full := mk(db.EventTicketCreated, db.DirectionToHelpScout, db.SourceContactForm,
		map[string]any{"subject": "Full record", "message": "All of it", "submissionId": "form-78"})
	require.NoError(t, db.NewEventStore(b.bdb).Insert(ctx, b.bdb, []*db.SyncEvent{customer, ticket, hook, full}))

	next, err := svc.Retry(ctx, customer.ID, nil, "admin@kivalogic.test")
	require.NoError(t, err)
	require.NotNil(t, next.JobID)
	e := b.waitFinished(t, next.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	hc, ok := b.sim.CustomerByEmail(email)
	require.True(t, ok)
	require.Equal(t, "Old", hc.FirstName)
	require.Equal(t, "Timer", hc.LastName)

	next, err = svc.Retry(ctx, full.ID, nil, "admin@kivalogic.test")
	require.NoError(t, err)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, next.ID, 10*time.Second).Status)
	require.Equal(t, 1, b.sim.CountConversations(email, "Full record"))

	ae := requireCode(t, func() error { _, err := svc.Retry(ctx, ticket.ID, nil, "a"); return err }(), apperr.Conflict)
	require.Contains(t, ae.Message, "subject and message")
	ae = requireCode(t, func() error { _, err := svc.Retry(ctx, hook.ID, nil, "a"); return err }(), apperr.Conflict)
	require.Contains(t, ae.Message, "not an operation sent to HelpScout")
}

// TestRetryFailed retries what a filter selects, within the limit.
func TestRetryFailed(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	b.sim.SetFaults(helpscoutsim.Faults{RevokeCredentials: true})
	svc := b.start(t)
	ctx := context.Background()
	var failed []int64
	for _, id := range []string{"b-1", "b-2", "b-3"} {
		res, err := svc.SubmitContactForm(ctx, form(id, "bulk@example.com"), "service")
		require.NoError(t, err)
		failed = append(failed, res.Event.ID)
	}
	for _, id := range failed {
		e := b.waitFinished(t, id, 10*time.Second)
		waitFor(t, 5*time.Second, "the job to stop", func() bool { return b.jobOf(t, e).State == db.JobFailed })
	}
	code := db.CodeTimeout
	email := "bulk@example.com"
	orphan := &db.SyncEvent{OccurredAt: time.Now().UTC(), Type: db.EventTicketCreated, Status: db.StatusFailed,
		Direction: db.DirectionToHelpScout, CustomerEmail: &email, ErrorCode: &code, Attempt: 1, Source: db.SourceContactForm}
	require.NoError(t, db.NewEventStore(b.bdb).Insert(ctx, b.bdb, []*db.SyncEvent{orphan}))
	b.sim.SetFaults(helpscoutsim.Faults{})

	f := db.EventFilter{CustomerEmail: &email}
	res, err := svc.RetryFailed(ctx, f, 2, "admin@kivalogic.test")
	require.NoError(t, err)
	require.Equal(t, 2, res.Queued)
	require.Equal(t, 0, res.Skipped)
	require.True(t, res.Truncated)
	require.Len(t, res.Events, 2)
	require.Equal(t, failed[0], *res.Events[0].RetryOfID, "oldest first")

	res, err = svc.RetryFailed(ctx, f, 10, "admin@kivalogic.test")
	require.NoError(t, err)
	require.Equal(t, 1, res.Queued)
	require.Equal(t, 1, res.Skipped, "the event without a message cannot be rebuilt")
	require.False(t, res.Truncated)
	require.Equal(t, failed[2], *res.Events[0].RetryOfID)

	for _, id := range failed {
		rs := b.retriesOf(t, id)
		require.Len(t, rs, 1)
		require.Equal(t, db.StatusSuccess, b.waitFinished(t, rs[0].ID, 10*time.Second).Status)
	}
	require.Equal(t, 3, b.sim.CountConversations(email, ""))

	res, err = svc.RetryFailed(ctx, f, 10, "admin@kivalogic.test")
	require.NoError(t, err)
	require.Equal(t, 0, res.Queued, "retried events are not selected again")
	require.Equal(t, 1, res.Skipped)
}
