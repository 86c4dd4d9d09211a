package server

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MaxRootFields caps the root fields one operation asks for, aliases
// counted apart. Each root field is at least one statement on the
// database, and the complexity limit, which charges lists by their page
// size, counts a filtered totalCount as almost free: a hundred aliases of
// one search would hold the database for as long as a hundred requests.
// A dashboard asks for a handful.
const MaxRootFields = 20

// rootFieldLimit refuses an operation with more than MaxRootFields root
// fields (introspection and __typename not counted), before it runs.
type rootFieldLimit struct{}

var (
	_ graphql.HandlerExtension        = rootFieldLimit{}
	_ graphql.OperationContextMutator = rootFieldLimit{}
)

// ExtensionName names the extension for gqlgen.
func (rootFieldLimit) ExtensionName() string { return "RootFieldLimit" }

// Validate accepts any schema.
func (rootFieldLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext counts the operation's root fields as they will
// run: fragments spread, @skip and @include applied.
func (rootFieldLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	n := 0
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
		switch f.Name {
		case "__typename", "__schema", "__type":
		default:
			n++
		}
	}
	if n <= MaxRootFields {
		return nil
	}
	return codedError("TOO_MANY_ROOT_FIELDS", fmt.Sprintf(
		"the operation asks for %d root fields, aliases counted apart; at most %d run in one operation: split it into several", n, MaxRootFields))
}
