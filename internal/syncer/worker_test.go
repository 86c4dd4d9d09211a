package syncer

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// TestErrorCodes makes the simulator produce each error the client maps
// and checks what the FAILED event and its job record: the code,
// HelpScout's message and status, and whether the job is retried
// automatically (a new PENDING attempt linked to the failed one) or waits
// for someone (FAILED).
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 41)
	cases := []struct {
		name      string
		faults    helpscoutsim.Faults
		opts      func(*Options)
		customer  *CustomerRecord
		form      func(ContactForm) ContactForm
		code      db.ErrorCode
		status    int
		message   string
		transient bool
		// email, when set, is the email the log stores: a stand-in for
		// each character it cannot.
		email string
	}{
		{name: "invalid email", form: func(f ContactForm) ContactForm { f.Email = "not-an-email"; return f },
			code: db.CodeInvalidEmail, status: 400, message: "well-formed email"},
		{name: "mailbox not found", opts: func(o *Options) { o.HelpScout.MailboxID = 999 },
			code: db.CodeMailboxNotFound, status: 400, message: "Invalid mailbox"},
		{name: "revoked credentials", faults: helpscoutsim.Faults{RevokeCredentials: true},
			code: db.CodeAuthenticationFailed, status: 401},
		{name: "rate limited", faults: helpscoutsim.Faults{RateLimited: true},
			code: db.CodeRateLimited, status: 429, message: "rate limit", transient: true},
		{name: "timeout", faults: helpscoutsim.Faults{Timeout: true}, opts: func(o *Options) { o.HelpScout.Timeout = 300 * time.Millisecond },
			code: db.CodeTimeout, transient: true},
		{name: "missing subject", form: func(f ContactForm) ContactForm { f.Subject = "   "; return f },
			code: db.CodeMissingRequiredField, status: 400, message: "may not be empty"},
		{name: "5xx burst", faults: helpscoutsim.Faults{Status5xxBurst: 100, BurstStatus: 503},
			code: db.CodeHelpScoutUnavailable, status: 503, transient: true},
		{name: "first name too long", customer: &CustomerRecord{Email: "long@example.com", FirstName: &long},
			code: db.CodeValidationFailed, status: 400, message: "size must be between"},
		{name: "NUL character", form: func(f ContactForm) ContactForm { f.Message = "bad \x00 byte"; return f },
			code: db.CodeInvalidEncoding, message: "NUL character"},
		{name: "invalid UTF-8", customer: &CustomerRecord{Email: "utf@example.com", LastName: strp("bad \xff byte")},
			code: db.CodeInvalidEncoding, message: "not valid UTF-8"},
		{name: "NUL in a customer field", customer: &CustomerRecord{Email: "nul@example.com", Location: strp("a\x00b")},
			code: db.CodeInvalidEncoding, message: "location contains a NUL character"},
		{name: "NUL in the name", form: func(f ContactForm) ContactForm { f.Name = strp("Ada\x00"); return f },
			code: db.CodeInvalidEncoding, message: "name contains a NUL character"},
		{name: "NUL in the email", form: func(f ContactForm) ContactForm { f.Email = "err\x00@example.com"; return f },
			code: db.CodeInvalidEncoding, message: "email contains a NUL character", email: "err\u2400@example.com"},
		{name: "a customer's email not UTF-8", customer: &CustomerRecord{Email: "utf\xff@example.com", FirstName: strp("Ada\x00")},
			code: db.CodeInvalidEncoding, message: "firstName contains a NUL character", email: "utf\ufffd@example.com"},
		{name: "unexpected status", faults: helpscoutsim.Faults{Status5xxBurst: 100, BurstStatus: 418},
			code: db.CodeUnknown, status: 418},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newPipe(t, pipeSetup{opts: tc.opts})
			b.sim.SetFaults(tc.faults)
			svc := b.start(t)
			ctx := context.Background()
			var first *db.SyncEvent
			if tc.customer != nil {
				res, err := svc.SyncCustomer(ctx, *tc.customer, "service")
				require.NoError(t, err)
				first = res.Event
			} else {
				f := form("err-1", "err@example.com")
				if tc.form != nil {
					f = tc.form(f)
				}
				res, err := svc.SubmitContactForm(ctx, f, "service")
				require.NoError(t, err)
				first = res.Event
			}
			e := b.waitFinished(t, first.ID, 15*time.Second)
			require.Equal(t, db.StatusFailed, e.Status)
			require.NotNil(t, e.ErrorCode)
			require.Equal(t, tc.code, *e.ErrorCode, "message: %v", e.ErrorMessage)
			require.NotNil(t, e.ErrorMessage)
			require.NotEmpty(t, *e.ErrorMessage)
			if tc.message != "" {
				require.Contains(t, *e.ErrorMessage, tc.message)
			}
			if tc.status != 0 {
				require.NotNil(t, e.HTTPStatus)
				require.Equal(t, tc.status, *e.HTTPStatus)
			}
			require.NotNil(t, e.DurationMs)
			if tc.email != "" {
				require.Equal(t, tc.email, *e.CustomerEmail)
				_, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, tc.email)
				require.NoError(t, err, "the customer's row under the stored email")
			}
			if tc.status >= 400 && tc.code != db.CodeAuthenticationFailed {
				require.NotEmpty(t, e.Details["logRef"], "details: %v", e.Details)
			}

			var j *db.SyncJob
			waitFor(t, 5*time.Second, "the job to leave RUNNING", func() bool {
				j = b.jobOf(t, e)
				return j.State != db.JobRunning
			})
			require.Equal(t, string(tc.code), *j.LastErrorCode)
			retries := b.retriesOf(t, e.ID)
			if tc.transient {
				require.NotEqual(t, db.JobFailed, j.State)
				require.NotEmpty(t, retries, "a transient failure queues a new attempt")
				require.Equal(t, 2, retries[0].Attempt)
				require.Equal(t, e.JobID, retries[0].JobID)
				require.Equal(t, e.Type, retries[0].Type)
			} else {
				require.Equal(t, db.JobFailed, j.State)
				require.Empty(t, retries, "a permanent failure waits for someone")
			}
		})
	}
}

