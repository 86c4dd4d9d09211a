package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// schemaHandler serves the schema in GraphQL's schema definition language,
// with every description, for code generators and editors that read a
// schema file rather than introspect. The text is built at the first
// request, once; requests get an ETag, so that a tool polling for changes
// downloads it only when the service changed.
func schemaHandler(schema *ast.Schema) http.Handler {
	render := sync.OnceValues(func() ([]byte, string) {
		var b bytes.Buffer
		formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(schema)
		sum := sha256.Sum256(b.Bytes())
		return b.Bytes(), `"` + hex.EncodeToString(sum[:12]) + `"`
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, etag := render()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "schema.graphql", time.Time{}, bytes.NewReader(body))
	})
}
