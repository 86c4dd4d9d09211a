package helpscout_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

const (
	testClientID = "app-id-123"
	testSecret   = "s3cret-app-secret-value"
	testMailbox  = helpscoutsim.DefaultMailboxID
)

// clock is a manual clock shared by the client and the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	// 15 s into a minute, so a 429 asks to wait 45 s.
	return &clock{t: time.Date(2026, 3, 2, 12, 0, 15, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	sim    *helpscoutsim.Server
	client *helpscout.Client
	clock  *clock
	cfg    helpscout.Config
}

type option func(*helpscoutsim.Options, *helpscout.Config)

func setup(t *testing.T, opts ...option) *testBundle {
	t.Helper()
	clk := newClock()
	simOpts := helpscoutsim.Options{ClientID: testClientID, ClientSecret: testSecret, Now: clk.Now}
	cfg := helpscout.Config{ClientID: testClientID, ClientSecret: testSecret, MailboxID: testMailbox,
		Now: clk.Now, Timeout: 5 * time.Second}
	for _, o := range opts {
		o(&simOpts, &cfg)
	}
	sim := helpscoutsim.New(simOpts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Stop) // runs first: releases requests held by faults
	cfg.BaseURL = srv.URL
	return &testBundle{sim: sim, client: helpscout.New(cfg), clock: clk, cfg: cfg}
}

func withRateLimit(n int) option {
	return func(o *helpscoutsim.Options, _ *helpscout.Config) { o.RateLimitPerMinute = n }
}

func withTimeout(d time.Duration) option {
	return func(_ *helpscoutsim.Options, c *helpscout.Config) { c.Timeout = d }
}

func asError(t *testing.T, err error) *helpscout.Error {
	t.Helper()
	require.Error(t, err)
	var e *helpscout.Error
	require.True(t, errors.As(err, &e), "want *helpscout.Error, got %T: %v", err, err)
	return e
}

func contactForm(email, subject string) helpscout.ConversationInput {
	return helpscout.ConversationInput{
		Subject: subject, CustomerEmail: email, CustomerFirstName: "Ann", CustomerLastName: "Lee",
		Text: "My order has not arrived.",
	}
}

func TestTokenCachedAcrossCalls(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	first, err := b.client.Ping(ctx)
	require.NoError(t, err)
	require.Len(t, first.Calls, 2, "token request, then the mailbox")
	require.Equal(t, "/v2/oauth2/token", first.Calls[0].Path)
	require.Equal(t, http.StatusOK, first.Status)
	require.Equal(t, "/v2/mailboxes/312345", first.Path)
	require.NotEmpty(t, first.LogRef)

	for range 9 {
		res, err := b.client.Ping(ctx)
		require.NoError(t, err)
		require.Len(t, res.Calls, 1)
	}
	require.Equal(t, 1, b.sim.State().TokensIssued)
	require.Equal(t, b.clock.Now().Add(helpscoutsim.DefaultTokenTTL), b.client.TokenExpiry())
}

func TestTokenRenewal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration
		renewed bool
	}{
		{"still valid", 58 * time.Minute, false},
		{"renewed a little before expiry", 59*time.Minute + 30*time.Second, true},
		{"renewed after expiry", 3 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *helpscoutsim.Options, _ *helpscout.Config) { o.TokenTTL = time.Hour })
			ctx := context.Background()
			_, err := b.client.Ping(ctx)
			require.NoError(t, err)
			require.Equal(t, b.clock.Now().Add(time.Hour), b.client.TokenExpiry())

			b.clock.Advance(tt.advance)
			res, err := b.client.Ping(ctx)
			require.NoError(t, err)
			require.False(t, res.TokenRenewed, "renewal happens before HelpScout refuses the token")
			want := 1
			if tt.renewed {
				want = 2
				require.Equal(t, b.clock.Now().Add(time.Hour), b.client.TokenExpiry())
			}
			require.Equal(t, want, b.sim.State().TokensIssued)
			require.Zero(t, b.sim.State().Count("GET /v2/mailboxes/{id}", http.StatusUnauthorized))
		})
	}
}

