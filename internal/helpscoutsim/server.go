package helpscoutsim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultRateLimitPerMinute = 400
	DefaultMailboxID          = 312345
	DefaultTokenTTL           = 48 * time.Hour
)

// First ids handed out, in the ranges the real API uses.
const (
	FirstConversationID     = 861100000
	FirstConversationNumber = 1000
	FirstCustomerID         = 256100000
)

// maxRequestBody caps the bodies the simulator reads.
const maxRequestBody = 8 << 20

// statusClientGone is recorded for a request the client gave up on before
// any answer (nginx's convention).
const statusClientGone = 499

// Options configure a Server.
type Options struct {
	// FirstConversationID, FirstConversationNumber and FirstCustomerID are
	// the first ids handed out (the package constants when zero), so that
	// a simulator can continue an account whose earlier records exist
	// elsewhere, as in the demo over seeded data.
	FirstConversationID, FirstConversationNumber, FirstCustomerID int64
	// RateLimitPerMinute is the account's budget per minute (writes cost 2), 400 when zero.
	RateLimitPerMinute int
	// ClientID is the accepted OAuth2 App ID; with ClientSecret empty, any non-empty pair is accepted.
	ClientID string
	// ClientSecret is the accepted OAuth2 App Secret.
	ClientSecret string
	// MailboxIDs are the account's mailboxes, [312345] when empty; the first is named "Support".
	MailboxIDs []int64
	// TokenTTL is the lifetime of issued tokens (expires_in), 48 h when zero.
	TokenTTL time.Duration
	// WebhookSecret signs the webhooks SendWebhook sends.
	WebhookSecret string
	// Now is the clock for token expiry, rate-limit windows and timestamps, time.Now when nil.
	Now func() time.Time
	// Log receives one debug line per request; the zero logger discards.
	Log zerolog.Logger
}

type mailbox struct {
	ID        int64
	Name      string
	Slug      string
	Email     string
	CreatedAt time.Time
}

// Server is a simulated HelpScout account.
type Server struct {
	opts      Options
	now       func() time.Time
	log       zerolog.Logger
	handler   http.Handler
	mailboxes []mailbox
	hookHTTP  *http.Client

	mu          sync.Mutex
	tokens      map[string]time.Time // token -> expiry
	faults      Faults
	burstLeft   int
	rng         *mrand.Rand
	windowStart time.Time
	used        int
	requestSeq  int64
	nextConv    int64
	nextNumber  int64
	nextCust    int64
	nextEntry   int64
	nextThread  int64
	convs       map[int64]*Conversation
	customers   map[int64]*Customer
	stats       counters

	stopOnce sync.Once
	stopped  chan struct{}
	httpSrv  *http.Server
	url      string
}

type counters struct {
	requests             map[string]map[int]int
	conversationsCreated int
	customersCreated     int
	tokensIssued         int
	rateLimited          int
	webhooksSent         int
}

func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment}
}

// New returns a simulator with opts; it serves through Handler, or on its
// own listener after Start.
func New(opts Options) *Server {
	if opts.RateLimitPerMinute <= 0 {
		opts.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if len(opts.MailboxIDs) == 0 {
		opts.MailboxIDs = []int64{DefaultMailboxID}
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FirstConversationID <= 0 {
		opts.FirstConversationID = FirstConversationID
	}
	if opts.FirstConversationNumber <= 0 {
		opts.FirstConversationNumber = FirstConversationNumber
	}
	if opts.FirstCustomerID <= 0 {
		opts.FirstCustomerID = FirstCustomerID
	}
	s := &Server{
		opts:       opts,
		now:        opts.Now,
		log:        opts.Log,
		hookHTTP:   &http.Client{Timeout: 30 * time.Second, Transport: newTransport()},
		tokens:     map[string]time.Time{},
		rng:        mrand.New(mrand.NewPCG(0, 0)),
		nextConv:   opts.FirstConversationID,
		nextNumber: opts.FirstConversationNumber,
		nextCust:   opts.FirstCustomerID,
		nextEntry:  1,
		nextThread: 2400000000,
		convs:      map[int64]*Conversation{},
		customers:  map[int64]*Customer{},
		stats:      counters{requests: map[string]map[int]int{}},
		stopped:    make(chan struct{}),
	}
	created := opts.Now().UTC().Add(-365 * 24 * time.Hour).Truncate(time.Second)
	for i, id := range opts.MailboxIDs {
		mb := mailbox{ID: id, Name: "Support", Slug: fmt.Sprintf("%x", id*2654435761%0xffffffff), Email: "support@example.com", CreatedAt: created}
		if i > 0 {
			mb.Name = fmt.Sprintf("Mailbox %d", i+1)
			mb.Email = fmt.Sprintf("mailbox%d@example.com", i+1)
		}
		s.mailboxes = append(s.mailboxes, mb)
	}
	s.handler = s.routes()
	return s
}

// Handler returns the simulator's HTTP handler (API and /_sim/ control).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. 127.0.0.1:9090, or :0 for any port) and
// serves in the background until Stop is called or ctx ends. It returns
// once the listener is open.
func (s *Server) Start(ctx context.Context, addr string) error {
	select {
	case <-s.stopped:
		return errors.New("error starting simulator: already stopped")
	default:
	}
	s.mu.Lock()
	if s.httpSrv != nil {
		s.mu.Unlock()
		return errors.New("error starting simulator: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("error listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.httpSrv = srv
	s.url = "http://" + ln.Addr().String()
	s.mu.Unlock()

	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("helpscout simulator stopped serving")
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.stopped:
		}
	}()
	s.log.Info().Str("url", s.URL()).Msg("helpscout simulator listening")
	return nil
}

// Stop stops serving and releases requests held by the latency or timeout
// faults. Calling it more than once is safe.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		close(s.stopped)
		s.mu.Lock()
		srv := s.httpSrv
		s.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
	})
}

