package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// introspectedSchema is the part of an introspection result that the
// documentation checks read.
type introspectedSchema struct {
	Schema struct {
		Types []struct {
			Kind        string
			Name        string
			Description *string
			Fields      []introspectedField
			InputFields []introspectedValue
			EnumValues  []introspectedValue
		}
		Directives []struct {
			Name        string
			Description *string
			Args        []introspectedValue
		}
	} `json:"__schema"`
}

type introspectedField struct {
	Name              string
	Description       *string
	IsDeprecated      bool
	DeprecationReason *string
	Args              []introspectedValue
}

type introspectedValue struct {
	Name              string
	Description       *string
	IsDeprecated      bool
	DeprecationReason *string
}

const schemaDocQuery = `{ __schema {
  types { kind name description
    fields(includeDeprecated: true) { name description isDeprecated deprecationReason
      args(includeDeprecated: true) { name description isDeprecated deprecationReason } }
    inputFields(includeDeprecated: true) { name description isDeprecated deprecationReason }
    enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } }
  directives { name description args { name description isDeprecated deprecationReason } } } }`

// TestSchemaDocumentsEverything: the README promises that every type,
// field and argument is described in GraphiQL's docs pane; a client
// building its views from introspection finds a description on every type,
// field, argument, input field, enum value and directive of our own
// schema, and a reason on everything deprecated.
func TestSchemaDocumentsEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp := e.gql(t, callerNone, schemaDocQuery, nil)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	resp.requireOK(t)
	var s introspectedSchema
	resp.decode(t, &s)
	require.NotEmpty(t, s.Schema.Types)

	blank := func(p *string) bool { return p == nil || *p == "" }
	type item struct {
		name string
		desc *string
		dep  bool
		why  *string
	}
	var types, fields, args, inputFields, enumValues, directives []item
	for _, ty := range s.Schema.Types {
		if strings.HasPrefix(ty.Name, "__") {
			continue
		}
		types = append(types, item{name: ty.Name, desc: ty.Description})
		for _, f := range ty.Fields {
			fields = append(fields, item{ty.Name + "." + f.Name, f.Description, f.IsDeprecated, f.DeprecationReason})
			for _, a := range f.Args {
				args = append(args, item{ty.Name + "." + f.Name + "(" + a.Name + ")", a.Description, a.IsDeprecated, a.DeprecationReason})
			}
		}
		for _, f := range ty.InputFields {
			inputFields = append(inputFields, item{ty.Name + "." + f.Name, f.Description, f.IsDeprecated, f.DeprecationReason})
		}
		for _, v := range ty.EnumValues {
			enumValues = append(enumValues, item{ty.Name + "." + v.Name, v.Description, v.IsDeprecated, v.DeprecationReason})
		}
	}
	builtIn := map[string]bool{"include": true, "skip": true, "deprecated": true, "specifiedBy": true, "oneOf": true, "defer": true}
	for _, d := range s.Schema.Directives {
		if builtIn[d.Name] {
			continue
		}
		directives = append(directives, item{name: "@" + d.Name, desc: d.Description})
		for _, a := range d.Args {
			directives = append(directives, item{"@" + d.Name + "(" + a.Name + ")", a.Description, a.IsDeprecated, a.DeprecationReason})
		}
	}

	cases := []struct {
		kind  string
		items []item
	}{
		{"types", types},
		{"fields", fields},
		{"arguments", args},
		{"input fields", inputFields},
		{"enum values", enumValues},
		{"directives and their arguments", directives},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			require.NotEmpty(t, c.items)
			var undocumented, unexplained []string
			for _, it := range c.items {
				if blank(it.desc) {
					undocumented = append(undocumented, it.name)
				}
				if it.dep && blank(it.why) {
					unexplained = append(unexplained, it.name)
				}
			}
			require.Empty(t, undocumented, "%s without a description", c.kind)
			require.Empty(t, unexplained, "deprecated %s without a reason", c.kind)
		})
	}
}
