package syncer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
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

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	adminClientID = "admin-app-id"
	adminSecret   = "admin-S3CRET-value-1234"
	adminHookKey  = "hook-S3CRET-value-5678"
)

// adminBundle is a Service over a fresh database whose environment points
// at a simulated HelpScout account.
type adminBundle struct {
	bdb    *bun.DB
	sim    *helpscoutsim.Server
	simURL string
	svc    *Service
	logs   *syncbuf.Buffer
}

// newAdmin builds a service; mod may change its options.
func newAdmin(t *testing.T, mod func(*Options)) *adminBundle {
	t.Helper()
	sim := helpscoutsim.New(helpscoutsim.Options{ClientID: adminClientID, ClientSecret: adminSecret})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Stop)
	b := &adminBundle{bdb: dbtest.New(t), sim: sim, simURL: srv.URL, logs: &syncbuf.Buffer{}}
	opts := Options{
		HelpScout: helpscout.Config{BaseURL: srv.URL, ClientID: adminClientID, ClientSecret: adminSecret,
			MailboxID: helpscoutsim.DefaultMailboxID, Timeout: 5 * time.Second},
		WebhookSecret: "env-hook-secret",
		BatchInterval: time.Minute,
		Version:       "test",
		Log:           zerolog.New(b.logs),
	}
	if mod != nil {
		mod(&opts)
	}
	b.svc = New(b.bdb, opts)
	return b
}

// replica is another Service on the same database with the same environment.
func (b *adminBundle) replica() *Service { return New(b.bdb, b.svc.opts) }

// TestValidateSettings checks each rule: a bad value names its field and
// the message never repeats a secret.
func TestValidateSettings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxSecretLen+1)
	cases := []struct {
		name  string
		in    SettingsInput
		field string
	}{
		{"relative url", SettingsInput{APIURL: ptr("/v2")}, "input.apiUrl"},
		{"no scheme", SettingsInput{APIURL: ptr("api.helpscout.net")}, "input.apiUrl"},
		{"ftp", SettingsInput{APIURL: ptr("ftp://api.helpscout.net")}, "input.apiUrl"},
		{"credentials in url", SettingsInput{APIURL: ptr("https://user:" + adminSecret + "@api.helpscout.net")}, "input.apiUrl"},
		{"query", SettingsInput{APIURL: ptr("https://api.helpscout.net?x=1")}, "input.apiUrl"},
		{"the API's path", SettingsInput{APIURL: ptr("https://api.helpscout.net/v2")}, "input.apiUrl"},
		{"empty url", SettingsInput{APIURL: ptr("  ")}, "input.apiUrl"},
		{"empty client id", SettingsInput{ClientID: ptr(" ")}, "input.clientId"},
		{"empty client secret", SettingsInput{ClientSecret: ptr("")}, "input.clientSecret"},
		{"long client secret", SettingsInput{ClientSecret: ptr(long + adminSecret)}, "input.clientSecret"},
		{"empty webhook secret", SettingsInput{WebhookSecret: ptr("\t")}, "input.webhookSecret"},
		{"long webhook secret", SettingsInput{WebhookSecret: ptr(long + adminHookKey)}, "input.webhookSecret"},
		{"zero mailbox", SettingsInput{MailboxID: ptr(int64(0))}, "input.mailboxId"},
		{"negative mailbox", SettingsInput{MailboxID: ptr(int64(-4))}, "input.mailboxId"},
		{"batch too short", SettingsInput{BatchIntervalSeconds: ptr(9)}, "input.batchIntervalSeconds"},
		{"batch too long", SettingsInput{BatchIntervalSeconds: ptr(86401)}, "input.batchIntervalSeconds"},
		{"value and reset", SettingsInput{ClientSecret: ptr(adminSecret), Reset: []db.SettingField{db.SettingClientSecret}}, "input.reset"},
		{"unknown reset", SettingsInput{Reset: []db.SettingField{"PAUSED"}}, "input.reset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := validateSettings(tc.in)
			require.Error(t, err)
			ae, ok := apperr.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, apperr.BadUserInput, ae.Code)
			require.Equal(t, tc.field, ae.Argument)
			require.NotContains(t, err.Error(), adminSecret)
			require.NotContains(t, err.Error(), adminHookKey)
		})
	}

	good := []SettingsInput{
		{APIURL: ptr("https://api.helpscout.net/")},
		{APIURL: ptr("http://127.0.0.1:9090")},
		{ClientSecret: ptr(strings.Repeat("y", maxSecretLen))},
		{MailboxID: ptr(int64(1)), BatchIntervalSeconds: ptr(10), Paused: ptr(true)},
		{BatchIntervalSeconds: ptr(86400)},
		{ClientSecret: ptr("s"), Reset: []db.SettingField{db.SettingAPIURL, db.SettingMailboxID}},
		{},
	}
	for _, in := range good {
		_, err := validateSettings(in)
		require.NoError(t, err, "%+v", in)
	}
	p, err := validateSettings(SettingsInput{Reset: []db.SettingField{db.SettingAPIURL, db.SettingBatchInterval, db.SettingAPIURL}})
	require.NoError(t, err)
	require.Equal(t, []db.SettingField{db.SettingAPIURL, db.SettingBatchInterval}, p.Reset, "each setting once")
}

