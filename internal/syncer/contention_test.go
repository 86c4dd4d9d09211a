package syncer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// TestIntakeBesideWorkersDoesNotDeadlock submits contact forms, customer
// records and customer webhooks for a few customers from many goroutines
// while workers finish earlier jobs of the same customers. Every writer takes the customer row
// before the rollup rows that all event writes share, so no transaction
// waits on another in a cycle: PostgreSQL reports no deadlock, and nothing
// has to be run again. (Not parallel: it reads a process-wide counter.)
func TestIntakeBesideWorkersDoesNotDeadlock(t *testing.T) {
	b := newPipe(t, pipeSetup{sim: helpscoutsim.Options{RateLimitPerMinute: 1_000_000}, opts: func(o *Options) { o.Workers = 4 }})
	s := b.start(t)
	ctx := context.Background()
	emails := []string{"ann@example.com", "ben@example.com", "cy@example.com"}
	hooks := db.NewWebhookStore(b.bdb)
	before := db.Retries()

	const rounds, perRound = 40, 16
	var wg sync.WaitGroup
	errs := make(chan error, rounds*perRound)
	for r := range rounds {
		for i := range perRound {
			wg.Add(1)
			go func() {
				defer wg.Done()
				email := emails[(r+i)%len(emails)]
				var err error
				switch i % 3 {
				case 0:
					_, err = s.SubmitContactForm(ctx, form(fmt.Sprintf("burst-%d-%d", r, i), email), "test")
				case 1:
					_, err = s.SyncCustomer(ctx, CustomerRecord{Email: email, FirstName: strp(fmt.Sprintf("N%d", r))}, "test")
				default:
					// A customer.updated webhook from HelpScout.
					e := &db.SyncEvent{OccurredAt: time.Now(), Type: db.EventCustomerUpdated, Status: db.StatusSuccess,
						Direction: db.DirectionFromHelpScout, CustomerEmail: &email, Details: map[string]any{"event": "customer.updated"}}
					_, _, err = hooks.Record(ctx, db.Delivery{ID: fmt.Sprintf("hook-%d-%d", r, i), Event: e,
						Customers: []db.WebhookCustomer{{Email: email, Name: strp("From HelpScout")}}})
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	waitFor(t, 60*time.Second, "every job to finish", func() bool {
		return b.count(t, `SELECT count(*) FROM sync_jobs WHERE state IN ('QUEUED', 'RUNNING') AND run_at <> ?`, db.BatchRunAt) == 0
	})
	require.Zero(t, db.Retries()-before, "transactions run again after a deadlock")
}
