package helpscout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/kivalogic/helpscout-log/db"
)

const (
	codeAuth        = db.CodeAuthenticationFailed
	codeUnknown     = db.CodeUnknown
	vndErrorType    = "application/vnd.error+json"
	maxExcerptBytes = 300
)

// Error is a failed HelpScout operation, mapped to our error code.
type Error struct {
	// Op is what the client was doing, e.g. "creating conversation".
	Op string
	// Code is our error code.
	Code db.ErrorCode
	// Status is HelpScout's HTTP status, 0 when no answer came.
	Status int
	// Message is HelpScout's own message (the vnd.error message followed by
	// each "path: message" of _embedded.errors), a short excerpt of another
	// body, or our description of a local or transport failure.
	Message string
	// LogRef is HelpScout's logRef (or Correlation-Id) for the failed request.
	LogRef string
	// RetryAfter is how long to wait before trying again (set for RATE_LIMITED).
	RetryAfter time.Duration
	// Transient reports that the same request may succeed later.
	Transient bool
	// OutcomeUnknown reports that a write may have been carried out although
	// it failed (timeout, broken connection, 5xx): look before repeating it.
	OutcomeUnknown bool
	// Err is the underlying error, if any.
	Err error
}

// Error describes the failure without any credential.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("error ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(string(e.Code))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.LogRef != "" {
		b.WriteString(" [logRef ")
		b.WriteString(e.LogRef)
		b.WriteString("]")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the error code of err: the Code of an *Error in its chain,
// TIMEOUT for a deadline, else UNKNOWN. It returns "" for a nil error.
func CodeOf(err error) db.ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return db.CodeTimeout
	}
	return db.CodeUnknown
}

// unreadable is the error of a successful answer whose body could not be
// read as what: most often an answer cut short or garbled on its way, so
// it is transient, and the same read is tried again later.
func unreadable(op, what string, rep *reply, err error) *Error {
	return &Error{Op: op, Code: db.CodeUnknown, Status: rep.status, LogRef: rep.logRef,
		Message: "unreadable " + what + ": " + excerpt(rep.body), Err: err, Transient: true}
}

// IsTransient reports whether err is an *Error that may go away by itself.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// vndError is HelpScout's error body (application/vnd.error+json).
type vndError struct {
	LogRef   string `json:"logRef"`
	Message  string `json:"message"`
	Embedded struct {
		Errors []vndItem `json:"errors"`
	} `json:"_embedded"`
}

type vndItem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Source  string `json:"source"`
}

// responseError maps an HTTP answer of 300 or more to an *Error.
func responseError(op, method, path string, rep *reply) *Error {
	e := &Error{Op: op, Status: rep.status, LogRef: rep.logRef}
	var items []vndItem
	if isVndError(rep.header) {
		var v vndError
		if err := unmarshal(rep.body, &v); err == nil {
			if v.LogRef != "" {
				e.LogRef = v.LogRef
			}
			items = v.Embedded.Errors
			e.Message = vndMessage(v)
		}
	}
	if e.Message == "" {
		// Some answers (a 429, say) are plain JSON with a message.
		var plain struct {
			Message string `json:"message"`
		}
		if err := unmarshal(rep.body, &plain); err == nil && strings.TrimSpace(plain.Message) != "" {
			e.Message = excerpt([]byte(plain.Message))
		}
	}
	if e.Message == "" {
		e.Message = excerpt(rep.body)
	}
	write := isWrite(method)
	switch s := rep.status; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Code = db.CodeAuthenticationFailed
	case s == http.StatusTooManyRequests:
		e.Code, e.Transient = db.CodeRateLimited, true
		d, ok := retryAfter(rep.header, time.Now())
		if !ok {
			d = DefaultRetryAfter
		}
		e.RetryAfter = d
	case s == http.StatusRequestTimeout:
		e.Code, e.Transient, e.OutcomeUnknown = db.CodeTimeout, true, write
	case s >= 500:
		e.Code, e.Transient, e.OutcomeUnknown = db.CodeHelpScoutUnavailable, true, write
	case s == http.StatusNotFound:
		e.Code = db.CodeNotFound
		if mentionsMailbox(path, e.Message, items) || (method == http.MethodPost && pathIs(path, "/v2/conversations")) {
			e.Code = db.CodeMailboxNotFound
		}
	case s == http.StatusBadRequest || s == http.StatusConflict ||
		s == http.StatusRequestEntityTooLarge || s == http.StatusUnprocessableEntity:
		e.Code = validationCode(e.Message, items)
	default:
		e.Code = db.CodeUnknown
	}
	return e
}

func pathIs(path, want string) bool {
	p, _, _ := strings.Cut(path, "?")
	return p == want
}

func isVndError(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, vndErrorType)
}