func ptr[T any](v T) *T { return &v }

// TestSettingsMergeAndApply saves settings through one replica: it applies
// them at once (the client talks to the new account), the other replica
// picks them up when it re-reads, and no secret reaches the logs.
func TestSettingsMergeAndApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAdmin(t, nil)
	other := b.replica()

	// Before anything is saved the environment applies.
	st, err := b.svc.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, &Settings{APIURL: b.simURL, ClientID: ptr(adminClientID), ClientSecretSet: true,
		MailboxID: ptr(int64(helpscoutsim.DefaultMailboxID)), WebhookSecretSet: true, BatchIntervalSeconds: 60}, st)
	require.Equal(t, "env-hook-secret", b.svc.WebhookSecret(ctx))

	// A second account with other credentials and mailboxes.
	sim2 := helpscoutsim.New(helpscoutsim.Options{ClientID: "second-app", ClientSecret: "second-" + adminSecret, MailboxIDs: []int64{777}})
	srv2 := httptest.NewServer(sim2.Handler())
	t.Cleanup(srv2.Close)
	t.Cleanup(sim2.Stop)

	require.NoError(t, other.loadSettings(ctx))
	st, err = b.svc.UpdateSettings(ctx, SettingsInput{
		APIURL: ptr(srv2.URL + "/"), ClientID: ptr("second-app"), ClientSecret: ptr(" second-" + adminSecret + "\n"),
		MailboxID: ptr(int64(777)), WebhookSecret: ptr(adminHookKey), BatchIntervalSeconds: ptr(30), Paused: ptr(true),
	}, "admin@example.com")
	require.NoError(t, err)
	require.Equal(t, srv2.URL, st.APIURL)
	require.Equal(t, "second-app", *st.ClientID)
	require.Equal(t, int64(777), *st.MailboxID)
	require.True(t, st.ClientSecretSet)
	require.True(t, st.WebhookSecretSet)
	require.Equal(t, 30, st.BatchIntervalSeconds)
	require.True(t, st.Paused)
	require.Equal(t, "admin@example.com", *st.UpdatedBy)
	require.NotNil(t, st.UpdatedAt)

	// Applied here at once.
	require.True(t, b.svc.paused())
	require.Equal(t, 30*time.Second, b.svc.batchInterval())
	require.Equal(t, adminHookKey, b.svc.WebhookSecret(ctx))
	res, err := b.svc.TestConnection(ctx)
	require.NoError(t, err)
	require.True(t, res.OK, res.Message)
	require.Equal(t, 1, sim2.State().TokensIssued, "the new credentials were used")
	require.Zero(t, b.sim.State().TokensIssued)

	// The other replica still has what it read, until it re-reads.
	require.False(t, other.paused())
	require.Equal(t, time.Minute, other.batchInterval())
	require.NoError(t, other.loadSettings(ctx))
	require.True(t, other.paused())
	require.Equal(t, 30*time.Second, other.batchInterval())
	require.Equal(t, int64(777), other.client.MailboxID())

	// Fields left out keep their value; resuming changes only paused.
	st, err = b.svc.UpdateSettings(ctx, SettingsInput{Paused: ptr(false)}, "other-admin")
	require.NoError(t, err)
	require.False(t, st.Paused)
	require.Equal(t, int64(777), *st.MailboxID)
	require.Equal(t, "other-admin", *st.UpdatedBy)
	require.False(t, b.svc.paused())

	logs := b.logs.String()
	require.Contains(t, logs, "integration settings changed")
	require.Contains(t, logs, "clientSecret")
	require.NotContains(t, logs, adminSecret)
	require.NotContains(t, logs, adminHookKey)
}

