// Package web serves the browser side of the HelpScout Log API: the GraphiQL
// playground page (Playground), its JavaScript and CSS embedded in the binary
// (Assets), the example operations the playground opens with
// (DefaultExamples), and the wall-screen page for support TVs (Wall), a
// single self-contained page with its own WebSocket client.
//
// The playground never loads anything from a CDN. Its files (React, ReactDOM
// and GraphiQL, pinned to the versions gqlgen's own playground uses) are put
// into internal/web/assets by scripts/fetch-web-assets.sh and embedded by
// go:embed. A binary built without running the script still works: its
// playground page says that the GraphiQL files are not built in, and the
// GraphQL API is unaffected.
//
// Mounting, with net/http:
//
//	mux.Handle(web.AssetsPrefix, web.Assets())
//	mux.Handle("/", web.Playground(web.PlaygroundOptions{Endpoint: "/query"}))
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pinned versions of the embedded playground files. They match what
// gqlgen v0.17.98's playground loads and what scripts/fetch-web-assets.sh
// installs; they are part of every asset URL, so a new version gets new URLs
// and browsers may cache each one for ever.
const (
	// GraphiQLVersion is the version of the npm package graphiql.
	GraphiQLVersion = "4.1.2"
	// ReactVersion is the version of the npm packages react and react-dom.
	ReactVersion = "18.2.0"
)

// AssetsPrefix is the URL path under which Assets serves the files; mount
// the handler there without stripping the prefix.
const AssetsPrefix = "/assets/"

// assetsStamp is what scripts/fetch-web-assets.sh writes to assets/.stamp.
const assetsStamp = "graphiql@" + GraphiQLVersion + " react@" + ReactVersion + " react-dom@" + ReactVersion

//go:embed all:assets
var embedded embed.FS

const (
	typeJS  = "text/javascript; charset=utf-8"
	typeCSS = "text/css; charset=utf-8"
)

// asset is one file that Assets serves.
type asset struct {
	url         string // path under AssetsPrefix, with the version in it
	file        string // path in the embedded assets folder
	contentType string
}

// The files the playground page loads, in the order it loads them.
var (
	assetReact    = asset{"react-" + ReactVersion + "/umd/react.production.min.js", "react/umd/react.production.min.js", typeJS}
	assetReactDOM = asset{"react-dom-" + ReactVersion + "/umd/react-dom.production.min.js", "react-dom/umd/react-dom.production.min.js", typeJS}
	assetJS       = asset{"graphiql-" + GraphiQLVersion + "/graphiql.min.js", "graphiql/graphiql.min.js", typeJS}
	assetCSS      = asset{"graphiql-" + GraphiQLVersion + "/graphiql.min.css", "graphiql/graphiql.min.css", typeCSS}
	assetList     = []asset{assetReact, assetReactDOM, assetJS, assetCSS}
)

// URL is the asset's absolute URL path.
func (a asset) URL() string { return AssetsPrefix + a.url }

// AssetsAvailable reports whether the playground's four files are embedded in
// this binary, with the pinned versions (scripts/fetch-web-assets.sh was run
// before the build).
func AssetsAvailable() bool { return assetsAvailable() }

var assetsAvailable = sync.OnceValue(func() bool {
	stamp, err := embedded.ReadFile("assets/.stamp")
	if err != nil || strings.TrimSpace(string(stamp)) != assetsStamp {
		return false
	}
	for _, a := range assetList {
		info, err := fs.Stat(embedded, "assets/"+a.file)
		if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
			return false
		}
	}
	return true
})

// loadedAsset is an asset's content, ready to serve.
type loadedAsset struct {
	asset
	plain, gzipped []byte
	etag           string // of plain; gzipped has etag + "-gz"
}

// loadAssets reads and compresses the embedded files once, on first use.
var loadAssets = sync.OnceValue(func() map[string]*loadedAsset {
	m := make(map[string]*loadedAsset, len(assetList))
	if !assetsAvailable() {
		return m
	}
	for _, a := range assetList {
		data, err := embedded.ReadFile("assets/" + a.file)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		la := &loadedAsset{asset: a, plain: data, etag: `"` + hex.EncodeToString(sum[:12])}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(data); err == nil && zw.Close() == nil && buf.Len() < len(data) {
			la.gzipped = buf.Bytes()
		}
		m[a.url] = la
	}
	return m
})

// Assets returns the handler for the playground's embedded files, to mount at
// AssetsPrefix ("/assets/"). It serves exactly these URLs:
//
//	/assets/react-18.2.0/umd/react.production.min.js
//	/assets/react-dom-18.2.0/umd/react-dom.production.min.js
//	/assets/graphiql-4.1.2/graphiql.min.js
//	/assets/graphiql-4.1.2/graphiql.min.css
//
// with their content types, gzip-compressed when the client accepts it, an
// ETag, and "Cache-Control: public, max-age=31536000, immutable" (the URLs
// carry the versions). Anything else, and everything when AssetsAvailable is
// false, is 404 Not Found; methods other than GET and HEAD get 405.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, AssetsPrefix)
		name = strings.TrimPrefix(name, "/") // also when mounted with http.StripPrefix
		a, ok := loadAssets()[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		body, etag := a.plain, a.etag+`"`
		if a.gzipped != nil {
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				body, etag = a.gzipped, a.etag+`-gz"`
				h.Set("Content-Encoding", "gzip")
				r.Header.Del("Range") // a range of the compressed bytes helps no one
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip:
// gzip (or x-gzip) is listed with a non-zero q, or else "*" is.
func acceptsGzip(header string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for param := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = max(gzipQ, q)
		case "*":
			starQ = max(starQ, q)
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
