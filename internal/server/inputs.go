package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/kivalogic/helpscout-log/graph/model"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// inputGuard refuses, before an operation runs, input values that pass
// GraphQL validation but that the service cannot take:
//   - an enum value in a variable spelled in another letter case, which the
//     validator compares without regard to case but which would reach the
//     resolvers as no value at all;
//   - a string holding a NUL character, which PostgreSQL can neither store
//     nor compare;
//   - a Time that does not parse or lies outside the years the log takes,
//     which the validator lets through since Time is a custom scalar: a
//     value that does not coerce is refused before the operation runs,
//     like one of a built-in type.
//
// Its refusals are BAD_USER_INPUT naming the variable or argument.
type inputGuard struct {
	schema *ast.Schema
}

var (
	_ graphql.HandlerExtension        = inputGuard{}
	_ graphql.OperationContextMutator = inputGuard{}
)

// ExtensionName names the extension for gqlgen.
func (inputGuard) ExtensionName() string { return "InputGuard" }

// Validate accepts any schema.
func (inputGuard) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext checks the operation's variables and the argument
// values written in its document.
func (g inputGuard) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	for _, def := range oc.Operation.VariableDefinitions {
		if v, ok := oc.Variables[def.Variable]; ok {
			if err := g.checkVariable(def.Type, v, "$"+def.Variable); err != nil {
				return err
			}
		}
	}
	if err := checkLiterals(oc.Operation.SelectionSet); err != nil {
		return err
	}
	for _, f := range oc.Doc.Fragments {
		if err := checkLiterals(f.SelectionSet); err != nil {
			return err
		}
	}
	return nil
}

// checkVariable checks the value v of type t, named path in a refusal.
func (g inputGuard) checkVariable(t *ast.Type, v any, path string) *gqlerror.Error {
	if v == nil || t == nil {
		return nil
	}
	if t.Elem != nil {
		items, ok := v.([]any)
		if !ok {
			// A single value given for a list stands for a list of one.
			return g.checkVariable(t.Elem, v, path)
		}
		for i, item := range items {
			if err := g.checkVariable(t.Elem, item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	def := g.schema.Types[t.NamedType]
	if def == nil {
		return nil
	}
	switch def.Kind {
	case ast.Enum:
		if s, ok := v.(string); ok && def.EnumValues.ForName(s) == nil {
			return badInput(path, "%s is not a value of %s; enum values are case-sensitive: %s", apperr.Quote(s), def.Name, enumValues(def, s))
		}
	case ast.InputObject:
		fields, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, f := range def.Fields {
			if err := g.checkVariable(f.Type, fields[f.Name], path+"."+f.Name); err != nil {
				return err
			}
		}
	case ast.Scalar:
		if s, ok := v.(string); ok && strings.ContainsRune(s, 0) {
			return badInput(path, nulMessage)
		}
		if def.Name == "Time" {
			// A custom scalar passes the validator as any value; coerced
			// here, a time that does not parse is a variable that does not
			// coerce, refused before the operation runs like any other.
			if _, err := model.UnmarshalTime(v); err != nil {
				return badInput(path, "%s", err.Error())
			}
		}
	}
	return nil
}

// nulMessage is the refusal of a string holding NUL.
const nulMessage = "contains a NUL character (\\u0000), which no text may hold"

// checkLiterals refuses, among the arguments of the fields of set at any
// depth, a string literal holding a NUL character and a Time literal that
// does not parse (the validator takes any value for a custom scalar).
func checkLiterals(set ast.SelectionSet) *gqlerror.Error {
	for _, sel := range set {
		var children ast.SelectionSet
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				if path, why := literalProblem(arg.Value, arg.Name); path != "" {
					return badInput(path, "%s", why)
				}
			}
			children = s.SelectionSet
		case *ast.InlineFragment:
			children = s.SelectionSet
		}
		if err := checkLiterals(children); err != nil {
			return err
		}
	}
	return nil
}

// literalProblem finds in the literal v, named path, a string holding NUL
// or a Time that does not parse, and returns where it is and why; path is
// empty when there is none.
func literalProblem(v *ast.Value, path string) (at, why string) {
	if v == nil {
		return "", ""
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		if strings.ContainsRune(v.Raw, 0) {
			return path, nulMessage
		}
		if v.Definition != nil && v.Definition.Name == "Time" {
			if _, err := model.UnmarshalTime(v.Raw); err != nil {
				return path, err.Error()
			}
		}
	case ast.ListValue:
		for i, c := range v.Children {
			if at, why := literalProblem(c.Value, fmt.Sprintf("%s[%d]", path, i)); at != "" {
				return at, why
			}
		}
	case ast.ObjectValue:
		for _, c := range v.Children {
			if at, why := literalProblem(c.Value, path+"."+c.Name); at != "" {
				return at, why
			}
		}
	}
	return "", ""
}

// enumValues lists the values of an enum for a refusal, leading with the
// one that differs from got only in case.
func enumValues(def *ast.Definition, got string) string {
	names := make([]string, 0, len(def.EnumValues))
	for _, v := range def.EnumValues {
		if strings.EqualFold(v.Name, got) {
			return "did you mean " + v.Name + "?"
		}
		names = append(names, v.Name)
	}
	return "one of " + strings.Join(names, ", ")
}

// badInput is a refusal of the value named argument, made before the
// operation ran; the error presenter shows it as apperr.BadInput.
func badInput(argument, format string, args ...any) *gqlerror.Error {
	err := apperr.BadInput(argument, format, args...)
	return &gqlerror.Error{Err: err, Message: err.Message}
}
