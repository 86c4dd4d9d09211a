package syncer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// swallowFirstCreate lets the simulator carry out the first conversation
// create, then withholds its answer until the caller gives up: HelpScout
// did the work, the caller cannot know. created is closed once the
// simulator has created the conversation.
func swallowFirstCreate(created chan struct{}) func(http.Handler) http.Handler {
	var done atomic.Bool
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/v2/conversations" || !done.CompareAndSwap(false, true) {
				h.ServeHTTP(w, r)
				return
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			close(created)
			<-r.Context().Done()
		})
	}
}

// TestKilledReplica kills a replica while its create is in flight (after
// HelpScout created the conversation); another replica takes the job over
// when the lease expires, finishes the lost attempt as FAILED with an
// unknown outcome, looks in HelpScout, finds the conversation by its
// submission tag and records it as the SUCCESS without sending it again.
func TestKilledReplica(t *testing.T) {
	t.Parallel()
	created := make(chan struct{})
	b := newPipe(t, pipeSetup{wrap: swallowFirstCreate(created), opts: func(o *Options) { o.Lease = time.Second }})
	ctx := context.Background()
	first := b.service(t)
	require.NoError(t, first.Start(ctx))
	res, err := first.SubmitContactForm(ctx, form("crash-1", "crash@example.com"), "service")
	require.NoError(t, err)
	select {
	case <-created:
	case <-time.After(10 * time.Second):
		t.Fatal("the create never reached the simulator")
	}
	first.kill()
	lost := b.event(t, res.Event.ID)
	require.Equal(t, db.StatusPending, lost.Status, "a killed replica writes nothing")

	second := b.start(t)
	_ = second
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusFailed, e.Status)
	require.Equal(t, db.CodeUnknown, *e.ErrorCode)
	require.Equal(t, lostAttemptMessage, *e.ErrorMessage)

	retries := b.retriesOf(t, e.ID)
	require.Len(t, retries, 1)
	next := b.waitFinished(t, retries[0].ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, next.Status, "error: %v", next.ErrorMessage)
	require.Equal(t, 2, next.Attempt)
	require.Equal(t, true, next.Details["foundExisting"])
	require.NotNil(t, next.TicketNumber)
	require.Equal(t, 1, b.sim.CountConversations("crash@example.com", "Order crash-1"), "exactly one conversation")
	require.Equal(t, 1, b.sim.State().Count("POST /v2/conversations"), "the form was sent once")
	j := b.jobOf(t, next)
	require.Equal(t, db.JobDone, j.State)
	require.False(t, j.OutcomeUnknown)
}

// TestUnknownOutcomeTimeout: the create times out after HelpScout created
// the conversation; the next attempt looks first and does not send it again.
func TestUnknownOutcomeTimeout(t *testing.T) {
	t.Parallel()
	created := make(chan struct{})
	b := newPipe(t, pipeSetup{wrap: swallowFirstCreate(created), opts: func(o *Options) {
		o.HelpScout.Timeout = 500 * time.Millisecond
	}})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SubmitContactForm(ctx, form("to-1", "to@example.com"), "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusFailed, e.Status)
	require.Equal(t, db.CodeTimeout, *e.ErrorCode)
	require.Equal(t, true, e.Details["outcomeUnknown"])
	j := b.jobOf(t, e)
	require.True(t, j.OutcomeUnknown)

	retries := b.retriesOf(t, e.ID)
	require.Len(t, retries, 1)
	next := b.waitFinished(t, retries[0].ID, 15*time.Second)
	require.Equal(t, db.StatusSuccess, next.Status, "error: %v", next.ErrorMessage)
	require.Equal(t, true, next.Details["foundExisting"])
	require.Equal(t, 1, b.sim.CountConversations("to@example.com", ""))
	require.Equal(t, 1, b.sim.State().Count("POST /v2/conversations"))
}

// TestStopFinishesAttempts stops a service while a slow call is in flight:
// Stop returns after the attempt was recorded.
func TestStopFinishesAttempts(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	b.sim.SetFaults(helpscoutsim.Faults{LatencyMs: 300})
	svc := b.service(t)
	ctx := context.Background()
	require.NoError(t, svc.Start(ctx))
	res, err := svc.SubmitContactForm(ctx, form("stop-1", "stop@example.com"), "service")
	require.NoError(t, err)
	waitFor(t, 5*time.Second, "the job to be claimed", func() bool {
		return b.count(t, "SELECT count(*) FROM sync_jobs WHERE state = 'RUNNING'") == 1
	})
	svc.Stop()
	e := b.event(t, res.Event.ID)
	require.Equal(t, db.StatusSuccess, e.Status, "the attempt in flight finished before Stop returned")
	require.Equal(t, 0, b.count(t, "SELECT count(*) FROM sync_jobs WHERE state = 'RUNNING'"))
	svc.Stop()
}
