package syncer

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// FuzzContactFormPipeline submits contact forms whose fields the fuzzer
// chooses and follows each through the running workers to the simulated
// HelpScout. Whatever the fields, the form is refused at intake with
// BAD_USER_INPUT for each field at fault, or its event ends either
// SUCCESS, with a ticket the simulator holds under the event's
// conversation id and number, or FAILED, with one of the log's error codes
// and a message: never left PENDING, never lost. Under go test only the
// seeds run; to search further:
//
//	go test -run '^$' -fuzz FuzzContactFormPipeline -fuzztime 5m ./internal/syncer/
func FuzzContactFormPipeline(f *testing.F) {
	// A budget no fuzzing reaches: the pacing behind HelpScout's rate limit
	// has tests of its own, and a paced input would look hung.
	b := newPipe(f, pipeSetup{sim: helpscoutsim.Options{RateLimitPerMinute: 1 << 30}})
	svc := b.start(f)
	for i, s := range [][4]string{
		{"ada@example.com", "Ada Lovelace", "Order 1", "Where is my order?"},
		{"not-an-address", "Ada", "Order", "Hi"},
		{"ada@example.com", "", "", ""},
		{" ada@example.com ", "Ada\x00", "Sub\x00ject", "Mess\x00age"},
		{"ada@example.com", strings.Repeat("n", 300), strings.Repeat("s", 300), strings.Repeat("m", 70000)},
		{"ádá@exämple.com", "Ådä Ünïcode 漢字", "Заказ 🙂", "\u202eright-to-left"},
		{"a@b", "=cmd|' /C calc'!A0", "+SUM(1)", "@import"},
		{"ada@example.com", "\xff\xfe", "\xc3\x28", "ok"},
		{"nul\x00@example.com", "Ada", "Order", "Hi"},
		{"ada@example.com", "Ada\x00Lovelace", "Order", "Hi"},
		{"\xffada@example.com", "Ada\xc3", "Order", "Hi"},
	} {
		f.Add([]string{"fz", "fz\x00", "fz\xff", " "}[i%4], s[0], s[1], s[2], s[3])
	}
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, ref, email, name, subject, message string) {
		ctx := context.Background()
		id := fmt.Sprintf("%s-%d-%d", ref, os.Getpid(), seq.Add(1))
		res, err := svc.SubmitContactForm(ctx, ContactForm{SubmissionID: id, Email: email, Name: &name, Subject: subject, Message: message}, "service")
		if err != nil {
			requireRefused(t, err, func(arg string) bool { return arg != "" })
			return
		}
		requireEnded(t, b, b.waitFinished(t, res.Event.ID, 60*time.Second))
	})
}

// FuzzRetryCorrections retries a ticket HelpScout refused (a malformed
// email) with corrections the fuzzer chooses (mask picks the fields sent:
// email, name, subject, message). The retry is refused with BAD_USER_INPUT
// naming each correction at fault, or its new attempt, linked to the
// failed one, ends SUCCESS with a ticket the simulator holds or FAILED
// with one of the log's codes and a message.
//
//	go test -run '^$' -fuzz FuzzRetryCorrections -fuzztime 5m ./internal/syncer/
func FuzzRetryCorrections(f *testing.F) {
	b := newPipe(f, pipeSetup{sim: helpscoutsim.Options{RateLimitPerMinute: 1 << 30}})
	svc := b.start(f)
	for _, s := range []struct {
		mask                          uint8
		email, name, subject, message string
	}{
		{1, "ada@example.com", "", "", ""},
		{15, "ada@example.com", "Ada", "Order", "Where is it?"},
		{1, "still-not-an-address", "", "", ""},
		{0, "", "", "", ""},
		{2, "", "Ada\x00", "", ""},
		{4, "", "", "   ", ""},
		{8, "", "", "", strings.Repeat("m", 70000)},
		{1, "a\x00@example.com", "", "", ""},
		{1, "\xff@example.com", "", "", ""},
		{6, "", "\xff", "", ""},
	} {
		f.Add(s.mask, s.email, s.name, s.subject, s.message)
	}
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, mask uint8, email, name, subject, message string) {
		ctx := context.Background()
		res, err := svc.SubmitContactForm(ctx, form(fmt.Sprintf("rc-%d-%d", os.Getpid(), seq.Add(1)), "not-an-address"), "service")
		require.NoError(t, err)
		failed := b.failedAttempt(t, res, db.CodeInvalidEmail)
		fix := &Corrections{}
		for i, v := range []struct {
			dst **string
			val string
		}{{&fix.Email, email}, {&fix.Name, name}, {&fix.Subject, subject}, {&fix.Message, message}} {
			if mask&(1<<i) != 0 {
				*v.dst = &v.val
			}
		}
		next, err := svc.Retry(ctx, failed.ID, fix, "admin")
		if err != nil {
			requireRefused(t, err, func(arg string) bool { return arg == "corrections" || strings.HasPrefix(arg, "corrections.") })
			return
		}
		require.NotNil(t, next.RetryOfID)
		require.Equal(t, failed.ID, *next.RetryOfID)
		requireEnded(t, b, b.waitFinished(t, next.ID, 60*time.Second))
	})
}

