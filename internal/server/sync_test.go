package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/syncer"
)

const (
	simClientID     = "sim-app-id"
	simClientSecret = "sim-APP-secret-4242"
	envHookSecret   = "env-HOOK-secret-1111"
	savedHookSecret = "saved-HOOK-secret-2222"
)

// newSim starts a simulated HelpScout account over HTTP.
func newSim(t *testing.T) (*helpscoutsim.Server, string) {
	t.Helper()
	sim := helpscoutsim.New(helpscoutsim.Options{ClientID: simClientID, ClientSecret: simClientSecret})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Stop)
	return sim, srv.URL
}

// startWorkers runs n sync workers of the environment's database against
// the simulator at simURL, until they are stopped or the test ends.
func startWorkers(t *testing.T, e *env, simURL string, n int) *syncer.Service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	workers := syncer.New(e.bdb, syncer.Options{
		HelpScout: helpscout.Config{BaseURL: simURL, ClientID: simClientID, ClientSecret: simClientSecret,
			MailboxID: helpscoutsim.DefaultMailboxID, Timeout: 5 * time.Second},
		Workers: n, BatchInterval: time.Minute, Version: "test", Log: zerolog.Nop(), PollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, workers.Start(ctx))
	t.Cleanup(func() {
		workers.Stop()
		cancel()
	})
	return workers
}

const submitMutation = `mutation($in: ContactFormInput!) {
  submitContactForm(input: $in) {
    duplicate
    event { id type status direction source sourceRef customerEmail attempt }
  }
}`

type intakeData struct {
	SubmitContactForm struct {
		Duplicate bool
		Event     struct {
			ID, Type, Status, Direction, Source, SourceRef, CustomerEmail string
			Attempt                                                       int
		}
	}
}

const queueQuery = `{ diagnostics { queue {
  queued due running failed oldestDueAt tokenExpiresAt
  workers { id hostname version startedAt lastSeenAt alive jobsDone jobsFailed }
  budget { limit used remaining remainingRatio windowStart }
} } }`

type queueData struct {
	Diagnostics struct {
		Queue struct {
			Queued, Due, Running, Failed int
			OldestDueAt                  *time.Time
			TokenExpiresAt               *time.Time
			Workers                      []struct {
				ID, Hostname, Version string
				StartedAt, LastSeenAt time.Time
				Alive                 bool
				JobsDone, JobsFailed  int
			}
			Budget struct {
				Limit, Used    int
				Remaining      *int
				RemainingRatio float64
				WindowStart    time.Time
			}
		}
	}
}