// TestSettingsAddressNeedsTheSecret: the App Secret goes with every token
// request to the API address, so a change of the address must give the
// secret too; otherwise anyone allowed to change settings could send the
// saved or the environment's secret to a server of their choosing.
func TestSettingsAddressNeedsTheSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAdmin(t, nil)
	var (
		mu  sync.Mutex
		got []string
	)
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Secret string `json:"client_secret"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		got = append(got, req.Secret)
		mu.Unlock()
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	t.Cleanup(thief.Close)

	cases := []struct {
		name string
		in   SettingsInput
		err  string
	}{
		{"another address alone", SettingsInput{APIURL: ptr(thief.URL)},
			"input.clientSecret: required when apiUrl changes: the App Secret is only sent to the address it was given for, so give it again with the new apiUrl"},
		{"another address, the secret reset to the environment's", SettingsInput{APIURL: ptr(thief.URL), Reset: []db.SettingField{db.SettingClientSecret}},
			"input.clientSecret: required when apiUrl changes"},
		{"the same address", SettingsInput{APIURL: ptr(b.simURL + "/")}, ""},
		{"another address with its secret", SettingsInput{APIURL: ptr(thief.URL), ClientSecret: ptr("the-new-secret")}, ""},
	}
	for _, tc := range cases {
		_, err := b.svc.UpdateSettings(ctx, tc.in, "admin")
		if tc.err == "" {
			require.NoError(t, err, tc.name)
			continue
		}
		require.Error(t, err, tc.name)
		ae, ok := apperr.As(err)
		require.True(t, ok, tc.name)
		require.Equal(t, apperr.BadUserInput, ae.Code, tc.name)
		require.Contains(t, ae.Message, tc.err, tc.name)
	}
	res, err := b.svc.TestConnection(ctx)
	require.NoError(t, err)
	require.False(t, res.OK)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"the-new-secret"}, got, "only the secret given with the new address reached it")
}

// TestUsageKeptThroughAnOutage: the API usage of calls made while the
// database cannot store it is kept and stored with the next calls' once
// the database is back, so that apiUsage counts every call.
func TestUsageKeptThroughAnOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, bdb := dbtest.NewDSN(t)
	b := newAdmin(t, nil)
	svc := New(bdb, b.svc.opts)
	now := time.Now().UTC()
	call := func(at time.Time) helpscout.Result {
		return helpscout.Result{Calls: []helpscout.Call{{Method: "POST", Path: "/v2/conversations", Status: 201,
			RateLimit: helpscout.RateLimitState{Limit: 400, Remaining: 398, At: at}}}}
	}
	end := dbtest.Outage(t, dsn)
	svc.recordUsage(ctx, call(now.Add(-2*time.Minute)))
	svc.recordUsage(ctx, call(now.Add(-time.Minute)))
	end()
	var got struct{ Calls, Units int }
	deadline := time.Now().Add(30 * time.Second)
	for {
		svc.recordUsage(ctx, call(now))
		if err := bdb.NewRaw("SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(units), 0) AS units FROM helpscout_api_usage").Scan(ctx, &got); err == nil && got.Calls > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the database did not come back")
	}
	// Every call made during the outage is counted once, beside those
	// recorded after it.
	n := got.Calls
	require.GreaterOrEqual(t, n, 3)
	require.Equal(t, 2*n, got.Units)
	var minutes int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM helpscout_api_usage WHERE minute < ?", now.Truncate(time.Minute)).Scan(ctx, &minutes))
	require.Equal(t, 2, minutes, "the outage's two minutes")
}

// TestUsageStoredAtStop: the API usage kept since a database outage is
// stored when the service stops, instead of going with the process.
func TestUsageStoredAtStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, bdb := dbtest.NewDSN(t)
	b := newAdmin(t, nil)
	svc := New(bdb, b.svc.opts)
	now := time.Now().UTC()
	call := func(at time.Time, n int) helpscout.Result {
		var res helpscout.Result
		for range n {
			res.Calls = append(res.Calls, helpscout.Call{Method: "GET", Path: "/v2/mailboxes", Status: 200,
				RateLimit: helpscout.RateLimitState{Limit: 400, Remaining: 300, At: at}})
		}
		return res
	}
	end := dbtest.Outage(t, dsn)
	svc.recordUsage(ctx, call(now.Add(-2*time.Minute), 2))
	svc.recordUsage(ctx, call(now.Add(-time.Minute), 3))
	end()
	waitFor(t, 30*time.Second, "the database to come back", func() bool {
		return bdb.PingContext(ctx) == nil
	})
	require.NoError(t, svc.Start(ctx))
	svc.Stop()
	var got struct{ Minutes, Calls int }
	require.NoError(t, bdb.NewRaw("SELECT count(*) AS minutes, coalesce(sum(calls), 0) AS calls FROM helpscout_api_usage").Scan(ctx, &got))
	require.Equal(t, 2, got.Minutes)
	require.Equal(t, 5, got.Calls)
	require.Contains(t, b.logs.String(), "stored the API usage kept since a database outage")
}

// TestSettingsUnchangedKeepToken re-reads unchanged settings: the client
// keeps its token instead of fetching a new one.
func TestSettingsUnchangedKeepToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAdmin(t, nil)
	_, err := b.svc.UpdateSettings(ctx, SettingsInput{BatchIntervalSeconds: ptr(20)}, "admin")
	require.NoError(t, err)
	for range 3 {
		res, err := b.svc.TestConnection(ctx)
		require.NoError(t, err)
		require.True(t, res.OK, res.Message)
		require.NoError(t, b.svc.loadSettings(ctx))
	}
	require.Equal(t, 1, b.sim.State().TokensIssued)
}

// TestConnectionOutcomes runs the connection test against each failure the
// simulator can produce and checks the code, status and usage recorded.
func TestConnectionOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    func(*Options)
		setup   string
		faults  helpscoutsim.Faults
		ok      bool
		code    db.ErrorCode
		status  int
		message string
		usage   db.UsageBucket
	}{
		{name: "ok", ok: true, status: 200, message: `mailbox "Support"`,
			usage: db.UsageBucket{Calls: 1, Units: 1, PeakUnitsPerMinute: 1, MinRemaining: ptr(399)}},
		{name: "revoked credentials", faults: helpscoutsim.Faults{RevokeCredentials: true},
			code: db.CodeAuthenticationFailed, status: 401, message: "refused the credentials"},
		{name: "unknown mailbox", opts: func(o *Options) { o.HelpScout.MailboxID = 999 },
			code: db.CodeMailboxNotFound, status: 404, message: "mailbox",
			usage: db.UsageBucket{Calls: 1, Units: 1, Failed: 1, PeakUnitsPerMinute: 1, MinRemaining: ptr(399)}},
		{name: "no mailbox", opts: func(o *Options) { o.HelpScout.MailboxID = 0 },
			code: db.CodeMailboxNotFound, message: "no HelpScout mailbox is configured"},
		{name: "no credentials", opts: func(o *Options) { o.HelpScout.ClientSecret = "" },
			code: db.CodeAuthenticationFailed, message: "not configured"},
		{name: "rate limited", faults: helpscoutsim.Faults{RateLimited: true},
			code: db.CodeRateLimited, status: 429, message: "rate limit",
			usage: db.UsageBucket{Calls: 1, RateLimited: 1, MinRemaining: ptr(0)}},
		{name: "unavailable", faults: helpscoutsim.Faults{Status5xxBurst: 1, BurstStatus: 503},
			code: db.CodeHelpScoutUnavailable, status: 503, message: "unavailable",
			usage: db.UsageBucket{Calls: 1, Units: 1, Failed: 1, PeakUnitsPerMinute: 1}},
		{name: "timeout", opts: func(o *Options) { o.HelpScout.Timeout = 200 * time.Millisecond },
			faults: helpscoutsim.Faults{Timeout: true}, code: db.CodeTimeout, message: "in time"},
		{name: "shared budget paused", setup: "UPDATE helpscout_budget SET paused_until = now() + interval '1 hour'",
			code: db.CodeRateLimited, message: "HelpScout was not called"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := newAdmin(t, tc.opts)
			b.sim.SetFaults(tc.faults)
			if tc.setup != "" {
				_, err := b.bdb.ExecContext(ctx, tc.setup)
				require.NoError(t, err)
			}
			from := time.Now().Add(-time.Minute)
			res, err := b.svc.TestConnection(ctx)
			require.NoError(t, err, "a failed test is an outcome, not an error")
			require.Equal(t, tc.ok, res.OK, res.Message)
			require.Contains(t, res.Message, tc.message)
			require.NotContains(t, res.Message, adminSecret)
			if tc.ok {
				require.Nil(t, res.ErrorCode)
				require.Equal(t, "Support", *res.MailboxName)
				require.NotNil(t, res.TokenExpiresAt)
				require.True(t, res.TokenExpiresAt.After(time.Now()))
				require.NotNil(t, res.RateLimit)
				require.Equal(t, 400, res.RateLimit.Limit)
				require.Equal(t, 399, *res.RateLimit.Remaining)
			} else {
				require.NotNil(t, res.ErrorCode)
				require.Equal(t, tc.code, *res.ErrorCode)
				require.Nil(t, res.MailboxName)
			}
			if tc.status == 0 {
				require.Nil(t, res.HTTPStatus)
			} else {
				require.NotNil(t, res.HTTPStatus)
				require.Equal(t, tc.status, *res.HTTPStatus)
			}

			if tc.setup != "" {
				require.Zero(t, b.sim.State().TokensIssued+len(b.sim.State().Requests), "HelpScout was not called")
			}
			u, err := b.svc.APIUsage(ctx, from, time.Now().Add(time.Minute), UsageHour, nil)
			require.NoError(t, err)
			if tc.usage.Calls == 0 {
				require.Empty(t, u.Buckets, "token requests are not API calls")
				return
			}
			require.Len(t, u.Buckets, 1)
			got := u.Buckets[0]
			require.Equal(t, tc.usage.Calls, got.Calls)
			require.Equal(t, tc.usage.Units, got.Units)
			require.Equal(t, tc.usage.RateLimited, got.RateLimited)
			require.Equal(t, tc.usage.Failed, got.Failed)
			require.Equal(t, tc.usage.PeakUnitsPerMinute, got.PeakUnitsPerMinute)
			if tc.usage.MinRemaining != nil {
				require.NotNil(t, got.MinRemaining)
				require.Equal(t, *tc.usage.MinRemaining, *got.MinRemaining)
			}
		})
	}
}

// TestUsageRows checks how an operation's calls are counted.
func TestUsageRows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	rl := func(at time.Time, limit, remaining int) helpscout.RateLimitState {
		return helpscout.RateLimitState{Limit: limit, Remaining: remaining, At: at}
	}
	cases := []struct {
		name  string
		calls []helpscout.Call
		want  []db.APIUsageMinute
	}{
		{"nothing", nil, nil},
		{"token only", []helpscout.Call{{Method: "POST", Path: "/v2/oauth2/token", Status: 200}}, nil},
		{"create conversation", []helpscout.Call{
			{Method: "POST", Path: "/v2/oauth2/token", Status: 200},
			{Method: "POST", Path: "/v2/conversations", Status: 201, RateLimit: rl(now, 400, 398)},
			{Method: "GET", Path: "/v2/conversations/1", Status: 200, RateLimit: rl(now, 400, 397)},
		}, []db.APIUsageMinute{{Minute: now.Truncate(time.Minute), Calls: 2, Units: 3, MinRemaining: ptr(397), LimitPerMin: ptr(400)}}},
		{"429, failure and no answer", []helpscout.Call{
			{Method: "PUT", Path: "/v2/customers/1", Status: 429, RateLimit: rl(now, 400, 0)},
			{Method: "PATCH", Path: "/v2/customers/1", Status: 400, RateLimit: rl(now, 400, 12)},
			{Method: "GET", Path: "/v2/customers/1", Status: 0},
		}, []db.APIUsageMinute{{Minute: now.Truncate(time.Minute), Calls: 3, Units: 2, RateLimited: 1, Failed: 2, MinRemaining: ptr(0), LimitPerMin: ptr(400)}}},
		{"expired token", []helpscout.Call{
			{Method: "POST", Path: "/v2/conversations", Status: 401},
			{Method: "POST", Path: "/v2/oauth2/token", Status: 200},
			{Method: "POST", Path: "/v2/conversations", Status: 201, RateLimit: rl(now, 400, 398)},
		}, []db.APIUsageMinute{{Minute: now.Truncate(time.Minute), Calls: 2, Units: 2, Failed: 1, MinRemaining: ptr(398), LimitPerMin: ptr(400)}}},
		{"across a minute", []helpscout.Call{
			{Method: "GET", Path: "/v2/mailboxes/1", Status: 200, RateLimit: rl(now.Add(-time.Minute), -1, -1)},
			{Method: "GET", Path: "/v2/mailboxes/1", Status: 200},
		}, []db.APIUsageMinute{
			{Minute: now.Add(-time.Minute).Truncate(time.Minute), Calls: 1, Units: 1},
			{Minute: now.Truncate(time.Minute), Calls: 1, Units: 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, usageRows(helpscout.Result{Calls: tc.calls}, now))
		})
	}
}

// TestAPIUsageReport records operations in several minutes and reads them
// in each bucket width.
func TestAPIUsageReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAdmin(t, nil)
	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	op := func(at time.Time, n int, method string, remaining int) helpscout.Result {
		var res helpscout.Result
		for range n {
			res.Calls = append(res.Calls, helpscout.Call{Method: method, Path: "/v2/x", Status: 200,
				RateLimit: helpscout.RateLimitState{Limit: 200, Remaining: remaining, At: at}})
		}
		return res
	}
	b.svc.recordUsage(ctx, op(base.Add(5*time.Minute), 3, http.MethodPost, 150))
	b.svc.recordUsage(ctx, op(base.Add(5*time.Minute+30*time.Second), 1, http.MethodGet, 120))
	b.svc.recordUsage(ctx, op(base.Add(70*time.Minute), 10, http.MethodGet, 180))

	cases := []struct {
		bucket  UsageBucket
		starts  []time.Time
		units   []int
		peak    int
		buckets int
	}{
		{UsageMinute, []time.Time{base.Add(5 * time.Minute), base.Add(70 * time.Minute)}, []int{7, 10}, 10, 2},
		{UsageHour, []time.Time{base, base.Add(time.Hour)}, []int{7, 10}, 10, 2},
		{UsageDay, nil, nil, 10, 0},
	}
	for _, tc := range cases {
		u, err := b.svc.APIUsage(ctx, base, base.Add(3*time.Hour), tc.bucket, nil)
		require.NoError(t, err, tc.bucket)
		require.Equal(t, 14, u.Calls, tc.bucket)
		require.Equal(t, 17, u.Units, tc.bucket)
		require.Equal(t, tc.peak, u.PeakUnitsPerMinute, tc.bucket)
		require.Equal(t, 200, u.LimitPerMinute, tc.bucket)
		require.InDelta(t, 0.05, u.PeakUtilization(), 1e-9, tc.bucket)
		if tc.bucket == UsageDay {
			// One or two days, depending on whether the range crosses midnight.
			require.NotEmpty(t, u.Buckets)
			continue
		}
		require.Len(t, u.Buckets, tc.buckets, tc.bucket)
		for i, bk := range u.Buckets {
			require.True(t, tc.starts[i].Equal(bk.Start), "%s bucket %d starts %s", tc.bucket, i, bk.Start)
			require.Equal(t, tc.units[i], bk.Units, tc.bucket)
		}
		require.Equal(t, 120, *u.Buckets[0].MinRemaining, tc.bucket)
	}
	_, err := b.svc.APIUsage(ctx, base, base.Add(time.Hour), UsageBucket("WEEK"), nil)
	require.Error(t, err)
}

// TestHeartbeats runs the heartbeat loop quickly: the row appears, follows
// the counters, shows in the queue as alive, and goes when the loop ends.
func TestHeartbeats(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newAdmin(t, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.svc.heartbeatLoop(ctx, 20*time.Millisecond)
	}()

	waitWorker := func(check func(w Worker) bool) Worker {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			q, err := b.svc.Queue(ctx)
			require.NoError(t, err)
			for _, w := range q.Workers {
				if w.ID == b.svc.workerID && check(w) {
					return w
				}
			}
			require.True(t, time.Now().Before(deadline), "worker row never matched: %+v", q.Workers)
			select {
			case <-time.After(10 * time.Millisecond):
			case <-done:
				t.Fatal("heartbeat loop ended early")
			}
		}
	}
	w := waitWorker(func(Worker) bool { return true })
	require.True(t, w.Alive)
	require.Equal(t, "test", w.Version)
	require.NotEmpty(t, w.Hostname)

	b.svc.jobsDone.Add(3)
	b.svc.jobsFailed.Add(1)
	w2 := waitWorker(func(w Worker) bool { return w.JobsDone == 3 && w.JobsFailed == 1 })
	require.True(t, w.StartedAt.Equal(w2.StartedAt), "started_at stays")
	require.False(t, w2.LastSeenAt.Before(w.LastSeenAt))

	// A replica that saved settings elsewhere is picked up by the loop.
	_, err := b.replica().UpdateSettings(ctx, SettingsInput{Paused: ptr(true)}, "admin")
	require.NoError(t, err)
	b.svc.admin.mu.Lock()
	b.svc.admin.loaded = time.Now().Add(-time.Hour)
	b.svc.admin.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for !b.svc.paused() {
		require.True(t, time.Now().Before(deadline), "the loop never re-read the settings")
		select {
		case <-time.After(10 * time.Millisecond):
		case <-done:
			t.Fatal("heartbeat loop ended early")
		}
	}

	cancel()
	<-done
	q, err := b.svc.Queue(context.Background())
	require.NoError(t, err)
	require.Empty(t, q.Workers, "the row is removed on the way out")
}

// TestQueueStatus reads counts, the budget and the token expiry.
func TestQueueStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newAdmin(t, nil)
	q, err := b.svc.Queue(ctx)
	require.NoError(t, err)
	require.Zero(t, q.Queued+q.Due+q.Running+q.Failed)
	require.Nil(t, q.OldestDueAt)
	require.Nil(t, q.TokenExpiresAt, "no token fetched yet")
	require.Equal(t, 400, q.Budget.Limit)
	require.Equal(t, 1.0, q.Budget.RemainingRatio())

	_, err = b.bdb.ExecContext(ctx, `INSERT INTO sync_jobs (kind, payload, state, run_at) VALUES
		('contact_form', '{}', 'QUEUED', now() - interval '3 minutes'),
		('contact_form', '{}', 'QUEUED', now() + interval '1 hour'),
		('contact_form', '{}', 'RUNNING', now()),
		('contact_form', '{}', 'FAILED', now())`)
	require.NoError(t, err)
	window := time.Now().UTC().Truncate(time.Minute)
	_, err = b.bdb.ExecContext(ctx, `UPDATE helpscout_budget SET window_start = date_trunc('minute', now()),
		used = 100, remaining = 250, read_at = now(), limit_per_min = 400`)
	require.NoError(t, err)
	res, err := b.svc.TestConnection(ctx)
	require.NoError(t, err)
	require.True(t, res.OK)

	q, err = b.svc.Queue(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, q.Queued)
	require.Equal(t, 1, q.Due)
	require.Equal(t, 1, q.Running)
	require.Equal(t, 1, q.Failed)
	require.NotNil(t, q.OldestDueAt)
	require.NotNil(t, q.TokenExpiresAt)
	budget := q.Budget
	if budget.WindowStart.Equal(window) {
		// The test's own unit was reserved, and HelpScout's reading recorded.
		require.Equal(t, 101, budget.Used)
		require.Equal(t, 399, *budget.Remaining)
		require.InDelta(t, 299.0/400, budget.RemainingRatio(), 1e-9)
	} else {
		// A new minute began meanwhile: at most the test's unit is in it.
		require.LessOrEqual(t, budget.Used, 1)
	}
}

// TestSettingsEncryptedAtRest: with SETTINGS_KEY the saved secrets are
// stored encrypted and work as before on every replica with the key; a
// replica without it, or with another key, says so instead of using them;
// secrets saved before a key was set stay readable until saved again.
func TestSettingsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const key = "settings-key-0123456789abcdef"
	b := newAdmin(t, func(o *Options) { o.SettingsKey = key })
	stored := func(t *testing.T) (client, hook string) {
		t.Helper()
		require.NoError(t, b.bdb.NewRaw("SELECT coalesce(client_secret, ''), coalesce(webhook_secret, '') FROM integration_settings").
			Scan(ctx, &client, &hook))
		return client, hook
	}

	st, err := b.svc.UpdateSettings(ctx, SettingsInput{ClientSecret: ptr(adminSecret), WebhookSecret: ptr(adminHookKey)}, "admin")
	require.NoError(t, err)
	require.True(t, st.SecretsEncrypted)
	client, hook := stored(t)
	for _, v := range []string{client, hook} {
		require.True(t, strings.HasPrefix(v, sealedPrefix), "stored as %q", v)
		require.NotContains(t, v, adminSecret)
		require.NotContains(t, v, adminHookKey)
	}
	require.NotEqual(t, client[len(sealedPrefix):len(sealedPrefix)+16], hook[len(sealedPrefix):len(sealedPrefix)+16], "each value has its own nonce")

	// The replica that saved them and another with the same key use them.
	require.Equal(t, adminHookKey, b.svc.WebhookSecret(ctx))
	res, err := b.svc.TestConnection(ctx)
	require.NoError(t, err)
	require.True(t, res.OK, res.Message)
	same := b.replica()
	require.NoError(t, same.loadSettings(ctx))
	require.Equal(t, adminHookKey, same.WebhookSecret(ctx))

	// Replicas that cannot decrypt them say why, without any secret.
	for _, other := range []string{"", "another-key-0123456789abcdef"} {
		opts := b.svc.opts
		opts.SettingsKey = other
		r := New(b.bdb, opts)
		_, err := r.Settings(ctx)
		require.Error(t, err, "key %q", other)
		ae, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.Unavailable, ae.Code)
		require.Contains(t, ae.Message, "SETTINGS_KEY")
		require.NotContains(t, err.Error(), adminSecret)
		require.Equal(t, "env-hook-secret", r.WebhookSecret(ctx), "the environment's secret until the saved ones can be read")
	}

	// A replica that cannot decrypt them refuses to start, naming the key.
	opts := b.svc.opts
	opts.SettingsKey = ""
	err = New(b.bdb, opts).Start(ctx)
	require.Error(t, err)
	require.Contains(t, err.Error(), "SETTINGS_KEY")

	// Secrets saved before the key was set: readable at once, and encrypted
	// when a replica with the key starts, without changing what they mean
	// or who saved them.
	plain := newAdmin(t, nil)
	_, err = plain.svc.UpdateSettings(ctx, SettingsInput{ClientSecret: ptr(adminSecret), WebhookSecret: ptr(adminHookKey)}, "admin")
	require.NoError(t, err)
	opts = plain.svc.opts
	opts.SettingsKey = key
	keyed := New(plain.bdb, opts)
	st, err = keyed.Settings(ctx)
	require.NoError(t, err)
	require.False(t, st.SecretsEncrypted, "saved before the key")
	require.NoError(t, keyed.Start(ctx))
	t.Cleanup(keyed.Stop)
	st, err = keyed.Settings(ctx)
	require.NoError(t, err)
	require.True(t, st.SecretsEncrypted)
	require.Equal(t, "admin", *st.UpdatedBy)
	var client2, hook2 string
	require.NoError(t, plain.bdb.NewRaw("SELECT client_secret, webhook_secret FROM integration_settings").Scan(ctx, &client2, &hook2))
	require.True(t, strings.HasPrefix(client2, sealedPrefix) && strings.HasPrefix(hook2, sealedPrefix), "stored as %q, %q", client2, hook2)
	require.Equal(t, adminHookKey, keyed.WebhookSecret(ctx))
	res, err = keyed.TestConnection(ctx)
	require.NoError(t, err)
	require.True(t, res.OK, res.Message)
}