// TestRetryAfterHonoured checks that a 429 pauses every replica until
// HelpScout's X-RateLimit-Retry-After and delays the job at least as long.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	b.sim.SetFaults(helpscoutsim.Faults{RateLimited: true})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SubmitContactForm(ctx, form("ra-1", "ra@example.com"), "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.CodeRateLimited, *e.ErrorCode)
	after, ok := e.Details["retryAfterSeconds"].(float64)
	require.True(t, ok, "details: %v", e.Details)
	require.GreaterOrEqual(t, after, 1.0)

	j := b.jobOf(t, e)
	require.Equal(t, db.JobQueued, j.State)
	wait := time.Duration(after * float64(time.Second))
	require.GreaterOrEqual(t, j.RunAt.Sub(e.OccurredAt), wait, "the retry waits at least Retry-After")
	st, err := db.NewBudgetStore(b.bdb).Get(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.PausedUntil)
	require.True(t, st.PausedUntil.After(st.Now), "every replica pauses")
	// The paused budget admits nothing now.
	r, err := db.NewBudgetStore(b.bdb).Reserve(ctx, 1, windowGuard)
	require.NoError(t, err)
	require.False(t, r.OK)
	require.Greater(t, r.Wait, time.Duration(0))
}

// TestBackoff checks the automatic retry delays: growing, jittered, capped,
// and never shorter than Retry-After.
func TestBackoff(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{RetryBase: time.Second})
	cases := []struct {
		attempts int
		lo, hi   time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{30, maxBackoff / 2, maxBackoff},
	}
	for _, tc := range cases {
		for range 20 {
			d := s.backoff(tc.attempts, nil)
			require.GreaterOrEqual(t, d, tc.lo, "attempts %d", tc.attempts)
			require.LessOrEqual(t, d, tc.hi, "attempts %d", tc.attempts)
		}
	}
}

// TestBackoffSpan checks the outage the default automatic retries span, as
// the README gives it: the delays between the defaultMaxAttempts attempts
// add up to 14 to 27 minutes.
func TestBackoffSpan(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	for range 20 {
		var span time.Duration
		for attempts := 1; attempts < defaultMaxAttempts; attempts++ {
			span += s.backoff(attempts, nil)
		}
		require.GreaterOrEqual(t, span, 13*time.Minute+30*time.Second)
		require.LessOrEqual(t, span, 27*time.Minute+3*time.Second)
	}
}

// TestTokenRenewal expires every token: the next call gets a 401, renews
// the token once and succeeds.
func TestTokenRenewal(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SubmitContactForm(ctx, form("tok-1", "tok@example.com"), "service")
	require.NoError(t, err)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, res.Event.ID, 10*time.Second).Status)
	require.Equal(t, 1, b.sim.State().TokensIssued)

	b.sim.SetFaults(helpscoutsim.Faults{ExpireTokens: true})
	res, err = svc.SubmitContactForm(ctx, form("tok-2", "tok@example.com"), "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	require.Equal(t, true, e.Details["tokenRenewed"])
	require.Equal(t, 1, e.Attempt)
	require.Equal(t, 2, b.sim.State().TokensIssued)
}