// TestSubmitContactFormGraphQL queues a submission as the host system,
// sends it again, and reads the queue as KIVA_ADMIN.
func TestSubmitContactFormGraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := map[string]any{"submissionId": "form-1", "email": "Visitor@Example.com", "name": "Vi Sitor",
		"subject": "Where is my order?", "message": "It has been two weeks."}

	var first intakeData
	resp := e.gql(t, callerService, submitMutation, map[string]any{"in": in})
	resp.requireOK(t)
	resp.decode(t, &first)
	ev := first.SubmitContactForm.Event
	require.False(t, first.SubmitContactForm.Duplicate)
	require.Equal(t, "TICKET_CREATED", ev.Type)
	require.Equal(t, "PENDING", ev.Status)
	require.Equal(t, "TO_HELPSCOUT", ev.Direction)
	require.Equal(t, "CONTACT_FORM", ev.Source)
	require.Equal(t, "form-1", ev.SourceRef)
	require.Equal(t, "visitor@example.com", ev.CustomerEmail)
	require.Equal(t, 1, ev.Attempt)

	var again intakeData
	resp = e.gql(t, callerService, submitMutation, map[string]any{"in": in})
	resp.requireOK(t)
	resp.decode(t, &again)
	require.True(t, again.SubmitContactForm.Duplicate)
	require.Equal(t, ev.ID, again.SubmitContactForm.Event.ID, "a duplicate returns the first event")

	// Other roles may not submit.
	for _, c := range []string{callerManager, callerAdmin, callerKivaAdmin} {
		resp = e.gql(t, c, submitMutation, map[string]any{"in": map[string]any{"submissionId": "form-2",
			"email": "x@example.com", "subject": "s", "message": "m"}})
		require.Equal(t, "FORBIDDEN", resp.singleError(t).code(), c)
	}

	// Broken input names its field.
	bad := []struct{ field, value string }{
		{"submissionId", ""}, {"email", ""}, {"subject", ""}, {"message", ""},
	}
	for _, b := range bad {
		in := map[string]any{"submissionId": "form-3", "email": "x@example.com", "subject": "s", "message": "m"}
		in[b.field] = b.value
		resp = e.gql(t, callerService, submitMutation, map[string]any{"in": in})
		ge := resp.singleError(t)
		require.Equal(t, "BAD_USER_INPUT", ge.code(), "%s: %s", b.field, resp.Body)
		require.Equal(t, "input."+b.field, ge.argument())
	}
	// Several mistakes in one form: one error for each, in field order.
	resp = e.gql(t, callerService, submitMutation, map[string]any{"in": map[string]any{"submissionId": "form-4",
		"email": " ", "subject": "", "message": "m"}})
	require.JSONEq(t, `{"submitContactForm": null}`, string(resp.Data), "body: %s", resp.Body)
	var args []string
	for _, ge := range resp.Errors {
		require.Equal(t, "BAD_USER_INPUT", ge.code(), "body: %s", resp.Body)
		args = append(args, ge.argument())
	}
	require.Equal(t, []string{"input.email", "input.subject"}, args)

	// One job waits; nobody works on it in this process.
	var q queueData
	resp = e.gql(t, callerKivaAdmin, queueQuery, nil)
	resp.requireOK(t)
	resp.decode(t, &q)
	require.Equal(t, 1, q.Diagnostics.Queue.Queued)
	require.Equal(t, 1, q.Diagnostics.Queue.Due)
	require.Zero(t, q.Diagnostics.Queue.Running)
	require.NotNil(t, q.Diagnostics.Queue.OldestDueAt)
}

// TestQueueWorkersGraphQL lists heartbeats, alive or silent, newest first.
func TestQueueWorkersGraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ws := db.NewWorkerStore(e.bdb)
	started := time.Now().UTC().Truncate(time.Second)
	require.NoError(t, ws.Beat(ctx, &db.WorkerHeartbeat{ID: "old", Hostname: "h0", Version: "v0", StartedAt: started}))
	_, err := e.bdb.ExecContext(ctx, "UPDATE sync_workers SET heartbeat_at = now() - interval '2 minutes'")
	require.NoError(t, err)
	require.NoError(t, ws.Beat(ctx, &db.WorkerHeartbeat{ID: "live", Hostname: "h1", Version: "v1", StartedAt: started, JobsDone: 12, JobsFailed: 3}))

	var q queueData
	resp := e.gql(t, callerKivaAdmin, queueQuery, nil)
	resp.requireOK(t)
	resp.decode(t, &q)
	ws2 := q.Diagnostics.Queue.Workers
	require.Len(t, ws2, 2)
	require.Equal(t, "live", ws2[0].ID)
	require.True(t, ws2[0].Alive)
	require.Equal(t, 12, ws2[0].JobsDone)
	require.Equal(t, 3, ws2[0].JobsFailed)
	require.True(t, started.Equal(ws2[0].StartedAt))
	require.Equal(t, "old", ws2[1].ID)
	require.False(t, ws2[1].Alive)
	require.Equal(t, 400, q.Diagnostics.Queue.Budget.Limit)

	resp = e.gql(t, callerAdmin, queueQuery, nil)
	require.Equal(t, "FORBIDDEN", resp.singleError(t).code())
}

const settingsFields = `apiUrl clientId clientSecretSet mailboxId webhookSecretSet batchIntervalSeconds paused updatedBy updatedAt saved secretsEncrypted`

type settingsData struct {
	APIURL               string `json:"apiUrl"`
	ClientID             *string
	ClientSecretSet      bool
	MailboxID            *int64
	WebhookSecretSet     bool
	BatchIntervalSeconds int
	Paused               bool
	UpdatedBy            *string
	UpdatedAt            *time.Time
	Saved                []string
	SecretsEncrypted     bool
}

