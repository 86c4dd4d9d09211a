package helpscoutsim

import (
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// handleToken is POST /v2/oauth2/token. It accepts the credentials as JSON,
// as a form, as query parameters or with Basic auth, like the real one.
func (s *Server) handleToken(w http.ResponseWriter, rq *request) {
	params := url.Values{}
	for k, v := range rq.r.URL.Query() {
		params[k] = v
	}
	mt, _, _ := mime.ParseMediaType(rq.r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || (mt == "" && len(rq.body) > 0 && rq.body[0] == '{'):
		var m map[string]any
		if err := json.Unmarshal(rq.body, &m); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON body")
			return
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				params.Set(k, str)
			}
		}
	case mt == "application/x-www-form-urlencoded" || (mt == "" && len(rq.body) > 0):
		form, err := url.ParseQuery(string(rq.body))
		if err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid form body")
			return
		}
		for k, v := range form {
			params[k] = v
		}
	}
	if id, secret, ok := rq.r.BasicAuth(); ok {
		if params.Get("client_id") == "" {
			params.Set("client_id", id)
		}
		if params.Get("client_secret") == "" {
			params.Set("client_secret", secret)
		}
	}
	if g := params.Get("grant_type"); g != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", `Invalid "grant_type"`)
		return
	}
	id, secret := params.Get("client_id"), params.Get("client_secret")

	s.mu.Lock()
	ok := s.credentialsMatch(id, secret) && !s.faults.RevokeCredentials
	var tok string
	var ttl time.Duration
	if ok {
		now := s.now()
		for t, exp := range s.tokens {
			if !now.Before(exp) {
				delete(s.tokens, t)
			}
		}
		tok = newToken()
		ttl = s.opts.TokenTTL
		s.tokens[tok] = now.Add(ttl)
		s.stats.tokensIssued++
	}
	s.mu.Unlock()
	if !ok {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client authentication")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_type":   "bearer",
		"access_token": tok,
		"expires_in":   int64(ttl / time.Second),
	})
}

// credentialsMatch must be called with s.mu held.
func (s *Server) credentialsMatch(id, secret string) bool {
	if id == "" || secret == "" {
		return false
	}
	if s.opts.ClientID == "" && s.opts.ClientSecret == "" {
		return true
	}
	return id == s.opts.ClientID && secret == s.opts.ClientSecret
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// authorized reports whether the request carries a live token.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.RevokeCredentials {
		return false
	}
	exp, found := s.tokens[strings.TrimSpace(tok)]
	return found && s.now().Before(exp)
}

func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="service", error="invalid_token", error_description="The access token is invalid or has expired"`)
	writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid or has expired")
}

// The rate-limit headers as the recordings spell them, and the Retry-After
// header as the documentation spells it (set without canonicalisation, so
// that clients see both spellings on the wire).
const (
	hdrLimit      = "X-Ratelimit-Limit-Minute"
	hdrRemaining  = "X-Ratelimit-Remaining-Minute"
	hdrRetryAfter = "X-RateLimit-Retry-After"
)

// cost is what a request costs: writes 2, reads 1.
func cost(method string) int {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return 2
	}
	return 1
}

// admit charges the request to the current minute's budget and writes the
// rate-limit headers. Over the budget (or with the RateLimited fault) it
// answers 429 and reports false.
func (s *Server) admit(w http.ResponseWriter, method string) bool {
	s.mu.Lock()
	now := s.now()
	ws := now.Truncate(time.Minute)
	if !ws.Equal(s.windowStart) {
		s.windowStart, s.used = ws, 0
	}
	limit := s.opts.RateLimitPerMinute
	c := cost(method)
	limited := s.faults.RateLimited || s.used+c > limit
	if limited {
		s.stats.rateLimited++
	} else {
		s.used += c
	}
	remaining := max(limit-s.used, 0)
	if limited {
		remaining = 0
	}
	s.mu.Unlock()

	h := w.Header()
	h[hdrLimit] = []string{strconv.Itoa(limit)}
	h[hdrRemaining] = []string{strconv.Itoa(remaining)}
	if !limited {
		return true
	}
	wait := ws.Add(time.Minute).Sub(now)
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	h[hdrRetryAfter] = []string{strconv.Itoa(secs)}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"message":"API rate limit exceeded"}` + "\n"))
	return false
}
