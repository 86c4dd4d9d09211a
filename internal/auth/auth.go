// Package auth turns bearer tokens into callers with roles, and guards
// GraphQL fields with the @hasRole directive.
//
// Tokens are JWTs signed with HS256 and carry the claims sub, role and exp.
// Roles form a ladder, MANAGER < ADMINISTRATOR < KIVA_ADMIN; SERVICE is
// the host system's machine role and stands outside the ladder.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// Role is an access level.
type Role string

// The roles.
const (
	RoleManager       Role = "MANAGER"
	RoleAdministrator Role = "ADMINISTRATOR"
	RoleKivaAdmin     Role = "KIVA_ADMIN"
	RoleService       Role = "SERVICE"
)

// Roles lists every role, ladder first.
var Roles = []Role{RoleManager, RoleAdministrator, RoleKivaAdmin, RoleService}

// rank places a role on the ladder; SERVICE has no rank.
func (r Role) rank() int {
	switch r {
	case RoleManager:
		return 1
	case RoleAdministrator:
		return 2
	case RoleKivaAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 || r == RoleService }

// Satisfies reports whether a caller with role r may use a field that
// needs role need. SERVICE satisfies only SERVICE; on the ladder a higher
// role satisfies every lower one.
func (r Role) Satisfies(need Role) bool {
	if need == RoleService || r == RoleService {
		return r == need
	}
	return r.rank() >= need.rank()
}

// ParseRole parses a role name, case-insensitively.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToUpper(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q (want MANAGER, ADMINISTRATOR, KIVA_ADMIN or SERVICE)", s)
	}
	return r, nil
}

// Caller is who made a request.
type Caller struct {
	// Subject is the token's sub claim.
	Subject string
	// Role is the token's role claim.
	Role Role
	// ExpiresAt is the token's exp claim.
	ExpiresAt time.Time
}

type claims struct {
	Role Role `json:"role"`
	jwt.RegisteredClaims
}

// Issuer signs and verifies tokens with one secret.
type Issuer struct {
	secret []byte
	now    func() time.Time

	// verified caches the callers of tokens already verified, so that a
	// client sending the same token on every request pays for the
	// signature check once; entries still expire with their token.
	mu       sync.RWMutex
	verified map[string]*Caller
}

// maxVerified bounds the cache of verified tokens; when full it starts over.
const maxVerified = 10000

// NewIssuer returns an issuer for secret.
func NewIssuer(secret string) *Issuer {
	return &Issuer{secret: []byte(secret), now: time.Now, verified: map[string]*Caller{}}
}

// Issue returns a signed token for subject with role, valid for ttl.
func (i *Issuer) Issue(subject string, role Role, ttl time.Duration) (string, error) {
	now := i.now()
	c := claims{Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("error signing token: %w", err)
	}
	return s, nil
}

// ErrInvalidToken is returned for a token that is malformed, badly signed,
// expired or without a known role.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks a token and returns its caller.
func (i *Issuer) Verify(token string) (*Caller, error) {
	i.mu.RLock()
	c, ok := i.verified[token]
	i.mu.RUnlock()
	if ok && i.now().Before(c.ExpiresAt) {
		return c, nil
	}
	c, err := i.verify(token)
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	if len(i.verified) >= maxVerified {
		clear(i.verified)
	}
	i.verified[token] = c
	i.mu.Unlock()
	return c, nil
}

func (i *Issuer) verify(token string) (*Caller, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return i.secret, nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(i.now))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, fmt.Errorf("%w: token expired", ErrInvalidToken)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !c.Role.Valid() {
		return nil, fmt.Errorf("%w: unknown role %q", ErrInvalidToken, c.Role)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	return &Caller{Subject: c.Subject, Role: c.Role, ExpiresAt: c.ExpiresAt.Time}, nil
}

type ctxKey struct{}

// authState is what the middleware learned about the request's token.
type authState struct {
	caller *Caller
	err    error
}

// WithCaller returns ctx carrying the caller (tests and WebSocket init use it).
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, ctxKey{}, authState{caller: c})
}

// withError returns ctx recording that the presented token was refused.
func withError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, ctxKey{}, authState{err: err})
}

// CallerFrom returns the authenticated caller, or an UNAUTHENTICATED error
// that says why there is none.
func CallerFrom(ctx context.Context) (*Caller, error) {
	st, _ := ctx.Value(ctxKey{}).(authState)
	if st.caller != nil {
		return st.caller, nil
	}
	if st.err != nil {
		msg := "the bearer token is invalid"
		if strings.Contains(st.err.Error(), "expired") {
			msg = "the bearer token has expired"
		}
		return nil, &apperr.Error{Code: apperr.Unauthenticated, Message: msg, Err: st.err}
	}
	return nil, apperr.New(apperr.Unauthenticated, "authentication required: send Authorization: Bearer <token>")
}

// Require returns the caller if it has at least role need, or an
// UNAUTHENTICATED or FORBIDDEN error.
func Require(ctx context.Context, need Role) (*Caller, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Role.Satisfies(need) {
		return nil, apperr.New(apperr.Forbidden, "this needs the %s role; your token has %s", need, c.Role)
	}
	return c, nil
}

// TokenFromRequest returns the bearer token of r: the Authorization header,
// or else the access_token query parameter (for download links).
func TokenFromRequest(r *http.Request) string {
	if tok := tokenFromHeader(r); tok != "" {
		return tok
	}
	return r.URL.Query().Get("access_token")
}

// tokenFromHeader returns the bearer token of r's Authorization header,
// "\x00malformed" for another scheme, or "" when there is none.
func tokenFromHeader(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return "\x00malformed"
	}
	return ""
}

// Middleware records the caller of the request's Authorization header in
// its context. Requests without a token pass through anonymously; a bad
// token is remembered so that guarded fields can say why they refused. A
// token in the URL is ignored: URLs end up in proxy logs and browser
// histories (see DownloadMiddleware for the exception).
func (i *Issuer) Middleware(next http.Handler) http.Handler {
	return i.middleware(next, tokenFromHeader)
}

// DownloadMiddleware is Middleware for download links, which cannot carry
// a header: it also takes the token from the access_token query parameter
// (TokenFromRequest).
func (i *Issuer) DownloadMiddleware(next http.Handler) http.Handler {
	return i.middleware(next, TokenFromRequest)
}

func (i *Issuer) middleware(next http.Handler, token func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := token(r)
		if tok == "" {
			next.ServeHTTP(w, r)
			return
		}
		if tok == "\x00malformed" {
			next.ServeHTTP(w, r.WithContext(withError(r.Context(), fmt.Errorf("%w: Authorization header is not a bearer token", ErrInvalidToken))))
			return
		}
		c, err := i.Verify(tok)
		if err != nil {
			next.ServeHTTP(w, r.WithContext(withError(r.Context(), err)))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	})
}
