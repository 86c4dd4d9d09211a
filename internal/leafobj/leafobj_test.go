package leafobj

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const testSDL = `
directive @guard on FIELD_DEFINITION
interface Named { name: String }
type Item implements Named {
  id: Int!
  name: String
  secret: String @guard
  sized(n: Int): Int
  other: Item
  others: [Item!]
  named: Named
  must: Item!
}
union Thing = Item
type Query {
  item: Item
  items: [Item!]!
  maybeItems: [Item]
  grid: [[Item!]!]
}
`

type item struct {
	ID    int
	Name  *string
	Other *item
}

func testObject() *Object[item] {
	return &Object[item]{Name: "Item", Fields: map[string]Field[item]{
		"id": func(b []byte, v *item) []byte {
			if v.ID < 0 {
				return nil // as gqlgen would report it
			}
			return Int(b, v.ID)
		},
		"name": func(b []byte, v *item) []byte { return OptString(b, v.Name) },
	}}
}

// withChild is testObject with its field other written in the same pass.
func withChild() *Object[item] {
	o := testObject()
	other := func(v *item) *item { return v.Other }
	o.Children = map[string]Child[item]{"other": One(o, other), "must": One(o, other)}
	return o
}

// schemaOnly is an executable schema that only has a schema, enough for
// Validate.
type schemaOnly struct{ s *ast.Schema }

func (s schemaOnly) Schema() *ast.Schema { return s.s }
func (schemaOnly) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}
func (schemaOnly) Exec(context.Context) graphql.ResponseHandler { return nil }

func loadSchema(t *testing.T) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: testSDL})
	require.NoError(t, err)
	return s
}

