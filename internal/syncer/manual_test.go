package syncer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

// TestManualTicket: an Administrator's ticket goes to HelpScout like a
// contact form, logged with source MANUAL and the Administrator as actor;
// each call without a submission id creates a ticket; one standing in for
// a submission that already has a ticket creates none; bad input names
// every field at fault.
func TestManualTicket(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()

	in := ManualTicket{Email: " Grace@Example.com ", Name: strp("Grace Hopper"), Subject: "Form never arrived", Message: "Customer called about her order."}
	res, err := svc.CreateTicket(ctx, in, "admin-jo")
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.Equal(t, db.EventTicketCreated, res.Event.Type)
	require.Equal(t, db.StatusPending, res.Event.Status)
	require.Equal(t, db.SourceManual, res.Event.Source)
	require.Equal(t, "admin-jo", *res.Event.Actor)
	require.Equal(t, "admin-jo", res.Event.Details["createdBy"])
	require.Equal(t, "grace@example.com", *res.Event.CustomerEmail)
	require.True(t, strings.HasPrefix(*res.Event.SourceRef, "manual-"), *res.Event.SourceRef)

	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "event: %+v", e)
	require.NotNil(t, e.TicketNumber)
	require.Equal(t, db.SourceManual, e.Source)
	require.Equal(t, 1, b.sim.CountConversations("grace@example.com", "Form never arrived"))

	// Without a submission id, a second call is a second ticket.
	again, err := svc.CreateTicket(ctx, in, "admin-jo")
	require.NoError(t, err)
	require.False(t, again.Duplicate)
	require.NotEqual(t, *res.Event.SourceRef, *again.Event.SourceRef)
	b.waitFinished(t, again.Event.ID, 10*time.Second)
	require.Equal(t, 2, b.sim.CountConversations("grace@example.com", "Form never arrived"))

	// Standing in for a submission that already has a ticket: none more.
	form, err := svc.SubmitContactForm(ctx, form("web-77", "grace@example.com"), "service")
	require.NoError(t, err)
	b.waitFinished(t, form.Event.ID, 10*time.Second)
	dup, err := svc.CreateTicket(ctx, ManualTicket{Email: "grace@example.com", Subject: "Order web-77", Message: "again",
		SubmissionID: strp(" web-77 ")}, "admin-jo")
	require.NoError(t, err)
	require.True(t, dup.Duplicate)
	require.Equal(t, form.Event.ID, dup.Event.ID)
	require.Equal(t, 1, b.sim.CountConversations("grace@example.com", "Order web-77"))

	// Every field at fault is named at once.
	_, err = svc.CreateTicket(ctx, ManualTicket{Email: " ", Subject: "", Message: "m", SubmissionID: strp("  ")}, "admin-jo")
	for _, field := range []string{"input.email", "input.subject", "input.submissionId"} {
		require.ErrorContains(t, err, field)
	}
	require.NotContains(t, err.Error(), "input.message")
}
