package helpscout

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

func vnd(body string) *reply {
	return &reply{header: http.Header{"Content-Type": {"application/vnd.error+json"}}, body: []byte(body)}
}

func TestResponseErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		path      string
		status    int
		rep       *reply
		code      db.ErrorCode
		transient bool
		unknown   bool
		message   string
		logRef    string
	}{
		{name: "401", status: 401, rep: &reply{}, code: db.CodeAuthenticationFailed},
		{name: "403 access denied", status: 403, rep: vnd(`{"logRef":"a#1","message":"Access denied"}`),
			code: db.CodeAuthenticationFailed, message: "Access denied", logRef: "a#1"},
		{name: "429", status: 429, rep: &reply{}, code: db.CodeRateLimited, transient: true},
		{name: "408", method: "POST", status: 408, rep: &reply{}, code: db.CodeTimeout, transient: true, unknown: true},
		{name: "500 on a write", method: "POST", status: 500, rep: vnd(`{"logRef":"b#2","message":"Internal error"}`),
			code: db.CodeHelpScoutUnavailable, transient: true, unknown: true, message: "Internal error", logRef: "b#2"},
		{name: "502 on a read", status: 502, rep: &reply{body: []byte("<html>Bad gateway</html>")},
			code: db.CodeHelpScoutUnavailable, transient: true, message: "<html>Bad gateway</html>"},
		{name: "404", path: "/v2/conversations/1", status: 404, rep: &reply{}, code: db.CodeNotFound},
		{name: "404 of a mailbox", path: "/v2/mailboxes/9", status: 404, rep: &reply{}, code: db.CodeMailboxNotFound},
		{name: "404 naming the mailbox", path: "/v2/conversations/1/threads", status: 404,
			rep: vnd(`{"message":"Mailbox not found"}`), code: db.CodeMailboxNotFound},
		{name: "404 to a create", method: "POST", path: "/v2/conversations", status: 404, rep: &reply{}, code: db.CodeMailboxNotFound},
		{name: "400 mailboxId", status: 400, rep: vnd(`{"message":"Bad request","_embedded":{"errors":[{"path":"mailboxId","message":"Invalid value"}]}}`),
			code: db.CodeMailboxNotFound, message: "Bad request; mailboxId: Invalid value"},
		{name: "400 email", status: 400, rep: vnd(`{"message":"Bad request","_embedded":{"errors":[{"path":"emails[0].value","message":"Not well-formed email address"}]}}`),
			code: db.CodeInvalidEmail},
		{name: "400 null", status: 400, rep: vnd(`{"message":"Bad request","_embedded":{"errors":[{"path":"customer","message":"may not be null"}]}}`),
			code: db.CodeMissingRequiredField},
		{name: "400 encoding in the message", status: 400, rep: vnd(`{"message":"Could not read document: Invalid UTF-8 middle byte 0x3f"}`),
			code: db.CodeInvalidEncoding},
		{name: "400 size mentions characters", status: 400, rep: vnd(`{"message":"Bad request","_embedded":{"errors":[{"path":"subject","message":"may not exceed 255 characters"}]}}`),
			code: db.CodeValidationFailed},
		{name: "400 several errors: the most useful wins", status: 400,
			rep:  vnd(`{"message":"Bad request","_embedded":{"errors":[{"path":"subject","message":"may not be empty"},{"path":"customer.email","message":"Not well-formed email address"},{"path":"status","message":"Expected one of these: 'active'"}]}}`),
			code: db.CodeInvalidEmail, message: "Bad request; subject: may not be empty; customer.email: Not well-formed email address; status: Expected one of these: 'active'"},
		{name: "400 other", status: 400, rep: vnd(`{"message":"Bad request","_embedded":{"errors":[{"path":"createdAt","message":"Malformed date"}]}}`),
			code: db.CodeValidationFailed},
		{name: "plain JSON body: its message, the header's logRef", status: 400,
			rep:  &reply{header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"logRef":"x#9","message":"Bad request"}`), logRef: "hdr#1"},
			code: db.CodeValidationFailed, message: "Bad request", logRef: "hdr#1"},
		{name: "429 with a plain JSON message", status: 429,
			rep:  &reply{header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"message":"API rate limit exceeded"}`)},
			code: db.CodeRateLimited, transient: true, message: "API rate limit exceeded"},
		{name: "413", status: 413, rep: &reply{}, code: db.CodeValidationFailed},
		{name: "unexpected 418", status: 418, rep: &reply{}, code: db.CodeUnknown},
		{name: "unexpected 304", status: 304, rep: &reply{}, code: db.CodeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.method == "" {
				tt.method = "GET"
			}
			if tt.path == "" {
				tt.path = "/v2/customers"
			}
			if tt.rep.header == nil {
				tt.rep.header = http.Header{}
			}
			tt.rep.status = tt.status
			e := responseError("testing", tt.method, tt.path, tt.rep)
			require.Equal(t, tt.code, e.Code)
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.transient, e.Transient)
			require.Equal(t, tt.unknown, e.OutcomeUnknown)
			if tt.message != "" {
				require.Equal(t, tt.message, e.Message)
			}
			if tt.logRef != "" {
				require.Equal(t, tt.logRef, e.LogRef)
			}
		})
	}
}

func TestTransportErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		err       error
		code      db.ErrorCode
		transient bool
		unknown   bool
	}{
		{"deadline on a write", "POST", fmt.Errorf("post: %w", context.DeadlineExceeded), db.CodeTimeout, true, true},
		{"deadline on a read", "GET", context.DeadlineExceeded, db.CodeTimeout, true, false},
		{"net timeout", "GET", &net.OpError{Op: "read", Err: timeoutErr{}}, db.CodeTimeout, true, false},
		{"refused write never arrived", "POST", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, db.CodeHelpScoutUnavailable, true, false},
		{"reset write may have arrived", "POST", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, db.CodeHelpScoutUnavailable, true, true},
		{"EOF", "GET", io.ErrUnexpectedEOF, db.CodeHelpScoutUnavailable, true, false},
		{"dns", "GET", &net.DNSError{Err: "no such host", Name: "api.helpscout.net"}, db.CodeHelpScoutUnavailable, true, false},
		{"cancelled", "PATCH", context.Canceled, db.CodeUnknown, true, true},
		{"other", "GET", fmt.Errorf("weird"), db.CodeUnknown, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := transportError("testing", tt.method, tt.err)
			require.Equal(t, tt.code, e.Code)
			require.Equal(t, tt.transient, e.Transient)
			require.Equal(t, tt.unknown, e.OutcomeUnknown)
			require.ErrorIs(t, e, tt.err)
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorText(t *testing.T) {
	t.Parallel()
	e := &Error{Op: "creating conversation", Code: db.CodeInvalidEmail, Status: 400,
		Message: "Bad request; customer.email: Not well-formed email address", LogRef: "abc#1"}
	require.Equal(t, "error creating conversation: INVALID_EMAIL (HTTP 400): Bad request; customer.email: Not well-formed email address [logRef abc#1]", e.Error())
	require.Equal(t, db.CodeInvalidEmail, CodeOf(fmt.Errorf("wrapped: %w", e)))
	require.Equal(t, db.ErrorCode(""), CodeOf(nil))
	require.Equal(t, db.CodeUnknown, CodeOf(fmt.Errorf("plain")))
}

func TestRetryAfterHTTPDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}
	d, ok := retryAfter(h, now)
	require.True(t, ok)
	require.Equal(t, 30*time.Second, d)
}

func TestExcerptIsShortAndValid(t *testing.T) {
	t.Parallel()
	long := make([]byte, 0, 1000)
	for range 400 {
		long = append(long, "é"...)
	}
	s := excerpt(long)
	require.LessOrEqual(t, len(s), maxExcerptBytes+len("…"))
	require.Equal(t, "a \uFFFD b", excerpt([]byte("a \xff\n\n b")))
}