// TestDuplicateSubmission sends one submission several times, also at
// once: one job, one ticket, and the suppression recorded on the original
// event.
func TestDuplicateSubmission(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.service(t)
	ctx := context.Background()
	first, err := svc.SubmitContactForm(ctx, form("dup-1", "dup@example.com"), "service")
	require.NoError(t, err)
	require.False(t, first.Duplicate)

	var wg sync.WaitGroup
	results := make([]*IntakeResult, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := svc.SubmitContactForm(ctx, form("dup-1", "dup@example.com"), "service")
			if err == nil {
				results[i] = r
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		require.NotNil(t, r)
		require.True(t, r.Duplicate)
		require.Equal(t, first.Event.ID, r.Event.ID, "a duplicate returns the original event")
	}
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM sync_jobs"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM sync_events"))
	require.Equal(t, 4, b.count(t, "SELECT duplicates FROM sync_jobs"))
	e := b.event(t, first.Event.ID)
	require.EqualValues(t, 4, e.Details["duplicateSubmissions"])
	require.NotEmpty(t, e.Details["lastDuplicateAt"])
	require.Contains(t, b.logs.String(), "duplicate contact-form submission suppressed")

	require.NoError(t, svc.Start(ctx))
	t.Cleanup(svc.Stop)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, first.Event.ID, 10*time.Second).Status)
	again, err := svc.SubmitContactForm(ctx, form("dup-1", "dup@example.com"), "service")
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, db.StatusSuccess, again.Event.Status)
	require.Equal(t, 1, b.sim.CountConversations("dup@example.com", ""))
	require.Equal(t, 1, b.sim.State().Count("POST /v2/conversations"))
}

// TestIntakeValidation refuses only broken input, naming the field; a
// malformed email is accepted (HelpScout refuses it, and the log shows it).
func TestIntakeValidation(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.service(t)
	ctx := context.Background()
	cases := []struct {
		name     string
		mod      func(*ContactForm)
		argument string
	}{
		{"empty submission id", func(f *ContactForm) { f.SubmissionID = " " }, "input.submissionId"},
		{"NUL in the submission id", func(f *ContactForm) { f.SubmissionID = "v-\x00" }, "input.submissionId"},
		{"submission id not UTF-8", func(f *ContactForm) { f.SubmissionID = "v-\xff" }, "input.submissionId"},
		{"empty email", func(f *ContactForm) { f.Email = "" }, "input.email"},
		{"empty subject", func(f *ContactForm) { f.Subject = "" }, "input.subject"},
		{"empty message", func(f *ContactForm) { f.Message = "" }, "input.message"},
		{"huge message", func(f *ContactForm) { f.Message = strings.Repeat("m", maxMessageLen+1) }, "input.message"},
		{"huge name", func(f *ContactForm) { f.Name = strp(strings.Repeat("n", maxNameLen+1)) }, "input.name"},
		{"malformed email", func(f *ContactForm) { f.Email = "no at sign" }, ""},
		{"largest message", func(f *ContactForm) { f.Message = strings.Repeat("m", maxMessageLen) }, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := form("v-"+string(rune('a'+i)), "v@example.com")
			tc.mod(&f)
			res, err := svc.SubmitContactForm(ctx, f, "service")
			if tc.argument == "" {
				require.NoError(t, err)
				require.Equal(t, db.StatusPending, res.Event.Status)
				return
			}
			requireBadInput(t, err, tc.argument)
		})
	}
	_, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "  "}, "service")
	requireBadInput(t, err, "input.email")
	_, err = svc.SyncCustomer(ctx, CustomerRecord{Email: "c@example.com", Background: strp(strings.Repeat("b", maxFieldLen+1))}, "service")
	requireBadInput(t, err, "input.background")
}

// TestCustomerKinds checks the choice between CUSTOMER_SYNCED and
// CUSTOMER_UPDATED, and that a customer HelpScout already has (made by a
// contact form) is adopted rather than created twice.
func TestCustomerKinds(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.service(t)
	ctx := context.Background()
	first, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "Kind@Example.com", FirstName: strp("Grace"), LastName: strp("Hopper")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.EventCustomerSynced, first.Event.Type)
	require.Equal(t, db.SourceCustomerUpdate, first.Event.Source)
	second, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "kind@example.com", JobTitle: strp("Admiral")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.EventCustomerUpdated, second.Event.Type, "a pending creation makes later records updates")
	require.Equal(t, db.SourceBatch, second.Event.Source)
	cust, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, "kind@example.com")
	require.NoError(t, err)
	require.Equal(t, "Grace Hopper", *cust.Name)

	// A contact form creates the HelpScout customer; the customer record
	// sent afterwards finds and updates it.
	svc.Start(ctx)
	t.Cleanup(svc.Stop)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, first.Event.ID, 10*time.Second).Status)
	fr, err := svc.SubmitContactForm(ctx, form("k-1", "form@example.com"), "service")
	require.NoError(t, err)
	require.Equal(t, db.StatusSuccess, b.waitFinished(t, fr.Event.ID, 10*time.Second).Status)
	cr, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "form@example.com", Organization: strp("Navy")}, "service")
	require.NoError(t, err)
	require.Equal(t, db.EventCustomerSynced, cr.Event.Type)
	e := b.waitFinished(t, cr.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	require.Equal(t, true, e.Details["existingCustomer"])
	hc, ok := b.sim.CustomerByEmail("form@example.com")
	require.True(t, ok)
	require.Equal(t, "Navy", hc.Organization)
	require.Equal(t, 0, b.sim.State().Count("POST /v2/customers", 201)-1, "only Grace was created through the API")
	cust, err = db.NewCustomerStore(b.bdb).GetByEmail(ctx, "form@example.com")
	require.NoError(t, err)
	require.Equal(t, hc.ID, *cust.HelpScoutID)
}
