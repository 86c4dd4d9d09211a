package server_test

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/kivalogic/helpscout-log/graph"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestSchemaFile: GET /schema.graphql serves the schema as SDL that parses
// back to the same types, fields and descriptions, answers 304 to its own
// ETag, and is not served when introspection is off.
func TestSchemaFile(t *testing.T) {
	t.Parallel()
	on := newEnv(t)
	off := newEnvOn(t, on.bdb, func(c *config.Config) { c.Introspection = false })

	resp, raw := on.httpGet(t, "/schema.graphql", callerNone)
	body := string(raw)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)

	served, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: body})
	require.Nil(t, gerr, "the served SDL does not parse: %v", gerr)
	want := graph.NewExecutableSchema(graph.Config{}).Schema()
	names := func(s *ast.Schema) []string {
		var out []string
		for name, def := range s.Types {
			if !def.BuiltIn {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, names(want), names(served))
	for _, name := range []string{"SyncEvent", "Summary", "SyncEventFilter", "Query", "Mutation", "Subscription"} {
		w, s := want.Types[name], served.Types[name]
		require.NotNil(t, s, name)
		require.Equal(t, w.Description, s.Description, name)
		require.Len(t, s.Fields, len(w.Fields), name)
		for _, f := range w.Fields {
			sf := s.Fields.ForName(f.Name)
			require.NotNil(t, sf, "%s.%s", name, f.Name)
			require.Equal(t, f.Description, sf.Description, "%s.%s", name, f.Name)
			require.Equal(t, f.Type.String(), sf.Type.String(), "%s.%s", name, f.Name)
			require.Equal(t, len(f.Directives), len(sf.Directives), "%s.%s keeps its directives", name, f.Name)
		}
	}
	require.NotNil(t, served.Directives["hasRole"], "the role directive is declared")

	req, err := http.NewRequest(http.MethodGet, on.srv.URL+"/schema.graphql", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", etag)
	again, err := on.srv.Client().Do(req)
	require.NoError(t, err)
	rest, err := io.ReadAll(again.Body)
	require.NoError(t, err)
	require.NoError(t, again.Body.Close())
	require.Equal(t, http.StatusNotModified, again.StatusCode)
	require.Empty(t, rest)

	gone, _ := off.httpGet(t, "/schema.graphql", callerNone)
	require.Equal(t, http.StatusNotFound, gone.StatusCode)
}
