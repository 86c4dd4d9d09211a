package app

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"sync/atomic"
)

// startingPage is what a browser gets while the service starts.
var startingPage = template.Must(template.New("starting").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>HelpScout Log is starting</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:15vh auto;max-width:34em;padding:0 1em;color:#222}</style>
</head><body><h1>HelpScout Log is starting</h1>
<p>It is {{.}}. This page reloads by itself until the service is ready.</p></body></html>
`))

// bootHandler serves the port from the moment the process takes it: while
// the service opens its database, applies migrations and loads demo data,
// it answers that the process is up (/healthz, 200) but not ready
// (/readyz, 503, saying what it is doing), and refuses every other request
// with 503 and Retry-After, so that an orchestrator neither restarts a
// replica in the middle of a long migration nor sends it traffic. Once the
// service is ready, every request goes to its handler.
type bootHandler struct {
	handler atomic.Pointer[http.Handler]
	phase   atomic.Pointer[string]
}

// newBootHandler returns a handler in its first phase.
func newBootHandler(phase string) *bootHandler {
	b := &bootHandler{}
	b.setPhase(phase)
	return b
}

// setPhase says what the service is doing while it starts.
func (b *bootHandler) setPhase(phase string) { b.phase.Store(&phase) }

// currentPhase is what the service is doing while it starts.
func (b *bootHandler) currentPhase() string { return *b.phase.Load() }

// ready hands every request from now on to h.
func (b *bootHandler) ready(h http.Handler) { b.handler.Store(&h) }

// ServeHTTP answers as the service once it is ready, and as described
// above until then.
func (b *bootHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := b.handler.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	phase := b.currentPhase()
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodGet && (r.URL.Path == "/" || r.URL.Path == "/wall") &&
		strings.Contains(r.Header.Get("Accept"), "text/html") {
		// A person opening the playground or the wall screen sees what
		// the service is doing, and the page reloads until it is ready.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = startingPage.Execute(w, phase)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	var status int
	var body any
	switch r.URL.Path {
	case "/healthz":
		status, body = http.StatusOK, map[string]string{"status": "starting", "phase": phase}
	case "/readyz":
		status, body = http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "starting: " + phase}
	default:
		w.Header().Set("Retry-After", "5")
		msg := "the service is starting (" + phase + "): try again in a few seconds"
		status = http.StatusServiceUnavailable
		if r.URL.Path == "/graphql" {
			body = map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]string{"code": "UNAVAILABLE"}}}}
		} else {
			body = map[string]any{"error": map[string]string{"code": "UNAVAILABLE", "message": msg}}
		}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