// TestIntegrationSettingsGraphQL reads and changes the settings: bad
// values name their field, secrets never come back, and a saved webhook
// secret verifies webhooks at once.
func TestIntegrationSettingsGraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.HelpScoutWebhookSecret = envHookSecret
		c.CustomerBatchInterval = time.Minute
	})
	var got struct{ IntegrationSettings settingsData }
	resp := e.gql(t, callerAdmin, `{ integrationSettings { `+settingsFields+` } }`, nil)
	resp.requireOK(t)
	resp.decode(t, &got)
	require.Equal(t, settingsData{APIURL: helpscout.DefaultBaseURL, WebhookSecretSet: true, BatchIntervalSeconds: 60, Saved: []string{}}, got.IntegrationSettings)

	const update = `mutation($in: IntegrationSettingsInput!) { updateIntegrationSettings(input: $in) { ` + settingsFields + ` } }`
	long := strings.Repeat("k", 513)
	bad := []struct {
		name, field string
		value       any
	}{
		{"relative url", "apiUrl", "/v2"},
		{"ftp url", "apiUrl", "ftp://example.com"},
		{"empty client id", "clientId", ""},
		{"empty client secret", "clientSecret", ""},
		{"long client secret", "clientSecret", long},
		{"zero mailbox", "mailboxId", 0},
		{"empty webhook secret", "webhookSecret", " "},
		{"long webhook secret", "webhookSecret", long},
		{"short batch", "batchIntervalSeconds", 5},
		{"long batch", "batchIntervalSeconds", 100000},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			resp := e.gql(t, callerAdmin, update, map[string]any{"in": map[string]any{b.field: b.value}})
			ge := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", ge.code(), "body: %s", resp.Body)
			require.Equal(t, "input."+b.field, ge.argument())
			require.NotContains(t, string(resp.Body), long)
		})
	}

	resetBad := []struct {
		name    string
		in      map[string]any
		message string
	}{
		{"value and reset", map[string]any{"webhookSecret": "x", "reset": []string{"WEBHOOK_SECRET"}}, "WEBHOOK_SECRET is both given a value and reset"},
		{"unknown setting", map[string]any{"reset": []string{"PAUSED"}}, "PAUSED"},
	}
	for _, b := range resetBad {
		t.Run(b.name, func(t *testing.T) {
			resp := e.gql(t, callerAdmin, update, map[string]any{"in": b.in})
			ge := resp.singleError(t)
			require.Equal(t, "BAD_USER_INPUT", ge.code(), "body: %s", resp.Body)
			require.Contains(t, ge.Message, b.message)
		})
	}

	resp = e.gql(t, callerManager, update, map[string]any{"in": map[string]any{"paused": true}})
	require.Equal(t, "FORBIDDEN", resp.singleError(t).code())

	var saved struct{ UpdateIntegrationSettings settingsData }
	resp = e.gql(t, callerAdmin, update, map[string]any{"in": map[string]any{
		"apiUrl": "http://127.0.0.1:1/", "clientId": simClientID, "clientSecret": simClientSecret,
		"mailboxId": 312345, "webhookSecret": savedHookSecret, "batchIntervalSeconds": 120, "paused": true,
	}})
	resp.requireOK(t)
	require.NotContains(t, string(resp.Body), simClientSecret)
	require.NotContains(t, string(resp.Body), savedHookSecret)
	resp.decode(t, &saved)
	s := saved.UpdateIntegrationSettings
	require.Equal(t, "http://127.0.0.1:1", s.APIURL)
	require.Equal(t, simClientID, *s.ClientID)
	require.True(t, s.ClientSecretSet)
	require.Equal(t, int64(312345), *s.MailboxID)
	require.True(t, s.WebhookSecretSet)
	require.Equal(t, 120, s.BatchIntervalSeconds)
	require.True(t, s.Paused)
	require.Equal(t, "test-administrator", *s.UpdatedBy)
	require.NotNil(t, s.UpdatedAt)
	require.Equal(t, []string{"API_URL", "CLIENT_ID", "CLIENT_SECRET", "MAILBOX_ID", "WEBHOOK_SECRET", "BATCH_INTERVAL"}, s.Saved)
	require.False(t, s.SecretsEncrypted, "no SETTINGS_KEY here")

	resp = e.gql(t, callerKivaAdmin, `{ integrationSettings { `+settingsFields+` } }`, nil)
	resp.requireOK(t)
	require.NotContains(t, string(resp.Body), simClientSecret)
	require.NotContains(t, string(resp.Body), savedHookSecret)

	// The schema has no field that could return a secret.
	resp = e.gql(t, callerAdmin, `{ __type(name: "IntegrationSettings") { fields { name } } }`, nil)
	resp.requireOK(t)
	require.NotContains(t, string(resp.Body), `"clientSecret"`)
	require.NotContains(t, string(resp.Body), `"webhookSecret"`)

	// The saved webhook secret verifies webhooks now; the environment's no longer does.
	hooks := []struct {
		secret string
		status int
	}{{savedHookSecret, http.StatusOK}, {envHookSecret, http.StatusUnauthorized}}
	checkHooks := func(t *testing.T, hooks []struct {
		secret string
		status int
	}) {
		t.Helper()
		for _, h := range hooks {
			body := []byte(`{"id":1}`)
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/helpscout", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set(helpscout.HeaderEvent, helpscout.EventTest)
			req.Header.Set(helpscout.HeaderSignature, helpscout.Sign(h.secret, body))
			res, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, h.status, res.StatusCode, "signed with the %s secret", map[bool]string{true: "saved", false: "environment's"}[h.secret == savedHookSecret])
		}
	}
	checkHooks(t, hooks)

	// Resetting settings brings back the environment's values: the
	// environment's webhook secret verifies again, the saved one no longer.
	var reset struct{ UpdateIntegrationSettings settingsData }
	resp = e.gql(t, callerAdmin, update, map[string]any{"in": map[string]any{
		"reset": []string{"WEBHOOK_SECRET", "API_URL", "BATCH_INTERVAL", "WEBHOOK_SECRET"}}})
	resp.requireOK(t)
	resp.decode(t, &reset)
	r := reset.UpdateIntegrationSettings
	require.Equal(t, helpscout.DefaultBaseURL, r.APIURL)
	require.Equal(t, 60, r.BatchIntervalSeconds)
	require.True(t, r.WebhookSecretSet, "the environment's secret")
	require.Equal(t, simClientID, *r.ClientID, "settings not reset keep their saved value")
	require.Equal(t, []string{"CLIENT_ID", "CLIENT_SECRET", "MAILBOX_ID"}, r.Saved)
	checkHooks(t, []struct {
		secret string
		status int
	}{{envHookSecret, http.StatusOK}, {savedHookSecret, http.StatusUnauthorized}})
}