// URL returns the base URL after Start ("http://127.0.0.1:port"), else "".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// request is what a handler gets besides the writer.
type request struct {
	r    *http.Request
	corr string
	body []byte
}

type handlerFunc func(w http.ResponseWriter, rq *request)

type routeKind int

const (
	kindToken routeKind = iota // token endpoint: faults of time only, no auth, no rate limit
	kindAPI                    // API: auth, rate limit, injected failures
)

// wrap applies what every simulated HelpScout request goes through:
// Correlation-Id, latency and timeout faults, authentication, the rate
// limit, injected failures, and the counters.
func (s *Server) wrap(label string, kind routeKind, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		corr := s.correlationID()
		sw.Header().Set("Correlation-Id", corr)
		defer func() {
			st := sw.status
			if st == 0 {
				st = statusClientGone
			}
			s.record(label, st)
			s.log.Debug().Str("endpoint", label).Str("path", r.URL.Path).Int("status", st).
				Dur("duration", time.Since(start)).Str("correlationId", corr).Msg("helpscout simulator request")
		}()
		if !s.applyDelay(sw, r) {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			return
		}
		if len(body) > maxRequestBody {
			writeVndError(sw, http.StatusRequestEntityTooLarge, corr, "Request entity too large", nil)
			return
		}
		rq := &request{r: r, corr: corr, body: body}
		if kind == kindAPI {
			if !s.authorized(r) {
				writeUnauthorized(sw)
				return
			}
			if !s.admit(sw, r.Method) {
				return
			}
			if st := s.injectedFailure(); st != 0 {
				writeFailure(sw, st, corr)
				return
			}
		}
		h(sw, rq)
	})
}

func (s *Server) record(label string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.stats.requests[label]
	if m == nil {
		m = map[int]int{}
		s.stats.requests[label] = m
	}
	m[status]++
}

// applyDelay holds the request for the latency fault, or until the client
// gives up for the timeout fault. It reports false when the request must
// not be answered.
func (s *Server) applyDelay(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	latency := time.Duration(s.faults.LatencyMs) * time.Millisecond
	hang := s.faults.Timeout
	s.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.stopped:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return false
	}
	if latency <= 0 {
		return true
	}
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.stopped:
		w.WriteHeader(http.StatusServiceUnavailable)
		return false
	}
}

// injectedFailure returns the status of a 5xx burst or random failure due
// for this request, else 0.
func (s *Server) injectedFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.burstLeft > 0 {
		s.burstLeft--
		if s.faults.BurstStatus != 0 {
			return s.faults.BurstStatus
		}
		return http.StatusInternalServerError
	}
	if s.faults.FailureRate > 0 && s.rng.Float64() < s.faults.FailureRate {
		return http.StatusInternalServerError
	}
	return 0
}

// correlationID returns "<uuid>#<n>", the format of HelpScout's
// Correlation-Id header and logRef.
func (s *Server) correlationID() string {
	s.mu.Lock()
	s.requestSeq++
	n := s.requestSeq
	s.mu.Unlock()
	return newUUID() + "#" + fmt.Sprint(n)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newToken returns 32 random alphanumeric characters, like HelpScout's tokens.
func newToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]byte, 32)
	for i := range out {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		out[i] = alphabet[n.Int64()]
	}
	return string(out)
}
