package syncer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
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

// TestUnknownOutcomeKeepsSubmissionsApart: two submissions whose ids differ
// only in case, from one customer with one subject. The second's create
// fails with a 5xx (its outcome unknown), so its next attempt looks in
// HelpScout first: it must not take the first submission's ticket for its
// own, and creates its own.
func TestUnknownOutcomeKeepsSubmissionsApart(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	first, err := svc.SubmitContactForm(ctx, ContactForm{SubmissionID: "Form-A7", Email: "quinn@example.com",
		Subject: "Refund", Message: "first form"}, "service")
	require.NoError(t, err)
	e1 := b.waitFinished(t, first.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e1.Status)

	b.sim.SetFaults(helpscoutsim.Faults{Status5xxBurst: 1})
	second, err := svc.SubmitContactForm(ctx, ContactForm{SubmissionID: "form-a7", Email: "quinn@example.com",
		Subject: "Refund", Message: "second form"}, "service")
	require.NoError(t, err)
	e2 := b.waitFinished(t, second.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusFailed, e2.Status)
	retries := b.retriesOf(t, e2.ID)
	require.Len(t, retries, 1)
	next := b.waitFinished(t, retries[0].ID, 15*time.Second)
	require.Equal(t, db.StatusSuccess, next.Status, "error: %v", next.ErrorMessage)
	require.Equal(t, true, next.Details["lookedUp"])
	require.Nil(t, next.Details["foundExisting"], "another submission's ticket taken")
	require.NotEqual(t, *e1.ConversationID, *next.ConversationID)
	require.Equal(t, 2, b.sim.CountConversations("quinn@example.com", "Refund"))
}

// TestCustomerCreatedMeanwhile: HelpScout gains the customer between the
// look-up and the create (a contact form of the same visitor, sent at the
// same moment, creates it), so the create answers 409. The attempt then
// updates the customer HelpScout has instead of failing for good.
func TestCustomerCreatedMeanwhile(t *testing.T) {
	t.Parallel()
	var sim *helpscoutsim.Server
	var once atomic.Bool
	b := newPipe(t, pipeSetup{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v2/customers" && once.CompareAndSwap(false, true) {
				sim.AddCustomer(helpscoutsim.Customer{FirstName: "From", LastName: "Form",
					Emails: []helpscoutsim.Entry{{Value: "race@example.com"}}})
			}
			h.ServeHTTP(w, r)
		})
	}})
	sim = b.sim
	svc := b.start(t)
	res, err := svc.SyncCustomer(context.Background(), CustomerRecord{Email: "race@example.com", FirstName: strp("Rae")}, "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	require.NotEmpty(t, e.Details["createConflict"])
	require.Equal(t, true, e.Details["existingCustomer"])
	c, ok := b.sim.CustomerByEmail("race@example.com")
	require.True(t, ok)
	require.Equal(t, "Rae", c.FirstName, "the record's name applied to the customer HelpScout has")
	require.Equal(t, 1, b.sim.State().Count("POST /v2/customers"))
}

