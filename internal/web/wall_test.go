package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// wallGet serves one request to the Wall handler.
func wallGet(t *testing.T, opts WallOptions, method, host string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, "/wall", nil)
	req.Host = host
	rec := httptest.NewRecorder()
	Wall(opts).ServeHTTP(rec, req)
	resp := rec.Result()
	return resp, body(t, resp)
}

// wallConfigOf decodes the page's JSON config block.
func wallConfigOf(t *testing.T, page string) wallConfig {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="wall-config">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("page has no config block")
	}
	var cfg wallConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("config block %s: %v", m[1], err)
	}
	return cfg
}

// inline returns the contents of the page's elements of one tag that have
// no attributes.
func inline(page, tag string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func sha256Source(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// directives splits a Content-Security-Policy into its directives.
func directives(csp string) map[string][]string {
	d := map[string][]string{}
	for part := range strings.SplitSeq(csp, ";") {
		f := strings.Fields(part)
		if len(f) > 0 {
			d[f[0]] = f[1:]
		}
	}
	return d
}

func TestWallServed(t *testing.T) {
	opts := WallOptions{Endpoint: "/graphql"}
	resp, page := wallGet(t, opts, http.MethodGet, "wall.example:8080")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, s := range []string{
		`<title>HelpScout sync</title>`,
		`id="conn"`, `id="feed"`, `id="rate"`, `id="tickets"`, `id="budget"`, `id="chart"`, `id="signin-form"`,
		"graphql-transport-ws", "connection_init", "'subscribe'", "'pong'", "lastCursor",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}

	if resp, _ := wallGet(t, opts, http.MethodHead, "wall.example"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD: status %d", resp.StatusCode)
	}
	if resp, _ := wallGet(t, opts, http.MethodPost, "wall.example"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}

// The page loads nothing: no src or href but an empty data: icon, no CSS
// url() or @import, no absolute URL but the SVG namespace, no inline
// handler or style attribute (the policy would block them), and its script
// never builds markup from strings.
func TestWallSelfContained(t *testing.T) {
	_, page := wallGet(t, WallOptions{Headers: map[string]string{"Authorization": "Bearer t"}}, http.MethodGet, "h")
	for _, m := range regexp.MustCompile(`(?i)<[a-z][^>]*\s(src|href)\s*=\s*["']?([^"'\s>]*)`).FindAllStringSubmatch(page, -1) {
		if m[2] != "data:," {
			t.Errorf("page loads %s=%q", m[1], m[2])
		}
	}
	for _, css := range inline(page, "style") {
		for _, s := range []string{"url(", "@import"} {
			if strings.Contains(strings.ToLower(css), s) {
				t.Errorf("style sheet contains %q", s)
			}
		}
	}
	for _, m := range regexp.MustCompile(`(?i)https?://[^\s"'<>)]*`).FindAllString(page, -1) {
		if m != "http://www.w3.org/2000/svg" { // a namespace name, never fetched
			t.Errorf("page contains the URL %q", m)
		}
	}
	lower := strings.ToLower(page)
	for _, s := range []string{" style=", "innerhtml", "outerhtml", "insertadjacenthtml", "document.write", "eval(", "new function", "cdn", "//unpkg", "googleapis"} {
		if strings.Contains(lower, s) {
			t.Errorf("page contains %q", s)
		}
	}
	if regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`).MatchString(page) {
		t.Error("page has an inline event handler")
	}
}

func TestWallCSP(t *testing.T) {
	for _, tc := range []struct {
		name, endpoint, host string
		connect              []string
	}{
		{"path endpoint", "/graphql", "wall.example:8080", []string{"'self'", "ws://wall.example:8080", "wss://wall.example:8080"}},
		{"IPv6 host", "", "[::1]:8080", []string{"'self'", "ws://[::1]:8080", "wss://[::1]:8080"}},
		{"hostile host", "/graphql", "x; script-src *", []string{"'self'"}},
		{"absolute endpoint", "https://api.example.com/graphql", "wall.example", []string{"'self'", "ws://wall.example", "wss://wall.example", "https://api.example.com", "wss://api.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := wallGet(t, WallOptions{Endpoint: tc.endpoint}, http.MethodGet, tc.host)
			d := directives(resp.Header.Get("Content-Security-Policy"))
			styles, scripts := inline(page, "style"), inline(page, "script")
			if len(styles) != 1 || len(scripts) != 1 {
				t.Fatalf("page has %d inline styles and %d inline scripts, want 1 and 1", len(styles), len(scripts))
			}
			for k, want := range map[string][]string{
				"default-src":     {"'none'"},
				"script-src":      {sha256Source(scripts[0])},
				"style-src":       {sha256Source(styles[0])},
				"img-src":         {"'self'", "data:"},
				"connect-src":     tc.connect,
				"base-uri":        {"'none'"},
				"form-action":     {"'none'"},
				"frame-ancestors": {"'none'"},
			} {
				if got := strings.Join(d[k], " "); got != strings.Join(want, " ") {
					t.Errorf("%s %s, want %s", k, got, strings.Join(want, " "))
				}
			}
			if len(d) != 8 {
				t.Errorf("policy has %d directives, want 8: %v", len(d), d)
			}
		})
	}
}

func TestWallConfig(t *testing.T) {
	t.Run("demo token", func(t *testing.T) {
		headers := map[string]string{"Authorization": `Bearer "x"</script><script>alert(1)</script>`, "X-Tenant": "a&b"}
		_, page := wallGet(t, WallOptions{Endpoint: "/graphql?x=</script>", Headers: headers}, http.MethodGet, "h")
		if n := strings.Count(strings.ToLower(page), "</script"); n != 2 {
			t.Errorf("page has %d closing script tags, want 2 (config and script)", n)
		}
		cfg := wallConfigOf(t, page)
		if cfg.Endpoint != "/graphql?x=</script>" {
			t.Errorf("endpoint %q", cfg.Endpoint)
		}
		for k, v := range headers {
			if cfg.Headers[k] != v {
				t.Errorf("header %s = %q, want %q", k, cfg.Headers[k], v)
			}
		}
	})
	t.Run("no token", func(t *testing.T) {
		_, page := wallGet(t, WallOptions{}, http.MethodGet, "h")
		cfg := wallConfigOf(t, page)
		if cfg.Endpoint != "/graphql" || cfg.Headers != nil {
			t.Errorf("config %+v, want endpoint /graphql and no headers", cfg)
		}
	})
}

// The page's operations are valid against the schema, and each is one named
// operation of the expected kind.
func TestWallOperations(t *testing.T) {
	schema := loadSchema(t)
	_, page := wallGet(t, WallOptions{}, http.MethodGet, "h")
	ops := wallConfigOf(t, page).Operations
	for _, tc := range []struct {
		name, doc string
		kind      ast.Operation
	}{
		{"WallEvents", ops.Events, ast.Query},
		{"WallSummary", ops.Summary, ast.Query},
		{"WallTicketsToday", ops.Today, ast.Query},
		{"WallBudget", ops.Budget, ast.Query},
		{"WallViewer", ops.Viewer, ast.Query},
		{"WallFeed", ops.Feed, ast.Subscription},
		{"WallLiveSummary", ops.LiveSummary, ast.Subscription},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tc.doc)
			if errs != nil {
				t.Fatalf("invalid: %v\n%s", errs, tc.doc)
			}
			if len(doc.Operations) != 1 || doc.Operations[0].Name != tc.name || doc.Operations[0].Operation != tc.kind {
				t.Errorf("want one %s named %s", tc.kind, tc.name)
			}
		})
	}
}

// The page's accessibility basics: a language, landmarks, one polite status
// region for connection changes (not the feed, which would announce every
// event of a burst, nor the badge, whose countdown changes every second), a
// modal sign-in dialog, and no animation for those who ask for less motion.
func TestWallAccessibility(t *testing.T) {
	_, page := wallGet(t, WallOptions{}, http.MethodGet, "h")
	for _, s := range []string{
		`<html lang="en">`, `<header class="top">`, `<main class="wall" id="wall">`, `<footer class="bottom">`,
		`<p id="announce" class="sr-only" role="status"></p>`,
		`id="signin" class="signin" role="dialog" aria-modal="true" aria-labelledby="signin-title"`,
		`@media (prefers-reduced-motion: reduce)`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if n := strings.Count(page, "aria-live") + strings.Count(page, `role="status"`) + strings.Count(page, `role="log"`); n != 1 {
		t.Errorf("page has %d live regions, want 1 (#announce)", n)
	}
	for _, id := range []string{"feed", "conn"} {
		tag := regexp.MustCompile(`<[^>]*\sid="` + id + `"[^>]*>`).FindString(page)
		if tag == "" || strings.Contains(tag, "aria-live") || strings.Contains(tag, "role=") {
			t.Errorf("#%s is missing or a live region: %q", id, tag)
		}
	}
}
