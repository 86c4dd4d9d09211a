package auth

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// HasRole implements the @hasRole directive: the field resolves only for a
// caller with at least role; otherwise it fails with UNAUTHENTICATED or
// FORBIDDEN and resolves to null, leaving the rest of the response intact.
func HasRole(ctx context.Context, _ any, next graphql.Resolver, role Role) (any, error) {
	if _, err := Require(ctx, role); err != nil {
		return nil, err
	}
	return next(ctx)
}