// TestNumberReadAgain: the read that follows a create, for the ticket
// number, fails once; the attempt reads again, so that the ticket has its
// number, its link and its row in the log.
func TestNumberReadAgain(t *testing.T) {
	t.Parallel()
	var failed atomic.Bool
	b := newPipe(t, pipeSetup{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/conversations/") && failed.CompareAndSwap(false, true) {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	svc := b.start(t)
	res, err := svc.SubmitContactForm(context.Background(), form("nr-1", "nr@example.com"), "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	require.True(t, failed.Load(), "the first read failed")
	require.EqualValues(t, 1, e.Details["numberReadAgain"])
	require.Nil(t, e.Details["numberUnknown"])
	require.NotNil(t, e.TicketNumber)
	require.NotNil(t, e.HelpScoutURL())
	conv, err := db.NewConversationStore(b.bdb).Get(context.Background(), *e.ConversationID)
	require.NoError(t, err)
	require.Equal(t, *e.TicketNumber, conv.Number)
}

// TestDatabaseOutageWhileRecording: the database stops taking connections
// while a create is on its way to HelpScout, so that recording the outcome
// fails, and comes back a moment later. The attempt that created the
// ticket is recorded as the SUCCESS it was, not left to lease expiry as a
// lost attempt of a worker that never stopped.
func TestDatabaseOutageWhileRecording(t *testing.T) {
	t.Parallel()
	sent := make(chan struct{})
	var once atomic.Bool
	b := newPipe(t, pipeSetup{
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/v2/conversations" && once.CompareAndSwap(false, true) {
					close(sent)
				}
				h.ServeHTTP(w, r)
			})
		},
		opts: func(o *Options) { o.Lease = 10 * time.Second },
	})
	b.sim.SetFaults(helpscoutsim.Faults{LatencyMs: 500})
	ctx := context.Background()

	svc := b.start(t)
	res, err := svc.SubmitContactForm(ctx, form("outage-1", "outage@example.com"), "service")
	require.NoError(t, err)
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("the create never reached the simulator")
	}
	end := dbtest.Outage(t, b.dsn)
	waitFor(t, 10*time.Second, "recording the outcome to fail", func() bool {
		return strings.Contains(b.logs.String(), "recording a sync attempt failed")
	})
	end()

	e := b.waitFinished(t, res.Event.ID, 20*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %s", ptrValue(e.ErrorMessage))
	require.Empty(t, b.retriesOf(t, e.ID))
	require.Equal(t, db.JobDone, b.jobOf(t, e).State)
	require.Equal(t, 1, b.sim.State().Count("POST /v2/conversations"))
}

// TestClaimWait checks the waits between claims while they keep failing.
func TestClaimWait(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	cases := []struct {
		poll     time.Duration
		failures int
		want     time.Duration
	}{
		{250 * ms, 1, 250 * ms},
		{250 * ms, 2, 500 * ms},
		{250 * ms, 3, time.Second},
		{250 * ms, 5, 4 * time.Second},
		{250 * ms, 6, maxClaimWait},
		{250 * ms, 1000, maxClaimWait},
		{20 * ms, 4, 160 * ms},
		{10 * time.Second, 1, 10 * time.Second},
		{10 * time.Second, 7, 10 * time.Second},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, claimWait(tc.poll, tc.failures), "poll %s, %d failures", tc.poll, tc.failures)
	}
}

// TestDatabaseOutageWhileIdle makes the database unreachable while the
// workers wait for jobs. Each worker logs one error, then claims less and
// less often (at debug level), says when claiming works again, and goes
// on with the queue.
func TestDatabaseOutageWhileIdle(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	end := dbtest.Outage(t, b.dsn)

	type line struct {
		Level    string  `json:"level"`
		Message  string  `json:"message"`
		Worker   *int    `json:"worker"`
		Failures int     `json:"failures"`
		RetryIn  float64 `json:"retry_in"`
	}
	claims := func() map[int][]line {
		out := map[int][]line{}
		for _, s := range strings.Split(b.logs.String(), "\n") {
			var l line
			if json.Unmarshal([]byte(s), &l) == nil && l.Worker != nil && strings.HasPrefix(l.Message, "claiming") {
				out[*l.Worker] = append(out[*l.Worker], l)
			}
		}
		return out
	}
	const failures = 5
	waitFor(t, 20*time.Second, "both workers failing to claim five times", func() bool {
		c := claims()
		return len(c) == 2 && len(c[0]) >= failures && len(c[1]) >= failures
	})
	for w, lines := range claims() {
		require.Equal(t, "error", lines[0].Level, "worker %d", w)
		require.Contains(t, lines[0].Message, "claiming a sync job failed", "worker %d", w)
		for i, l := range lines[:failures] {
			if i > 0 {
				require.Equal(t, "debug", l.Level, "worker %d, failure %d", w, i+1)
				require.Equal(t, i+1, l.Failures, "worker %d", w)
			}
			want := claimWait(20*time.Millisecond, i+1)
			require.InDelta(t, float64(want.Milliseconds()), l.RetryIn, 0.001, "worker %d, failure %d", w, i+1)
		}
	}

	end()
	waitFor(t, 20*time.Second, "both workers claiming again", func() bool {
		back := 0
		for _, lines := range claims() {
			if lines[len(lines)-1].Message == "claiming sync jobs works again" {
				back++
			}
		}
		return back == 2
	})
	res, err := svc.SubmitContactForm(ctx, form("after-outage-1", "after.outage@example.com"), "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 20*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %s", ptrValue(e.ErrorMessage))
}
