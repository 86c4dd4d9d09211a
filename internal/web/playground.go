package web

import (
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"time"
)

// Example is one operation that the playground opens as a tab.
type Example struct {
	// Name says in a few words what the example is for, for example
	// "Check if a ticket was created".
	Name string
	// Query is the GraphQL document: one named operation, starting with a
	// "#" comment that says what it answers.
	Query string
	// Variables is the tab's variables as a JSON object, or "".
	Variables string
	// VariablesAt, when set, gives the variables for a page served with
	// the given facts, in place of Variables: for variables that name a
	// time or a record, so that the example finds data whenever the page
	// is opened.
	VariablesAt func(f Facts) string
}

// Facts are what an example's variables may depend on when the page is
// served.
type Facts struct {
	// Now is when the page is served.
	Now time.Time
	// TicketNumber is a ticket number the log holds; 0 when none is known.
	TicketNumber int64
}

// VariablesFor returns the example's variables for a page served with f.
func (e Example) VariablesFor(f Facts) string {
	if e.VariablesAt != nil {
		return e.VariablesAt(f)
	}
	return e.Variables
}

// PlaygroundOptions configures Playground.
type PlaygroundOptions struct {
	// Title is the page title; "HelpScout Log GraphQL" when empty.
	Title string
	// Endpoint is the GraphQL endpoint's URL, usually a path such as
	// "/query"; "/query" when empty. Subscriptions use the same URL with
	// ws:// or wss://.
	Endpoint string
	// Headers are default request headers, for example an Authorization
	// header with a demo token. They fill GraphiQL's headers editor (of every
	// example tab and of new tabs), where the user can see and change them,
	// and are the fetcher's defaults, which the editor's headers override.
	// May be nil.
	Headers map[string]string
	// Examples are the operations GraphiQL opens as tabs, in this order.
	// Nil means DefaultExamples(); an empty, non-nil slice means none.
	Examples []Example
	// Now is the clock that examples' VariablesAt read; nil means
	// time.Now.
	Now func() time.Time
	// TicketNumber, when set, gives a ticket number of the log for the
	// examples' VariablesAt; it is asked on each page served, and an error
	// leaves the examples their default number.
	TicketNumber func(ctx context.Context) (int64, error)
}

// ticketNumberWait bounds how long a page waits for TicketNumber.
const ticketNumberWait = time.Second

