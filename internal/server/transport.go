package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/kivalogic/helpscout-log/internal/apperr"
)

const (
	contentTypeJSON            = "application/json"
	contentTypeGraphQLResponse = "application/graphql-response+json"
)

// MaxRequestBody caps the body of a POST request, far above any real
// operation with its variables and far below what would strain the server.
const MaxRequestBody = 1 << 20

// postTransport serves GraphQL over HTTP POST like gqlgen's transport.POST,
// but writes the response by splicing the executor's already-encoded data
// into the envelope instead of encoding (and so validating and compacting)
// it a second time.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

// Supports accepts POST requests with a JSON body.
func (postTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != http.MethodPost {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == contentTypeJSON
}

// responseContentType picks application/graphql-response+json or
// application/json by the Accept header's preferences (q values), the one
// listed first on a tie, and application/json when the client accepts
// anything or sends no Accept header.
func responseContentType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return contentTypeJSON
	}
	type pref struct {
		q   float64
		pos int
		set bool
	}
	var jsonExact, jsonAny, gql pref
	for i, part := range strings.Split(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		p := pref{q: 1, pos: i, set: true}
		if v, ok := params["q"]; ok {
			if q, err := strconv.ParseFloat(v, 64); err == nil {
				p.q = q
			}
		}
		switch mediaType {
		case contentTypeGraphQLResponse:
			if !gql.set {
				gql = p
			}
		case contentTypeJSON:
			if !jsonExact.set {
				jsonExact = p
			}
		case "*/*", "application/*":
			if !jsonAny.set || p.q > jsonAny.q {
				jsonAny = p
			}
		}
	}
	plain := jsonExact
	if !plain.set {
		plain = jsonAny
	}
	switch {
	case gql.set && gql.q > 0 && (!plain.set || gql.q > plain.q || (gql.q == plain.q && gql.pos < plain.pos)):
		return contentTypeGraphQLResponse
	case plain.set && plain.q > 0:
		return contentTypeJSON
	}
	return contentTypeGraphQLResponse
}

// Do executes one operation.
func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	ct := responseContentType(r)
	w.Header().Set("Content-Type", ct)
	start := graphql.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			e := codedError("REQUEST_TOO_LARGE", fmt.Sprintf("the request body is over the limit of %d bytes", tooLarge.Limit))
			writeResponse(w, http.StatusRequestEntityTooLarge, exec.DispatchError(ctx, gqlerror.List{e}))
			return
		}
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{codedError("BAD_USER_INPUT", "could not read the request body")}))
		return
	}
	params := &graphql.RawParams{}
	if err := decodeJSON(body, params); err != nil {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{codedError("BAD_USER_INPUT", bodyErrorMessage(err))}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, ct)
}

// execute prepares and runs one operation and writes its response.
// A subscription is refused, since one HTTP answer cannot carry its
// events, with where to subscribe instead; a mutation is refused over GET,
// as the GraphQL over HTTP specification asks, with 405 and Allow: POST.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, ct string) {
	ctx := r.Context()
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{codedError("BAD_USER_INPUT",
			"the request has no query: send the GraphQL document in query, such as { viewer { role } }")}))
		return
	}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		if rc != nil && rc.Doc != nil && rc.Operation == nil {
			opErr = gqlerror.List{operationNotFound(rc.Doc, params.OperationName)}
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr)
		writeResponse(w, requestErrorStatus(resp.Errors, ct), resp)
		return
	}
	refuse := func(status int, code, msg string) {
		writeResponse(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{codedError(code, msg)}))
	}
	switch {
	case rc.Operation.Operation == ast.Subscription:
		refuse(http.StatusBadRequest, "WEBSOCKET_REQUIRED", "subscriptions are served over a WebSocket: open one to /graphql "+
			"with the graphql-transport-ws (or legacy graphql-ws) protocol and subscribe there")
		return
	case r.Method == http.MethodGet && rc.Operation.Operation != ast.Query:
		w.Header().Set("Allow", http.MethodPost)
		refuse(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "a mutation cannot be sent with GET: send it with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, http.StatusOK, responses(ctx))
}

// getTransport serves queries over HTTP GET, with query, operationName,
// variables and extensions as URL parameters, the last two JSON objects.
// Its answers are those of postTransport, and its refusals name what was
// wrong.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

// Supports accepts GET requests that are not WebSocket upgrades.
func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

// Do executes one query.
func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ct := responseContentType(r)
	w.Header().Set("Content-Type", ct)
	refuse := func(msg string) {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(r.Context(), gqlerror.List{codedError("BAD_USER_INPUT", msg)}))
	}
	start := graphql.Now()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		refuse("the URL's query string is malformed: " + err.Error())
		return
	}
	// A second value would be dropped without a word: another operation,
	// or other variables, than one of the two sent would run.
	for _, name := range []string{"query", "operationName", "variables", "extensions"} {
		if n := len(q[name]); n > 1 {
			refuse(fmt.Sprintf("%s: given %d times in the URL; give it once", name, n))
			return
		}
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	for _, p := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		if err := decodeJSON([]byte(v), p.dst); err != nil {
			refuse(p.name + " must be a JSON object: " + jsonErrorMessage(err))
			return
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, ct)
}