func vndMessage(v vndError) string {
	parts := make([]string, 0, len(v.Embedded.Errors)+1)
	if v.Message != "" {
		parts = append(parts, v.Message)
	}
	for _, it := range v.Embedded.Errors {
		switch {
		case it.Path != "" && it.Message != "":
			parts = append(parts, it.Path+": "+it.Message)
		case it.Message != "":
			parts = append(parts, it.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// excerpt keeps the start of a body that is not a vnd.error, as readable text.
func excerpt(body []byte) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxExcerptBytes {
		cut := maxExcerptBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func mentionsMailbox(reqPath, message string, items []vndItem) bool {
	p, _, _ := strings.Cut(reqPath, "?")
	if strings.HasPrefix(p, "/v2/mailboxes") {
		return true
	}
	if strings.Contains(strings.ToLower(message), "mailbox") {
		return true
	}
	for _, it := range items {
		if isMailboxItem(it) {
			return true
		}
	}
	return false
}

func isMailboxItem(it vndItem) bool {
	return strings.EqualFold(it.Path, "mailboxId") || strings.Contains(strings.ToLower(it.Path+" "+it.Message), "mailbox")
}

// encodingHints are phrases of messages about text HelpScout cannot take.
// A bare "character" is not enough: size messages speak of characters too.
var encodingHints = []string{"encoding", "utf-8", "utf8", "utf-16", "invalid character", "illegal character",
	"unsupported character", "character not allowed", "characters not allowed", "invalid unicode",
	"control character", "malformed input"}

func isEncodingText(s string) bool {
	s = strings.ToLower(s)
	for _, h := range encodingHints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

var missingHints = []string{"may not be empty", "may not be null", "must not be empty", "must not be null",
	"must not be blank", "may not be blank", "is required", "required field", "missing"}

func isMissingText(s string) bool {
	s = strings.ToLower(s)
	for _, h := range missingHints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

func isEmailItem(it vndItem) bool {
	msg := strings.ToLower(it.Message)
	if strings.Contains(msg, "well-formed email") {
		return true
	}
	return strings.Contains(strings.ToLower(it.Path), "email") &&
		(strings.Contains(msg, "not well-formed") || strings.Contains(msg, "invalid email"))
}

// validationCode picks the code of a refused request. With several errors
// the most useful wins: a wrong mailbox (configuration) first, then
// encoding, email, missing fields, and anything else.
func validationCode(message string, items []vndItem) db.ErrorCode {
	if len(items) == 0 {
		items = []vndItem{{Message: message}}
	}
	rank := map[db.ErrorCode]int{db.CodeMailboxNotFound: 5, db.CodeInvalidEncoding: 4,
		db.CodeInvalidEmail: 3, db.CodeMissingRequiredField: 2, db.CodeValidationFailed: 1}
	best := db.CodeValidationFailed
	if isEncodingText(message) {
		best = db.CodeInvalidEncoding
	}
	for _, it := range items {
		c := db.CodeValidationFailed
		switch {
		case isMailboxItem(it):
			c = db.CodeMailboxNotFound
		case isEncodingText(it.Message):
			c = db.CodeInvalidEncoding
		case isEmailItem(it):
			c = db.CodeInvalidEmail
		case isMissingText(it.Message):
			c = db.CodeMissingRequiredField
		}
		if rank[c] > rank[best] {
			best = c
		}
	}
	return best
}

// transportError maps a failure to get an answer: timeouts are TIMEOUT,
// refused, reset or broken connections HELPSCOUT_UNAVAILABLE.
func transportError(op, method string, err error) *Error {
	write := isWrite(method)
	e := &Error{Op: op, Err: err, Transient: true}
	var nerr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &nerr) && nerr.Timeout()):
		e.Code, e.Message, e.OutcomeUnknown = db.CodeTimeout, "no answer from HelpScout in time", write
	case errors.Is(err, context.Canceled):
		e.Code, e.Message, e.OutcomeUnknown = db.CodeUnknown, "request cancelled", write
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Code, e.Message = db.CodeHelpScoutUnavailable, "connection refused"
	case errors.As(err, &dnsErr):
		e.Code, e.Message = db.CodeHelpScoutUnavailable, "cannot resolve HelpScout's host"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE):
		e.Code, e.Message, e.OutcomeUnknown = db.CodeHelpScoutUnavailable, "connection closed by HelpScout", write
	case errors.As(err, &nerr):
		e.Code, e.Message, e.OutcomeUnknown = db.CodeHelpScoutUnavailable, "network error", write
	default:
		e.Code, e.Message, e.Transient, e.OutcomeUnknown = db.CodeUnknown, "request failed", false, write
	}
	return e
}

// checkUTF8 refuses text that is not valid UTF-8 before anything is sent:
// encoding/json would replace the bad bytes and HelpScout would store
// something else than we were given. pairs alternate field names and values.
func checkUTF8(op string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !utf8.ValidString(pairs[i+1]) {
			return &Error{Op: op, Code: db.CodeInvalidEncoding,
				Message: fmt.Sprintf("%s is not valid UTF-8; nothing was sent to HelpScout", pairs[i])}
		}
	}
	return nil
}