// requireEnded checks a finished attempt: SUCCESS with a ticket the
// simulator holds, or FAILED with one of the log's codes and a message.
func requireEnded(t *testing.T, b *pipeBundle, e *db.SyncEvent) {
	t.Helper()
	switch e.Status {
	case db.StatusSuccess:
		require.NotNil(t, e.ConversationID, "a ticket without a conversation")
		require.NotNil(t, e.TicketNumber, "a ticket without a number")
		raw, ok := b.sim.ConversationJSON(*e.ConversationID)
		require.True(t, ok, "HelpScout holds no conversation %d", *e.ConversationID)
		conv, err := helpscout.ParseConversation(raw)
		require.NoError(t, err)
		require.Equal(t, *e.TicketNumber, conv.Number)
	case db.StatusFailed:
		require.NotNil(t, e.ErrorCode, "a failure without a code")
		require.True(t, slices.Contains(db.ErrorCodes, *e.ErrorCode), "code %q", *e.ErrorCode)
		require.NotNil(t, e.ErrorMessage)
		require.NotEmpty(t, *e.ErrorMessage)
	default:
		t.Fatalf("event %d ended %s", e.ID, e.Status)
	}
}

// FuzzCustomerRecord sends customer records whose email and fields the
// fuzzer chooses, for customers HelpScout does not know yet, so that each
// is sent at once (CUSTOMER_SYNCED). The record is refused at intake with
// BAD_USER_INPUT naming each field at fault, or its event ends SUCCESS
// with a customer the simulator holds under the id in its details, or
// FAILED with one of the log's codes and a message.
//
//	go test -run '^$' -fuzz FuzzCustomerRecord -fuzztime 5m ./internal/syncer/
func FuzzCustomerRecord(f *testing.F) {
	b := newPipe(f, pipeSetup{sim: helpscoutsim.Options{RateLimitPerMinute: 1 << 30}})
	svc := b.start(f)
	for _, s := range [][5]string{
		{"ann", "Ann", "Lee", "Engineer", "+1 555 0100"},
		{"bad address", "", "", "", ""},
		{"ann", strings.Repeat("a", 41), "Lee", "", ""},
		{"ann", "Ann\x00", "\xff", "", ""},
		{"ÅNN", "Ånn", "Lée", "漢字", "☎"},
		{"ann\x00", "Ann", "", "", ""},
		{"", "", "", "", ""},
		{"ann", "=cmd", "+1", "@x", "-2"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	var seq atomic.Int64
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	f.Fuzz(func(t *testing.T, local, first, last, title, phone string) {
		ctx := context.Background()
		// A fresh address each time: a known customer's record waits for
		// the next batch.
		email := fmt.Sprintf("%s-%d-%d@example.com", local, os.Getpid(), seq.Add(1))
		res, err := svc.SyncCustomer(ctx, CustomerRecord{Email: email, FirstName: opt(first), LastName: opt(last),
			JobTitle: opt(title), Phone: opt(phone)}, "service")
		if err != nil {
			requireRefused(t, err, func(arg string) bool { return strings.HasPrefix(arg, "input.") })
			return
		}
		require.Equal(t, db.EventCustomerSynced, res.Event.Type)
		e := b.waitFinished(t, res.Event.ID, 60*time.Second)
		switch e.Status {
		case db.StatusSuccess:
			id, ok := e.Details["customerId"].(float64)
			require.True(t, ok, "no customer id in %v", e.Details)
			_, held := b.sim.CustomerJSON(int64(id))
			require.True(t, held, "HelpScout holds no customer %v", id)
		case db.StatusFailed:
			require.NotNil(t, e.ErrorCode, "a failure without a code")
			require.True(t, slices.Contains(db.ErrorCodes, *e.ErrorCode), "code %q", *e.ErrorCode)
			require.NotEmpty(t, *e.ErrorMessage)
		default:
			t.Fatalf("event %d ended %s", e.ID, e.Status)
		}
	})
}

// requireRefused checks an intake or retry refused for its input: every
// error it joins is BAD_USER_INPUT naming an argument that names accepts.
func requireRefused(t *testing.T, err error, names func(arg string) bool) {
	t.Helper()
	for _, e := range flatten(err) {
		ae, ok := apperr.As(e)
		require.True(t, ok, "refused with %T: %v", e, e)
		require.Equal(t, apperr.BadUserInput, ae.Code, "%v", e)
		require.True(t, names(ae.Argument), "%v", e)
	}
}
