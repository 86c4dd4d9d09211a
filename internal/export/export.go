// Package export streams the filtered sync log as CSV. Rows are read in
// keyset batches and written as they arrive, so any number of rows passes
// through constant memory, and cells that a spreadsheet would run as a
// formula are neutralised.
package export

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// batchSize is how many rows each keyset query reads.
const batchSize = 2000

// writeWindow is how long the client of an export may take to read what
// one flush sent (see Write).
const writeWindow = 2 * time.Minute

// flushEvery is how many rows are written between flushes to the client.
const flushEvery = 2000

var header = []string{"Timestamp", "Event ID", "Event Type", "Status", "Direction", "Customer Email",
	"HelpScout Conversation ID", "Ticket Number", "HelpScout URL", "Error Code", "Error Message",
	"HTTP Status", "Duration ms", "Attempt", "Retry Of", "Source", "Source Ref", "Actor", "Details"}

// ErrStopped ends an export that the server stopped as it shut down.
var ErrStopped = errors.New("the server stopped the export as it shut down")

// Handler serves GET /export/sync-events.csv for Managers and above. The
// query parameters are the sync-event filter: from, to (RFC 3339 or a
// date), within, timeZone (an IANA name; where TODAY and YESTERDAY begin),
// type, status,
// direction, errorCode (each repeatable or comma-separated),
// search, and order (desc or asc). When stop ends (the server is about to
// close its connections), exports in flight end their file with a row
// saying where they stopped; nil never stops them.
func Handler(svc *synclog.Service, log zerolog.Logger, stop context.Context) http.Handler {
	if stop == nil {
		stop = context.Background()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := auth.Require(r.Context(), auth.RoleManager); err != nil {
			writeError(w, err)
			return
		}
		in, desc, err := ParseQuery(r.URL.Query())
		if err != nil {
			writeError(w, err)
			return
		}
		f, err := in.Resolve(svc.Now(), "")
		if err == nil {
			err = svc.ResolveSearch(r.Context(), &f)
		}
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				err = failure(r, log, err)
			}
			writeError(w, err)
			return
		}
		name := "sync-events-" + svc.Now().UTC().Format("20060102-150405") + ".csv"
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Cache-Control", "no-store")
		rows, err := Write(r.Context(), w, svc.Events, f, desc, stop.Done())
		if errors.Is(err, ErrStopped) && rows == 0 {
			w.Header().Del("Content-Disposition")
			writeError(w, apperr.New(apperr.Unavailable, "the server is shutting down; export again in a moment"))
			return
		}
		if err != nil && rows == 0 && r.Context().Err() == nil {
			// Nothing has reached the client yet: answer with an error
			// instead of an empty file.
			w.Header().Del("Content-Disposition")
			writeError(w, failure(r, log, err))
			return
		}
		switch {
		case errors.Is(err, ErrStopped):
			log.Warn().Str("request_id", middleware.GetReqID(r.Context())).Int("rows", rows).Msg("csv export stopped by the shutdown")
		case err != nil && r.Context().Err() == nil:
			// Headers are gone; the truncated file ends with a marker row
			// so that nobody mistakes it for a complete export.
			log.Error().Err(err).Str("request_id", middleware.GetReqID(r.Context())).Int("rows", rows).Msg("csv export failed")
		}
	})
}

