package helpscout_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

func TestCreateConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	submitted := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

	in := contactForm("ann.lee@example.com", "Where is my order?")
	in.CreatedAt = submitted
	in.Tags = []string{"contact-form"}
	ref, res, err := b.client.CreateConversation(ctx, in)
	require.NoError(t, err)
	require.Equal(t, helpscout.ConversationRef{
		ID: 861100000, Number: 1000, WebURL: "https://secure.helpscout.net/conversation/861100000/1000",
	}, ref)
	require.Equal(t, http.MethodPost, res.Method, "the POST decides the outcome")
	require.Equal(t, "/v2/conversations", res.Path)
	require.Equal(t, http.StatusCreated, res.Status)
	require.NotEmpty(t, res.LogRef)
	require.NoError(t, res.FollowUpErr)
	paths := make([]string, 0, len(res.Calls))
	for _, c := range res.Calls {
		paths = append(paths, c.Method+" "+c.Path)
	}
	require.Equal(t, []string{"POST /v2/oauth2/token", "POST /v2/conversations", "GET /v2/conversations/861100000"}, paths)
	calls, units := res.APICalls()
	require.Equal(t, 2, calls)
	require.Equal(t, 3, units)

	ref2, _, err := b.client.CreateConversation(ctx, contactForm("bob@example.com", "Refund"))
	require.NoError(t, err)
	require.Equal(t, int64(861100001), ref2.ID)
	require.Equal(t, int64(1001), ref2.Number)
	require.Equal(t, helpscout.WebURL(ref2.ID, ref2.Number), ref2.WebURL)

	require.Equal(t, 1, b.sim.CountConversations("ANN.LEE@example.com", "Where is my order?"))
	cust, ok := b.sim.CustomerByEmail("ann.lee@example.com")
	require.True(t, ok, "HelpScout creates the customer of an unknown email")
	require.Equal(t, "Ann", cust.FirstName)

	_, ok = b.sim.UpdateConversation(ref.ID, func(c *helpscoutsim.Conversation) {
		c.Status = "closed"
		c.Assignee = &helpscoutsim.User{ID: 7, First: "Jane", Last: "Agent", Email: "jane@shop.example"}
	})
	require.True(t, ok)
	b.clock.Advance(time.Minute)
	conv, res, err := b.client.GetConversation(ctx, ref.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, int64(1000), conv.Number)
	require.Equal(t, "Where is my order?", conv.Subject)
	require.Equal(t, "closed", conv.Status)
	require.Equal(t, db.ConversationClosed, conv.DBStatus())
	require.Equal(t, int64(testMailbox), conv.MailboxID)
	require.Equal(t, "Jane Agent", conv.Assignee)
	require.Equal(t, "jane@shop.example", conv.AssigneeEmail)
	require.Equal(t, "ann.lee@example.com", conv.CustomerEmail)
	require.Equal(t, cust.ID, conv.CustomerID)
	require.Equal(t, submitted, conv.CreatedAt)
	require.False(t, conv.UpdatedAt.IsZero())
	require.False(t, conv.ClosedAt.IsZero())
	require.Equal(t, []string{"contact-form"}, conv.Tags)
	require.Equal(t, ref.WebURL, conv.WebURL)
}

func TestCreateConversationFollowUpFails(t *testing.T) {
	t.Parallel()
	// Budget for the POST (2) only: the follow-up GET is refused with 429.
	b := setup(t, withRateLimit(2))
	ref, res, err := b.client.CreateConversation(context.Background(), contactForm("ann@example.com", "Hi"))
	require.NoError(t, err, "the conversation exists; only its number is unknown")
	require.Equal(t, int64(helpscoutsim.FirstConversationID), ref.ID)
	require.Zero(t, ref.Number)
	require.Empty(t, ref.WebURL)
	require.Equal(t, http.StatusCreated, res.Status)
	require.Equal(t, db.CodeRateLimited, helpscout.CodeOf(res.FollowUpErr))
	require.Equal(t, 1, b.sim.State().ConversationsCreated)
}

func TestFindConversationsByCustomerEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	closed := contactForm("ann@example.com", "Old question")
	closed.Status = "closed"
	for _, in := range []helpscout.ConversationInput{
		closed,
		contactForm("joann@example.com", "Look-alike"),
		contactForm("ann@example.com", "New question"),
	} {
		_, _, err := b.client.CreateConversation(ctx, in)
		require.NoError(t, err)
	}
	got, res, err := b.client.FindConversationsByCustomerEmail(ctx, "Ann@Example.com", time.Time{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	subjects := []string{}
	for _, c := range got {
		subjects = append(subjects, c.Subject)
	}
	require.ElementsMatch(t, []string{"Old question", "New question"}, subjects, "exact email, every status")
}

// TestFindOldConversationBehindNewerOnes: a conversation created long ago
// (a create that gave the form's submission time) is found behind more
// newer conversations of the same customer than one search reads, when
// the search is told how far back to look; the pages stop once they reach
// conversations older than that.
func TestFindOldConversationBehindNewerOnes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	submitted := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	older := contactForm("busy@example.com", "Before the lost one")
	older.CreatedAt = submitted.Add(-time.Hour)
	lost := contactForm("busy@example.com", "The lost one")
	lost.CreatedAt, lost.Tags = submitted, []string{"sub-lost"}
	for _, in := range []helpscout.ConversationInput{older, lost} {
		_, _, err := b.client.CreateConversation(ctx, in)
		require.NoError(t, err)
	}
	for i := range 110 {
		in := contactForm("busy@example.com", fmt.Sprintf("Newer %d", i))
		in.CreatedAt = submitted.Add(time.Duration(i+1) * time.Hour)
		_, _, err := b.client.CreateConversation(ctx, in)
		require.NoError(t, err)
	}
	subjects := func(cs []helpscout.Conversation) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Subject)
		}
		return out
	}
	got, _, err := b.client.FindConversationsByCustomerEmail(ctx, "busy@example.com", time.Time{})
	require.NoError(t, err)
	require.Len(t, got, 100, "without a start, the newest 100")
	require.NotContains(t, subjects(got), "The lost one")

	got, res, err := b.client.FindConversationsByCustomerEmail(ctx, "busy@example.com", submitted.Add(-time.Minute))
	require.NoError(t, err)
	require.Contains(t, subjects(got), "The lost one")
	require.Equal(t, "Before the lost one", subjects(got)[len(got)-1], "the page holding older conversations is the last read")
	calls, _ := res.APICalls()
	require.Equal(t, 5, calls, "112 conversations, 25 a page")
}

func TestFindCustomerByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	add := func(email, first string) helpscoutsim.Customer {
		return b.sim.AddCustomer(helpscoutsim.Customer{FirstName: first, Emails: []helpscoutsim.Entry{{Value: email}}})
	}
	add("joann@example.com", "Joann")
	add("ann@example.com.au", "Aussie")
	// Enough look-alikes that the exact match is on the second page.
	for i := range 55 {
		add(fmt.Sprintf("x%dann@example.com", i), "Look")
	}
	want := add("Ann@Example.COM", "Ann")

	tests := []struct {
		name   string
		email  string
		wantID int64
	}{
		{"exact match among substring matches, letter case ignored", "ann@example.com", want.ID},
		{"substring matches only", "nn@example.com", 0},
		{"no match at all", "nobody@example.org", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cust, res, err := b.client.FindCustomerByEmail(ctx, tt.email)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.Status)
			if tt.wantID == 0 {
				require.Nil(t, cust)
				return
			}
			require.NotNil(t, cust)
			require.Equal(t, tt.wantID, cust.ID)
			require.Equal(t, "Ann", cust.FirstName)
			require.True(t, cust.HasEmail(tt.email))
		})
	}
}

