package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

var testOpts = PlaygroundOptions{
	Title:    "HelpScout Log (test)",
	Endpoint: "/query",
	Headers:  map[string]string{"Authorization": "Bearer demo-token"},
}

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func render(t *testing.T, opts PlaygroundOptions, assets bool) string {
	t.Helper()
	page, err := renderPlayground(opts, assets, Facts{Now: time.Now()})
	if err != nil {
		t.Fatalf("renderPlayground: %v", err)
	}
	return string(page)
}

// checkNoCDN fails when the page names a CDN or loads anything from
// another origin.
func checkNoCDN(t *testing.T, page string) {
	t.Helper()
	lower := strings.ToLower(page)
	for _, s := range []string{"cdn", "unpkg", "jsdelivr", "googleapis", "cloudflare"} {
		if strings.Contains(lower, s) {
			t.Errorf("page contains %q", s)
		}
	}
	for _, m := range regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], AssetsPrefix) {
			t.Errorf("page loads %q, not from %s", m[1], AssetsPrefix)
		}
	}
	if regexp.MustCompile(`(?i)https?://|["'(]//`).MatchString(page) {
		t.Errorf("page contains an absolute URL")
	}
}

func TestPlaygroundPageWithAssets(t *testing.T) {
	page := render(t, testOpts, true)
	checkNoCDN(t, page)
	for _, e := range DefaultExamples() {
		if !strings.Contains(page, e.Name) {
			t.Errorf("page lacks example %q", e.Name)
		}
	}
	for _, a := range assetList {
		if !strings.Contains(page, `"`+a.URL()+`"`) {
			t.Errorf("page does not load %s", a.URL())
		}
	}
	for _, s := range []string{
		"<title>HelpScout Log (test)</title>",
		"GraphiQL.createFetcher(",
		"headers: headers || undefined,",
		"subscriptionUrl",
		"'wss:' : 'ws:'",
		"defaultTabs:",
		"defaultHeaders:",
		"shouldPersistHeaders: true",
		"new PrefixedStorage(",
		"React.createElement(GraphiQL,",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

// scriptValue decodes the JSON value the page's script assigns to name.
func scriptValue(t *testing.T, page, name string, v any) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*const ` + name + ` = (.*?)( \|\| undefined)?;$`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page has no const %s", name)
	}
	if err := json.Unmarshal([]byte(m[1]), v); err != nil {
		t.Fatalf("const %s = %s: %v", name, m[1], err)
	}
}

func TestPlaygroundPageEscaping(t *testing.T) {
	hostile := []Example{{
		Name:      `</script><script>alert("name")</script>`,
		Query:     "# it's `quoted` </script><!-- \u2028 ${x}\nquery Q { viewer { role } }\n",
		Variables: `{"s": "</script>"}`,
	}, {
		Name:  "Second & last",
		Query: "query R { viewer { subject } }",
	}}
	opts := testOpts
	opts.Examples = hostile
	opts.Headers = map[string]string{"Authorization": `Bearer "x"</script>`}
	opts.Endpoint = `/query?a=1&b=</script>`
	page := render(t, opts, true)

	if n := strings.Count(strings.ToLower(page), "</script"); n != 4 {
		t.Errorf("page has %d closing script tags, want 4 (three assets and the inline script)", n)
	}
	if strings.Contains(page, "<!--") || strings.Contains(page, "\u2028") {
		t.Error("a comment opener or U+2028 got into the page unescaped")
	}

	var got []exampleJS
	scriptValue(t, page, "examples", &got)
	want := []exampleJS{
		{Name: hostile[0].Name, Query: hostile[0].Query, Variables: hostile[0].Variables},
		{Name: hostile[1].Name, Query: hostile[1].Query},
	}
	if !slices.Equal(got, want) {
		t.Errorf("examples in the page = %#v, want %#v", got, want)
	}
	var fetcherHeaders map[string]string
	scriptValue(t, page, "headers", &fetcherHeaders)
	if fetcherHeaders["Authorization"] != opts.Headers["Authorization"] {
		t.Errorf("fetcher headers in the page = %v, want %v", fetcherHeaders, opts.Headers)
	}
	var headers string
	scriptValue(t, page, "headersText", &headers)
	var hm map[string]string
	if err := json.Unmarshal([]byte(headers), &hm); err != nil || hm["Authorization"] != opts.Headers["Authorization"] {
		t.Errorf("headers in the page = %q (%v), want %v", headers, err, opts.Headers)
	}
}

func TestPlaygroundWithoutHeadersOrExamples(t *testing.T) {
	page := render(t, PlaygroundOptions{Examples: []Example{}}, true)
	headers := map[string]string{"x": "y"}
	scriptValue(t, page, "headers", &headers)
	if headers != nil {
		t.Errorf("fetcher headers = %v, want null", headers)
	}
	for _, s := range []string{`new URL("/query"`, `const headersText = "" || undefined;`, `const examples = [];`} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestNotBuiltPage(t *testing.T) {
	page := render(t, testOpts, false)
	checkNoCDN(t, page)
	for _, s := range []string{
		"not built into this binary",
		"scripts/fetch-web-assets.sh",
		"make run",
		"rebuild",
		"<code>/query</code>",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("message page lacks %q", s)
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") || strings.Contains(page, AssetsPrefix) {
		t.Error("message page loads a script or an asset")
	}
	if strings.Contains(page, "demo-token") {
		t.Error("message page shows the default headers")
	}
	for _, e := range DefaultExamples() {
		if !strings.Contains(page, e.Name) {
			t.Errorf("message page lacks example %q", e.Name)
		}
	}
}

func TestPlaygroundHandler(t *testing.T) {
	h := Playground(testOpts)
	resp := get(t, h, http.MethodGet, "/", nil)
	page := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	checkNoCDN(t, page)
	for _, e := range DefaultExamples() {
		if !strings.Contains(page, e.Name) {
			t.Errorf("page lacks example %q", e.Name)
		}
	}
	notBuilt := strings.Contains(page, "not built into this binary")
	if notBuilt == AssetsAvailable() {
		t.Errorf("AssetsAvailable() = %v, but the page says not built: %v", AssetsAvailable(), notBuilt)
	}

	if resp := get(t, h, http.MethodPost, "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}

// The SHA-256 hashes of the files gqlgen v0.17.98's playground loads (its
// SRI hashes); scripts/fetch-web-assets.sh checks the same.
var assetSHA256 = map[string]string{
	"react/umd/react.production.min.js":         "S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY=",
	"react-dom/umd/react-dom.production.min.js": "IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc=",
	"graphiql/graphiql.min.js":                  "hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs=",
	"graphiql/graphiql.min.css":                 "MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU=",
}

func TestAssets(t *testing.T) {
	h := Assets()

	t.Run("unknown paths", func(t *testing.T) {
		for _, p := range []string{"/assets/", "/assets/README.md", "/assets/.stamp", "/assets/graphiql/graphiql.min.js",
			"/assets/graphiql-0.0.1/graphiql.min.js", "/assets/../go.mod"} {
			if resp := get(t, h, http.MethodGet, p, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		if !AssetsAvailable() {
			t.Skip("the GraphiQL files are not embedded; run scripts/fetch-web-assets.sh")
		}
		for _, a := range assetList {
			resp := get(t, h, http.MethodGet, a.URL()+"?v=1", nil)
			b := body(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d", a.URL(), resp.StatusCode)
			}
			want := "text/javascript; charset=utf-8"
			if strings.HasSuffix(a.file, ".css") {
				want = "text/css; charset=utf-8"
			}
			if ct := resp.Header.Get("Content-Type"); ct != want {
				t.Errorf("GET %s: Content-Type %q, want %q", a.URL(), ct, want)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("GET %s: Cache-Control %q", a.URL(), cc)
			}
			sum := sha256.Sum256([]byte(b))
			if got := base64.StdEncoding.EncodeToString(sum[:]); got != assetSHA256[a.file] {
				t.Errorf("GET %s: SHA-256 %s, want %s", a.URL(), got, assetSHA256[a.file])
			}

			// Compressed, and the same bytes once decompressed.
			resp = get(t, h, http.MethodGet, a.URL(), http.Header{"Accept-Encoding": {"br, gzip;q=0.8"}})
			if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s with gzip: Content-Encoding %q, Vary %q", a.URL(), resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
			} else {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				unzipped, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(unzipped, []byte(b)) {
					t.Errorf("GET %s with gzip: decompressed body differs (%v)", a.URL(), err)
				}
			}

			// Revalidation.
			etag := resp.Header.Get("ETag")
			resp = get(t, h, http.MethodGet, a.URL(), http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {etag}})
			if etag == "" || resp.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match %s: status %d, want 304", a.URL(), etag, resp.StatusCode)
			}
		}
		if resp := get(t, h, http.MethodHead, assetJS.URL(), nil); resp.StatusCode != http.StatusOK || body(t, resp) != "" {
			t.Errorf("HEAD: status %d", resp.StatusCode)
		}
		if resp := get(t, h, http.MethodPost, assetJS.URL(), nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: status %d, want 405", resp.StatusCode)
		}
		// Mounted with http.StripPrefix as well.
		stripped := http.StripPrefix("/assets", h)
		if resp := get(t, stripped, http.MethodGet, assetJS.URL(), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("under StripPrefix: status %d", resp.StatusCode)
		}
	})
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZip, deflate, br":     true,
		"br;q=1.0, gzip;q=0.5":  true,
		"gzip;q=0":              false,
		"*":                     true,
		"*, gzip;q=0":           false,
		"identity":              false,
		"deflate, x-gzip;q=0.1": true,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// loadSchema loads the API's schema from ../../schema.
func loadSchema(t *testing.T) *ast.Schema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "schema", "*.graphqls"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files in ../../schema (%v)", err)
	}
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	schema, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		t.Fatalf("loading the schema: %v", err)
	}
	return schema
}

func TestDefaultExamplesMatchSchema(t *testing.T) {
	schema := loadSchema(t)
	examples := DefaultExamples()
	if len(examples) != 11 {
		t.Errorf("%d examples, want 11 (the Quick Reference tasks, the two investigations, the audit, who am I, paging)", len(examples))
	}
	names := map[string]bool{}
	operations := map[string]bool{}
	for _, e := range examples {
		t.Run(e.Name, func(t *testing.T) {
			if e.Name == "" || names[e.Name] {
				t.Errorf("empty or repeated name %q", e.Name)
			}
			names[e.Name] = true
			if !strings.HasPrefix(e.Query, "# ") {
				t.Error("query does not start with a # comment")
			}
			doc, errs := gqlparser.LoadQueryWithRules(schema, e.Query, nil)
			if len(errs) > 0 {
				t.Fatalf("query does not match the schema: %v", errs)
			}
			if len(doc.Operations) != 1 || doc.Operations[0].Name == "" {
				t.Fatalf("want one named operation, got %d", len(doc.Operations))
			}
			op := doc.Operations[0]
			if op.Operation != ast.Query {
				t.Errorf("operation %s is a %s, want a query", op.Name, op.Operation)
			}
			if operations[op.Name] {
				t.Errorf("operation name %s repeated", op.Name)
			}
			operations[op.Name] = true

			texts := []string{e.Variables}
			if e.VariablesAt != nil {
				texts = append(texts, e.VariablesAt(Facts{Now: time.Now()}),
					e.VariablesAt(Facts{Now: time.Date(2031, 2, 28, 23, 59, 59, 0, time.FixedZone("x", 3600)), TicketNumber: 73001}))
			}
			for _, text := range texts {
				vars := map[string]any{}
				if text != "" {
					if err := json.Unmarshal([]byte(text), &vars); err != nil {
						t.Fatalf("variables are not a JSON object: %v", err)
					}
				}
				for name := range vars {
					if op.VariableDefinitions.ForName(name) == nil {
						t.Errorf("variable %q is not declared", name)
					}
				}
				if _, err := validator.VariableValues(schema, op, vars); err != nil {
					t.Errorf("variables %s do not fit: %v", text, err)
				}
				if strings.Contains(text, "@") && !strings.Contains(text, `"`+ExampleEmail+`"`) {
					t.Errorf("variables %s name another email than %s, which the demo data holds", text, ExampleEmail)
				}
			}
		})
	}
}

// TestPlaygroundFillsTimesWhenServed checks that an example's variables
// that name a time are those of the moment the page is served.
func TestPlaygroundFillsTimesWhenServed(t *testing.T) {
	clock := time.Date(2026, 11, 27, 9, 30, 45, 0, time.UTC)
	opts := testOpts
	opts.Now = func() time.Time { return clock }
	h := Playground(opts)
	var missing Example
	for _, e := range DefaultExamples() {
		if e.Name == "Investigate a missing ticket" {
			missing = e
		}
	}
	if missing.VariablesAt == nil {
		t.Fatal(`"Investigate a missing ticket" has no VariablesAt`)
	}
	for _, want := range []string{"2026-11-27T07:30:00Z", "2026-12-02T07:30:00Z"} {
		page := body(t, get(t, h, http.MethodGet, "/", nil))
		if AssetsAvailable() {
			var got []exampleJS
			scriptValue(t, page, "examples", &got)
			var vars map[string]string
			for _, e := range got {
				if e.Name == missing.Name {
					if err := json.Unmarshal([]byte(e.Variables), &vars); err != nil {
						t.Fatal(err)
					}
				}
			}
			if vars["at"] != want || vars["email"] != ExampleEmail {
				t.Errorf("variables in the page %v, want at %s and email %s", vars, want, ExampleEmail)
			}
		} else if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
		clock = clock.Add(5 * 24 * time.Hour)
	}
}

// TestPlaygroundFindsTheLogsTicket checks that the conversation example
// asks for a ticket number of the log when the page is served, and keeps
// its default when the log cannot say.
func TestPlaygroundFindsTheLogsTicket(t *testing.T) {
	if !AssetsAvailable() {
		t.Skip("the examples are in the GraphiQL page, which needs the built-in assets: run scripts/fetch-web-assets.sh")
	}
	var answer int64
	var fail error
	opts := testOpts
	opts.TicketNumber = func(ctx context.Context) (int64, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the ticket number is asked without a deadline")
		}
		return answer, fail
	}
	h := Playground(opts)
	cases := []struct {
		answer int64
		fail   error
		want   string
	}{
		{73001, nil, "73001"},
		{0, nil, "10482"},
		{5, errors.New("database unreachable"), "10482"},
	}
	for _, tc := range cases {
		answer, fail = tc.answer, tc.fail
		var got []exampleJS
		scriptValue(t, body(t, get(t, h, http.MethodGet, "/", nil)), "examples", &got)
		var vars map[string]string
		for _, e := range got {
			if e.Name == "Find a conversation" {
				if err := json.Unmarshal([]byte(e.Variables), &vars); err != nil {
					t.Fatal(err)
				}
			}
		}
		if vars["number"] != tc.want {
			t.Errorf("with the log answering %d, %v: number %q, want %q", tc.answer, tc.fail, vars["number"], tc.want)
		}
	}
}

// TestPlaygroundRefusesFraming checks that no other site can frame the
// playground (which may hold the demo's token and runs operations on a
// click) and that a page carrying a token is never stored by a cache.
func TestPlaygroundRefusesFraming(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      PlaygroundOptions
		wantCache string
	}{
		{"with a token", testOpts, "no-store"},
		{"without headers", PlaygroundOptions{Endpoint: "/graphql", Examples: []Example{}}, "no-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, Playground(tc.opts), http.MethodGet, "/", nil)
			_ = body(t, resp)
			if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options %q, want DENY", got)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCache)
			}
		})
	}
}
