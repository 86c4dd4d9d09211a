package helpscoutsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

const (
	halType      = "application/hal+json;charset=UTF-8"
	vndErrorType = "application/vnd.error+json"
	errorsDoc    = "http://developer.helpscout.net/mailbox-api/overview/errors"
)

// fieldError is one entry of a vnd.error's _embedded.errors.
type fieldError struct {
	Path          string
	Message       string
	RejectedValue any
	hasRejected   bool
}

// errList collects validation errors, as HelpScout reports them all at once.
type errList []fieldError

func (l *errList) add(path, msg string) {
	*l = append(*l, fieldError{Path: path, Message: msg})
}

func (l *errList) reject(path, msg string, value any) {
	*l = append(*l, fieldError{Path: path, Message: msg, RejectedValue: value, hasRejected: true})
}

// aboutAnchor names the documentation anchor of an error, like the real links.
func aboutAnchor(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "may not be empty"):
		return "NotEmpty"
	case strings.Contains(m, "may not be null"):
		return "NotNull"
	case strings.Contains(m, "size must be"):
		return "Size"
	case strings.Contains(m, "email"):
		return "Email"
	case strings.Contains(m, "expected one of"):
		return "Enum"
	case strings.Contains(m, "date"):
		return "Date"
	}
	return "Invalid"
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return buf.Bytes()
}

// writeHAL answers with a HAL body.
func writeHAL(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", halType)
	w.WriteHeader(status)
	_, _ = w.Write(marshal(v))
}

// writeVndError answers with HelpScout's error body.
func writeVndError(w http.ResponseWriter, status int, logRef, message string, errs errList) {
	body := map[string]any{
		"logRef":  logRef,
		"message": message,
		"_links":  map[string]any{"about": map[string]string{"href": errorsDoc}},
	}
	if len(errs) > 0 {
		items := make([]map[string]any, 0, len(errs))
		for _, e := range errs {
			it := map[string]any{
				"path":    e.Path,
				"message": e.Message,
				"source":  "JSON",
				"_links":  map[string]any{"about": map[string]string{"href": errorsDoc + "#" + aboutAnchor(e.Message)}},
			}
			if e.hasRejected {
				it["rejectedValue"] = e.RejectedValue
			}
			items = append(items, it)
		}
		body["_embedded"] = map[string]any{"errors": items}
	}
	w.Header().Set("Content-Type", vndErrorType)
	w.WriteHeader(status)
	_, _ = w.Write(marshal(body))
}

// writeBadRequest answers 400 "Bad request" with the collected errors.
func writeBadRequest(w http.ResponseWriter, logRef string, errs errList) {
	writeVndError(w, http.StatusBadRequest, logRef, "Bad request", errs)
}

func writeNotFound(w http.ResponseWriter, logRef string) {
	writeVndError(w, http.StatusNotFound, logRef, "Resource not found", nil)
}

// writeFailure answers an injected failure; a 500 has the real body
// {"logRef":...,"message":"Internal error"}.
func writeFailure(w http.ResponseWriter, status int, logRef string) {
	msg := http.StatusText(status)
	if status == http.StatusInternalServerError {
		msg = "Internal error"
	}
	if msg == "" {
		msg = "Error"
	}
	writeVndError(w, status, logRef, msg, nil)
}

// writeCreated answers 201 with no body, like a real create.
func writeCreated(w http.ResponseWriter, id int64, location string) {
	h := w.Header()
	h.Set("Resource-Id", itoa(id))
	h.Set("Location", location)
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}