func TestFindCustomerWithoutEmbedded(t *testing.T) {
	t.Parallel()
	// HelpScout's SDK fixtures omit _embedded on an empty page.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token_type":"bearer","access_token":"tok","expires_in":7200}`))
	})
	mux.HandleFunc("GET /v2/customers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/hal+json;charset=UTF-8")
		_, _ = w.Write([]byte(`{"_links":{},"page":{"size":50,"totalElements":0,"totalPages":0,"number":1}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := helpscout.New(helpscout.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"})
	cust, _, err := c.FindCustomerByEmail(context.Background(), "ann@example.com")
	require.NoError(t, err)
	require.Nil(t, cust)
}

// TestUnreadableAnswers: a successful answer whose body cannot be read
// (cut short or garbled on its way) fails with UNKNOWN and a message that
// quotes it, and is transient: the same read is tried again later instead
// of waiting for someone to retry it.
func TestUnreadableAnswers(t *testing.T) {
	t.Parallel()
	const garbled = `{"id":1,"number":`
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token_type":"bearer","access_token":"tok","expires_in":7200}`))
	})
	for _, path := range []string{"GET /v2/conversations/1", "GET /v2/conversations", "GET /v2/customers/1", "GET /v2/customers", "GET /v2/mailboxes/1", "GET /v2/mailboxes"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/hal+json;charset=UTF-8")
			_, _ = w.Write([]byte(garbled))
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := helpscout.New(helpscout.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"})
	ctx := context.Background()
	calls := []struct {
		what string
		call func() error
	}{
		{"conversation", func() error { _, _, err := c.GetConversation(ctx, 1); return err }},
		{"conversation list", func() error {
			_, _, err := c.FindConversationsByCustomerEmail(ctx, "ann@example.com", time.Time{})
			return err
		}},
		{"customer", func() error { _, _, err := c.GetCustomer(ctx, 1); return err }},
		{"customer list", func() error { _, _, err := c.FindCustomerByEmail(ctx, "ann@example.com"); return err }},
		{"mailbox", func() error { _, _, err := c.GetMailbox(ctx, 1); return err }},
		{"mailbox list", func() error { _, _, err := c.ListMailboxes(ctx); return err }},
	}
	for _, tc := range calls {
		err := tc.call()
		require.Error(t, err, tc.what)
		e := asError(t, err)
		require.Equal(t, db.CodeUnknown, e.Code, tc.what)
		require.Equal(t, "unreadable "+tc.what+": "+garbled, e.Message, tc.what)
		require.True(t, helpscout.IsTransient(err), tc.what)
	}
}

func TestCustomerCreateAndUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id, res, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{
		FirstName: "Ann", LastName: "Lee", Email: "ann@example.com", JobTitle: "Buyer",
		Organization: "Shop Ltd", Phones: []helpscout.Phone{{Value: "+44 20 7946 0000"}},
	})
	require.NoError(t, err)
	require.Equal(t, int64(helpscoutsim.FirstCustomerID), id)
	require.Equal(t, http.StatusCreated, res.Status)

	res, err = b.client.UpdateCustomer(ctx, id, helpscout.CustomerInput{FirstName: "Anna", Location: "London"})
	require.NoError(t, err)
	require.Equal(t, http.MethodPatch, res.Method)
	require.Equal(t, http.StatusNoContent, res.Status)

	got, _, err := b.client.GetCustomer(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Anna", got.FirstName)
	require.Equal(t, "Lee", got.LastName, "an empty field keeps its value")
	require.Equal(t, "London", got.Location)
	require.Equal(t, "Buyer", got.JobTitle)
	require.Equal(t, []string{"ann@example.com"}, got.Emails)
	require.Equal(t, []helpscout.Phone{{Type: "work", Value: "+44 20 7946 0000"}}, got.Phones)

	res, err = b.client.UpdateCustomer(ctx, id, helpscout.CustomerInput{})
	require.NoError(t, err)
	require.Empty(t, res.Calls, "nothing to change, nothing sent")

	_, err = b.client.UpdateCustomer(ctx, id, helpscout.CustomerInput{LastName: strings.Repeat("L", 41)})
	require.Equal(t, db.CodeValidationFailed, helpscout.CodeOf(err))
}

