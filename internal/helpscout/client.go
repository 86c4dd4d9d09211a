package helpscout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is HelpScout's API host; every path lives under /v2.
const DefaultBaseURL = "https://api.helpscout.net"

// DefaultTimeout bounds each HTTP request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultTokenLifetime is assumed when the token answer carries no
// expires_in: the shortest lifetime ever recorded (UNCONFIRMED; see the
// package comment).
const DefaultTokenLifetime = 7200 * time.Second

// maxBody caps how much of an answer the client reads.
const maxBody = 4 << 20

// Config says where and as whom the client talks to HelpScout.
type Config struct {
	// BaseURL is the API host, DefaultBaseURL when empty (the simulator's URL in tests).
	BaseURL string
	// ClientID is the OAuth2 App ID.
	ClientID string
	// ClientSecret is the OAuth2 App Secret; it is never logged nor put in an error.
	ClientSecret string
	// MailboxID is the mailbox new conversations go to and Ping checks.
	MailboxID int64
	// HTTPClient sends the requests; when nil, a client with its own copy of the default transport.
	HTTPClient *http.Client
	// Timeout bounds each HTTP request, DefaultTimeout when zero.
	Timeout time.Duration
	// Now is the clock used for token expiry and rate-limit readings, time.Now when nil.
	Now func() time.Time
}

// String describes the configuration without its secret, so that a Config
// printed by mistake leaks nothing.
func (c Config) String() string {
	secret := ""
	if c.ClientSecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("helpscout.Config{BaseURL:%q ClientID:%q ClientSecret:%q MailboxID:%d Timeout:%s}",
		c.BaseURL, c.ClientID, secret, c.MailboxID, c.Timeout)
}

func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.HTTPClient == nil {
		// A transport of our own: the shared http.DefaultTransport can have
		// its connections closed by unrelated code (httptest servers do).
		c.HTTPClient = &http.Client{Transport: newTransport()}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment}
}

// Client calls HelpScout's Mailbox API 2.0. It is safe for concurrent use;
// all callers share one cached token.
type Client struct {
	mu       sync.Mutex
	cfg      Config
	gen      uint64 // bumped by SetConfig; a token fetched for an older config is dropped
	token    string
	expiry   time.Time // when HelpScout says the token expires
	renewAt  time.Time // when we stop using it
	fetching *tokenFetch
	rate     RateLimitState
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	return &Client{cfg: cfg.withDefaults()}
}

// SetConfig replaces the configuration (Administrators edit it at run time)
// and drops the cached token. Calls already under way finish with the old
// configuration.
func (c *Client) SetConfig(cfg Config) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg = cfg.withDefaults()
	c.gen++
	c.token, c.expiry, c.renewAt = "", time.Time{}, time.Time{}
	c.fetching = nil
}

// MailboxID returns the configured mailbox.
func (c *Client) MailboxID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.MailboxID
}

// TokenExpiry returns when the cached token expires, or the zero time when
// the client holds none.
func (c *Client) TokenExpiry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.expiry
}

// RateLimit returns the latest rate-limit reading from HelpScout's headers.
// At is zero until a response carried them.
func (c *Client) RateLimit() RateLimitState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rate
}

// tokenFetch is one token request shared by every caller that needs a token
// while it runs.
type tokenFetch struct {
	done  chan struct{}
	token string
	call  Call
	err   error
}

// accessToken returns a valid token and the configuration it belongs to,
// fetching one when needed. Concurrent callers share a single fetch; the
// caller that started it gets the token call added to res.
func (c *Client) accessToken(ctx context.Context, res *Result) (string, Config, error) {
	c.mu.Lock()
	cfg := c.cfg
	if c.token != "" && cfg.Now().Before(c.renewAt) {
		tok := c.token
		c.mu.Unlock()
		return tok, cfg, nil
	}
	f := c.fetching
	started := false
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.fetching = f
		started = true
		// The fetch runs on its own so that one caller giving up does not
		// fail the others waiting for the same token; cfg.Timeout bounds it.
		go c.fetchToken(context.WithoutCancel(ctx), cfg, c.gen, f)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return "", cfg, transportError("fetching token", http.MethodPost, ctx.Err())
	}
	if started && f.call.Method != "" {
		res.addCall(f.call)
	}
	return f.token, cfg, f.err
}

// dropToken forgets tok after HelpScout refused it; a token already replaced
// by another caller is left alone, so concurrent 401s cause one fetch.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token, c.expiry, c.renewAt = "", time.Time{}, time.Time{}
	}
}

type tokenAnswer struct {
	TokenType   string  `json:"token_type"`
	AccessToken string  `json:"access_token"`
	ExpiresIn   float64 `json:"expires_in"`
}

func (c *Client) fetchToken(ctx context.Context, cfg Config, gen uint64, f *tokenFetch) {
	tok, expiresIn, call, err := c.requestToken(ctx, cfg)
	c.mu.Lock()
	if c.fetching == f {
		c.fetching = nil
	}
	if err == nil && gen == c.gen {
		now := cfg.Now()
		margin := time.Minute
		if expiresIn/10 < margin {
			margin = expiresIn / 10
		}
		c.token = tok
		c.expiry = now.Add(expiresIn)
		c.renewAt = c.expiry.Add(-margin)
	}
	c.mu.Unlock()
	f.token, f.call, f.err = tok, call, err
	close(f.done)
}

