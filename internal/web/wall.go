package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// WallOptions configure the wall-screen page.
type WallOptions struct {
	// Endpoint is the GraphQL endpoint (HTTP and WebSocket).
	Endpoint string
	// Headers are sent with every request; the embedded demo puts its token
	// here so that the page needs no setup.
	Headers map[string]string
}

// The page, its style sheet and its script. The style sheet and the script
// are inlined into the page and admitted by their hashes in the page's
// Content-Security-Policy, so the page loads nothing but itself.
var (
	//go:embed wall.html
	wallHTML string
	//go:embed wall.css
	wallCSS string
	//go:embed wall.js
	wallJS string

	wallPage = template.Must(template.New("wall").Parse(wallHTML))
)

// wallTitle is the page's title and heading.
const wallTitle = "HelpScout sync"

// wallConfig is what the page's script reads from its JSON config block.
type wallConfig struct {
	Endpoint   string            `json:"endpoint"`
	Headers    map[string]string `json:"headers"`
	Operations wallOperations    `json:"operations"`
}

// wallOperations are the GraphQL documents the page sends.
type wallOperations struct {
	// Events is the first page of the feed: the newest events with cursors.
	Events string `json:"events"`
	// Summary is the last 24 hours' figures with an hourly timeline.
	Summary string `json:"summary"`
	// Today counts the tickets created since $from, the page's local
	// midnight.
	Today string `json:"today"`
	// Budget is the HelpScout rate-limit budget.
	Budget string `json:"budget"`
	// Viewer checks the token before a WebSocket is opened again.
	Viewer string `json:"viewer"`
	// Feed subscribes to event changes after a cursor.
	Feed string `json:"feed"`
	// LiveSummary subscribes to the last 24 hours' figures.
	LiveSummary string `json:"liveSummary"`
}

const (
	wallEventFields = `
fragment WallEvent on SyncEvent {
  id occurredAt type status direction customerEmail conversationId ticketNumber
  helpScoutUrl errorCode errorMessage httpStatus attempt
}`
	wallSummaryFields = `
fragment WallSummary on Summary {
  total succeeded failed pending successRate health ticketsCreated
  timeline { start succeeded failed }
}`
)

var wallOps = wallOperations{
	Events: `query WallEvents($first: Int!) {
  syncEvents(first: $first, orderBy: {direction: DESC}) { liveCursor edges { cursor node { ...WallEvent } } }
}` + wallEventFields,
	Summary: `query WallSummary {
  summary(range: {within: LAST_24_HOURS}, bucket: HOUR) { ...WallSummary }
}` + wallSummaryFields,
	Today:  `query WallTicketsToday($from: Time!) { summary(range: {from: $from}) { ticketsCreated } }`,
	Budget: `query WallBudget { rateLimitBudget { limit used remaining remainingRatio pausedUntil } }`,
	Viewer: `query WallViewer { viewer { role } }`,
	Feed: `subscription WallFeed($after: String) {
  syncEvents(after: $after) { cursor kind replay event { ...WallEvent } }
}` + wallEventFields,
	LiveSummary: `subscription WallLiveSummary { summary(window: LAST_24_HOURS) { ...WallSummary } }` + wallSummaryFields,
}

// Wall serves the wall-screen page: a dark, large-type page for a TV that
// shows the live feed of sync events (failures in red), the success rate of
// the last 24 hours against the 95% line, the tickets created today, the
// HelpScout rate-limit budget and an hourly chart of successes and failures.
//
// The page is one HTML document with its CSS and JavaScript inlined; it loads
// no other file and needs no build step. Its script speaks GraphQL over HTTP
// to Endpoint ("/graphql" when empty) for the first page of events and the
// figures, and the graphql-transport-ws protocol over a WebSocket at the same
// URL for the live feed, which it resumes after a disconnect from the last
// cursor it received; once the feed has been down for a few seconds it says
// so and dims what it shows. It authenticates with opts.Headers' Authorization
// header when there is one (the embedded demo's token), else with a token
// from the URL fragment (#token=…), else with one kept in the browser's
// localStorage, else it asks for one; a token the API refuses brings the
// prompt back with the reason.
//
// Responses carry a strict Content-Security-Policy: nothing from another
// origin, scripts and styles only by hash, connections only to this host
// (and to Endpoint's origin when Endpoint is an absolute URL). The page may
// carry a token, so it is never cached.
func Wall(opts WallOptions) http.Handler {
	page, err := renderWall(opts)
	connect := connectSources(opts.Endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		if err != nil {
			http.Error(w, "wall: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", wallCSP(r.Host, connect))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
	})
}

// renderWall renders the page once; it depends only on the options.
func renderWall(opts WallOptions) ([]byte, error) {
	cfg := wallConfig{Endpoint: opts.Endpoint, Headers: opts.Headers, Operations: wallOps}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "/graphql"
	}
	var buf bytes.Buffer
	err := wallPage.Execute(&buf, struct {
		Title    string
		Endpoint string
		Config   wallConfig
		Style    template.CSS
		Script   template.JS
	}{wallTitle, cfg.Endpoint, cfg, template.CSS(wallCSS), template.JS(wallJS)})
	if err != nil {
		return nil, fmt.Errorf("error rendering the wall page: %w", err)
	}
	return buf.Bytes(), nil
}

// cspHash is the CSP source expression that admits an inline element with
// this content.
func cspHash(content string) string {
	sum := sha256.Sum256([]byte(content))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var (
	wallScriptHash = cspHash(wallJS)
	wallStyleHash  = cspHash(wallCSS)
)

// hostPattern matches a Host header that is safe to put into a policy: a
// DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
var hostPattern = regexp.MustCompile(`^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// connectSources are the policy's connect-src sources for an absolute
// endpoint URL on another origin: its HTTP and WebSocket origins.
func connectSources(endpoint string) []string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || !hostPattern.MatchString(u.Host) {
		return nil
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		return []string{"https://" + u.Host, "wss://" + u.Host}
	case "http", "ws":
		return []string{"http://" + u.Host, "ws://" + u.Host}
	}
	return nil
}

// wallCSP is the page's Content-Security-Policy for a request to host.
// 'self' admits WebSockets to the same host in current browsers; the ws: and
// wss: sources say so for the others.
func wallCSP(host string, extra []string) string {
	connect := []string{"'self'"}
	if hostPattern.MatchString(host) {
		connect = append(connect, "ws://"+host, "wss://"+host)
	}
	connect = append(connect, extra...)
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + wallScriptHash,
		"style-src " + wallStyleHash,
		"img-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}
