package syncer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// failedAttempt waits for the first attempt of an intake to fail with code
// and for its job to stop, and returns the failed event.
func (b *pipeBundle) failedAttempt(t *testing.T, res *IntakeResult, code db.ErrorCode) *db.SyncEvent {
	t.Helper()
	failed := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusFailed, failed.Status)
	require.Equal(t, code, *failed.ErrorCode, "message: %v", failed.ErrorMessage)
	waitFor(t, 5*time.Second, "the job to stop as FAILED", func() bool { return b.jobOf(t, failed).State == db.JobFailed })
	return failed
}

// TestRetryWithCorrections corrects what HelpScout refused and sends it
// again: a ticket's email and subject, a customer's first name, and a
// message holding a character HelpScout does not accept.
func TestRetryWithCorrections(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	const admin = "admin@kivalogic.test"

	t.Run("ticket email and subject", func(t *testing.T) {
		res, err := svc.SubmitContactForm(ctx, form("fix-1", "grace@@example"), "service")
		require.NoError(t, err)
		failed := b.failedAttempt(t, res, db.CodeInvalidEmail)

		next, err := svc.Retry(ctx, failed.ID, &Corrections{Email: strp(" Grace@Example.com "), Subject: strp("Order fix-1, corrected")}, admin)
		require.NoError(t, err)
		require.Equal(t, "grace@example.com", *next.CustomerEmail)
		require.Equal(t, []string{"email", "subject"}, next.Details["corrected"])
		require.Equal(t, "Order fix-1, corrected", next.Details["subject"])
		require.Equal(t, "grace@example.com", *b.jobOf(t, next).CustomerEmail)

		done := b.waitFinished(t, next.ID, 10*time.Second)
		require.Equal(t, db.StatusSuccess, done.Status, "error: %v", done.ErrorMessage)
		require.Equal(t, "grace@example.com", *done.CustomerEmail)
		require.Equal(t, 1, b.sim.CountConversations("grace@example.com", "Order fix-1, corrected"))
		require.Equal(t, "grace@@example", *b.event(t, failed.ID).CustomerEmail, "the failed attempt keeps what it sent")
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM customers WHERE email = 'grace@example.com' AND last_sync_status = 'SUCCESS'`))
	})

	t.Run("customer first name", func(t *testing.T) {
		long := strings.Repeat("x", 41)
		res, err := svc.SyncCustomer(ctx, CustomerRecord{Email: "fixname@example.com", FirstName: &long, LastName: strp("Hopper")}, "service")
		require.NoError(t, err)
		failed := b.failedAttempt(t, res, db.CodeValidationFailed)

		next, err := svc.Retry(ctx, failed.ID, &Corrections{FirstName: strp("Grace")}, admin)
		require.NoError(t, err)
		require.Equal(t, []string{"firstName"}, next.Details["corrected"])
		require.Equal(t, "Grace", next.Details["firstName"])
		require.Equal(t, "Hopper", next.Details["lastName"])
		done := b.waitFinished(t, next.ID, 10*time.Second)
		require.Equal(t, db.StatusSuccess, done.Status, "error: %v", done.ErrorMessage)
		hc, ok := b.sim.CustomerByEmail("fixname@example.com")
		require.True(t, ok)
		require.Equal(t, "Grace", hc.FirstName)
		require.Equal(t, "Hopper", hc.LastName)
	})

	t.Run("customer history without a job", func(t *testing.T) {
		email := "history-fix@example.com"
		code := db.CodeValidationFailed
		failed := &db.SyncEvent{OccurredAt: time.Now().UTC().Add(-time.Hour), Type: db.EventCustomerSynced, Status: db.StatusFailed,
			Direction: db.DirectionToHelpScout, CustomerEmail: &email, ErrorCode: &code, Attempt: 1, Source: db.SourceCustomerUpdate,
			Details: map[string]any{"firstName": "Ada", "lastName": strings.Repeat("L", 41), "fields": []string{"firstName", "lastName"}}}
		require.NoError(t, upsertCustomer(ctx, b.bdb, email, nil, failed.OccurredAt))
		require.NoError(t, db.NewEventStore(b.bdb).Insert(ctx, b.bdb, []*db.SyncEvent{failed}))

		next, err := svc.Retry(ctx, failed.ID, &Corrections{LastName: strp("Lovelace")}, admin)
		require.NoError(t, err)
		require.NotNil(t, next.JobID, "a job rebuilt from the event")
		require.Equal(t, []string{"lastName"}, next.Details["corrected"])
		done := b.waitFinished(t, next.ID, 10*time.Second)
		require.Equal(t, db.StatusSuccess, done.Status, "error: %v", done.ErrorMessage)
		hc, ok := b.sim.CustomerByEmail(email)
		require.True(t, ok)
		require.Equal(t, "Ada", hc.FirstName)
		require.Equal(t, "Lovelace", hc.LastName)
	})

	t.Run("character HelpScout refuses", func(t *testing.T) {
		f := form("fix-3", "nul@example.com")
		f.Message = "bad \x00 byte"
		res, err := svc.SubmitContactForm(ctx, f, "service")
		require.NoError(t, err)
		failed := b.failedAttempt(t, res, db.CodeInvalidEncoding)

		_, err = svc.Retry(ctx, failed.ID, nil, admin)
		ae := requireCode(t, err, apperr.Conflict)
		require.Contains(t, ae.Message, "retry it with corrections")
		_, err = svc.Retry(ctx, failed.ID, &Corrections{Subject: strp("Still broken message")}, admin)
		ae = requireCode(t, err, apperr.BadUserInput)
		require.Equal(t, "corrections.message", ae.Argument)
		require.Contains(t, ae.Message, "characters HelpScout does not accept")
		_, err = svc.Retry(ctx, failed.ID, &Corrections{Message: strp("bad \xff byte")}, admin)
		ae = requireCode(t, err, apperr.BadUserInput)
		require.Equal(t, "corrections.message", ae.Argument)
		require.Contains(t, ae.Message, "not valid UTF-8")

		next, err := svc.Retry(ctx, failed.ID, &Corrections{Message: strp("good byte")}, admin)
		require.NoError(t, err)
		require.Equal(t, "good byte", next.Details["message"])
		require.Equal(t, len("good byte"), next.Details["messageBytes"])
		done := b.waitFinished(t, next.ID, 10*time.Second)
		require.Equal(t, db.StatusSuccess, done.Status, "error: %v", done.ErrorMessage)
		require.Equal(t, 1, b.sim.CountConversations("nul@example.com", "Order fix-3"))
	})
}

// TestRetryCorrectionsRefused checks that corrections that do not fit the
// failed record are refused, each field at fault named, and queue nothing.
func TestRetryCorrectionsRefused(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	res, err := svc.SubmitContactForm(ctx, form("bad-1", "bad@@example"), "service")
	require.NoError(t, err)
	ticket := b.failedAttempt(t, res, db.CodeInvalidEmail)
	long := strings.Repeat("y", 41)
	res, err = svc.SyncCustomer(ctx, CustomerRecord{Email: "badcust@example.com", LastName: &long}, "service")
	require.NoError(t, err)
	customer := b.failedAttempt(t, res, db.CodeValidationFailed)

	cases := []struct {
		name  string
		event *db.SyncEvent
		fix   Corrections
		want  []string // the arguments named, in order
	}{
		{"nothing to correct", ticket, Corrections{}, []string{"corrections"}},
		{"customer field on a ticket", ticket, Corrections{FirstName: strp("Ann"), Phone: strp("1")}, []string{"corrections.firstName", "corrections.phone"}},
		{"empty subject", ticket, Corrections{Subject: strp("  ")}, []string{"corrections.subject"}},
		{"empty email and long name", ticket, Corrections{Email: strp(""), Name: strp(strings.Repeat("n", maxNameLen+1))}, []string{"corrections.email", "corrections.name"}},
		{"ticket field on a customer", customer, Corrections{LastName: strp("Ok"), Subject: strp("Hi")}, []string{"corrections.subject"}},
		{"customer email", customer, Corrections{Email: strp("other@example.com")}, []string{"corrections.email"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Retry(ctx, tc.event.ID, &tc.fix, "admin")
			require.Error(t, err)
			var got []string
			for _, e := range flatten(err) {
				ae, ok := apperr.As(e)
				require.True(t, ok, "error: %v", e)
				require.Equal(t, apperr.BadUserInput, ae.Code, "message: %s", ae.Message)
				got = append(got, ae.Argument)
			}
			require.Equal(t, tc.want, got)
			require.Empty(t, b.retriesOf(t, tc.event.ID), "a refused retry queues nothing")
		})
	}
}

// flatten lists the errors errors.Join put together, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