func (c *Client) requestToken(ctx context.Context, cfg Config) (string, time.Duration, Call, error) {
	const op = "fetching token"
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return "", 0, Call{}, &Error{Op: op, Code: codeAuth, Message: "client id or client secret is not configured"}
	}
	// JSON, as the PHP SDK sends it and as the recordings show accepted.
	body, err := json.Marshal(map[string]string{
		"grant_type":    "client_credentials",
		"client_id":     cfg.ClientID,
		"client_secret": cfg.ClientSecret,
	})
	if err != nil {
		return "", 0, Call{}, &Error{Op: op, Code: codeUnknown, Message: "error encoding token request", Err: err}
	}
	rep, call, err := c.exchange(ctx, cfg, http.MethodPost, "/v2/oauth2/token", body, "")
	if err != nil {
		return "", 0, call, transportError(op, http.MethodPost, err)
	}
	if rep.status != http.StatusOK {
		e := responseError(op, http.MethodPost, "/v2/oauth2/token", rep)
		if rep.status == http.StatusBadRequest || rep.status == http.StatusUnauthorized || rep.status == http.StatusForbidden {
			e.Code, e.Transient = codeAuth, false
		}
		e.Message, e.LogRef = redact(e.Message, cfg.ClientSecret), redact(e.LogRef, cfg.ClientSecret)
		return "", 0, call, e
	}
	var ans tokenAnswer
	if err := unmarshal(rep.body, &ans); err != nil || ans.AccessToken == "" {
		return "", 0, call, &Error{Op: op, Code: codeUnknown, Status: rep.status, LogRef: rep.logRef,
			Message: "token answer has no access_token", Err: err}
	}
	if !strings.EqualFold(ans.TokenType, "bearer") && ans.TokenType != "" {
		return "", 0, call, &Error{Op: op, Code: codeUnknown, Status: rep.status, LogRef: rep.logRef,
			Message: fmt.Sprintf("unexpected token type %q", ans.TokenType)}
	}
	lifetime := time.Duration(ans.ExpiresIn * float64(time.Second))
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	return ans.AccessToken, lifetime, call, nil
}

// reply is an HTTP answer read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
	logRef string
}

// exchange sends one HTTP request and reads the answer. It records the
// rate-limit headers on the client. A transport failure is returned as is.
func (c *Client) exchange(ctx context.Context, cfg Config, method, path string, body []byte, token string) (*reply, Call, error) {
	call := Call{Method: method, Path: path}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, cfg.BaseURL+path, rd)
	if err != nil {
		return nil, call, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "helpscout-log")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		call.Duration = time.Since(start)
		return nil, call, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	call.Duration = time.Since(start)
	call.Status = resp.StatusCode
	if err != nil {
		return nil, call, err
	}
	rep := &reply{status: resp.StatusCode, header: resp.Header, body: data, logRef: resp.Header.Get("Correlation-Id")}
	if rl, ok := ParseRateLimit(resp.Header, cfg.Now()); ok {
		call.RateLimit = rl
		c.mu.Lock()
		c.rate = rl
		c.mu.Unlock()
	}
	call.LogRef = rep.logRef
	return rep, call, nil
}

// roundTrip performs one authenticated API request. On a 401 it drops the
// token, fetches a new one once and repeats the request once. A status of
// 400 or more is returned as an *Error together with the reply.
func (c *Client) roundTrip(ctx context.Context, res *Result, op, method, path string, body []byte) (*reply, error) {
	tok, cfg, err := c.accessToken(ctx, res)
	if err != nil {
		return nil, tokenError(op, err)
	}
	rep, err := c.send(ctx, cfg, res, op, method, path, body, tok)
	if err != nil {
		return nil, err
	}
	if rep.status == http.StatusUnauthorized {
		c.dropToken(tok)
		res.TokenRenewed = true
		if tok, cfg, err = c.accessToken(ctx, res); err != nil {
			return nil, tokenError(op, err)
		}
		if rep, err = c.send(ctx, cfg, res, op, method, path, body, tok); err != nil {
			return nil, err
		}
	}
	rep.redact(tok, cfg.ClientSecret)
	if rep.status >= 300 {
		return rep, responseError(op, method, path, rep)
	}
	return rep, nil
}

// send is exchange plus bookkeeping: the call is added to res and a
// transport failure becomes an *Error.
func (c *Client) send(ctx context.Context, cfg Config, res *Result, op, method, path string, body []byte, tok string) (*reply, error) {
	rep, call, err := c.exchange(ctx, cfg, method, path, body, tok)
	res.addCall(call)
	if err != nil {
		return nil, transportError(op, method, err)
	}
	return rep, nil
}

// tokenError puts the operation's name on a token failure.
func tokenError(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		cp := *e
		cp.Op = op + " (" + e.Op + ")"
		return &cp
	}
	return err
}

// redact removes the credentials from an answer: a body or header that
// echoes the request (as some proxies' error pages do) would otherwise
// carry them into errors, and errors into the log.
func (r *reply) redact(credentials ...string) {
	for _, c := range credentials {
		if c != "" && bytes.Contains(r.body, []byte(c)) {
			r.body = bytes.ReplaceAll(r.body, []byte(c), []byte("[redacted]"))
		}
		r.logRef = redact(r.logRef, c)
	}
}

// redact removes secret from s.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}
