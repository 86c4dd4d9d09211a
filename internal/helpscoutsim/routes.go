package helpscoutsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// routes builds the handler: the API under /v2/ and the control endpoints
// under /_sim/.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, kind routeKind, h handlerFunc) {
		mux.Handle(pattern, s.wrap(pattern, kind, h))
	}
	api("POST /v2/oauth2/token", kindToken, s.handleToken)
	api("POST /v2/conversations", kindAPI, s.handleCreateConversation)
	api("GET /v2/conversations", kindAPI, s.handleListConversations)
	api("GET /v2/conversations/{id}", kindAPI, s.handleGetConversation)
	api("POST /v2/customers", kindAPI, s.handleCreateCustomer)
	api("GET /v2/customers", kindAPI, s.handleListCustomers)
	api("GET /v2/customers/{id}", kindAPI, s.handleGetCustomer)
	api("PUT /v2/customers/{id}", kindAPI, s.handlePutCustomer)
	api("PATCH /v2/customers/{id}", kindAPI, s.handlePatchCustomer)
	api("GET /v2/mailboxes", kindAPI, s.handleListMailboxes)
	api("GET /v2/mailboxes/{id}", kindAPI, s.handleGetMailbox)
	// Anything else under /v2/ is authenticated and counted like the real
	// gateway does, then not found.
	mux.Handle("/v2/", s.wrap("other /v2/", kindAPI, func(w http.ResponseWriter, rq *request) {
		writeNotFound(w, rq.corr)
	}))

	mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_sim/faults", s.handleSetFaults)
	mux.HandleFunc("GET /_sim/conversations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Conversations())
	})
	mux.HandleFunc("GET /_sim/customers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Customers())
	})
	mux.HandleFunc("POST /_sim/webhooks", s.handleSendWebhook)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(marshal(v))
}

// handleSetFaults is POST /_sim/faults: the body is a Faults object that
// replaces the faults in force; the answer is the new set.
func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid faults: " + err.Error()})
		return
	}
	if f.FailureRate > 1 || f.LatencyMs < 0 || f.Status5xxBurst < 0 || (f.BurstStatus != 0 && (f.BurstStatus < 100 || f.BurstStatus > 599)) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid faults: failureRate must be 0–1, latencyMs and status5xxBurst not negative, burstStatus an HTTP status"})
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleSendWebhook is POST /_sim/webhooks {"url","event","payload"}: it
// sends one signed webhook and answers {"status": <receiver's status>}.
func (s *Server) handleSendWebhook(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL     string          `json:"url"`
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.URL == "" || in.Event == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expected {\"url\", \"event\", \"payload\"}"})
		return
	}
	if len(in.Payload) == 0 {
		in.Payload = json.RawMessage("{}")
	}
	status, err := s.SendWebhook(r.Context(), in.URL, in.Event, in.Payload)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"status": status})
}

// SendWebhook posts payload to url as HelpScout does: the JSON body
// (payload as is when it is []byte or json.RawMessage, else marshalled),
// X-HelpScout-Event: event, and X-HelpScout-Signature: the base64
// HMAC-SHA1 of the body with Options.WebhookSecret. It returns the
// receiver's status. It sends once and never retries.
func (s *Server) SendWebhook(ctx context.Context, url, event string, payload any) (int, error) {
	body, err := webhookBody(payload)
	if err != nil {
		return 0, err
	}
	return s.SendRawWebhook(ctx, url, event, body, helpscout.Sign(s.opts.WebhookSecret, body))
}

// SendRawWebhook posts body with the given signature header (empty: no
// header), to test how a receiver treats bad or missing signatures.
func (s *Server) SendRawWebhook(ctx context.Context, url, event string, body []byte, signature string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("error building webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "HelpScout-Webhooks (simulator)")
	req.Header.Set(helpscout.HeaderEvent, event)
	if signature != "" {
		req.Header.Set(helpscout.HeaderSignature, signature)
	}
	resp, err := s.hookHTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("error sending webhook %s: %w", event, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	s.mu.Lock()
	s.stats.webhooksSent++
	s.mu.Unlock()
	return resp.StatusCode, nil
}

func webhookBody(payload any) ([]byte, error) {
	switch p := payload.(type) {
	case []byte:
		return p, nil
	case json.RawMessage:
		return p, nil
	case string:
		return []byte(p), nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("error encoding webhook payload: %w", err)
	}
	return b, nil
}

// mailboxObject renders a v2 Mailbox.
func mailboxObject(mb mailbox, base string) map[string]any {
	self := base + "/v2/mailboxes/" + strconv.FormatInt(mb.ID, 10)
	return map[string]any{
		"id": mb.ID, "name": mb.Name, "slug": mb.Slug, "email": mb.Email,
		"createdAt": formatTime(mb.CreatedAt), "updatedAt": formatTime(mb.CreatedAt),
		"_links": map[string]any{"self": href(self), "fields": href(self + "/fields/"), "folders": href(self + "/folders/")},
	}
}

// handleListMailboxes is GET /v2/mailboxes.
func (s *Server) handleListMailboxes(w http.ResponseWriter, rq *request) {
	q := rq.r.URL.Query()
	pg, bad := pageParam(q.Get("page"))
	if bad {
		writeBadRequest(w, rq.corr, errList{{Path: "page", Message: "Invalid number"}})
		return
	}
	base := s.apiBase(rq.r)
	from, to := pageBounds(len(s.mailboxes), pg, customerPageSize)
	items := make([]map[string]any, 0, to-from)
	for _, mb := range s.mailboxes[from:to] {
		items = append(items, mailboxObject(mb, base))
	}
	writeHAL(w, http.StatusOK, halPage("mailboxes", items, base+"/v2/mailboxes", q, pg, customerPageSize, len(s.mailboxes)))
}

// handleGetMailbox is GET /v2/mailboxes/{id}.
func (s *Server) handleGetMailbox(w http.ResponseWriter, rq *request) {
	id, ok := pathID(w, rq)
	if !ok {
		return
	}
	for _, mb := range s.mailboxes {
		if mb.ID == id {
			writeHAL(w, http.StatusOK, mailboxObject(mb, s.apiBase(rq.r)))
			return
		}
	}
	writeNotFound(w, rq.corr)
}