func TestRateLimitWritesCountDouble(t *testing.T) {
	t.Parallel()
	b := setup(t, withRateLimit(10))
	ctx := context.Background()

	steps := []struct {
		name      string
		call      func() (helpscout.Result, error)
		remaining int
	}{
		{"read costs 1 (token is free)", func() (helpscout.Result, error) { return b.client.Ping(ctx) }, 9},
		{"create costs 2", func() (helpscout.Result, error) {
			_, r, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "ann@example.com"})
			return r, err
		}, 7},
		{"patch costs 2", func() (helpscout.Result, error) {
			return b.client.UpdateCustomer(ctx, helpscoutsim.FirstCustomerID, helpscout.CustomerInput{FirstName: "Ann"})
		}, 5},
		{"read costs 1", func() (helpscout.Result, error) {
			_, r, err := b.client.GetCustomer(ctx, helpscoutsim.FirstCustomerID)
			return r, err
		}, 4},
		{"create conversation costs 3 (POST and GET)", func() (helpscout.Result, error) {
			_, r, err := b.client.CreateConversation(ctx, contactForm("ann@example.com", "Hi"))
			return r, err
		}, 1},
	}
	for _, s := range steps {
		res, err := s.call()
		require.NoError(t, err, s.name)
		require.Equal(t, 10, res.RateLimit.Limit, s.name)
		require.Equal(t, s.remaining, res.RateLimit.Remaining, s.name)
		require.Equal(t, s.remaining, b.client.RateLimit().Remaining, s.name)
		require.Equal(t, b.clock.Now(), b.client.RateLimit().At, s.name)
	}

	// One unit left: a write (2) is refused, a read (1) still fits.
	_, _, err := b.client.CreateCustomer(ctx, helpscout.CustomerInput{Email: "bob@example.com"})
	e := asError(t, err)
	require.Equal(t, db.CodeRateLimited, e.Code)
	require.True(t, e.Transient)
	require.Equal(t, 45*time.Second, e.RetryAfter)
	require.Equal(t, 45*time.Second, b.client.RateLimit().RetryAfter)
	require.Equal(t, 0, b.client.RateLimit().Remaining)
	_, err = b.client.Ping(ctx)
	require.NoError(t, err)
	_, err = b.client.Ping(ctx)
	require.Equal(t, db.CodeRateLimited, helpscout.CodeOf(err))
	require.Equal(t, 2, b.sim.State().RateLimited)

	// The next minute brings a new budget.
	b.clock.Advance(45 * time.Second)
	res, err := b.client.Ping(ctx)
	require.NoError(t, err)
	require.Equal(t, 9, res.RateLimit.Remaining)
	require.Zero(t, res.RateLimit.RetryAfter)
}