const connectionMutation = `mutation { testHelpScoutConnection {
  ok errorCode message httpStatus durationMs mailboxName tokenExpiresAt
  rateLimit { limit remaining used readAt }
} }`

type connectionData struct {
	TestHelpScoutConnection struct {
		OK             bool
		ErrorCode      *string
		Message        string
		HTTPStatus     *int
		DurationMs     int
		MailboxName    *string
		TokenExpiresAt *time.Time
		RateLimit      *struct {
			Limit     int
			Remaining *int
			Used      int
			ReadAt    *time.Time
		}
	}
}

// TestConnectionAndUsageGraphQL points the settings at a simulator, tests
// the connection, revokes the credentials, tests again, and reads the API
// usage the tests caused.
func TestConnectionAndUsageGraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sim, simURL := newSim(t)
	from := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)

	resp := e.gql(t, callerAdmin, `mutation($in: IntegrationSettingsInput!) { updateIntegrationSettings(input: $in) { clientSecretSet } }`,
		map[string]any{"in": map[string]any{"apiUrl": simURL, "clientId": simClientID, "clientSecret": simClientSecret, "mailboxId": helpscoutsim.DefaultMailboxID}})
	resp.requireOK(t)

	var ok connectionData
	resp = e.gql(t, callerAdmin, connectionMutation, nil)
	resp.requireOK(t)
	resp.decode(t, &ok)
	c := ok.TestHelpScoutConnection
	require.True(t, c.OK, c.Message)
	require.Nil(t, c.ErrorCode)
	require.Equal(t, "Support", *c.MailboxName)
	require.Equal(t, 200, *c.HTTPStatus)
	require.NotNil(t, c.TokenExpiresAt)
	require.True(t, c.TokenExpiresAt.After(time.Now().Add(time.Hour)))
	require.NotNil(t, c.RateLimit)
	require.Equal(t, 400, c.RateLimit.Limit)
	require.Equal(t, 399, *c.RateLimit.Remaining)

	resp = e.gql(t, callerManager, connectionMutation, nil)
	require.Equal(t, "FORBIDDEN", resp.singleError(t).code())

	sim.SetFaults(helpscoutsim.Faults{RevokeCredentials: true})
	var failed connectionData
	resp = e.gql(t, callerAdmin, connectionMutation, nil)
	resp.requireOK(t)
	require.NotContains(t, string(resp.Body), simClientSecret)
	resp.decode(t, &failed)
	c = failed.TestHelpScoutConnection
	require.False(t, c.OK)
	require.Equal(t, "AUTHENTICATION_FAILED", *c.ErrorCode)
	require.Equal(t, 401, *c.HTTPStatus)
	require.Contains(t, c.Message, "Invalid client authentication", "HelpScout's own message")
	require.Nil(t, c.MailboxName)

	// Two mailbox reads reached the API (the token requests do not count):
	// one answered 200, one refused with 401 before the new token failed.
	// Only the first cost a unit: the gateway refuses a token before it
	// applies the rate limit.
	to := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
	const usageQuery = `query($r: TimeRangeInput, $b: UsageBucket) { apiUsage(range: $r, bucket: $b) {
	  from to calls units rateLimited peakUnitsPerMinute limitPerMinute peakUtilization
	  buckets { start calls units rateLimited failed peakUnitsPerMinute minRemaining }
	} }`
	type usage struct {
		APIUsage struct {
			From, To                                                      time.Time
			Calls, Units, RateLimited, PeakUnitsPerMinute, LimitPerMinute int
			PeakUtilization                                               float64
			Buckets                                                       []struct {
				Start                                                 time.Time
				Calls, Units, RateLimited, Failed, PeakUnitsPerMinute int
				MinRemaining                                          *int
			}
		}
	}
	for _, bucket := range []string{"MINUTE", "HOUR", "DAY"} {
		var u usage
		resp = e.gql(t, callerManager, usageQuery, map[string]any{"b": bucket,
			"r": map[string]any{"from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)}})
		resp.requireOK(t)
		resp.decode(t, &u)
		require.Equal(t, 2, u.APIUsage.Calls, bucket)
		require.Equal(t, 1, u.APIUsage.Units, bucket)
		require.Zero(t, u.APIUsage.RateLimited, bucket)
		require.Equal(t, 400, u.APIUsage.LimitPerMinute, bucket)
		require.NotEmpty(t, u.APIUsage.Buckets, bucket)
		failedCalls := 0
		for _, b := range u.APIUsage.Buckets {
			failedCalls += b.Failed
			require.Equal(t, b.Start.UTC(), b.Start, "buckets are in UTC")
		}
		require.Equal(t, 1, failedCalls, bucket)
		require.InDelta(t, float64(u.APIUsage.PeakUnitsPerMinute)/400, u.APIUsage.PeakUtilization, 1e-9)
	}

	// The default is the last 24 hours by hour; MINUTE buckets are limited to 24 hours.
	var def usage
	resp = e.gql(t, callerManager, `{ apiUsage { calls buckets { start } } }`, nil)
	resp.requireOK(t)
	resp.decode(t, &def)
	require.Equal(t, 2, def.APIUsage.Calls)
	resp = e.gql(t, callerManager, usageQuery, map[string]any{"b": "MINUTE",
		"r": map[string]any{"from": time.Now().Add(-48 * time.Hour).Format(time.RFC3339), "to": to.Format(time.RFC3339)}})
	require.Equal(t, "BAD_USER_INPUT", resp.singleError(t).code(), "body: %s", resp.Body)

	var budget struct {
		RateLimitBudget struct {
			Limit, Used    int
			RemainingRatio float64
		}
	}
	resp = e.gql(t, callerManager, `{ rateLimitBudget { limit used remainingRatio windowStart } }`, nil)
	resp.requireOK(t)
	resp.decode(t, &budget)
	require.Equal(t, 400, budget.RateLimitBudget.Limit)
}

// TestRetryFailedSyncsGraphQL lets workers fail three submissions for good
// (invalid email addresses), stops them, and retries in bulk.
func TestRetryFailedSyncsGraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, simURL := newSim(t)
	ctx := context.Background()
	workers := startWorkers(t, e, simURL, 2)
	for i := range 3 {
		resp := e.gql(t, callerService, submitMutation, map[string]any{"in": map[string]any{
			"submissionId": "bad-" + strconv.Itoa(i), "email": "not-an-email-" + strconv.Itoa(i),
			"subject": "s", "message": "m"}})
		resp.requireOK(t)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := e.bdb.NewSelect().Table("sync_events").Where("status = 'FAILED' AND error_code = 'INVALID_EMAIL'").Count(ctx)
		require.NoError(t, err)
		if n == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the workers failed %d of 3 submissions", n)
		<-time.After(20 * time.Millisecond) // poll interval
	}
	workers.Stop()

	const retry = `mutation($f: SyncEventFilter, $limit: Int) { retryFailedSyncs(filter: $f, limit: $limit) {
	  queued skipped truncated events { id status attempt actor retryOf { id errorCode } }
	} }`
	filter := map[string]any{"errorCodes": []string{"INVALID_EMAIL"}}
	limits := []struct {
		caller string
		limit  any
		code   string
	}{
		{callerManager, 1, "FORBIDDEN"},
		{callerService, 1, "FORBIDDEN"},
		{callerAdmin, 0, "BAD_USER_INPUT"},
		{callerAdmin, 501, "BAD_USER_INPUT"},
		{callerAdmin, -1, "BAD_USER_INPUT"},
	}
	for _, l := range limits {
		resp := e.gql(t, l.caller, retry, map[string]any{"f": filter, "limit": l.limit})
		ge := resp.singleError(t)
		require.Equal(t, l.code, ge.code(), "%s limit %v: %s", l.caller, l.limit, resp.Body)
		if l.code == "BAD_USER_INPUT" {
			require.Equal(t, "limit", ge.argument())
		}
	}
	// Only failed events are retried: a filter on other statuses is a
	// mistake, not a request to retry every failure.
	for _, statuses := range [][]string{{"SUCCESS"}, {"FAILED", "PENDING"}} {
		resp := e.gql(t, callerAdmin, retry, map[string]any{"f": map[string]any{"statuses": statuses}, "limit": 5})
		ge := resp.singleError(t)
		require.Equal(t, "BAD_USER_INPUT", ge.code(), "statuses %v: %s", statuses, resp.Body)
		require.Equal(t, "filter.statuses", ge.argument())
	}

	type retryData struct {
		RetryFailedSyncs struct {
			Queued, Skipped int
			Truncated       bool
			Events          []struct {
				ID, Status string
				Attempt    int
				Actor      *string
				RetryOf    *struct{ ID, ErrorCode string }
			}
		}
	}
	var first retryData
	resp := e.gql(t, callerAdmin, retry, map[string]any{"f": filter, "limit": 2})
	resp.requireOK(t)
	resp.decode(t, &first)
	r := first.RetryFailedSyncs
	require.Equal(t, 2, r.Queued)
	require.True(t, r.Truncated)
	require.Len(t, r.Events, 2)
	for _, ev := range r.Events {
		require.Equal(t, "PENDING", ev.Status)
		require.Equal(t, 2, ev.Attempt)
		require.Equal(t, "test-administrator", *ev.Actor)
		require.NotNil(t, ev.RetryOf)
		require.Equal(t, "INVALID_EMAIL", ev.RetryOf.ErrorCode)
	}

	var second retryData
	resp = e.gql(t, callerKivaAdmin, retry, map[string]any{"f": filter, "limit": 10})
	resp.requireOK(t)
	resp.decode(t, &second)
	require.Equal(t, 1, second.RetryFailedSyncs.Queued, "only the event not retried yet: %s", resp.Body)
	require.False(t, second.RetryFailedSyncs.Truncated)

	var again retryData
	resp = e.gql(t, callerAdmin, retry, map[string]any{"f": filter})
	resp.requireOK(t)
	resp.decode(t, &again)
	require.Zero(t, again.RetryFailedSyncs.Queued, "nothing is retried twice: %s", resp.Body)
	ids := map[string]bool{}
	for _, ev := range append(first.RetryFailedSyncs.Events, second.RetryFailedSyncs.Events...) {
		require.False(t, ids[ev.RetryOf.ID], "event %s retried twice", ev.RetryOf.ID)
		ids[ev.RetryOf.ID] = true
	}
}

// TestRetrySyncCorrectionsGraphQL corrects a refused email through
// retrySync: refusals name each field at fault, and the corrected attempt
// reaches HelpScout.
func TestRetrySyncCorrectionsGraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sim, simURL := newSim(t)
	startWorkers(t, e, simURL, 1)

	var in intakeData
	resp := e.gql(t, callerService, submitMutation, map[string]any{"in": map[string]any{
		"submissionId": "typo-1", "email": "ada@example,com", "subject": "Refund", "message": "Please refund."}})
	resp.requireOK(t)
	resp.decode(t, &in)
	const status = `query($id: ID!) { syncEvent(id: $id) { status errorCode } }`
	type statusData struct {
		SyncEvent struct{ Status, ErrorCode string }
	}
	waitStatus := func(id string) statusData {
		t.Helper()
		var d statusData
		deadline := time.Now().Add(20 * time.Second)
		for {
			r := e.gql(t, callerManager, status, map[string]any{"id": id})
			r.requireOK(t)
			r.decode(t, &d)
			if d.SyncEvent.Status != "PENDING" {
				return d
			}
			require.True(t, time.Now().Before(deadline), "event %s still PENDING", id)
			<-time.After(20 * time.Millisecond) // poll interval
		}
	}
	failedID := in.SubmitContactForm.Event.ID
	require.Equal(t, "INVALID_EMAIL", waitStatus(failedID).SyncEvent.ErrorCode)

	const retry = `mutation($id: ID!, $c: SyncCorrectionsInput) { retrySync(id: $id, corrections: $c) {
	  id status attempt customerEmail details retryOf { id customerEmail }
	} }`
	resp = e.gql(t, callerManager, retry, map[string]any{"id": failedID, "c": map[string]any{"email": "ada@example.com"}})
	require.Equal(t, "FORBIDDEN", resp.singleError(t).code())
	resp = e.gql(t, callerAdmin, retry, map[string]any{"id": failedID, "c": map[string]any{"subject": "", "firstName": "Ada"}})
	require.JSONEq(t, `{"retrySync": null}`, string(resp.Data), "body: %s", resp.Body)
	var args []string
	for _, ge := range resp.Errors {
		require.Equal(t, "BAD_USER_INPUT", ge.code(), "body: %s", resp.Body)
		args = append(args, ge.argument())
	}
	require.Equal(t, []string{"corrections.subject", "corrections.firstName"}, args)

	var out struct {
		RetrySync struct {
			ID, Status, CustomerEmail string
			Attempt                   int
			Details                   map[string]any
			RetryOf                   struct{ ID, CustomerEmail string }
		}
	}
	resp = e.gql(t, callerAdmin, retry, map[string]any{"id": failedID, "c": map[string]any{"email": "Ada@Example.com"}})
	resp.requireOK(t)
	resp.decode(t, &out)
	r := out.RetrySync
	require.Equal(t, "PENDING", r.Status)
	require.Equal(t, 2, r.Attempt)
	require.Equal(t, "ada@example.com", r.CustomerEmail)
	require.Equal(t, []any{"email"}, r.Details["corrected"])
	require.Equal(t, failedID, r.RetryOf.ID)
	require.Equal(t, "ada@example,com", r.RetryOf.CustomerEmail)
	require.Equal(t, "SUCCESS", waitStatus(r.ID).SyncEvent.Status)
	require.Equal(t, 1, sim.CountConversations("ada@example.com", "Refund"))
}
