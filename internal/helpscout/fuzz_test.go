package helpscout_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// FuzzAPIAnswers gives the client answers of HelpScout's API that the
// fuzzer chooses (status, headers and body) to each of its calls, after a
// valid token. Whatever the answer, a call either succeeds with what it
// promises (a created resource has an id, a read one has its id) or fails
// with one of our error codes and a message free of credentials; a 2xx
// without the created resource's id is a failure whose outcome is unknown,
// so that the caller looks before creating it again. Under go test only
// the seeds run; to search further:
//
//	go test -run '^$' -fuzz FuzzAPIAnswers -fuzztime 5m ./internal/helpscout/
func FuzzAPIAnswers(f *testing.F) {
	const token = "fuzz-access-token-0123"
	for _, s := range []struct {
		op     uint8
		status uint16
		header string
		body   string
	}{
		{0, 201, "Resource-ID: 123\nLocation: https://api.helpscout.net/v2/conversations/123", ""},
		{0, 201, "Location: https://api.helpscout.net/v2/conversations/abc", ""},
		{0, 201, "Resource-ID: -5", ""},
		{0, 200, "", `{"id": 7}`},
		{1, 201, "Resource-ID: 9", ""},
		{1, 400, "Content-Type: application/vnd.error+json", `{"message":"Bad request","_embedded":{"errors":[{"path":"emails[0].value","message":"Not well-formed email address"}]}}`},
		{2, 200, "Content-Type: application/hal+json", `{"id": 42, "number": 77, "subject": "Hi", "status": "active", "mailboxId": 1, "createdAt": "2026-03-02T12:00:00Z"}`},
		{2, 200, "", `{}`},
		{2, 200, "", `{"id": "x"}`},
		{3, 200, "", `{"id": 5, "firstName": "A", "_embedded": {"emails": [{"value": "a@example.com"}]}}`},
		{3, 404, "", ``},
		{4, 200, "", `{"_embedded": {"customers": [{"id": 1}]}, "page": {"totalElements": 1}}`},
		{4, 200, "", `{"_embedded": {"customers": null}}`},
		{5, 200, "", `{"_embedded": {"conversations": [{"id": 3, "number": 4}]}, "page": {"totalPages": 99999}}`},
		{0, 429, "X-RateLimit-Retry-After: 30\nX-RateLimit-Remaining-Minute: 0", `{"message":"rate limit ` + testSecret + `"}`},
		{1, 500, "Correlation-Id: abc", `<html>` + token + `</html>`},
		{2, 401, "", ``},
		{2, 200, "Correlation-Id: " + token, `<html>` + token + `</html>`},
		{5, 200, "", `{"_embedded": {"conversations": "` + testSecret + `"}}`},
		{6, 204, "", ``},
		{6, 200, "X-RateLimit-Limit-Minute: x", `not json`},
	} {
		f.Add(s.op, s.status, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op uint8, status uint16, header string, body []byte) {
		code := int(status)
		if code < 200 || code > 599 {
			code = 200 + code%400
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/oauth2/token" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"token_type":"bearer","access_token":"` + token + `","expires_in":7200}`))
				return
			}
			sc := bufio.NewScanner(strings.NewReader(header))
			for sc.Scan() {
				k, v, ok := strings.Cut(sc.Text(), ":")
				if ok && k != "" && !strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' }) {
					w.Header().Add(k, strings.TrimSpace(v))
				}
			}
			w.Header().Del("Content-Length")
			w.Header().Del("Transfer-Encoding")
			w.WriteHeader(code)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c := helpscout.New(helpscout.Config{BaseURL: srv.URL, ClientID: testClientID, ClientSecret: testSecret,
			MailboxID: testMailbox, Timeout: 10 * time.Second})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()

		var err error
		switch op % 7 {
		case 0:
			var ref helpscout.ConversationRef
			ref, _, err = c.CreateConversation(ctx, helpscout.ConversationInput{Subject: "Order", CustomerEmail: "a@example.com", Text: "Hi"})
			if err == nil {
				require.Positive(t, ref.ID, "created without an id (%d %q)", code, body)
			} else {
				var e *helpscout.Error
				if code < 300 && errors.As(err, &e) && e.Status == code {
					require.True(t, e.OutcomeUnknown, "a %d answer to a create failed as if nothing was created: %v", code, err)
				}
			}
		case 1:
			var id int64
			id, _, err = c.CreateCustomer(ctx, helpscout.CustomerInput{FirstName: "A", Email: "a@example.com"})
			if err == nil {
				require.Positive(t, id, "created without an id (%d %q)", code, body)
			}
		case 2:
			var conv *helpscout.Conversation
			conv, _, err = c.GetConversation(ctx, 42)
			if err == nil {
				require.NotNil(t, conv)
				require.Positive(t, conv.ID, "read a conversation without an id from %d %q", code, body)
			}
		case 3:
			var cu *helpscout.Customer
			cu, _, err = c.GetCustomer(ctx, 5)
			if err == nil {
				require.NotNil(t, cu)
				require.Positive(t, cu.ID, "read a customer without an id from %d %q", code, body)
			}
		case 4:
			_, _, err = c.FindCustomerByEmail(ctx, "a@example.com")
		case 5:
			_, _, err = c.FindConversationsByCustomerEmail(ctx, "a@example.com", time.Now().Add(-time.Hour))
		case 6:
			_, err = c.Ping(ctx)
		}
		if err != nil {
			require.True(t, slices.Contains(db.ErrorCodes, helpscout.CodeOf(err)), "code %q of %v", helpscout.CodeOf(err), err)
			msg := err.Error()
			require.NotContains(t, msg, testSecret)
			require.NotContains(t, msg, token)
		}
	})
}