func TestRateLimitHeaderSpellings(t *testing.T) {
	t.Parallel()
	spellings := []struct {
		name                    string
		limit, remaining, retry string
	}{
		{"documented", "X-RateLimit-Limit-Minute", "X-RateLimit-Remaining-Minute", "X-RateLimit-Retry-After"},
		{"recorded", "X-Ratelimit-Limit-Minute", "X-Ratelimit-Remaining-Minute", "X-Ratelimit-Retry-After"},
		{"lower case", "x-ratelimit-limit-minute", "x-ratelimit-remaining-minute", "x-ratelimit-retry-after"},
	}
	for _, sp := range spellings {
		t.Run(sp.name, func(t *testing.T) {
			t.Parallel()
			// A header built by hand keeps its spelling: ParseRateLimit must still find it.
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			h := http.Header{sp.limit: {"400"}, sp.remaining: {"380"}, sp.retry: {"12"}}
			got, ok := helpscout.ParseRateLimit(h, at)
			require.True(t, ok)
			require.Equal(t, helpscout.RateLimitState{Limit: 400, Remaining: 380, RetryAfter: 12 * time.Second, At: at}, got)

			// Over HTTP, sent with exactly this spelling.
			mux := http.NewServeMux()
			mux.HandleFunc("POST /v2/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"token_type":"bearer","access_token":"tok","expires_in":7200}`))
			})
			mux.HandleFunc("GET /v2/mailboxes/1", func(w http.ResponseWriter, r *http.Request) {
				w.Header()[sp.limit] = []string{"200"}
				w.Header()[sp.remaining] = []string{"0"}
				w.Header()[sp.retry] = []string{"7"}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			c := helpscout.New(helpscout.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", MailboxID: 1, Now: func() time.Time { return at }})
			res, err := c.Ping(context.Background())
			e := asError(t, err)
			require.Equal(t, db.CodeRateLimited, e.Code)
			require.Equal(t, 7*time.Second, e.RetryAfter)
			want := helpscout.RateLimitState{Limit: 200, Remaining: 0, RetryAfter: 7 * time.Second, At: at}
			require.Equal(t, want, c.RateLimit())
			require.Equal(t, want, res.RateLimit)
		})
	}
	_, ok := helpscout.ParseRateLimit(http.Header{"Content-Type": {"text/plain"}}, time.Now())
	require.False(t, ok)
}

func TestRateLimitedWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"token_type":"bearer","access_token":"tok"}`))
	})
	mux.HandleFunc("GET /v2/mailboxes/1", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := helpscout.New(helpscout.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", MailboxID: 1, Now: func() time.Time { return now }})
	_, err := c.Ping(context.Background())
	require.Equal(t, helpscout.DefaultRetryAfter, asError(t, err).RetryAfter)
	require.Equal(t, now.Add(helpscout.DefaultTokenLifetime), c.TokenExpiry(), "no expires_in: the shortest known lifetime")
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	const vector = "7S2+kN8bZsrdAEADJ+yYfWWsf/4="
	body := []byte(`{"id":123}`)
	require.Equal(t, vector, helpscout.Sign("asdfasdf", body))

	tests := []struct {
		name   string
		secret string
		body   string
		header string
		want   bool
	}{
		{"reference vector", "asdfasdf", `{"id":123}`, vector, true},
		{"surrounding spaces", "asdfasdf", `{"id":123}`, " " + vector + " ", true},
		{"other body", "asdfasdf", `{"id": 123}`, vector, false},
		{"other secret", "qwerty", `{"id":123}`, vector, false},
		{"missing header", "asdfasdf", `{"id":123}`, "", false},
		{"not base64", "asdfasdf", `{"id":123}`, "%%%", false},
		{"no secret configured", "", `{"id":123}`, helpscout.Sign("", body), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, helpscout.VerifySignature(tt.secret, []byte(tt.body), tt.header))
		})
	}
}

func TestSimulatorWebhookVerifies(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *helpscoutsim.Options, _ *helpscout.Config) { o.WebhookSecret = "asdfasdf" })
	ctx := context.Background()
	ref, _, err := b.client.CreateConversation(ctx, contactForm("ann@example.com", "Hello"))
	require.NoError(t, err)
	payload, ok := b.sim.ConversationJSON(ref.ID)
	require.True(t, ok)

	type delivery struct {
		event string
		ok    bool
		conv  *helpscout.Conversation
	}
	got := make(chan delivery, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		conv, _ := helpscout.ParseConversation(raw)
		got <- delivery{
			event: r.Header.Get(helpscout.HeaderEvent),
			ok:    helpscout.VerifySignature("asdfasdf", raw, r.Header.Get(helpscout.HeaderSignature)),
			conv:  conv,
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)

	status, err := b.sim.SendWebhook(ctx, recv.URL, "convo.created", payload)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	d := <-got
	require.Equal(t, "convo.created", d.event)
	require.True(t, d.ok)
	require.NotNil(t, d.conv)
	require.Equal(t, ref.ID, d.conv.ID)
	require.Equal(t, ref.Number, d.conv.Number)
	require.Equal(t, "ann@example.com", d.conv.CustomerEmail)
}

func TestListMailboxes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *helpscoutsim.Options, _ *helpscout.Config) { o.MailboxIDs = []int64{testMailbox, 777} })
	boxes, res, err := b.client.ListMailboxes(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, boxes, 2)
	require.Equal(t, helpscout.Mailbox{ID: testMailbox, Name: "Support", Slug: boxes[0].Slug, Email: "support@example.com"}, boxes[0])
	require.Equal(t, int64(777), boxes[1].ID)
}