func TestTokenRenewedOnceAfter401(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.Ping(ctx)
	require.NoError(t, err)

	b.sim.SetFaults(helpscoutsim.Faults{ExpireTokens: true})
	res, err := b.client.Ping(ctx)
	require.NoError(t, err)
	require.True(t, res.TokenRenewed)
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, res.Calls, 3, "refused call, token, repeated call")
	require.Equal(t, http.StatusUnauthorized, res.Calls[0].Status)

	st := b.sim.State()
	require.Equal(t, 2, st.TokensIssued)
	require.Equal(t, 1, st.Count("GET /v2/mailboxes/{id}", http.StatusUnauthorized))
}

func TestConcurrent401sRenewOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.Ping(ctx)
	require.NoError(t, err)
	b.sim.ExpireTokens()

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := b.client.Ping(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2, b.sim.State().TokensIssued)
}

func TestConcurrentCallsShareOneToken(t *testing.T) {
	t.Parallel()
	// A little latency makes the callers overlap while the token is fetched.
	b := setup(t)
	b.sim.SetFaults(helpscoutsim.Faults{LatencyMs: 20})
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = b.client.Ping(ctx)
			} else {
				_, _, err = b.client.FindCustomerByEmail(ctx, "nobody@example.com")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := b.sim.State()
	require.Equal(t, 1, st.TokensIssued)
	require.Equal(t, 1, st.Count("POST /v2/oauth2/token"))
}

func TestRevokedCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.Ping(ctx)
	require.NoError(t, err)

	b.sim.SetFaults(helpscoutsim.Faults{RevokeCredentials: true})
	res, err := b.client.Ping(ctx)
	e := asError(t, err)
	require.Equal(t, db.CodeAuthenticationFailed, e.Code)
	require.Equal(t, http.StatusUnauthorized, e.Status)
	require.False(t, e.Transient)
	require.True(t, res.TokenRenewed)
	require.Equal(t, "/v2/oauth2/token", res.Path, "the token request decided the outcome")
	require.NotContains(t, err.Error(), testSecret)
	require.Zero(t, b.client.TokenExpiry())
}

func TestWrongSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *helpscoutsim.Options, c *helpscout.Config) { c.ClientSecret = "wrong-secret-value" })
	_, _, err := b.client.CreateConversation(context.Background(), contactForm("ann@example.com", "Hello"))
	e := asError(t, err)
	require.Equal(t, db.CodeAuthenticationFailed, e.Code)
	require.Equal(t, http.StatusUnauthorized, e.Status)
	require.Contains(t, e.Message, "invalid_client")
	require.NotContains(t, err.Error(), "wrong-secret-value")
	require.NotContains(t, b.cfg.String(), testSecret)
	require.Zero(t, b.sim.State().ConversationsCreated)
}

func TestSetConfigDropsToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.Ping(ctx)
	require.NoError(t, err)
	require.False(t, b.client.TokenExpiry().IsZero())

	cfg := b.cfg
	cfg.MailboxID = 999
	b.client.SetConfig(cfg)
	require.Zero(t, b.client.TokenExpiry())
	_, err = b.client.Ping(ctx)
	require.Equal(t, db.CodeMailboxNotFound, asError(t, err).Code)
	require.Equal(t, 2, b.sim.State().TokensIssued)
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 41)
	tests := []struct {
		name      string
		opts      []option
		faults    *helpscoutsim.Faults
		call      func(ctx context.Context, b *testBundle) error
		code      db.ErrorCode
		status    int
		transient bool
		message   string
	}{
		{
			name: "invalid email on a conversation",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateConversation(ctx, contactForm("not-an-email", "Hello"))
				return err
			},
			code: db.CodeInvalidEmail, status: 400, message: "customer.email: Not well-formed email address",
		},
		{
			name: "invalid email on a customer",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "ann@", FirstName: "Ann"})
				return err
			},
			code: db.CodeInvalidEmail, status: 400, message: "Not well-formed email address",
		},
		{
			name: "missing subject",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateConversation(ctx, contactForm("ann@example.com", ""))
				return err
			},
			code: db.CodeMissingRequiredField, status: 400, message: "subject: may not be empty",
		},
		{
			name: "unknown mailbox on create",
			call: func(ctx context.Context, b *testBundle) error {
				in := contactForm("ann@example.com", "Hello")
				in.MailboxID = 999
				_, _, err := b.client.CreateConversation(ctx, in)
				return err
			},
			code: db.CodeMailboxNotFound, status: 400, message: "mailboxId: Invalid mailbox",
		},
		{
			name: "unknown mailbox on ping",
			opts: []option{func(_ *helpscoutsim.Options, c *helpscout.Config) { c.MailboxID = 999 }},
			call: func(ctx context.Context, b *testBundle) error {
				_, err := b.client.Ping(ctx)
				return err
			},
			code: db.CodeMailboxNotFound, status: 404,
		},
		{
			name: "first name too long",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "ann@example.com", FirstName: long})
				return err
			},
			code: db.CodeValidationFailed, status: 400, message: "firstName: size must be between 1 and 40",
		},
		{
			name: "customer name too long in a conversation",
			call: func(ctx context.Context, b *testBundle) error {
				in := contactForm("ann@example.com", "Hello")
				in.CustomerLastName = long
				_, _, err := b.client.CreateConversation(ctx, in)
				return err
			},
			code: db.CodeValidationFailed, status: 400, message: "customer.lastName: size must be between 1 and 40",
		},
		{
			name: "job title too long",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "ann@example.com", JobTitle: strings.Repeat("y", 61)})
				return err
			},
			code: db.CodeValidationFailed, status: 400, message: "jobTitle: size must be between 0 and 60",
		},
		{
			name: "duplicate customer email",
			call: func(ctx context.Context, b *testBundle) error {
				b.sim.AddCustomer(helpscoutsim.Customer{Emails: []helpscoutsim.Entry{{Value: "ann@example.com"}}})
				_, _, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "ann@example.com"})
				return err
			},
			code: db.CodeValidationFailed, status: 409, message: "already exists",
		},
		{
			name: "invalid UTF-8 refused before sending",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateConversation(ctx, contactForm("ann@example.com", "Bad \xff\xfe subject"))
				return err
			},
			code: db.CodeInvalidEncoding, status: 0, message: "subject is not valid UTF-8",
		},
		{
			name: "NUL character refused by HelpScout",
			call: func(ctx context.Context, b *testBundle) error {
				in := contactForm("ann@example.com", "Hello")
				in.Text = "line one\x00line two"
				_, _, err := b.client.CreateConversation(ctx, in)
				return err
			},
			code: db.CodeInvalidEncoding, status: 400, message: "invalid character",
		},
		{
			name:   "rate limited",
			faults: &helpscoutsim.Faults{RateLimited: true},
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.GetConversation(ctx, helpscoutsim.FirstConversationID)
				return err
			},
			code: db.CodeRateLimited, status: 429, transient: true, message: "API rate limit exceeded",
		},
		{
			name:   "timeout while HelpScout hangs",
			opts:   []option{withTimeout(100 * time.Millisecond)},
			faults: &helpscoutsim.Faults{Timeout: true},
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateConversation(ctx, contactForm("ann@example.com", "Hello"))
				return err
			},
			code: db.CodeTimeout, status: 0, transient: true,
		},
		{
			name:   "timeout on a slow answer",
			opts:   []option{withTimeout(50 * time.Millisecond)},
			faults: &helpscoutsim.Faults{LatencyMs: 2000},
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.GetConversation(ctx, helpscoutsim.FirstConversationID)
				return err
			},
			code: db.CodeTimeout, status: 0, transient: true,
		},
		{
			name:   "5xx burst",
			faults: &helpscoutsim.Faults{Status5xxBurst: 5},
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "ann@example.com"})
				return err
			},
			code: db.CodeHelpScoutUnavailable, status: 500, transient: true, message: "Internal error",
		},
		{
			name:   "503 burst",
			faults: &helpscoutsim.Faults{Status5xxBurst: 1, BurstStatus: 503},
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.GetConversation(ctx, helpscoutsim.FirstConversationID)
				return err
			},
			code: db.CodeHelpScoutUnavailable, status: 503, transient: true,
		},
		{
			name: "missing conversation",
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.GetConversation(ctx, 42)
				return err
			},
			code: db.CodeNotFound, status: 404, message: "Resource not found",
		},
		{
			name: "missing customer on update",
			call: func(ctx context.Context, b *testBundle) error {
				_, err := b.client.UpdateCustomer(ctx, 42, helpscout.CustomerInput{FirstName: "Ann"})
				return err
			},
			code: db.CodeNotFound, status: 404,
		},
		{
			name:   "unexpected status",
			faults: &helpscoutsim.Faults{Status5xxBurst: 1, BurstStatus: http.StatusTeapot},
			call: func(ctx context.Context, b *testBundle) error {
				_, _, err := b.client.GetConversation(ctx, helpscoutsim.FirstConversationID)
				return err
			},
			code: db.CodeUnknown, status: http.StatusTeapot,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts...)
			ctx := context.Background()
			if tt.faults != nil {
				// Take the token first, so that the fault meets the call itself.
				_, _, err := b.client.FindCustomerByEmail(ctx, "warmup@example.com")
				require.NoError(t, err)
				b.sim.SetFaults(*tt.faults)
			}
			before := b.sim.State()
			e := asError(t, tt.call(ctx, b))
			require.Equal(t, tt.code, e.Code, "error: %v", e)
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.transient, e.Transient)
			require.Contains(t, e.Message, tt.message)
			if tt.status >= 400 {
				require.NotEmpty(t, e.LogRef, "HelpScout's logRef is kept")
			}
			if tt.code == db.CodeRateLimited {
				require.Equal(t, 45*time.Second, e.RetryAfter)
			}
			if tt.status == 0 && tt.code == db.CodeInvalidEncoding {
				require.Equal(t, before.Requests, b.sim.State().Requests, "nothing was sent")
			}
			require.NotContains(t, e.Error(), testSecret)
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c := helpscout.New(helpscout.Config{BaseURL: "http://" + addr, ClientID: "id", ClientSecret: "secret", MailboxID: 1})
	_, err = c.Ping(context.Background())
	e := asError(t, err)
	require.Equal(t, db.CodeHelpScoutUnavailable, e.Code)
	require.True(t, e.Transient)
}

func TestWriteTimeoutOutcomeUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t, withTimeout(100*time.Millisecond))
	ctx := context.Background()
	_, err := b.client.Ping(ctx)
	require.NoError(t, err)
	b.sim.SetFaults(helpscoutsim.Faults{Timeout: true})

	_, _, err = b.client.CreateConversation(ctx, contactForm("ann@example.com", "Hello"))
	e := asError(t, err)
	require.Equal(t, db.CodeTimeout, e.Code)
	require.True(t, e.OutcomeUnknown, "a write that timed out may have happened")
	require.True(t, errors.Is(err, context.DeadlineExceeded))

	_, _, err = b.client.GetConversation(ctx, 1)
	require.False(t, asError(t, err).OutcomeUnknown, "a read changes nothing")
}

func TestCallerDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sim.SetFaults(helpscoutsim.Faults{Timeout: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.client.Ping(ctx)
	require.Equal(t, db.CodeTimeout, asError(t, err).Code)
	require.Equal(t, db.CodeTimeout, helpscout.CodeOf(err))
	require.True(t, helpscout.IsTransient(err))
}