func TestValidate(t *testing.T) {
	s := loadSchema(t)
	noop := func(b []byte, _ *item) []byte { return b }
	cases := []struct {
		name    string
		object  *Object[item]
		wantErr string
	}{
		{"plain fields", testObject(), ""},
		{"unknown type", &Object[item]{Name: "Nope", Fields: map[string]Field[item]{"id": noop}}, "Nope is not an object type"},
		{"not an object", &Object[item]{Name: "Named", Fields: map[string]Field[item]{"name": noop}}, "Named is not an object type"},
		{"unknown field", &Object[item]{Name: "Item", Fields: map[string]Field[item]{"price": noop}}, "Item has no field price"},
		{"field with a directive", &Object[item]{Name: "Item", Fields: map[string]Field[item]{"secret": noop}}, "Item.secret carries a directive"},
		{"field with arguments", &Object[item]{Name: "Item", Fields: map[string]Field[item]{"sized": noop}}, "Item.sized takes arguments"},
		{"object field", &Object[item]{Name: "Item", Fields: map[string]Field[item]{"other": noop}}, "Item.other is not a scalar or an enum"},
		{"child", withChild(), ""},
		{"child on a list", &Object[item]{Name: "Item", Children: map[string]Child[item]{"others": One(testObject(), func(v *item) *item { return v })}},
			"Item.others is not one Item"},
		{"child of another type", &Object[item]{Name: "Item", Children: map[string]Child[item]{"named": One(testObject(), func(v *item) *item { return v })}},
			"Item.named is not one Item"},
		{"child field unknown", &Object[item]{Name: "Item", Children: map[string]Child[item]{"parent": One(testObject(), func(v *item) *item { return v })}},
			"Item has no field parent"},
		{"child object not given", &Object[item]{Name: "Item", Children: map[string]Child[item]{"other": One(&Object[item]{Name: "Thing"}, func(v *item) *item { return v })}},
			"Item.other is not one Thing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := New(tc.object).Validate(schemaOnly{s})
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.ElementsMatch(t, []string{"Item", "Named", "Thing"}, tc.object.satisfies)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestMarshal(t *testing.T) {
	s := loadSchema(t)
	o := withChild()
	require.NoError(t, New(o).Validate(schemaOnly{s}))
	name := "Ann \"A\" <x>"
	one, two := &item{ID: 1, Name: &name}, &item{ID: 2}
	parent := &item{ID: 3, Other: &item{ID: 4, Other: two}}

	cases := []struct {
		name  string
		query string
		vars  map[string]any
		res   any
		want  string // empty: left to gqlgen
	}{
		{"one object", `{ item { id name } }`, nil, one, `{"id":1,"name":"Ann \"A\" <x>"}`},
		{"a value, not a pointer", `{ item { name id } }`, nil, *two, `{"name":null,"id":2}`},
		{"aliases and __typename", `{ item { t: __typename n: id id } }`, nil, one, `{"t":"Item","n":1,"id":1}`},
		{"fragments on the interface and the union", `{ item { ... on Named { name } ... on Thing { ... on Item { id } } } }`, nil, one, `{"name":"Ann \"A\" <x>","id":1}`},
		{"skip and include", `query($y: Boolean!) { item { id @skip(if: $y) name @include(if: $y) } }`, map[string]any{"y": true}, one, `{"name":"Ann \"A\" <x>"}`},
		{"a list", `{ items { id } }`, nil, []*item{one, two}, `[{"id":1},{"id":2}]`},
		{"a list of values", `{ items { id } }`, nil, []item{*one, *two}, `[{"id":1},{"id":2}]`},
		{"an empty list", `{ items { id } }`, nil, []*item{}, `[]`},
		{"a null in a nullable list", `{ maybeItems { id } }`, nil, []*item{one, nil}, `[{"id":1},null]`},
		{"a null where the list forbids it", `{ items { id } }`, nil, []*item{one, nil}, ""},
		{"a nil list", `{ items { id } }`, nil, []*item(nil), ""},
		{"a nil object", `{ item { id } }`, nil, (*item)(nil), ""},
		{"a child", `{ item { id other { id name } } }`, nil, parent, `{"id":3,"other":{"id":4,"name":null}}`},
		{"a child of a child", `{ item { other { other { __typename id } } } }`, nil, parent, `{"other":{"other":{"__typename":"Item","id":2}}}`},
		{"a null child", `{ item { id other { id } } }`, nil, one, `{"id":1,"other":null}`},
		{"a null child where the type forbids it", `{ item { id must { id } } }`, nil, one, ""},
		{"a child where the type forbids null", `{ item { id must { id } } }`, nil, parent, `{"id":3,"must":{"id":4}}`},
		{"a child with a field without a writer", `{ item { id other { id sized(n: 1) } } }`, nil, parent, ""},
		{"a child field without a writer", `{ item { id others { id } } }`, nil, parent, ""},
		{"a field with arguments", `{ item { id sized(n: 2) } }`, nil, one, ""},
		{"nothing selected once skipped", `{ item { id @skip(if: true) } }`, nil, one, ""},
		{"a deferred fragment", `{ item { id ... @defer { name } } }`, nil, one, ""},
		{"a list of lists", `{ grid { id } }`, nil, [][]*item{{one}}, ""},
		{"a value a writer leaves to gqlgen", `{ items { id } }`, nil, []*item{one, {ID: -1}}, ""},
		{"a list for a single object", `{ item { id } }`, nil, []*item{one}, ""},
		{"a single object for a list", `{ items { id } }`, nil, one, ""},
		{"another Go type", `{ item { id } }`, nil, "x", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(s, tc.query)
			require.Nil(t, errs)
			op := doc.Operations[0]
			oc := &graphql.OperationContext{Doc: doc, Operation: op, Variables: tc.vars}
			f := op.SelectionSet[0].(*ast.Field)
			m, ok := o.marshal(oc, graphql.CollectedField{Field: f, Selections: f.SelectionSet}, tc.res)
			if tc.want == "" {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			var b bytes.Buffer
			m.MarshalGQL(&b)
			require.Equal(t, tc.want, b.String())
		})
	}
}

// TestPlansFollowVariables runs one parsed document several times, as the
// query cache does: a plan that @skip or @include with a variable shapes
// follows the variables of each request, and one without is reused.
func TestPlansFollowVariables(t *testing.T) {
	s := loadSchema(t)
	o := testObject()
	require.NoError(t, New(o).Validate(schemaOnly{s}))
	one := &item{ID: 1}
	run := func(doc *ast.QueryDocument, vars map[string]any) string {
		op := doc.Operations[0]
		f := op.SelectionSet[0].(*ast.Field)
		m, ok := o.marshal(&graphql.OperationContext{Doc: doc, Operation: op, Variables: vars},
			graphql.CollectedField{Field: f, Selections: f.SelectionSet}, one)
		require.True(t, ok)
		var b bytes.Buffer
		m.MarshalGQL(&b)
		return b.String()
	}

	conditional, errs := gqlparser.LoadQuery(s, `query($y: Boolean!) { item { id ...f } } fragment f on Item { name @include(if: $y) }`)
	require.Nil(t, errs)
	require.Equal(t, `{"id":1,"name":null}`, run(conditional, map[string]any{"y": true}))
	require.Equal(t, `{"id":1}`, run(conditional, map[string]any{"y": false}))
	require.Equal(t, `{"id":1,"name":null}`, run(conditional, map[string]any{"y": true}))

	plain, errs := gqlparser.LoadQuery(s, `{ item { id ...f } } fragment f on Item { name }`)
	require.Nil(t, errs)
	before := o.planCount.Load()
	require.Equal(t, `{"id":1,"name":null}`, run(plain, nil))
	require.Equal(t, `{"id":1,"name":null}`, run(plain, nil))
	require.Equal(t, before+1, o.planCount.Load(), "the second run did not reuse the plan")
}

// TestPlansDoNotKeepDocuments: a kept plan lets its document go once
// nothing else holds it (the query cache evicted it).
func TestPlansDoNotKeepDocuments(t *testing.T) {
	s := loadSchema(t)
	o := testObject()
	require.NoError(t, New(o).Validate(schemaOnly{s}))
	field := func() weak.Pointer[ast.Field] {
		doc, errs := gqlparser.LoadQuery(s, `{ item { id name } }`)
		require.Nil(t, errs)
		op := doc.Operations[0]
		f := op.SelectionSet[0].(*ast.Field)
		before := o.planCount.Load()
		_, ok := o.marshal(&graphql.OperationContext{Doc: doc, Operation: op}, graphql.CollectedField{Field: f, Selections: f.SelectionSet}, &item{ID: 1})
		require.True(t, ok)
		require.Equal(t, before+1, o.planCount.Load(), "the plan was not kept")
		return weak.Make(f)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for field.Value() != nil {
		require.True(t, time.Now().Before(deadline), "the document is still alive")
		runtime.GC()
	}
	runtime.KeepAlive(o) // the cache lives on
}