// Write streams the events matching f as CSV to w and returns how many rows
// it wrote. The header row stays buffered until the first batch is read, so
// a failure before any row leaves the response untouched; a failure after
// that ends the file with a row saying the export is incomplete. When stop
// is closed, the export ends at the next row with ErrStopped, and its file
// with a row naming the last event written.
func Write(ctx context.Context, w http.ResponseWriter, events *db.EventStore, f db.EventFilter, desc bool, stop <-chan struct{}) (int, error) {
	cw := csv.NewWriter(w)
	flusher, _ := w.(http.Flusher)
	// The server's write timeout would cut a long download off, without
	// the row that says it is incomplete: each flush moves the deadline
	// instead, so a client that keeps reading gets the whole file and one
	// that stopped is let go after writeWindow.
	rc := http.NewResponseController(w)
	extend := func() { _ = rc.SetWriteDeadline(time.Now().Add(writeWindow)) }
	extend()
	if err := cw.Write(header); err != nil {
		return 0, err
	}
	rows := 0
	rec := make([]string, len(header))
	var last *db.SyncEvent
	err := events.Each(ctx, f, desc, batchSize, func(e *db.SyncEvent) error {
		select {
		case <-stop:
			return ErrStopped
		default:
		}
		last = e
		record(rec, e)
		if err := cw.Write(rec); err != nil {
			return err
		}
		rows++
		if rows%flushEvery == 0 {
			cw.Flush()
			if flusher != nil {
				flusher.Flush()
			}
			extend()
		}
		return cw.Error()
	})
	if err != nil && rows == 0 {
		return 0, err
	}
	switch {
	case errors.Is(err, ErrStopped):
		_ = cw.Write([]string{fmt.Sprintf("# export incomplete: the server shut down after %d rows; the last is event %d at %s; export again from there for the rest",
			rows, last.ID, last.OccurredAt.UTC().Format(time.RFC3339Nano))})
	case err != nil:
		_ = cw.Write([]string{"# export incomplete: an error stopped it after " + strconv.Itoa(rows) + " rows"})
	}
	cw.Flush()
	return rows, err
}

func record(rec []string, e *db.SyncEvent) {
	for i := range rec {
		rec[i] = ""
	}
	rec[0] = e.OccurredAt.UTC().Format(time.RFC3339Nano)
	rec[1] = strconv.FormatInt(e.ID, 10)
	rec[2] = string(e.Type)
	rec[3] = string(e.Status)
	rec[4] = string(e.Direction)
	rec[5] = Safe(str(e.CustomerEmail))
	rec[6] = i64(e.ConversationID)
	rec[7] = i64(e.TicketNumber)
	if u := e.HelpScoutURL(); u != nil {
		rec[8] = *u
	}
	if e.ErrorCode != nil {
		rec[9] = string(*e.ErrorCode)
	}
	rec[10] = Safe(str(e.ErrorMessage))
	if e.HTTPStatus != nil {
		rec[11] = strconv.Itoa(*e.HTTPStatus)
	}
	if e.DurationMs != nil {
		rec[12] = strconv.Itoa(*e.DurationMs)
	}
	rec[13] = strconv.Itoa(e.Attempt)
	rec[14] = i64(e.RetryOfID)
	rec[15] = string(e.Source)
	rec[16] = Safe(str(e.SourceRef))
	rec[17] = Safe(str(e.Actor))
	if len(e.Details) > 0 {
		if b, err := json.Marshal(e.Details); err == nil {
			rec[18] = Safe(string(b))
		}
	}
}