// codedError is a refusal of the request itself, before any operation
// ran, with its extensions.code.
func codedError(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// decodeJSON decodes one JSON value, keeping numbers exact (json.Number)
// and refusing anything after it.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

var errTrailingData = errors.New("there is more after the JSON value")

// bodyErrorMessage says what is wrong with a POST body that did not decode
// into a request, and what to send instead, in the client's terms.
func bodyErrorMessage(err error) string {
	const want = `send one JSON object such as {"query": "{ viewer { role } }", "variables": {}}`
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the request body is empty: " + want
	case errors.As(err, &typeErr) && typeErr.Field == "" && typeErr.Value == "array":
		return "batched requests (a JSON array) are not supported: " + want
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "the request body is " + aJSON(typeErr.Value) + ": " + want
	case errors.As(err, &typeErr) && (typeErr.Field == "variables" || typeErr.Field == "extensions"):
		return typeErr.Field + " must be a JSON object, not " + aJSON(typeErr.Value)
	case errors.As(err, &typeErr):
		return typeErr.Field + " must be a string, not " + aJSON(typeErr.Value)
	}
	return "the request body is not valid JSON: " + jsonErrorMessage(err)
}

// jsonErrorMessage describes a syntax error without Go's type names.
func jsonErrorMessage(err error) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends before the value does"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(syntaxErr.Error(), "json: "), syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return "found " + aJSON(typeErr.Value)
	}
	return err.Error()
}

// aJSON names a kind of JSON value as encoding/json reports it ("array",
// "number 5"), with its article.
func aJSON(kind string) string {
	return article(kind) + " " + kind
}

// requestErrorStatus is the status of a response refused before the
// operation ran, which has no data. The GraphQL over HTTP specification
// asks for 400 with application/graphql-response+json, and for 200 with
// application/json, where a client reads the errors from the body, as it
// would for a field error. A persisted query the server does not hold yet
// is answered 200 in both: the client then sends the whole document, and
// some clients stop using persisted queries after a 400.
func requestErrorStatus(errs gqlerror.List, ct string) int {
	if ct == contentTypeGraphQLResponse && !(len(errs) == 1 && errs[0].Extensions["code"] == "PERSISTED_QUERY_NOT_FOUND") {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// operationNotFound says which operations a document holds when the
// request did not name one of them: none named in a document of several,
// or a name the document does not have.
func operationNotFound(doc *ast.QueryDocument, name string) *gqlerror.Error {
	names := make([]string, 0, len(doc.Operations))
	for _, op := range doc.Operations {
		if op.Name == "" {
			names = append(names, "an unnamed "+string(op.Operation))
		} else {
			names = append(names, op.Name)
		}
	}
	var msg string
	switch {
	case len(names) == 0:
		msg = "the document holds no operation, only fragments: add a query such as { viewer { role } }"
	case name == "":
		msg = fmt.Sprintf("the document holds %d operations (%s): name the one to run in operationName", len(names), strings.Join(names, ", "))
	default:
		msg = fmt.Sprintf("operationName %s is not an operation of the document, which holds %s", apperr.Quote(name), strings.Join(names, ", "))
	}
	err := codedError("BAD_USER_INPUT", msg)
	err.Extensions["argument"] = "operationName"
	return err
}

// writeResponse writes {"errors":...,"data":...,"extensions":...} with the
// data as the executor encoded it, neither copied nor encoded again, and
// with its Content-Length, so that the response is not chunked.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	var head, tail []byte
	head = append(head, '{')
	if len(resp.Errors) > 0 {
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			b = []byte(`[{"message":"internal error","extensions":{"code":"INTERNAL"}}]`)
		}
		head = append(head, `"errors":`...)
		head = append(head, b...)
	}
	if resp.Data != nil {
		if len(head) > 1 {
			head = append(head, ',')
		}
		head = append(head, `"data":`...)
	}
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			if len(head) > 1 || resp.Data != nil {
				tail = append(tail, ',')
			}
			tail = append(tail, `"extensions":`...)
			tail = append(tail, b...)
		}
	}
	tail = append(tail, '}')
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(resp.Data)+len(tail)))
	w.WriteHeader(status)
	_, _ = w.Write(head)
	if resp.Data != nil {
		_, _ = w.Write(resp.Data)
	}
	_, _ = w.Write(tail)
}

// checkGraphQLRequest answers the requests no transport serves with a
// GraphQL error that says what to send instead: 405 with Allow for another
// method, 415 for a POST body that is not JSON. GET (queries and WebSocket
// upgrades), OPTIONS and JSON POSTs go on to the handler.
func checkGraphQLRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodOptions:
		case http.MethodPost:
			if !(postTransport{}).Supports(r) {
				writeRequestError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
					"POST /graphql takes a JSON body {\"query\": ..., \"variables\": ...} sent with Content-Type: application/json")
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeRequestError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
				r.Method+" is not supported: send GraphQL requests with GET or POST")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeRequestError answers with a GraphQL response holding one error.
func writeRequestError(w http.ResponseWriter, status int, code, message string) {
	resp := &graphql.Response{Errors: gqlerror.List{{Message: message, Extensions: map[string]any{"code": code}}}}
	w.Header().Set("Content-Type", contentTypeJSON)
	writeResponse(w, status, resp)
}

// playgroundForBrowsers sends a browser that opens /graphql itself (a GET
// without a query that asks for HTML) to the playground at /, instead of
// answering it with a GraphQL error.
func playgroundForBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.RawQuery == "" && r.Header.Get("Upgrade") == "" &&
			strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}