// Playground returns the handler for the GraphiQL playground page. The page
// loads React, ReactDOM and GraphiQL from Assets (mounted at AssetsPrefix),
// never from a CDN, and opens with one tab per example. Tabs, queries and
// headers are kept in the browser's localStorage under a key prefix of this
// app and page path, so several deployments on one origin don't clash.
//
// The page is rendered once, or on every request when an example has
// VariablesAt.
//
// When AssetsAvailable is false the page instead says, in plain HTML, that
// the GraphiQL files are not built into this binary and how to add them; the
// GraphQL API at the endpoint works either way.
//
// No other site may frame the page (playgroundCSP, X-Frame-Options), and a
// page that carries Headers is never cached.
func Playground(opts PlaygroundOptions) http.Handler {
	if opts.Examples == nil {
		opts.Examples = DefaultExamples()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	perRequest := slices.ContainsFunc(opts.Examples, func(e Example) bool { return e.VariablesAt != nil })
	// A page that carries headers (the demo's token) is never stored.
	cacheControl := "no-cache"
	if len(opts.Headers) > 0 {
		cacheControl = "no-store"
	}
	assets := AssetsAvailable()
	var page []byte
	var err error
	if !perRequest {
		page, err = renderPlayground(opts, assets, Facts{})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		page, err := page, err
		if perRequest {
			f := Facts{Now: now()}
			if opts.TicketNumber != nil {
				ctx, cancel := context.WithTimeout(r.Context(), ticketNumberWait)
				if n, err := opts.TicketNumber(ctx); err == nil {
					f.TicketNumber = n
				}
				cancel()
			}
			page, err = renderPlayground(opts, assets, f)
		}
		if err != nil {
			http.Error(w, "playground: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", cacheControl)
		h.Set("Content-Security-Policy", playgroundCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
	})
}

// playgroundCSP is the playground's Content-Security-Policy: no other
// site may frame it (it runs operations on a click, with the demo's token
// when it has one), and it sets no base URL, posts no form and embeds no
// plugin. GraphiQL's own scripts and styles are left to the page.
const playgroundCSP = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"

// exampleJS is an Example as the page's script sees it.
type exampleJS struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Variables string `json:"variables,omitempty"`
}

// playgroundData fills the page templates.
type playgroundData struct {
	Title         string
	Endpoint      string
	StoragePrefix string
	Headers       map[string]string // for the fetcher: a JSON object, or null
	HeadersJSON   string            // for GraphiQL's headers editor; "" when none
	Examples      []exampleJS
	ReactURL      string
	ReactDOMURL   string
	GraphiQLURL   string
	CSSURL        string
	Script        string // the script that fetches the assets, for the message page
}

// renderPlayground renders the page; it depends only on the options, on
// whether the assets are embedded and, through the examples' VariablesAt,
// on the facts.
func renderPlayground(opts PlaygroundOptions, assets bool, f Facts) ([]byte, error) {
	d := playgroundData{
		Title:         opts.Title,
		Endpoint:      opts.Endpoint,
		StoragePrefix: "helpscout-log:",
		ReactURL:      assetReact.URL(),
		ReactDOMURL:   assetReactDOM.URL(),
		GraphiQLURL:   assetJS.URL(),
		CSSURL:        assetCSS.URL(),
		Script:        "scripts/fetch-web-assets.sh",
	}
	if d.Title == "" {
		d.Title = "HelpScout Log GraphQL"
	}
	if d.Endpoint == "" {
		d.Endpoint = "/query"
	}
	if len(opts.Headers) > 0 {
		d.Headers = opts.Headers
		b, err := json.MarshalIndent(opts.Headers, "", "  ")
		if err != nil {
			return nil, err
		}
		d.HeadersJSON = string(b)
	}
	examples := opts.Examples
	if examples == nil {
		examples = DefaultExamples()
	}
	d.Examples = make([]exampleJS, len(examples))
	for i, e := range examples {
		d.Examples[i] = exampleJS{Name: e.Name, Query: e.Query, Variables: e.VariablesFor(f)}
	}
	t := playgroundPage
	if !assets {
		t = notBuiltPage
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The page running GraphiQL. html/template escapes every value for its
// context; in the script, values become JSON (with <, > and & escaped), so
// no example text can end the script element.
var playgroundPage = template.Must(template.New("playground").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.CSSURL}}">
<style>
  body { margin: 0; }
  #graphiql { height: 100vh; }
  .message { height: 100%; display: flex; flex-direction: column; align-items: center; justify-content: center;
    font: 1.25rem/1.5 system-ui, sans-serif; color: #444; padding: 0 1rem; text-align: center; }
</style>
</head>
<body>
<div id="graphiql"><div class="message">Loading GraphiQL…</div></div>
<noscript>
  <p>GraphiQL needs JavaScript. The GraphQL API is at <code>{{.Endpoint}}</code>.</p>
  <p>Example operations:</p>
  <ul>{{range .Examples}}<li>{{.Name}}</li>{{end}}</ul>
</noscript>
<script src="{{.ReactURL}}"></script>
<script src="{{.ReactDOMURL}}"></script>
<script src="{{.GraphiQLURL}}"></script>
<script>
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  if (typeof React === 'undefined' || typeof ReactDOM === 'undefined' || typeof GraphiQL === 'undefined') {
    root.firstChild.textContent = 'The GraphiQL files could not be loaded from this server. ' +
      'The GraphQL API itself works at ' + {{.Endpoint}} + '.';
    return;
  }

  // localStorage, with keys under a prefix of this app and page path.
  class PrefixedStorage {
    constructor(prefix) { this.prefix = prefix; }
    keys() {
      const out = [];
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        if (k !== null && k.startsWith(this.prefix)) out.push(k);
      }
      return out;
    }
    getItem(key) { return localStorage.getItem(this.prefix + key); }
    setItem(key, value) { localStorage.setItem(this.prefix + key, value); }
    removeItem(key) { localStorage.removeItem(this.prefix + key); }
    clear() { this.keys().forEach(function (k) { localStorage.removeItem(k); }); }
    key(i) { const k = this.keys()[i]; return k === undefined ? null : k.slice(this.prefix.length); }
    get length() { return this.keys().length; }
  }

  const url = new URL({{.Endpoint}}, location.href);
  const subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const headers = {{.Headers}};
  const headersText = {{.HeadersJSON}} || undefined;
  const examples = {{.Examples}};

  // Examples whose days begin at midnight in "timeZone": "UTC" start from
  // the browser's own time zone instead, so that TODAY is the reader's day.
  const browserZone = (function () {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; }
  })();
  function inBrowserZone(variables) {
    if (!variables || !browserZone) return variables;
    return variables.split('"timeZone": "UTC"').join('"timeZone": ' + JSON.stringify(browserZone));
  }
  const servedVariables = examples.map(function (e) { return inBrowserZone(e.variables) || ''; });
  const storage = new PrefixedStorage({{.StoragePrefix}} + location.pathname + ':');

  // GraphiQL reopens the tabs saved in this browser, with the variables
  // they were first served with, and those that name a time or a ticket
  // go stale. A saved example tab whose variables are still exactly those
  // served before takes the ones served now; a tab someone edited stays
  // as it is. GraphiQL then activates the saved tab whose contents are
  // those last in its editors, and adds a copy when none is; the editors'
  // last contents are set to the active tab's, so that it is found.
  (function refreshSavedExamples() {
    try {
      const before = JSON.parse(storage.getItem('served-variables') || '{}');
      const saved = storage.getItem('graphiql:tabState');
      const state = saved && JSON.parse(saved);
      if (state && Array.isArray(state.tabs)) {
        state.tabs.forEach(function (tab) {
          const i = examples.findIndex(function (e) { return e.query === tab.query; });
          if (i < 0 || !Object.prototype.hasOwnProperty.call(before, tab.query)) return;
          if ((tab.variables || '') === before[tab.query]) tab.variables = servedVariables[i];
          tab.hash = [tab.query || '', tab.variables || '', tab.headers || ''].join('|');
        });
        const active = state.tabs[state.activeTabIndex];
        if (active) {
          [['graphiql:query', active.query], ['graphiql:variables', active.variables],
            ['graphiql:headers', active.headers]].forEach(function (kv) {
            if (kv[1]) storage.setItem(kv[0], kv[1]); else storage.removeItem(kv[0]);
          });
        }
        storage.setItem('graphiql:tabState', JSON.stringify(state));
      }
      const now = {};
      examples.forEach(function (e, i) { now[e.query] = servedVariables[i]; });
      storage.setItem('served-variables', JSON.stringify(now));
    } catch (e) {
      // Without storage GraphiQL starts from the examples as served.
    }
  })();

  // The default headers fill the headers editor (below), whose headers go
  // with every request and override these, and as a subscription's
  // connection params. The fetcher has them too for the first schema
  // introspection, which GraphiQL sends before the editor is ready.
  const base = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
    headers: headers || undefined,
  });

  // GraphiQL parses the editor's text a moment after it changes, and
  // sends an operation over the WebSocket only when that parsed document
  // shows a subscription. An operation run sooner (pasted, then run at
  // once from the keyboard) would go out as an HTTP POST, which the
  // server refuses for subscriptions; so a run waits, up to 300 ms (the
  // parse comes 100 ms after the last change; text that does not parse
  // never matches), until the parsed document is that of the text run.
  function isDocumentOf(ast, text) {
    return !!(ast && ast.loc && ast.loc.source.body === text);
  }
  function parsedDocument(text) {
    const el = document.querySelector('.graphiql-query-editor .CodeMirror');
    const ast = el && el.CodeMirror && el.CodeMirror.documentAST;
    return isDocumentOf(ast, text) ? ast : null;
  }
  async function fetcher(params, opts) {
    if (params.operationName !== 'IntrospectionQuery' && !isDocumentOf(opts && opts.documentAST, params.query)) {
      let ast = parsedDocument(params.query);
      for (let i = 0; !ast && i < 12; i++) {
        await new Promise(function (resolve) { setTimeout(resolve, 25); });
        ast = parsedDocument(params.query);
      }
      if (ast) opts = Object.assign({}, opts, { documentAST: ast });
    }
    return base(params, opts);
  }

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultTabs: examples.length ? examples.map(function (e, i) {
      return { query: e.query, variables: servedVariables[i] || undefined, headers: headersText };
    }) : undefined,
    defaultHeaders: headersText,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    storage: storage,
    inputValueDeprecation: true,
  }));
})();
</script>
</body>
</html>
`))

// The page shown when the GraphiQL files are not embedded: no script, no
// external URL, just what to do.
var notBuiltPage = template.Must(template.New("not-built").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; color: #222; max-width: 46rem; margin: 3rem auto; padding: 0 1rem; }
  code, pre { background: #f4f4f4; border-radius: 4px; }
  code { padding: 0 .25em; }
  pre { padding: .75em; overflow-x: auto; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p><strong>The GraphiQL playground files are not built into this binary.</strong></p>
<p>To get the playground, run <code>{{.Script}}</code> (or <code>make run</code>) and rebuild the server.</p>
<p>The GraphQL API itself works: send POST requests with a JSON body
<code>{"query": "…", "variables": {…}}</code> and an <code>Authorization: Bearer …</code> header to
<code>{{.Endpoint}}</code>.</p>
{{- if .Examples}}
<h2>Example operations</h2>
{{- range .Examples}}
<details>
<summary>{{.Name}}</summary>
<pre>{{.Query}}</pre>
{{- if .Variables}}
<p>Variables:</p>
<pre>{{.Variables}}</pre>
{{- end}}
</details>
{{- end}}
{{- end}}
</body>
</html>
`))
