package webhooks_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// TestNULInWebhookText: a webhook whose text holds NUL characters, which
// PostgreSQL cannot store, is recorded without them, and the customer
// updated.
func TestNULInWebhookText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cu := b.sim.AddCustomer(helpscoutsim.Customer{FirstName: "Ni\x00na", LastName: "Lo\x00",
		Emails: []helpscoutsim.Entry{{Value: "nina@example.com"}}})
	body, ok := b.sim.CustomerJSON(cu.ID)
	require.True(t, ok)
	status, err := b.sim.SendWebhook(ctx, b.hook, "customer.updated", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	es := b.events(t)
	require.Len(t, es, 1)
	require.Equal(t, db.EventCustomerUpdated, es[0].Type)
	require.Equal(t, "Nina Lo", es[0].Details["name"])
	got, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, "nina@example.com")
	require.NoError(t, err)
	require.Equal(t, "Nina Lo", *got.Name)
}
