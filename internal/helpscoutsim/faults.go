package helpscoutsim

import (
	mrand "math/rand/v2"
	"time"
)

// Faults are the failures the simulator injects. SetFaults replaces the
// whole set; the zero value means no fault.
type Faults struct {
	// ExpireTokens is an action, not a state: when set, every token issued
	// so far expires at once (the next API call gets a 401), then the flag
	// clears itself.
	ExpireTokens bool `json:"expireTokens,omitempty"`
	// RevokeCredentials refuses the client credentials at the token endpoint
	// (401 invalid_client) and invalidates every issued token, until cleared.
	RevokeCredentials bool `json:"revokeCredentials"`
	// RateLimited answers every API call with 429, as if the account's
	// budget were spent, until cleared.
	RateLimited bool `json:"rateLimited"`
	// LatencyMs delays every answer (token endpoint included) by this many milliseconds.
	LatencyMs int `json:"latencyMs"`
	// Timeout holds every request (token endpoint included) without answering until the client gives up.
	Timeout bool `json:"timeout"`
	// Status5xxBurst answers the next N API calls with BurstStatus; reading
	// the faults back shows how many are left.
	Status5xxBurst int `json:"status5xxBurst"`
	// BurstStatus is the status of the burst, 500 when zero (any status may
	// be chosen, e.g. 503, or 418 to test an unexpected answer).
	BurstStatus int `json:"burstStatus,omitempty"`
	// FailureRate answers this fraction (0–1) of API calls with a 500.
	FailureRate float64 `json:"failureRate"`
	// Seed seeds the random failures, so that a run can be repeated.
	Seed uint64 `json:"seed"`
}

// SetFaults replaces the injected faults. Revoking credentials or expiring
// tokens invalidates every token issued so far; the random failures are
// reseeded with f.Seed.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.ExpireTokens || f.RevokeCredentials {
		clear(s.tokens)
	}
	f.ExpireTokens = false
	if f.FailureRate < 0 {
		f.FailureRate = 0
	}
	s.faults = f
	s.burstLeft = max(f.Status5xxBurst, 0)
	s.rng = mrand.New(mrand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
}

// Faults returns the faults in force; Status5xxBurst is what is left of the burst.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.Status5xxBurst = s.burstLeft
	return f
}

// ExpireTokens expires every token issued so far, as HelpScout does after
// 48 hours: the next API call with one of them gets a 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// State is a snapshot of the simulator's counters.
type State struct {
	// Requests counts answers by endpoint ("POST /v2/conversations", ...) and status.
	Requests map[string]map[int]int `json:"requests"`
	// ConversationsCreated counts conversations created through the API.
	ConversationsCreated int `json:"conversationsCreated"`
	// Customers is the number of customers held (created directly or by a conversation).
	Customers int `json:"customers"`
	// CustomersCreated counts customers created through POST /v2/customers.
	CustomersCreated int `json:"customersCreated"`
	// TokensIssued counts successful token requests.
	TokensIssued int `json:"tokensIssued"`
	// RateLimited counts 429 answers.
	RateLimited int `json:"rateLimited"`
	// WebhooksSent counts webhooks sent.
	WebhooksSent int `json:"webhooksSent"`
	// RateLimit is the current minute's budget.
	RateLimit Window `json:"rateLimit"`
	// Faults are the faults in force.
	Faults Faults `json:"faults"`
}

// Window is the rate-limit budget of one minute.
type Window struct {
	// Start is the first instant of the minute.
	Start time.Time `json:"start"`
	// Limit is the budget per minute.
	Limit int `json:"limit"`
	// Used is what this minute's admitted calls cost (writes 2, reads 1).
	Used int `json:"used"`
	// Remaining is Limit minus Used.
	Remaining int `json:"remaining"`
}

// Count returns how many requests to endpoint were answered, with any
// status when statuses is empty, else with one of them.
func (st State) Count(endpoint string, statuses ...int) int {
	n := 0
	for code, c := range st.Requests[endpoint] {
		if len(statuses) == 0 {
			n += c
			continue
		}
		for _, want := range statuses {
			if code == want {
				n += c
			}
		}
	}
	return n
}

// State returns a snapshot of the counters.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{
		Requests:             make(map[string]map[int]int, len(s.stats.requests)),
		ConversationsCreated: s.stats.conversationsCreated,
		Customers:            len(s.customers),
		CustomersCreated:     s.stats.customersCreated,
		TokensIssued:         s.stats.tokensIssued,
		RateLimited:          s.stats.rateLimited,
		WebhooksSent:         s.stats.webhooksSent,
		Faults:               s.faults,
	}
	st.Faults.Status5xxBurst = s.burstLeft
	for k, m := range s.stats.requests {
		cp := make(map[int]int, len(m))
		for code, n := range m {
			cp[code] = n
		}
		st.Requests[k] = cp
	}
	ws := s.now().Truncate(time.Minute)
	used := s.used
	if !ws.Equal(s.windowStart) {
		used = 0
	}
	st.RateLimit = Window{Start: ws, Limit: s.opts.RateLimitPerMinute, Used: used,
		Remaining: max(s.opts.RateLimitPerMinute-used, 0)}
	return st
}