// Safe neutralises a cell that a spreadsheet would evaluate as a formula
// (one starting with =, +, -, @, a tab or a carriage return) by prefixing
// a single quote.
func Safe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func i64(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

// filterParams are the query parameters that choose and order the rows;
// params adds the token for download links.
var (
	filterParams = []string{"from", "to", "within", "timeZone", "type", "status", "direction", "errorCode", "source", "search", "order"}
	params       = append(slices.Clone(filterParams), "access_token")
	// singleParams take one value; the others are lists.
	singleParams = []string{"from", "to", "within", "timeZone", "search", "order", "access_token"}
)

// graphQLNames maps the GraphQL filter's plural field names, which people
// carry over from the API, to the export's parameters.
var graphQLNames = map[string]string{"types": "type", "statuses": "status", "directions": "direction", "errorCodes": "errorCode",
	"sources": "source"}

// ParseQuery reads the filter and order from query parameters. A parameter
// it does not know is refused rather than ignored, since ignoring a
// misspelt filter would export rows the caller meant to leave out.
func ParseQuery(q url.Values) (*synclog.FilterInput, bool, error) {
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if slices.Contains(params, name) {
			continue
		}
		if p, ok := graphQLNames[name]; ok {
			return nil, false, apperr.BadInput(name, "not a parameter of the export: use %s (repeatable or comma-separated)", p)
		}
		return nil, false, apperr.BadInput(name, "not a parameter of the export, which takes %s", strings.Join(filterParams, ", "))
	}
	// A second value of a single-valued parameter would be dropped
	// silently, exporting other rows than one of the two asked for.
	for _, name := range singleParams {
		if n := len(q[name]); n > 1 {
			return nil, false, apperr.BadInput(name, "given %d times; give it once", n)
		}
	}
	in := &synclog.FilterInput{}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &in.From}, {"to", &in.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := db.ParseTime(v)
			if err != nil {
				return nil, false, apperr.BadInput(p.name, "%s", err)
			}
			*p.dst = &t
		}
	}
	if v := q.Get("within"); v != "" {
		r := synclog.RelativeRange(strings.ToUpper(v))
		if _, _, ok := r.Bounds(time.Now()); !ok {
			return nil, false, apperr.BadInput("within", "%s is not one of %s", apperr.Quote(v), joinEnum(synclog.RelativeRanges))
		}
		in.Within = &r
	}
	if q.Has("timeZone") {
		z := q.Get("timeZone")
		in.TimeZone = &z
	}
	var err error
	if in.Types, err = enumList(q, "type", db.EventTypes); err != nil {
		return nil, false, err
	}
	if in.Statuses, err = enumList(q, "status", db.EventStatuses); err != nil {
		return nil, false, err
	}
	if in.Directions, err = enumList(q, "direction", db.Directions); err != nil {
		return nil, false, err
	}
	if in.ErrorCodes, err = enumList(q, "errorCode", db.ErrorCodes); err != nil {
		return nil, false, err
	}
	if in.Sources, err = enumList(q, "source", db.EventSources); err != nil {
		return nil, false, err
	}
	if q.Has("search") {
		s := q.Get("search")
		in.Search = &s
	}
	desc := true
	switch strings.ToLower(q.Get("order")) {
	case "", "desc":
	case "asc":
		desc = false
	default:
		return nil, false, apperr.BadInput("order", "%s is not asc or desc", apperr.Quote(q.Get("order")))
	}
	return in, desc, nil
}

func enumList[T ~string](q url.Values, name string, all []T) ([]T, error) {
	var out []T
	for _, raw := range q[name] {
		for _, v := range strings.Split(raw, ",") {
			v = strings.ToUpper(strings.TrimSpace(v))
			if v == "" {
				continue
			}
			ok := false
			for _, a := range all {
				if string(a) == v {
					ok = true
					out = append(out, a)
					break
				}
			}
			if !ok {
				return nil, apperr.BadInput(name, "%s is not one of %s", apperr.Quote(v), joinEnum(all))
			}
		}
	}
	return out, nil
}

func joinEnum[T ~string](all []T) string {
	s := make([]string, len(all))
	for i, a := range all {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// failure logs err, which ended the export of r before its first row,
// and returns what the client reads of it: UNAVAILABLE (503) when the
// database could not be reached, TIMEOUT (504) when it cancelled a query
// that ran past the statement timeout, INTERNAL otherwise, with the
// request id.
func failure(r *http.Request, log zerolog.Logger, err error) *apperr.Error {
	id := middleware.GetReqID(r.Context())
	log.Error().Err(err).Str("request_id", id).Msg("csv export failed")
	if db.Unreachable(err) {
		return apperr.DatabaseUnavailable(id, err)
	}
	if db.TimedOut(err) {
		return apperr.QueryTimeout(id, err)
	}
	return &apperr.Error{Code: apperr.Internal, Message: "internal error; quote request id " + id + " to support", Err: err}
}

// writeError answers with a JSON error body and the matching status.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := apperr.As(err)
	if !ok {
		ae = &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.HTTPStatus())
	body := map[string]any{"code": string(ae.Code), "message": ae.Message}
	if ae.Argument != "" {
		body["argument"] = ae.Argument
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}
