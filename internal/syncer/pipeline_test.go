package syncer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/syncbuf"
)

// pipeBundle is a pipeline over a fresh database and a simulated HelpScout
// account reached over real HTTP.
type pipeBundle struct {
	bdb  *bun.DB
	dsn  string
	sim  *helpscoutsim.Server
	url  string
	opts Options
	logs *syncbuf.Buffer
}

// pipeSetup configures a pipeBundle.
type pipeSetup struct {
	// sim are the simulator's options.
	sim helpscoutsim.Options
	// wrap, when set, wraps the simulator's handler.
	wrap func(http.Handler) http.Handler
	// opts may change the service options.
	opts func(*Options)
}

func newPipe(t testing.TB, setup pipeSetup) *pipeBundle {
	t.Helper()
	sim := helpscoutsim.New(setup.sim)
	var h http.Handler = sim.Handler()
	if setup.wrap != nil {
		h = setup.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Stop)
	dsn, bdb := dbtest.NewDSN(t)
	b := &pipeBundle{bdb: bdb, dsn: dsn, sim: sim, url: srv.URL, logs: &syncbuf.Buffer{}}
	b.opts = Options{
		HelpScout: helpscout.Config{BaseURL: srv.URL, ClientID: "pipe-app", ClientSecret: "pipe-secret",
			MailboxID: helpscoutsim.DefaultMailboxID, Timeout: 5 * time.Second},
		Workers:       2,
		BatchInterval: time.Hour,
		Version:       "test",
		Log:           zerolog.New(b.logs),
		Lease:         3 * time.Second,
		PollInterval:  20 * time.Millisecond,
		RetryBase:     100 * time.Millisecond,
		StopTimeout:   10 * time.Second,
	}
	if setup.opts != nil {
		setup.opts(&b.opts)
	}
	return b
}

// service returns a new Service (a replica) over the bundle's database.
func (b *pipeBundle) service(t testing.TB) *Service {
	t.Helper()
	return New(b.bdb, b.opts)
}

// start returns a running Service, stopped when the test ends.
func (b *pipeBundle) start(t testing.TB) *Service {
	t.Helper()
	s := b.service(t)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(s.Stop)
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// event reads an event.
func (b *pipeBundle) event(t *testing.T, id int64) *db.SyncEvent {
	t.Helper()
	e, err := db.NewEventStore(b.bdb).Get(context.Background(), id)
	require.NoError(t, err)
	return e
}

// waitFinished waits until the event is no longer PENDING and returns it.
func (b *pipeBundle) waitFinished(t *testing.T, id int64, d time.Duration) *db.SyncEvent {
	t.Helper()
	var e *db.SyncEvent
	waitFor(t, d, "event to finish", func() bool {
		e = b.event(t, id)
		return e.Status != db.StatusPending
	})
	return e
}

// jobOf reads the job of an event.
func (b *pipeBundle) jobOf(t *testing.T, e *db.SyncEvent) *db.SyncJob {
	t.Helper()
	require.NotNil(t, e.JobID)
	j, err := db.NewJobStore(b.bdb).Get(context.Background(), b.bdb, *e.JobID)
	require.NoError(t, err)
	return j
}

// retriesOf returns the attempts that followed an event.
func (b *pipeBundle) retriesOf(t *testing.T, id int64) []*db.SyncEvent {
	t.Helper()
	rs, err := db.NewEventStore(b.bdb).RetriesOf(context.Background(), []int64{id})
	require.NoError(t, err)
	return rs
}

// count runs a count query.
func (b *pipeBundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.bdb.NewRaw(query, args...).Scan(context.Background(), &n))
	return n
}

func strp(s string) *string { return &s }

// form is a valid contact form.
func form(id, email string) ContactForm {
	return ContactForm{SubmissionID: id, Email: email, Name: strp("Ada Lovelace"),
		Subject: "Order " + id, Message: "Where is my order " + id + "?"}
}

// TestContactFormSuccess follows one submission from intake to SUCCESS.
func TestContactFormSuccess(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()

	res, err := svc.SubmitContactForm(ctx, form("s-1", "Ada@Example.com"), "service")
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.Equal(t, db.StatusPending, res.Event.Status)
	require.Equal(t, db.EventTicketCreated, res.Event.Type)
	require.Equal(t, db.SourceContactForm, res.Event.Source)
	require.Equal(t, "ada@example.com", *res.Event.CustomerEmail)
	require.Equal(t, "s-1", *res.Event.SourceRef)
	require.Equal(t, "Order s-1", res.Event.Details["subject"])

	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "event: %+v", e)
	require.NotNil(t, e.ConversationID)
	require.NotNil(t, e.TicketNumber)
	require.NotNil(t, e.HelpScoutURL())
	require.Equal(t, 201, *e.HTTPStatus)
	require.NotNil(t, e.DurationMs)
	require.NotEmpty(t, e.Details["logRef"])
	require.Equal(t, 1, b.sim.CountConversations("ada@example.com", "Order s-1"))
	cv, ok := b.sim.Conversation(*e.ConversationID)
	require.True(t, ok)
	require.Contains(t, cv.Tags, submissionTag("s-1"))

	conv, err := db.NewConversationStore(b.bdb).Get(ctx, *e.ConversationID)
	require.NoError(t, err)
	require.Equal(t, *e.TicketNumber, conv.Number)
	cust, err := db.NewCustomerStore(b.bdb).GetByEmail(ctx, "ada@example.com")
	require.NoError(t, err)
	require.Equal(t, "Ada Lovelace", *cust.Name)
	require.Equal(t, db.StatusSuccess, *cust.LastSyncStatus)
	j := b.jobOf(t, e)
	require.Equal(t, db.JobDone, j.State)
	require.Equal(t, 1, j.Attempts)
	// The worker counts a finished job once its transaction has committed,
	// so the count may trail the row just read.
	require.Eventually(t, func() bool { return svc.jobsDone.Load() == 1 }, 5*time.Second, 5*time.Millisecond,
		"the finished job is counted")
}

// requireBadInput checks err is BAD_USER_INPUT naming argument.
func requireBadInput(t *testing.T, err error, argument string) {
	t.Helper()
	require.Error(t, err)
	ae, ok := apperr.As(err)
	require.True(t, ok, "error: %v", err)
	require.Equal(t, apperr.BadUserInput, ae.Code)
	require.Equal(t, argument, ae.Argument)
}

// TestTextLikeEscapes sends records whose text looks like a JSON escape
// (a customer pasting code): they reach HelpScout and the log as typed.
func TestTextLikeEscapes(t *testing.T) {
	t.Parallel()
	b := newPipe(t, pipeSetup{})
	svc := b.start(t)
	ctx := context.Background()
	const text = `Error \u0000 in export \\u0000`
	f := form("esc-1", "esc@example.com")
	f.Subject, f.Message = text, "Stack: "+text
	res, err := svc.SubmitContactForm(ctx, f, "service")
	require.NoError(t, err)
	e := b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	require.Equal(t, text, e.Details["subject"])
	require.Equal(t, "Stack: "+text, e.Details["message"])
	require.Equal(t, 1, b.sim.CountConversations("esc@example.com", text))

	res, err = svc.SyncCustomer(ctx, CustomerRecord{Email: "esc2@example.com", Location: strp(text)}, "service")
	require.NoError(t, err)
	e = b.waitFinished(t, res.Event.ID, 10*time.Second)
	require.Equal(t, db.StatusSuccess, e.Status, "error: %v", e.ErrorMessage)
	require.Equal(t, text, e.Details["location"])
}
