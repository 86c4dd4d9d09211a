package helpscout

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The rate-limit headers, as HelpScout's documentation spells them. The
// recordings show X-Ratelimit-...; ParseRateLimit matches any letter case.
const (
	HeaderRateLimitLimit      = "X-RateLimit-Limit-Minute"
	HeaderRateLimitRemaining  = "X-RateLimit-Remaining-Minute"
	HeaderRateLimitRetryAfter = "X-RateLimit-Retry-After"
)

// DefaultRetryAfter is assumed for a 429 that does not say how long to wait
// (UNCONFIRMED; a full rate-limit window, the safe choice).
const DefaultRetryAfter = time.Minute

// RateLimitState is a reading of HelpScout's per-minute rate limit.
type RateLimitState struct {
	// Limit is the number of units allowed per minute (writes cost 2, reads 1); -1 when not sent.
	Limit int
	// Remaining is the number of units left in the current minute; -1 when not sent.
	Remaining int
	// RetryAfter is how long HelpScout asked us to wait (sent with a 429), else zero.
	RetryAfter time.Duration
	// At is when the reading was taken, by the client's clock.
	At time.Time
}

// Call describes one HTTP request the client made.
type Call struct {
	// Method is the HTTP method.
	Method string
	// Path is the request path with its query, e.g. /v2/conversations/861100000.
	Path string
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// Duration is the time from sending the request to reading the answer.
	Duration time.Duration
	// LogRef is HelpScout's Correlation-Id header, or the logRef of an error body.
	LogRef string
	// RateLimit is the rate-limit reading of this answer; At is zero when it had none.
	RateLimit RateLimitState
}

// Result describes an operation for the sync log. Method, Path, Status and
// LogRef are those of the request that decided the outcome: the failing
// request when there is an error, else the operation's main request (the
// POST of a create). Calls lists every HTTP request made, token requests
// and follow-up reads included, in order.
type Result struct {
	// Method is the HTTP method of the deciding request.
	Method string
	// Path is the path and query of the deciding request.
	Path string
	// Status is the HTTP status of the deciding request, 0 when none was received.
	Status int
	// Duration is the time the whole operation took.
	Duration time.Duration
	// LogRef is HelpScout's correlation id for the deciding request.
	LogRef string
	// RateLimit is the latest rate-limit reading seen during the operation.
	RateLimit RateLimitState
	// TokenRenewed reports that HelpScout refused the token with a 401 and a new one was fetched.
	TokenRenewed bool
	// FollowUpErr is set when the main request succeeded but a follow-up read
	// failed (for example the conversation number after a create); the
	// operation still succeeded.
	FollowUpErr error
	// Calls lists every HTTP request the operation made.
	Calls []Call
}

func (r *Result) addCall(c Call) {
	r.Calls = append(r.Calls, c)
	r.Method, r.Path, r.Status, r.LogRef = c.Method, c.Path, c.Status, c.LogRef
	if !c.RateLimit.At.IsZero() {
		r.RateLimit = c.RateLimit
	}
}

// markMain makes the call at index i the deciding request again, after
// follow-up calls.
func (r *Result) markMain(i int) {
	if i < 0 || i >= len(r.Calls) {
		return
	}
	c := r.Calls[i]
	r.Method, r.Path, r.Status, r.LogRef = c.Method, c.Path, c.Status, c.LogRef
}

// Charged reports whether HelpScout counted the call against the rate
// limit: an API request it answered, except a 401 (the gateway refuses a
// token before it applies the rate limit) and a 429 (over the limit).
// Token requests cost nothing.
func (c Call) Charged() bool {
	if strings.HasPrefix(c.Path, tokenPath) || c.Status == 0 {
		return false
	}
	return c.Status != http.StatusUnauthorized && c.Status != http.StatusTooManyRequests
}

// Cost is what the call costs against the rate limit when it is charged:
// POST, PUT, PATCH and DELETE count as 2, the rest as 1.
func (c Call) Cost() int { return cost(c.Method) }

// APICalls returns how many of the calls HelpScout's API answered (token
// requests excluded) and how many units it charged for them (writes 2,
// reads 1; see Call.Charged).
func (r Result) APICalls() (calls, units int) {
	for _, c := range r.Calls {
		if strings.HasPrefix(c.Path, tokenPath) || c.Status == 0 {
			continue
		}
		calls++
		if c.Charged() {
			units += c.Cost()
		}
	}
	return calls, units
}

const tokenPath = "/v2/oauth2/token"

// cost is what a request costs against the rate limit: POST, PUT, PATCH and
// DELETE count as 2, the rest as 1.
func cost(method string) int {
	if isWrite(method) {
		return 2
	}
	return 1
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// headerValue returns the first value of the header named name in any
// letter case. http.Header canonicalises names read from the wire, but a
// header built by hand may keep another spelling.
func headerValue(h http.Header, name string) (string, bool) {
	if v, ok := h[http.CanonicalHeaderKey(name)]; ok && len(v) > 0 {
		return strings.TrimSpace(v[0]), true
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.TrimSpace(v[0]), true
		}
	}
	return "", false
}

// ParseRateLimit reads HelpScout's rate-limit headers (any letter case,
// e.g. X-RateLimit-Limit-Minute or X-Ratelimit-Limit-Minute). It reports
// false when none is present. A missing limit or remaining count is -1.
func ParseRateLimit(h http.Header, at time.Time) (RateLimitState, bool) {
	st := RateLimitState{Limit: -1, Remaining: -1, At: at}
	found := false
	if v, ok := headerValue(h, HeaderRateLimitLimit); ok {
		if n, err := strconv.Atoi(v); err == nil {
			st.Limit, found = n, true
		}
	}
	if v, ok := headerValue(h, HeaderRateLimitRemaining); ok {
		if n, err := strconv.Atoi(v); err == nil {
			st.Remaining, found = n, true
		}
	}
	if d, ok := retryAfter(h, at); ok {
		st.RetryAfter, found = d, true
	}
	if !found {
		return RateLimitState{}, false
	}
	return st, true
}

// retryAfter reads X-RateLimit-Retry-After (seconds), or the standard
// Retry-After (seconds or an HTTP date) that the v1 API sent.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v, ok := headerValue(h, HeaderRateLimitRetryAfter); ok {
		if d, ok := parseSeconds(v); ok {
			return d, true
		}
	}
	if v, ok := headerValue(h, "Retry-After"); ok {
		if d, ok := parseSeconds(v); ok {
			return d, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	return 0, false
}

func parseSeconds(v string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
